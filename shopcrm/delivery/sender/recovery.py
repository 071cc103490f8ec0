"""After a sender stopped: rows it delivered but had not marked, and rows in doubt.

A row is *in doubt* when it was handed over and no answer came: for e-mail, the body's final
``.`` went out (from then on the mail server may deliver it) and its reply never arrived —
the connection dropped, the reply took longer than ``SHOPCRM_SMTP_DATA_TIMEOUT``, or the
sender died. The words are the channel's; the rule is not: any channel whose request may have
been taken without an answer (an SMS provider's HTTP call) records the same state. Such a row
is never resent silently: sending it again may deliver it twice. An admin decides
(:func:`resolve_in_doubt`); or, with ``SHOPCRM_RESEND_IN_DOUBT`` on, the next run sends it
again with the same Message-ID, so that receivers that de-duplicate drop the copy
(:func:`resend_in_doubt`).

How a row becomes in doubt:

* the sender saw the reply go missing: the row stays ``sending``, its lease cleared, the
  reason says what happened (``MARK_IN_DOUBT`` in the journal);
* the sender died: its row stays ``sending`` until the lease runs out — or at once when the
  claim names a process of this host that is gone (:func:`shopcrm.locks.holder_gone`).

If a later row of the same claim is ``sending`` too, the earlier one's answer was a 250
(:func:`settle_accepted` records it as sent, at the start and end of the next run).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ...clock import utcnow
from ...errors import CampaignError
from ...extensions import db
from ...locks import holder_gone
from ...models import Message

#: How a reason of a row in doubt starts (the rest says why), whatever the channel.
IN_DOUBT = "in doubt"


def _superseded():
    """A later row of the same claim became ``sending``: the sender had read the server's 250
    for this one (see :func:`settle_accepted`)."""
    later = aliased(Message)
    return sa.exists().where(later.claimed_by == Message.claimed_by, later.state == "sending", later.id > Message.id)


def dead_claims(now: datetime, states: tuple[str, ...] = ("sending",)) -> list[str]:
    """Claims still leased whose sender is a process of this host that is gone. Claimed
    ``queued`` rows were due when claimed, so the scan stays within the due index."""
    live = sa.and_(Message.lease_until >= now, Message.claimed_by.is_not(None))
    wanted = [Message.state == "sending"] if "sending" in states else []
    if "queued" in states:
        wanted.append(sa.and_(Message.state == "queued", Message.next_attempt_at <= now))
    tokens = db.session.scalars(sa.select(Message.claimed_by).where(live, sa.or_(*wanted)).distinct()).all()
    return [t for t in tokens if holder_gone(t)]


def _stopped(now: datetime):
    stopped = [Message.lease_until.is_(None), Message.lease_until < now]
    dead = dead_claims(now)
    if dead:
        stopped.append(Message.claimed_by.in_(dead))
    return sa.and_(Message.state == "sending", sa.or_(*stopped))


def doubtful(now: datetime):
    """Rows a stopped sender handed over without reading the answer: at most one per claim."""
    return sa.and_(_stopped(now), ~_superseded())


def release_dead_claims() -> int:
    """End at once the claims of senders of this host that are gone (killed, crashed): their
    ``queued`` rows are free to claim, their ``sending`` rows settled or in doubt, without
    waiting for the lease. Not committed."""
    now = utcnow()
    dead = dead_claims(now, ("queued", "sending"))
    if not dead:
        return 0
    return db.session.execute(sa.update(Message).where(Message.claimed_by.in_(dead), Message.lease_until >= now)
                              .values(lease_until=now - timedelta(seconds=1))).rowcount


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
    """Rows handed over without an answer: delivered or not, nobody knows."""
    return db.session.scalars(sa.select(Message).where(doubtful(utcnow())).order_by(Message.id).limit(limit)).all()


def resend_in_doubt(max_attempts: int) -> int:
    """``SHOPCRM_RESEND_IN_DOUBT``: queue the rows in doubt again, at once, keeping their
    Message-ID (the sender reuses a row's stored one), so a receiver that de-duplicates drops
    the second copy. A row that already used ``max_attempts`` stays in doubt for an admin.
    Run after :func:`settle_accepted` (a row that was in fact accepted must not go again).
    Not committed."""
    now = utcnow()
    ids = db.session.scalars(sa.select(Message.id).where(doubtful(now), Message.attempts + 1 < max_attempts)).all()
    if ids:
        db.session.execute(sa.update(Message).where(Message.id.in_(ids), Message.state == "sending").values(
            state="queued", attempts=Message.attempts + 1, next_attempt_at=now, claimed_by=None, lease_until=None,
            reason=f"resent after being {IN_DOUBT} (SHOPCRM_RESEND_IN_DOUBT), with the same Message-ID"))
    return len(ids)


def resolve_in_doubt(message_id: int, outcome: str) -> Message:
    """An admin's decision on a row in doubt: ``sent`` (it arrived, e.g. the recipient has it)
    or ``requeue`` (send it again, accepting a possible duplicate; it keeps its Message-ID).
    Not committed."""
    settle_accepted()  # first: an earlier row of the same claim is known sent only while this one is "sending"
    row = db.session.get(Message, message_id)
    if row is None or db.session.scalar(sa.select(Message.id).where(Message.id == message_id,
                                                                    doubtful(utcnow()))) is None:
        raise CampaignError(f"message #{message_id} is not in doubt")
    if outcome == "sent":
        row.state, row.reason, row.sent_at = "sent", "marked sent by an admin after it was in doubt", row.claimed_at
    elif outcome == "requeue":
        row.state, row.reason = "queued", "requeued by an admin after it was in doubt (may arrive twice)"
        row.next_attempt_at = utcnow()
    else:
        raise CampaignError("decide 'sent' or 'requeue'")
    row.claimed_by = row.lease_until = None
    return row
