"""The sender's journal: every state change of an outbox row, and how it reaches the database.

The changes are Core statements compiled once and run on the driver's own cursor (a message
costs two of them and a commit). A batch stages them and commits them at the moments the
sender's promise needs (see the package docstring): before a message's content goes out, its
row is durably ``sending``.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from ...extensions import db
from ...models import Message, SoftBounce, Suppression

_m = Message.__table__

# --- state changes (a list of them is committed as one transaction) ------------------------------

MARK_SENDING = (
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.state == "queued", _m.c.claimed_by == sa.bindparam("token"),
           ~sa.exists().where(Suppression.__table__.c.email_hash == sa.bindparam("h")))
    .values(state="sending", claimed_at=sa.bindparam("now"), message_id=sa.bindparam("msgid"))
)
MARK_SENT = (  # the batch's accepted messages, at its end: a later "sending" of the same claim implied each
    _m.update().where(_m.c.id.in_(sa.bindparam("ids", expanding=True)), _m.c.claimed_by == sa.bindparam("token"),
                      _m.c.state == "sending")
    .values(state="sent", sent_at=_m.c.claimed_at, reason=None, attempts=_m.c.attempts + 1, lease_until=None)
)
# OR rather than IN: an IN list is rendered per execution, these are compiled once (DriverStatement)
_in_hand = sa.or_(_m.c.state == "queued", _m.c.state == "sending")
MARK_DONE = (  # suppressed, cancelled or failed, with the reason
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.claimed_by == sa.bindparam("token"), _in_hand)
    .values(state=sa.bindparam("new_state"), reason=sa.bindparam("why"), attempts=sa.bindparam("n"),
            lease_until=None)
)
RETRY = (
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.claimed_by == sa.bindparam("token"), _in_hand)
    .values(state="queued", reason=sa.bindparam("why"), attempts=sa.bindparam("n"),
            next_attempt_at=sa.bindparam("due"), claimed_by=None, lease_until=None)
)
RELEASE = (
    _m.update().where(_m.c.id.in_(sa.bindparam("ids", expanding=True)), _m.c.claimed_by == sa.bindparam("token"),
                      _m.c.state == "queued")
    .values(claimed_by=None, lease_until=None, next_attempt_at=sa.bindparam("due"))
)
RENEW = (
    _m.update().where(_m.c.id.in_(sa.bindparam("ids", expanding=True)), _m.c.claimed_by == sa.bindparam("token"))
    .values(lease_until=sa.bindparam("until"))
)
MARK_IN_DOUBT = (  # handed over, no answer: stays "sending", its lease ended at once (see recovery)
    _m.update().where(_m.c.id == sa.bindparam("mid"), _m.c.claimed_by == sa.bindparam("token"), _m.c.state == "sending")
    .values(lease_until=None, reason=sa.bindparam("why"))
)
FORGIVE = SoftBounce.__table__.delete().where(SoftBounce.__table__.c.email_hash == sa.bindparam("h"))
ID_LISTS = (RELEASE, RENEW, MARK_SENT)  # once a batch, with a list of ids: run through SQLAlchemy


def sqlite_time(moment: datetime) -> str:
    """A DateTime as SQLAlchemy stores it on SQLite: ``2026-12-06 01:16:48.123456``, no zone."""
    return (moment.replace(tzinfo=None) if moment.tzinfo else moment).isoformat(" ", "microseconds")


class DriverStatement:
    """A Core statement compiled once for the engine's dialect and run on the driver's cursor.

    A message costs two of these and a commit; SQLAlchemy's per-execution bookkeeping would
    add a noticeable share of a message's time with a local relay (docs/BENCHMARKS.md)."""

    def __init__(self, statement, dialect):
        self.compiled = statement.compile(dialect=dialect)
        self.sql = self.compiled.string
        self.sqlite = dialect.name == "sqlite"
        self.order = self.compiled.positiontup
        binds = self.compiled.bind_names
        # The statement's own values (its literals: ``state == "queued"``) are the same at every
        # execution, so they are read once; a message's own values are put between them.
        self.slots = None
        if not any(b.callable for b in binds):
            fixed = self._driver_values(self.compiled.construct_params(_check=False))
            required = {name for b, name in binds.items() if b.required}
            self.slots = [(name, name in required, fixed[name]) for name in (self.order or fixed)]

    def _driver_values(self, params: dict) -> dict:
        if not self.sqlite:
            return params
        return {k: sqlite_time(v) if isinstance(v, datetime) else v for k, v in params.items()}

    def bind(self, values: dict):
        if self.slots is None:  # a value computed at execution time: SQLAlchemy's own way
            params = self._driver_values(self.compiled.construct_params(values))
            return tuple(params[name] for name in self.order) if self.order is not None else params
        values = self._driver_values(values)
        try:
            params = [values[name] if required else values.get(name, fixed) for name, required, fixed in self.slots]
        except KeyError as exc:
            raise sa.exc.InvalidRequestError(f"A value is required for bind parameter {exc.args[0]!r}") from None
        return tuple(params) if self.order is not None else dict(zip((slot[0] for slot in self.slots), params))


