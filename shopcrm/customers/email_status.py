"""Can we e-mail this customer, and if not, why and since when: one answer for the profile, the
lists and the exports.

It is the rule the sender applies (``delivery.eligibility``: a usable address, the shop's
newsletter consent, the suppression list), told in the owner's words, with the date of the
suppression and the temporary bounces counted so far. A shopper who unsubscribed reads as
"Unsubscribed on 3 Nov 2026", whatever the shop's own newsletter flag still says.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import sqlalchemy as sa

from ..delivery.eligibility import address_of
from ..extensions import db
from ..models import SoftBounce, Suppression
from ..vocab import SUPPRESSION_LABELS

CHUNK = 500
SHORT = {"subscribed": "Yes", "no_consent": "Not subscribed", "no_address": "No address", "unsubscribed": "Unsubscribed",
         "hard_bounce": "Bounced", "soft_bounce": "Bounced", "complaint": "Marked as spam", "manual": "Blocked",
         "forgotten": "Forgotten"}


@dataclass(frozen=True)
class EmailStatus:
    code: str  # subscribed, no_consent, no_address, or a suppression reason
    label: str  # what the owner reads
    since: datetime | None = None  # UTC, when the address was suppressed
    soft_bounces: int = 0  # temporary refusals in a row, not yet enough to suppress

    @property
    def mailable(self) -> bool:
        return self.code == "subscribed"

    @property
    def short(self) -> str:
        """A word or two for a column of a list."""
        return SHORT.get(self.code, self.label)


def _suppressions(hashes: list[str]) -> dict[str, tuple[str, datetime]]:
    found: dict[str, tuple[str, datetime]] = {}
    for start in range(0, len(hashes), CHUNK):
        part = hashes[start:start + CHUNK]
        for email_hash, reason, created in db.session.execute(
                sa.select(Suppression.email_hash, Suppression.reason, Suppression.created_at)
                .where(Suppression.email_hash.in_(part))):
            found[email_hash] = (reason, created)
    return found


def _soft_bounces(hashes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(hashes), CHUNK):
        part = hashes[start:start + CHUNK]
        found.update({h: int(n) for h, n in db.session.execute(
            sa.select(SoftBounce.email_hash, SoftBounce.count).where(SoftBounce.email_hash.in_(part)))})
    return found


def statuses(customers: Iterable[dict]) -> dict[int, EmailStatus]:
    """The status of each shop customer row (``id``, ``email``, ``consent``), by customer id; a
    few indexed look-ups per 500 customers."""
    rows = [(int(c["id"]), c, address_of(c)) for c in customers if c and c.get("id") is not None]
    hashes = sorted({h for _, _, (_, h) in rows if h})
    suppressed = _suppressions(hashes) if hashes else {}
    bounces = _soft_bounces(hashes) if hashes else {}
    result: dict[int, EmailStatus] = {}
    for customer_id, customer, (email, email_hash) in rows:
        if email is None:
            result[customer_id] = EmailStatus("no_address", "No usable address")
        elif email_hash in suppressed:
            reason, since = suppressed[email_hash]
            result[customer_id] = EmailStatus(reason, SUPPRESSION_LABELS.get(reason, reason), since)
        elif not customer.get("consent"):
            result[customer_id] = EmailStatus("no_consent", "Not subscribed to the newsletter",
                                              soft_bounces=bounces.get(email_hash, 0))
        else:
            result[customer_id] = EmailStatus("subscribed", "Subscribed", soft_bounces=bounces.get(email_hash, 0))
    return result


def status_of(customer: dict | None) -> EmailStatus | None:
    """One customer's status; ``None`` when the shop could not say who they are."""
    if not customer or customer.get("email", ...) is ...:
        return None
    return statuses([customer]).get(int(customer["id"]))
