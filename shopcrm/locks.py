"""Named leases in ``crm_lock``: the guard that keeps two cron runs from overlapping.

A lease lives in shopcrm's own database, so it holds across processes and across machines
that share that database. It expires after a time-to-live unless its holder renews it, so a
killed process does not block the job forever. The lock is taken on its own connection and
committed at once: it never rides on (or commits) the caller's session.

The owner names its holder: ``host:pid:random`` (:func:`make_owner`). A lease whose holder
ran on this host and whose process is gone (killed, crashed) is taken over at once instead of
after its time-to-live (:func:`holder_gone`); the outbox uses the same test for the rows such
a process had claimed. ``SHOPCRM_TAKE_OVER_DEAD_HOLDERS`` turns this off for set-ups where
one host name is shared by machines (or containers with their own process numbers) that use
the same database.
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
from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError, OperationalError

from .clock import utcnow
from .errors import RunLocked
from .extensions import db
from .models import Lock

_lock_table = Lock.__table__


def this_host() -> str:
    return socket.gethostname()[:30]


def make_owner() -> str:
    """``host:pid:random``: who holds a lease or a claim, and (on this host) whether it still runs."""
    return f"{this_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_process(owner: str | None) -> tuple[str, int] | None:
    """(host, pid) of an owner made by :func:`make_owner` (a claim token adds ``:batch``)."""
    parts = (owner or "").split(":")
    if len(parts) < 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a zombie, killed but not yet reaped by
    its parent, counts as gone)."""
    if pid <= 0:
        return True  # not a process number this module wrote; assume the worst
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _take_over_dead() -> bool:
    return bool(current_app.config.get("SHOPCRM_TAKE_OVER_DEAD_HOLDERS", True)) if has_app_context() else True


def holder_gone(owner: str | None) -> bool:
    """True when ``owner`` (a lease owner or a claim token) names a process of this host that no
    longer exists: its lease or claim can be taken over at once. Anything else — another host,
    a live process, an owner not made here — is left to its lease."""
    found = _owner_process(owner)
    if found is None or not _take_over_dead():
        return False
    host, pid = found
    return host == this_host() and pid != os.getpid() and not process_alive(pid)


class Lease:
    """A held lock. ``renew`` keeps it alive during long work; ``release`` gives it up."""

    def __init__(self, name: str, owner: str, ttl: float, engine: sa.Engine, taken_from: str | None = None):
        self.name, self.owner, self.ttl, self.engine = name, owner, ttl, engine
        self.taken_from = taken_from  # the owner of a lease taken over because its process was gone
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
            raise RunLocked(f"the lock {self.name!r} was lost (it expired, or this process looked gone, and "
                            "another process took it)")
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
    """Take the lock if it is free, its lease has expired or its holder is a process of this host
    that is gone (:func:`holder_gone`); ``None`` if someone holds it."""
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
        if result.rowcount != 1:  # ... or its holder, a process of this host, is gone
            held = holder(name, engine=engine)
            if held is not None and holder_gone(held["owner"]):
                with engine.begin() as conn:  # guarded by the dead owner: of two takers, one wins
                    result = conn.execute(
                        _lock_table.update()
                        .where(_lock_table.c.name == name, _lock_table.c.owner == held["owner"])
                        .values(owner=owner, acquired_at=now, expires_at=row["expires_at"])
                    )
                if result.rowcount == 1:
                    return Lease(name, owner, ttl, engine, taken_from=held["owner"])
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
    """Who holds a lock and until when, in words: the process and host, since when, and when
    the lease runs out unless renewed (times in UTC, to the second)."""
    info = info or {}
    owner = info.get("owner")
    found = _owner_process(owner)
    who = f"process {found[1]} on {found[0]}" if found else (owner or "?")
    if found and found[0] == this_host():
        who += ", this machine"
    return (f"another '{name}' job is running ({who}; since {_when(info.get('acquired_at'))} UTC, "
            f"lease until {_when(info.get('expires_at'))} UTC unless renewed)")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else "?"


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
    failed = False
    try:
        yield lease
    except BaseException:
        failed = True
        raise
    finally:
        try:
            lease.release()
        except sa.exc.SQLAlchemyError:
            if not failed:
                raise
            # The job already failed (often because the database went away): that error is
            # the one to report; the lease runs out, or is taken over once this process ends.
