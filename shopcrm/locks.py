"""Named leases in ``crm_lock``: the guard that keeps two cron runs from overlapping.

A lease lives in shopcrm's own database, so it holds across processes and across machines
that share that database. It expires after a time-to-live unless its holder renews it, so a
killed process does not block the job forever. The lock is taken on its own connection and
committed at once: it never rides on (or commits) the caller's session.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from .clock import utcnow
from .errors import RunLocked
from .extensions import db
from .models import Lock

_lock_table = Lock.__table__


def make_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """A held lock. ``renew`` keeps it alive during long work; ``release`` gives it up."""

    def __init__(self, name: str, owner: str, ttl: float, engine: sa.Engine):
        self.name, self.owner, self.ttl, self.engine = name, owner, ttl, engine
        self._last_renew = time.monotonic()

    def renew(self, force: bool = False) -> None:
        """Push the expiry forward; cheap to call often (it writes at most every ttl/4)."""
        if not force and time.monotonic() - self._last_renew < self.ttl / 4:
            return
        now = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                _lock_table.update()
                .where(_lock_table.c.name == self.name, _lock_table.c.owner == self.owner)
                .values(expires_at=now + timedelta(seconds=self.ttl))
            )
        if result.rowcount != 1:
            raise RunLocked(f"the lock {self.name!r} was lost (it expired and another process took it)")
        self._last_renew = time.monotonic()

    def check(self) -> None:
        """Raise unless we still hold the lease. A read only: safe while our own session holds
        an open write transaction (SQLite allows one writer at a time)."""
        with self.engine.connect() as conn:
            owner = conn.execute(sa.select(_lock_table.c.owner).where(_lock_table.c.name == self.name)).scalar()
        if owner != self.owner:
            raise RunLocked(f"the lock {self.name!r} was lost (it expired and another process took it)")

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                _lock_table.delete().where(_lock_table.c.name == self.name, _lock_table.c.owner == self.owner)
            )


def try_acquire(name: str, ttl: float, owner: str | None = None, engine: sa.Engine | None = None) -> Lease | None:
    """Take the lock if it is free or its lease has expired; ``None`` if someone holds it."""
    engine = engine or db.engine
    owner = owner or make_owner()
    now = utcnow()
    row = {"name": name, "owner": owner, "acquired_at": now, "expires_at": now + timedelta(seconds=ttl)}
    try:
        try:
            with engine.begin() as conn:
                conn.execute(_lock_table.insert().values(**row))
            return Lease(name, owner, ttl, engine)
        except IntegrityError:
            pass
        with engine.begin() as conn:  # the row exists: take it over only if its lease ran out
            result = conn.execute(
                _lock_table.update()
                .where(_lock_table.c.name == name, _lock_table.c.expires_at < now)
                .values(owner=owner, acquired_at=now, expires_at=row["expires_at"])
            )
    except OperationalError as exc:
        if not _contended(exc):
            raise
        return None  # others were taking it at the same moment: one of them has it
    return Lease(name, owner, ttl, engine) if result.rowcount == 1 else None


def _contended(exc: OperationalError) -> bool:
    """A deadlock or lock wait between processes taking the same lock (MariaDB/MySQL 1213,
    1205; SQLite "database is locked"), as opposed to a database that is down."""
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return code in (1205, 1213) or "database is locked" in str(exc.orig)


def holder(name: str, engine: sa.Engine | None = None) -> dict | None:
    engine = engine or db.engine
    with engine.connect() as conn:
        row = conn.execute(sa.select(_lock_table).where(_lock_table.c.name == name)).mappings().first()
    return dict(row) if row else None


def describe_holder(name: str, info: dict | None) -> str:
    """Who holds a lock and until when, in words."""
    info = info or {}
    return (f"another '{name}' job is running (held by {info.get('owner', '?')} since "
            f"{info.get('acquired_at', '?')} UTC, lease until {info.get('expires_at', '?')} UTC)")


@contextmanager
def job_lock(name: str, ttl: float = 900, wait: float = 0, poll: float = 0.5, engine: sa.Engine | None = None,
             on_wait: Callable[[str], None] | None = None):
    """Hold the lock ``name`` for the duration of the block.

    With ``wait=0`` a held lock raises :class:`RunLocked` at once (what cron wants: the next
    tick will try again); otherwise it polls for up to ``wait`` seconds, after telling
    ``on_wait`` (once) who holds it.
    """
    deadline = time.monotonic() + wait
    told = False
    while True:
        lease = try_acquire(name, ttl, engine=engine)
        if lease is not None:
            break
        if time.monotonic() >= deadline:
            raise RunLocked(describe_holder(name, holder(name, engine=engine)) + "; try again later")
        if on_wait is not None and not told:
            on_wait(describe_holder(name, holder(name, engine=engine)))
            told = True
        time.sleep(poll)
    try:
        yield lease
    finally:
        lease.release()
