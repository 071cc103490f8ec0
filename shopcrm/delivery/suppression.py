"""Who must not get marketing email, and who has had enough for now.

* The global suppression list (``crm_suppression``), keyed by the hash of the address:
  ``unsubscribed``, ``hard_bounce``, ``complaint``, ``soft_bounce`` (too many temporary
  refusals in a row), ``manual`` and ``forgotten``. Once there, an address gets no marketing
  email from any campaign or trigger, even if the person buys again later. Only the person
  can lift their own ``unsubscribed`` entry (resubscribe on their page); bounces and
  complaints stay.
* The frequency cap: at most ``SHOPCRM_FREQUENCY_CAP`` messages per address within
  ``SHOPCRM_FREQUENCY_CAP_DAYS``, across all campaigns, or less if the shopper asked for it
  on their page (weekly: one per 7 days; monthly: one per 30 days).

Helpers here never commit; the caller (a send batch, a form handler) does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

import sqlalchemy as sa
from flask import current_app

from ..clock import utcnow
from ..errors import CampaignError
from ..extensions import db
from ..models import Message, Preference, SoftBounce, Suppression
from ..vocab import FREQUENCIES, FREQUENCY_DAYS, RESUBSCRIBABLE, SUPPRESSION_REASONS

#: Suppressions the shopper may lift themselves.
_CHUNK = 500


def reasons_for(hashes: Iterable[str]) -> dict[str, str]:
    """Suppression reason per address hash, for those suppressed."""
    found: dict[str, str] = {}
    hashes = [h for h in set(hashes) if h]
    for start in range(0, len(hashes), _CHUNK):
        rows = db.session.execute(sa.select(Suppression.email_hash, Suppression.reason)
                                  .where(Suppression.email_hash.in_(hashes[start:start + _CHUNK])))
        found.update(dict(rows.all()))
    return found


def reason_for(email_hash: str) -> str | None:
    return db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == email_hash))


def suppress(email_hash: str, reason: str) -> bool:
    """Put the address on the list; ``False`` if it was there already (the first reason stays,
    except that a complaint or hard bounce replaces a softer one)."""
    if reason not in SUPPRESSION_REASONS:
        raise CampaignError(f"unknown suppression reason {reason!r}; known: {', '.join(SUPPRESSION_REASONS)}")
    existing = db.session.scalar(sa.select(Suppression).where(Suppression.email_hash == email_hash))
    if existing is not None:
        if reason in ("complaint", "hard_bounce", "forgotten") and existing.reason in RESUBSCRIBABLE + ("manual",):
            existing.reason = reason
        return False
    db.session.add(Suppression(email_hash=email_hash, reason=reason))
    return True


def resubscribe(email_hash: str) -> None:
    """Lift the shopper's own unsubscribe. Bounces and complaints are not theirs to lift."""
    existing = db.session.scalar(sa.select(Suppression).where(Suppression.email_hash == email_hash))
    if existing is None:
        return
    if existing.reason not in RESUBSCRIBABLE:
        raise CampaignError("this address cannot be resubscribed here "
                            f"(it is blocked because of: {existing.reason.replace('_', ' ')}); please contact the shop")
    db.session.delete(existing)


def record_soft_bounce(email_hash: str, reply: str) -> bool:
    """Count a temporary refusal of this address; ``True`` when that suppressed it."""
    row = db.session.get(SoftBounce, email_hash)
    if row is None:
        row = SoftBounce(email_hash=email_hash, count=0)
        db.session.add(row)
    row.count += 1
    row.last_at, row.last_reply = utcnow(), reply[:255]
    if row.count >= current_app.config["SHOPCRM_SOFT_BOUNCE_LIMIT"]:
        return suppress(email_hash, "soft_bounce")
    return False


def soft_bounced(hashes: Iterable[str]) -> set[str]:
    hashes = [h for h in set(hashes) if h]
    found: set[str] = set()
    for start in range(0, len(hashes), _CHUNK):
        found.update(db.session.scalars(sa.select(SoftBounce.email_hash)
                                        .where(SoftBounce.email_hash.in_(hashes[start:start + _CHUNK]))))
    return found


def frequency_of(email_hash: str) -> str:
    return db.session.scalar(sa.select(Preference.frequency).where(Preference.email_hash == email_hash)) or "normal"


def set_frequency(email_hash: str, frequency: str) -> None:
    if frequency not in FREQUENCIES:
        raise CampaignError("choose how often: normal, weekly or monthly")
    row = db.session.get(Preference, email_hash)
    if row is None:
        db.session.add(Preference(email_hash=email_hash, frequency=frequency, updated_at=utcnow()))
    else:
        row.frequency, row.updated_at = frequency, utcnow()


@dataclass
class CapState:
    """What the cap needs to know about one address: recent sends and the shopper's choice."""

    recent: int = 0  # sent within the shop's cap window
    last_sent: datetime | None = None
    frequency: str = "normal"


class FrequencyCap:
    """The cap for a batch of addresses, read in two queries and updated as messages go out."""

    def __init__(self, now: datetime | None = None):
        config = current_app.config
        self.limit = config["SHOPCRM_FREQUENCY_CAP"]
        self.now = now or utcnow()
        self.window_start = self.now - timedelta(days=config["SHOPCRM_FREQUENCY_CAP_DAYS"])
        self.states: dict[str, CapState] = {}

    def load(self, hashes: Iterable[str]) -> None:
        hashes = [h for h in set(hashes) if h and h not in self.states]
        lookback = min(self.window_start, self.now - timedelta(days=max(FREQUENCY_DAYS.values())))
        for start in range(0, len(hashes), _CHUNK):
            part = hashes[start:start + _CHUNK]
            for h in part:
                self.states[h] = CapState()
            recent = sa.func.sum(sa.case((Message.sent_at >= self.window_start, 1), else_=0))
            rows = db.session.execute(
                sa.select(Message.email_hash, recent, sa.func.max(Message.sent_at))
                .where(Message.email_hash.in_(part), Message.state == "sent", Message.sent_at >= lookback)
                .group_by(Message.email_hash))
            for email_hash, count, last in rows:
                self.states[email_hash].recent, self.states[email_hash].last_sent = int(count or 0), last
            for email_hash, frequency in db.session.execute(
                    sa.select(Preference.email_hash, Preference.frequency).where(Preference.email_hash.in_(part))):
                self.states[email_hash].frequency = frequency

    def blocks(self, email_hash: str) -> bool:
        state = self.states.get(email_hash) or CapState()
        if self.limit and state.recent >= self.limit:
            return True
        days = FREQUENCY_DAYS.get(state.frequency)
        return bool(days and state.last_sent and state.last_sent > self.now - timedelta(days=days))

    def count(self, email_hash: str, when: datetime) -> None:
        state = self.states.setdefault(email_hash, CapState())
        state.recent += 1
        state.last_sent = when
