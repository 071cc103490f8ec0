"""Counters that every process shares, in ``crm_throttle``: attempts with growing waits (logins)
and requests per minute (the view beacon).

Why a table and not Flask-Limiter: shopcrm runs as several processes (Apache's mod_wsgi daemon
processes, gunicorn workers) that share no memory, on shop hostings that rarely offer Redis or
Memcached. Flask-Limiter (through ``limits``) keeps its counts in memory, Redis, Memcached,
MongoDB or etcd: in memory every process counts alone (N processes allow N times the limit),
and the others are servers the hosting lacks. shopcrm's own database is shared by every process
already; each count here is one atomic statement on it, so concurrent requests can never both
take the last allowed attempt (the database orders the updates of a row).

Nothing here commits the caller's session: each call runs on its own connection and commits at
once, so a count holds even when the request later fails.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import sqlalchemy as sa

from .dbutil import insert_ignoring_duplicates
from .models import Throttle

_t = Throttle.__table__


def digest(text: str) -> str:
    """The stored key: bounded length, and no address or e-mail kept in clear."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def now_seconds() -> int:
    return int(time.time())


@dataclass(frozen=True)
class Backoff:
    """``free`` attempts, then a wait before each next one: ``first_wait`` seconds, doubling up to
    ``max_wait``. After ``forget_after`` seconds without an attempt the count starts again."""

    free: int
    first_wait: int
    max_wait: int
    forget_after: int

    def waits(self) -> list[int]:
        """The waits after attempt ``free``, ``free + 1``, … until the cap (which then repeats)."""
        found, wait = [], self.first_wait
        while wait < self.max_wait:
            found.append(wait)
            wait *= 2
        return found


def _engine(engine: sa.Engine | None) -> sa.Engine:
    if engine is not None:
        return engine
    from .extensions import db

    return db.engine


def _where(scope: str, key: str):
    return sa.and_(_t.c.scope == scope, _t.c.key == key)


def reserve(scope: str, key: str, backoff: Backoff, now: int | None = None, engine: sa.Engine | None = None) -> int:
    """Take one attempt for ``key``: 0 when it may go ahead, else the seconds left to wait.

    The attempt is counted *before* the caller checks anything (a password), in one conditional
    UPDATE; so of N concurrent requests exactly as many get through as attempts are left.
    """
    engine, now, key = _engine(engine), now_seconds() if now is None else now, digest(key)
    hits = _t.c.hits
    # The wait that follows this attempt, from the count before it: attempt number hits + 1.
    waits = backoff.waits()
    next_block = sa.case(
        (hits < backoff.free - 1, sa.literal(0, sa.BigInteger)),
        *[(hits == backoff.free - 1 + i, sa.literal(now + wait, sa.BigInteger)) for i, wait in enumerate(waits)],
        else_=sa.literal(now + backoff.max_wait, sa.BigInteger),
    )
    with engine.begin() as conn:
        conn.execute(insert_ignoring_duplicates(_t, conn.dialect.name).values(
            scope=scope, key=key, hits=0, blocked_until=0, updated_at=now))
        conn.execute(_t.update().where(_where(scope, key), _t.c.updated_at < now - backoff.forget_after,
                                       _t.c.blocked_until <= now).values(hits=0))
        # blocked_until first: MySQL/MariaDB evaluate SET from left to right, so it must still
        # see the old count (SQLite always does).
        taken = conn.execute(_t.update().where(_where(scope, key), _t.c.blocked_until <= now).ordered_values(
            (_t.c.blocked_until, next_block), (_t.c.hits, hits + 1), (_t.c.updated_at, now))).rowcount
        if taken == 1:
            return 0
        blocked_until = conn.execute(sa.select(_t.c.blocked_until).where(_where(scope, key))).scalar() or now
    return max(1, int(blocked_until) - now)


def clear(scope: str, key: str, engine: sa.Engine | None = None, session=None) -> None:
    """Forget the attempts of ``key`` (a successful login, a new password): at once, or within
    ``session``'s transaction (committed with the change that caused it)."""
    stmt = _t.delete().where(_where(scope, digest(key)))
    if session is not None:
        session.execute(stmt)
        return
    with _engine(engine).begin() as conn:
        conn.execute(stmt)


def count_in_window(scope: str, key: str, period: int, now: int | None = None,
                    engine: sa.Engine | None = None) -> int:
    """Count one request of ``key`` in the current window of ``period`` seconds; the count
    so far, this one included. One UPSERT (SQLite returns the count with it)."""
    engine, now = _engine(engine), now_seconds() if now is None else now
    window = now - now % period
    row = {"scope": scope, "key": digest(f"{key}|{window}"), "hits": 1, "blocked_until": 0, "updated_at": now}
    with engine.begin() as conn:
        if conn.dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import insert

            conn.execute(insert(_t).values(**row).on_duplicate_key_update(hits=_t.c.hits + 1))
            return int(conn.execute(sa.select(_t.c.hits).where(_where(scope, row["key"]))).scalar())
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(_t).values(**row)
        stmt = stmt.on_conflict_do_update(index_elements=[_t.c.scope, _t.c.key], set_={"hits": _t.c.hits + 1})
        return int(conn.execute(stmt.returning(_t.c.hits)).scalar())


def prune(older_than: int, now: int | None = None, engine: sa.Engine | None = None) -> int:
    """Delete counters untouched for ``older_than`` seconds whose wait is over; rows deleted."""
    now = now_seconds() if now is None else now
    with _engine(engine).begin() as conn:
        return conn.execute(_t.delete().where(_t.c.updated_at < now - older_than, _t.c.blocked_until <= now)).rowcount


class WindowLimit:
    """At most ``limit`` requests per key and ``period`` seconds, counted across every process.

    Kept per app for the life of a process only to remember when it last pruned old windows
    (at most once per period, so the table holds about two windows of clients).
    """

    def __init__(self, scope: str, limit: int, period: int = 60):
        self.scope, self.limit, self.period = scope, limit, period
        self._pruned_window = -1

    def allow(self, key: str, now: int | None = None, engine: sa.Engine | None = None) -> bool:
        now = now_seconds() if now is None else now
        window = now - now % self.period
        if window != self._pruned_window:
            self._pruned_window = window
            with _engine(engine).begin() as conn:
                conn.execute(_t.delete().where(_t.c.scope == self.scope, _t.c.updated_at < window - self.period))
        return count_in_window(self.scope, key, self.period, now, engine) <= self.limit
