"""``crm_throttle``: counters every process shares (login attempts, beacon requests per minute).

One row per (scope, key); the key is a digest of what is counted (a client address, an
account, an address and a minute), so its length is bounded and no address is kept in clear.
Times are whole unix seconds: the counters are updated by arithmetic in SQL, the same on
SQLite and MariaDB.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db


class Throttle(db.Model):
    __tablename__ = "crm_throttle"

    scope = sa.Column(sa.String(16), primary_key=True)
    key = sa.Column(sa.String(64), primary_key=True)
    hits = sa.Column(sa.Integer, nullable=False, default=0)
    #: Unix time before which the next attempt is refused (0: none is).
    blocked_until = sa.Column(sa.BigInteger, nullable=False, default=0)
    updated_at = sa.Column(sa.BigInteger, nullable=False)

    __table_args__ = (sa.Index("ix_crm_throttle_updated", "updated_at"),)
