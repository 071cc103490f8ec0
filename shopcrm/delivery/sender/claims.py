"""Claiming: a sender takes a batch of due rows, and gives back what it did not send."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from ...clock import utcnow
from ...extensions import db
from ...models import Message
from .journal import RELEASE, RENEW

_m = Message.__table__
ROW_COLUMNS = (_m.c.id, _m.c.campaign_id, _m.c.customer_id, _m.c.email, _m.c.email_hash, _m.c.subject,
                _m.c.html, _m.c.text, _m.c.unsubscribe_url, _m.c.attempts, _m.c.stop_if_ordered_since,
               _m.c.message_id, _m.c.channel, _m.c.phone)  # message_id kept from an earlier attempt: one Message-ID per row, so receivers can de-duplicate


def claim(token: str, size: int, lease: timedelta, channel: str = "email") -> list[dict]:
    """Take up to ``size`` due rows of ``channel`` for the claim ``token`` (see the package
    docstring, step 1); returns them in id order. Commits."""
    now = utcnow()
    free = sa.or_(_m.c.lease_until.is_(None), _m.c.lease_until < now)
    due = sa.and_(_m.c.state == "queued", _m.c.next_attempt_at <= now, free, _m.c.channel == channel)
    stamp = {"claimed_by": token, "claimed_at": now, "lease_until": now + lease}
    pick = sa.select(_m.c.id).where(due).order_by(_m.c.next_attempt_at, _m.c.id).limit(size)
    if db.engine.dialect.name in ("mysql", "mariadb"):
        # READ COMMITTED: rows the scan passes over but does not take are not kept locked.
        db.session.connection(execution_options={"isolation_level": "READ COMMITTED"})
        ids = db.session.scalars(pick.with_for_update(skip_locked=True)).all()
        if ids:
            db.session.execute(_m.update().where(_m.c.id.in_(ids), due).values(**stamp))
    else:  # one guarded UPDATE: SQLite serialises writers, so two senders cannot both win a row
        ids = db.session.scalars(_m.update().where(_m.c.id.in_(pick.scalar_subquery()), due)
                                 .values(**stamp).returning(_m.c.id)).all()
    db.session.commit()
    if not ids:
        return []
    rows = db.session.execute(sa.select(*ROW_COLUMNS).where(_m.c.id.in_(ids), _m.c.claimed_by == token)
                              .order_by(_m.c.id)).mappings().all()
    db.session.commit()  # end the read: the sender's own connection writes next (SQLite: one writer)
    return [dict(r) for r in rows]


def release(rows: list[dict], token: str, due: datetime) -> tuple:
    """Give back the batch's untouched rows (only those still queued and ours), due again at ``due``."""
    return (RELEASE, {"ids": [r["id"] for r in rows], "token": token, "due": due})


def renewal(rows: list[dict], token: str, until: datetime) -> tuple:
    """Keep the batch's claims alive until ``until``."""
    return (RENEW, {"ids": [r["id"] for r in rows], "token": token, "until": until})
