"""After a sender stopped: rows it delivered but had not marked, and rows in doubt.

A row left ``sending`` after its lease ran out was handed to the mail server by a sender that
died before it could record the answer. If a later row of the same claim is ``sending`` too,
the answer was a 250 (:func:`settle_accepted` records it as sent, at the start and end of the
next run). Otherwise it may or may not have been delivered: it is reported as *in doubt*
(:func:`in_doubt`) and never resent or dropped silently; an admin decides
(:func:`resolve_in_doubt`).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ...clock import utcnow
from ...errors import CampaignError
from ...extensions import db
from ...models import Message


def _superseded():
    """A later row of the same claim became ``sending``: the sender had read the server's 250
    for this one (see :func:`settle_accepted`)."""
    later = aliased(Message)
    return sa.exists().where(later.claimed_by == Message.claimed_by, later.state == "sending", later.id > Message.id)


def _stopped(now: datetime):
    return sa.and_(Message.state == "sending", sa.or_(Message.lease_until.is_(None), Message.lease_until < now))


def doubtful(now: datetime):
    """Rows a stopped sender handed over without reading the answer: at most one per claim."""
    return sa.and_(_stopped(now), ~_superseded())


def settle_accepted() -> int:
    """Record as sent the rows a stopped sender had delivered but not yet marked.

    A sender commits a message's ``sending`` only after reading the 250 for the previous
    message, or after committing that message's failure or retry. So when a claim holds two
    ``sending`` rows, the earlier one was accepted; the sender merely had not written it down
    (on MariaDB/MySQL it writes the 250 together with the next message, to keep it out of the
    time between two messages). Not committed."""
    ids = db.session.scalars(sa.select(Message.id).where(_stopped(utcnow()), _superseded())).all()
    if ids:
        db.session.execute(sa.update(Message).where(Message.id.in_(ids), Message.state == "sending").values(
            state="sent", sent_at=Message.claimed_at, attempts=Message.attempts + 1, lease_until=None,
            reason="accepted by the mail server; recorded after its sender stopped"))
    return len(ids)


def count_in_doubt() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(doubtful(utcnow())))


def in_doubt(limit: int = 100) -> list[Message]:
    """Rows a sender handed to the mail server and then died: delivered or not, nobody knows."""
    return db.session.scalars(sa.select(Message).where(doubtful(utcnow())).order_by(Message.id).limit(limit)).all()


def resolve_in_doubt(message_id: int, outcome: str) -> Message:
    """An admin's decision on a row in doubt: ``sent`` (it arrived, e.g. the recipient has it)
    or ``requeue`` (send it again, accepting a possible duplicate). Not committed."""
    settle_accepted()  # first: an earlier row of the same claim is known sent only while this one is "sending"
    row = db.session.get(Message, message_id)
    if row is None or db.session.scalar(sa.select(Message.id).where(Message.id == message_id,
                                                                    doubtful(utcnow()))) is None:
        raise CampaignError(f"message #{message_id} is not in doubt")
    if outcome == "sent":
        row.state, row.reason, row.sent_at = "sent", "marked sent by an admin after a sender crash", row.claimed_at
    elif outcome == "requeue":
        row.state, row.reason = "queued", "requeued by an admin after a sender crash (may arrive twice)"
        row.next_attempt_at = utcnow()
    else:
        raise CampaignError("decide 'sent' or 'requeue'")
    row.claimed_by = row.lease_until = None
    return row