class Journal:
    """The sender's own connection and its transaction: staged changes, commits, rollbacks."""

    def __init__(self):
        self.connection: sa.Connection | None = None
        self.statements: dict = {}
        self.staged: list[tuple] = []  # run in the open transaction, not committed yet
        self.staged_counts: list[int] = []  # their row counts (after the commit, on SQLite)
        self.early = db.engine.dialect.name != "sqlite"
        self.pending = None  # a COMMIT on its way (MariaDB/MySQL), see commit(wait=False)
        self.ready: list[tuple] | None = None  # SQLite: changes to commit once the body is out
        self.committer: ThreadPoolExecutor | None = None
        self.sqlite_synchronous = None

    def _connect(self) -> sa.Connection:
        """The sender's own connection for state changes.

        On SQLite (WAL) its commits use ``synchronous = NORMAL``: durable when the sender or
        the machine's other processes crash — the failure this outbox must survive — without a
        disk flush per message; only a power loss may roll back the last commits (SQLite's own
        recommendation for WAL). On MariaDB/MySQL the server's flush setting decides."""
        connection = db.engine.connect()
        if connection.dialect.name in ("mysql", "mariadb"):
            connection = connection.execution_options(isolation_level="READ COMMITTED")
        if connection.dialect.name == "sqlite":
            raw = connection.connection.dbapi_connection
            self.sqlite_synchronous = raw.execute("PRAGMA synchronous").fetchone()[0]
            raw.execute("PRAGMA synchronous = NORMAL")
        return connection

    def close(self) -> None:
        try:
            self.await_commit()
        finally:
            if self.committer is not None:
                self.committer.shutdown()
                self.committer = None
            self._close_connection()

    def _close_connection(self) -> None:
        if self.connection is not None:
            try:
                if self.sqlite_synchronous is not None:  # the pooled connection goes back as it came
                    raw = self.connection.connection.dbapi_connection
                    raw.execute(f"PRAGMA synchronous = {int(self.sqlite_synchronous)}")
                self.connection.close()
                self.connection = None
            except Exception:  # noqa: BLE001 - a broken connection: the error that broke it is the one reported
                self._discard()

    def _discard(self) -> None:
        """Drop a connection that failed (the database went away): the server undoes what it
        did not commit, and the pool does not get it back."""
        connection, self.connection = self.connection, None
        self.sqlite_synchronous = None
        if connection is None:
            return
        for step in (connection.invalidate, connection.close):
            try:
                step()
            except Exception:  # noqa: BLE001 - it is broken already
                pass

    @property
    def driver(self):
        """The driver's own connection under the sender's connection: the hot statements and
        the commits go straight to it."""
        return self.connection.connection.dbapi_connection

    def _execute(self, ops: list[tuple]) -> list[int]:
        """Run per-message state changes on the sender's own connection, inside its open
        transaction; the row counts tell whether each guarded change applied."""
        self.await_commit()
        if self.connection is None:
            self.connection = self._connect()
        raw = self.driver
        cursor = raw.cursor()
        counts = []
        try:
            for statement, values in ops:
                if statement not in self.statements:
                    self.statements[statement] = DriverStatement(statement, self.connection.dialect)
                compiled = self.statements[statement]
                cursor.execute(compiled.sql, compiled.bind(values))
                counts.append(cursor.rowcount)
        finally:
            cursor.close()
        return counts

    def stage(self, ops: list[tuple]) -> None:
        """State changes to commit with the next :meth:`commit`, run now where that is safe.

        On MariaDB/MySQL the next message's ``sending`` runs while the server still works on
        the previous message, so only the commit itself remains between the server's answer
        and the next message's end (see ``Sender._deliver``). It locks that
        one outbox row, nothing else (the connection reads committed data: no gap locks on the
        suppression list, so an unsubscribe never waits for the sender). SQLite locks the whole
        database for a writer: there the changes wait for the commit instead of holding the
        lock while the mail server answers."""
        if not self.staged:
            self.staged_counts = []
        if self.early:
            try:
                self.staged_counts += self._execute(ops)
            except BaseException:
                self.rollback()
                raise
        self.staged += ops

    def rollback(self) -> list[tuple]:
        """Undo the open transaction; returns the staged changes it held."""
        staged, self.staged, self.staged_counts, self.ready = self.staged, [], [], None
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.exception()  # wait; a failed COMMIT has undone the transaction anyway
        if self.connection is not None:
            try:
                self.driver.rollback()
                if self.connection.in_transaction():  # one begun by a statement run through SQLAlchemy
                    self.connection.rollback()
            except Exception:  # noqa: BLE001 - the connection broke (the error that broke it is raised)
                self._discard()
        return staged

    @contextmanager
    def outside_transaction(self):
        """Let the session write (a suppression, a soft bounce) while changes are staged: they
        are undone first — so the two connections cannot wait on each other's locks — and
        run again afterwards, their row counts read anew (the address may be suppressed now)."""
        if not (self.staged and self.early):
            yield
            return
        staged = self.rollback()
        yield
        self.stage(staged)

    def commit(self, ops: list[tuple], wait: bool = True) -> list[int]:
        """Apply state changes, with the staged ones, in one transaction on the sender's own
        connection; returns the row counts of ``ops`` (the staged ones' end in
        ``staged_counts``). Statements with lists of ids (the batch's 250s, renewals,
        releases) go through SQLAlchemy, in the same transaction.

        ``wait=False``: the commit happens while the caller sends the message's body, and
        :meth:`await_commit` must return before the body's end goes out. On MariaDB/MySQL the
        COMMIT runs in a helper thread (the driver's connection is never used by two threads
        at once: everything else that touches it waits for the COMMIT first); on SQLite, where
        it costs CPU rather than a wait, :meth:`await_commit` runs it after the body went out."""
        self.await_commit()
        if not wait and not self.early:
            self.ready = list(ops)
            return []
        if self.connection is None:
            self.connection = self._connect()
        deferred = [] if self.early else self.staged
        per_message = [op for op in ops if op[0] not in ID_LISTS]
        id_lists = [op for op in ops if op[0] in ID_LISTS]
        try:
            counts = self._execute(deferred + per_message) if deferred or per_message else []
            if id_lists:  # same transaction: e.g. the batch's 250s with its last row's outcome
                for statement, values in id_lists:
                    self.connection.execute(statement, values)
                self.connection.commit()
            elif counts or self.staged:
                raw = self.driver
                if wait or not self.early:
                    raw.commit()
                else:
                    if self.committer is None:
                        self.committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopcrm-commit")
                    self.pending = self.committer.submit(raw.commit)
        except BaseException:
            self.rollback()
            raise
        staged_counts = counts[:len(deferred)] if deferred else self.staged_counts
        self.staged, self.staged_counts = [], staged_counts
        return counts[len(deferred):]

    def await_commit(self, channel=None) -> None:
        """Wait for a COMMIT started by ``commit(wait=False)``; its error, if any, is raised
        here, after ending ``channel``'s session (the body that went out is then discarded)."""
        pending, self.pending = self.pending, None
        ready, self.ready = self.ready, None
        if pending is None and ready is None:
            return
        try:
            if ready is not None:
                self.commit(ready)
            else:
                pending.result()
        except BaseException:
            if channel is not None:
                channel.drop()
            self._discard()  # a connection whose COMMIT failed may be gone: the next change takes a new one
            raise
