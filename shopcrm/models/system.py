"""Tables every part shares: named leases (``crm_lock``) and named state documents (``crm_state``)."""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db


class Lock(db.Model):
    """A named lease so that two processes (or machines) never run the same job at once."""

    __tablename__ = "crm_lock"

    name = sa.Column(sa.String(64), primary_key=True)
    owner = sa.Column(sa.String(64), nullable=False)
    acquired_at = sa.Column(sa.DateTime, nullable=False)
    expires_at = sa.Column(sa.DateTime, nullable=False)


class State(db.Model):
    """A named JSON document shared by every process, outside any run (the doctor's last
    report), so a page shows it without recomputing it."""

    __tablename__ = "crm_state"

    name = sa.Column(sa.String(64), primary_key=True)
    data = sa.Column(sa.JSON, nullable=False)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    @classmethod
    def read(cls, name: str) -> "State | None":
        return db.session.get(cls, name)

    @classmethod
    def write(cls, name: str, data) -> "State":
        """Insert or replace (not committed)."""
        row = db.session.get(cls, name) or cls(name=name)
        row.data, row.updated_at = data, utcnow()
        db.session.add(row)
        return row
