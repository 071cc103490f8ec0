"""The do-not-email list as the panel shows and edits it: a page of entries, adding an address
with a reason, lifting an entry the shop itself made, and CSV import and export.

The list keeps only a fingerprint of each address (``delivery.suppression``), so a shopper who
asked to be forgotten leaves nothing readable behind. The panel shows the address where
shopcrm still knows it from an e-mail it sent (``crm_message``); a fingerprint alone otherwise.
Looking an address up works for every entry: its fingerprint is computed and found.

Who may lift what: the shop's own blocks ("manual") and bounces (the address may work again).
An unsubscribe, a spam complaint or a "forget me" is the shopper's decision: only they can
undo the first, on their own page, and nobody the others.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..delivery.addresses import address_hash, normalize
from ..delivery.suppression import suppress
from ..errors import CampaignError
from ..extensions import db
from ..models import Message, SoftBounce, Suppression
from ..paging import Page
from ..vocab import SUPPRESSION_LABELS, SUPPRESSION_REASONS

#: Reasons an admin may give when adding (the rest come from shoppers and mail servers).
ADDABLE = ("manual", "unsubscribed", "hard_bounce", "complaint")
#: Entries an admin may lift.
REMOVABLE = ("manual", "hard_bounce", "soft_bounce")
IMPORT_MAX_LINES = 50_000
IMPORT_MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Entry:
    id: int
    email_hash: str
    reason: str
    label: str
    created_at: datetime
    address: str | None  # known from an e-mail shopcrm sent; None: only the fingerprint is kept

    @property
    def removable(self) -> bool:
        return self.reason in REMOVABLE


def _addresses(hashes: list[str]) -> dict[str, str]:
    """Addresses shopcrm has mailed, by fingerprint (one indexed look-up for a page)."""
    if not hashes:
        return {}
    rows = db.session.execute(sa.select(Message.email_hash, sa.func.max(Message.email))
                              .where(Message.email_hash.in_(hashes)).group_by(Message.email_hash))
    return {h: e for h, e in rows if e}


def page_of(page: Page, reason: str | None = None) -> list[Entry]:
    """One page of the list, newest first."""
    query = sa.select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc())
    if reason:
        query = query.where(Suppression.reason == reason)
    rows = db.session.scalars(query.limit(page.size).offset(page.offset)).all()
    known = _addresses([r.email_hash for r in rows])
    return [Entry(r.id, r.email_hash, r.reason, SUPPRESSION_LABELS.get(r.reason, r.reason), r.created_at,
                  known.get(r.email_hash)) for r in rows]


def counts() -> dict[str, int]:
    """Entries per reason (and ``all``)."""
    found = {reason: int(n) for reason, n in db.session.execute(
        sa.select(Suppression.reason, sa.func.count()).group_by(Suppression.reason))}
    return {"all": sum(found.values()), **found}


def _address(text: str) -> str:
    address = normalize(text)
    if address is None:
        raise CampaignError(f"{text.strip()!r} is not an e-mail address; write it like anna@example.com")
    return address


def find(text: str) -> Entry | None:
    """The entry of an address, if it is on the list."""
    address = _address(text)
    row = db.session.scalar(sa.select(Suppression).where(Suppression.email_hash == address_hash(address)))
    if row is None:
        return None
    return Entry(row.id, row.email_hash, row.reason, SUPPRESSION_LABELS.get(row.reason, row.reason), row.created_at,
                 address)


def add(text: str, reason: str) -> bool:
    """Put an address on the list (not committed); ``False`` if it was there already."""
    if reason not in ADDABLE:
        raise CampaignError(f"choose a reason: {', '.join(SUPPRESSION_LABELS[r] for r in ADDABLE)}")
    return suppress(address_hash(_address(text)), reason)


def remove(entry_id: int) -> Suppression:
    """Lift an entry the shop may lift (not committed); the rest are refused with the reason why."""
    row = db.session.get(Suppression, entry_id)
    if row is None:
        raise CampaignError("this entry is no longer on the list")
    if row.reason not in REMOVABLE:
        why = {"unsubscribed": "the shopper unsubscribed; only they can subscribe again, on their own page",
               "complaint": "the shopper marked an e-mail as spam; mailing them again harms every e-mail you send",
               "forgotten": "the shopper asked to be forgotten"}.get(row.reason, "it cannot be lifted")
        raise CampaignError(f"this entry stays: {why}")
    db.session.execute(sa.delete(SoftBounce).where(SoftBounce.email_hash == row.email_hash))
    db.session.delete(row)
    return row


@dataclass
class ImportReport:
    added: int = 0
    already: int = 0
    problems: list[str] = None  # "line 7: 'x' is not an e-mail address"
    problem_count: int = 0

    def __post_init__(self):
        self.problems = self.problems if self.problems is not None else []


def import_csv(data: bytes) -> ImportReport:
    """Add the addresses of a CSV file (not committed): the first column, or a column headed
    ``email``/``e-mail``, and an optional ``reason`` column (default: blocked by the shop). UTF-8
    with or without a byte-order mark, "," or ";" between columns. Lines that are not an address
    are listed, up to ``IMPORT_MAX_PROBLEMS``, and skipped; nothing else is lost."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CampaignError("the file is not UTF-8 text; save it from the spreadsheet as “CSV UTF-8”") from None
    lines = text.splitlines()
    if len(lines) > IMPORT_MAX_LINES:
        raise CampaignError(f"the file has {len(lines):,} lines; import at most {IMPORT_MAX_LINES:,} at a time")
    delimiter = ";" if lines and lines[0].count(";") > lines[0].count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    report = ImportReport()
    if not rows:
        raise CampaignError("the file is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    email_column, reason_column, start = 0, None, 0
    if any(h in ("email", "e-mail", "address", "email address", "e-mail address") for h in header):
        email_column = next(i for i, h in enumerate(header)
                            if h in ("email", "e-mail", "address", "email address", "e-mail address"))
        reason_column = next((i for i, h in enumerate(header) if h == "reason"), None)
        start = 1
    seen: set[str] = set()
    for number, row in enumerate(rows[start:], start=start + 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        cell = row[email_column].strip() if len(row) > email_column else ""
        reason = (row[reason_column].strip().lower() if reason_column is not None and len(row) > reason_column
                  else "") or "manual"
        address = normalize(cell)
        problem = None
        if address is None:
            problem = f"line {number}: {cell[:80]!r} is not an e-mail address"
        elif reason not in ADDABLE:
            problem = f"line {number}: unknown reason {reason!r} (use {', '.join(ADDABLE)})"
        if problem:
            report.problem_count += 1
            if len(report.problems) < IMPORT_MAX_PROBLEMS:
                report.problems.append(problem)
            continue
        key = address_hash(address)
        if key in seen:
            report.already += 1
            continue
        seen.add(key)
        if suppress(key, reason):
            report.added += 1
        else:
            report.already += 1
    return report


EXPORT_COLUMNS = ("E-mail", "Fingerprint (SHA-256 of the address)", "Reason", "Reason code", "Since (UTC)")


def export_rows(chunk: int = 1000):
    """Every entry as CSV rows, the header first, a chunk at a time."""
    yield EXPORT_COLUMNS
    last = 0
    while True:
        rows = db.session.execute(sa.select(Suppression.id, Suppression.email_hash, Suppression.reason,
                                            Suppression.created_at).where(Suppression.id > last)
                                  .order_by(Suppression.id).limit(chunk)).all()
        if not rows:
            return
        last = rows[-1].id
        known = _addresses([r.email_hash for r in rows])
        for r in rows:
            yield [known.get(r.email_hash, ""), r.email_hash, SUPPRESSION_LABELS.get(r.reason, r.reason), r.reason,
                   r.created_at.strftime("%Y-%m-%d %H:%M:%S")]


__all__ = ["ADDABLE", "REMOVABLE", "SUPPRESSION_REASONS", "Entry", "ImportReport", "add", "counts", "export_rows",
           "find", "import_csv", "page_of", "remove"]
