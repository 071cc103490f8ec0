"""The sender: delivers due outbox rows, one SMTP session per batch, nothing lost, nothing twice.

How a row travels
-----------------
1. **Claim.** A sender takes a batch of due ``queued`` rows by stamping them with its claim
   token and a lease (``lease_until``). On MariaDB/MySQL the candidates are picked with
   ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent senders get disjoint batches instead of
   waiting for each other; the stamp itself is an UPDATE guarded by "still queued, lease free"
   (on SQLite, which serialises writers, that guarded UPDATE alone is the claim). Claimed
   rows stay ``queued``: if the sender dies, they return to the pool when the lease runs out.
2. **Sending.** Before a message's content goes to the mail server, its row becomes
   ``sending`` and that is committed. That commit comes only after the server's answer to the
   previous message was read, and it carries that answer unless it was a plain 250: a
   failure or a retry is written in the same commit. So at any moment a sender has at most
   one message whose fate is unknown. The UPDATE is guarded (still queued, still claimed by
   us, address not on the suppression list): an unsubscribe or a cancelled campaign takes
   effect before the next message, not the next batch.
3. **Outcome.** ``failed`` and the address suppressed for a permanent refusal (5xx), back to
   ``queued`` with a growing delay for a temporary one (4xx, connection lost), at once. The
   250s of a batch become ``sent`` in one UPDATE at the batch's end: until then each is
   implied by the later ``sending`` rows of the same claim.

A row left ``sending`` after its lease ran out was handed to the mail server by a sender that
died before it could record the answer. If a later row of the same claim is ``sending`` too,
the answer was a 250 (:func:`settle_accepted` records it as sent, at the start and end of the
next run). Otherwise it may or may not have been delivered: it is reported as *in doubt*
(:func:`in_doubt`) and never resent or dropped silently; an admin decides
(:func:`resolve_in_doubt`).

Speed: the time between the server's answer to one message and the next message's content
is what limits a send run, so as little as possible happens there. The commit that makes a
row ``sending`` overlaps the sending of the message's body; only the body's final ``.`` —
without which the server delivers nothing — waits for it (:meth:`Sender._hand_over`). On
MariaDB/MySQL the COMMIT runs in a helper thread and the ``sending`` UPDATE itself already ran
while the server digested the previous message (:meth:`Sender.stage`); on SQLite the commit
runs right after the body went out. The next message is built while the server digests the
current one. Batches stream from the database; memory does not grow with the outbox.

Without ``MAIL_SERVER`` the transport writes each message as an ``.eml`` file into the outbox
folder instead (the demo, and development).
"""
from __future__ import annotations

import smtplib
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from ..clock import utcnow
from ..errors import CampaignError, ShopCRMError
from ..extensions import db
from ..locks import job_lock, make_owner
from ..models import Campaign, Message, SoftBounce, Suppression
from ..shop import connect_shop, current_mapping
from ..shop.activity import SendLookups
from ..vocab import REMINDER_KINDS
from .addresses import address_hash, normalize
from .mime import MailBuilder, WireMessage
from .suppression import FrequencyCap, reasons_for, record_soft_bounce, soft_bounced, suppress
from .transport import make_channel

RETRY_BACKOFF_SECONDS = (60, 300, 1800, 7200, 21600)
MAX_ATTEMPTS = len(RETRY_BACKOFF_SECONDS) + 1
UNREACHABLE_DELAY = timedelta(seconds=60)
CONNECTION_ERRORS = (smtplib.SMTPException, OSError)
_m = Message.__table__
_ROW_COLUMNS = (_m.c.id, _m.c.campaign_id, _m.c.customer_id, _m.c.email, _m.c.email_hash, _m.c.subject,
                _m.c.html, _m.c.text, _m.c.unsubscribe_url, _m.c.attempts, _m.c.stop_if_ordered_since)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    cancelled: int = 0
    batches: int = 0
    in_doubt: int = 0
    reasons: dict = field(default_factory=dict)  # why rows were suppressed or cancelled at send time
    errors: list = field(default_factory=list)

    def skipped(self, state: str, reason: str) -> None:
        setattr(self, state, getattr(self, state) + 1)
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


# --- state changes (a list of them is committed as one transaction) ------------------------------

_MARK_SENDING = (
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.state == "queued", _m.c.claimed_by == sa.bindparam("token"),
           ~sa.exists().where(Suppression.__table__.c.email_hash == sa.bindparam("h")))
    .values(state="sending", claimed_at=sa.bindparam("now"), message_id=sa.bindparam("msgid"))
)
_MARK_SENT = (  # the batch's accepted messages, at its end: a later "sending" of the same claim implied each
    _m.update().where(_m.c.id.in_(sa.bindparam("ids", expanding=True)), _m.c.claimed_by == sa.bindparam("token"),
                      _m.c.state == "sending")
    .values(state="sent", sent_at=_m.c.claimed_at, reason=None, attempts=_m.c.attempts + 1, lease_until=None)
)
# OR rather than IN: an IN list is rendered per execution, these are compiled once (DriverStatement)
_in_hand = sa.or_(_m.c.state == "queued", _m.c.state == "sending")
_MARK_DONE = (  # suppressed, cancelled or failed, with the reason
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.claimed_by == sa.bindparam("token"), _in_hand)
    .values(state=sa.bindparam("new_state"), reason=sa.bindparam("why"), attempts=sa.bindparam("n"),
            lease_until=None)
)
_RETRY = (
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.claimed_by == sa.bindparam("token"), _in_hand)
    .values(state="queued", reason=sa.bindparam("why"), attempts=sa.bindparam("n"),
            next_attempt_at=sa.bindparam("due"), claimed_by=None, lease_until=None)
)
_RELEASE = (
    _m.update().where(_m.c.id.in_(sa.bindparam("ids", expanding=True)), _m.c.claimed_by == sa.bindparam("token"),
                      _m.c.state == "queued")
    .values(claimed_by=None, lease_until=None, next_attempt_at=sa.bindparam("due"))
)
_RENEW = (
    _m.update().where(_m.c.id.in_(sa.bindparam("ids", expanding=True)), _m.c.claimed_by == sa.bindparam("token"))
    .values(lease_until=sa.bindparam("until"))
)
_FORGIVE = SoftBounce.__table__.delete().where(SoftBounce.__table__.c.email_hash == sa.bindparam("h"))
_ID_LISTS = (_RELEASE, _RENEW, _MARK_SENT)  # once a batch, with a list of ids: run through SQLAlchemy


class DriverStatement:
    """A Core statement compiled once for the engine's dialect and run on the driver's cursor.

    A message costs two of these and a commit; SQLAlchemy's per-execution bookkeeping would
    add about 0.15 ms to each message, a tenth of its time with a local relay."""

    SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite

    def __init__(self, statement, dialect):
        self.compiled = statement.compile(dialect=dialect)
        self.sql = self.compiled.string
        self.sqlite = dialect.name == "sqlite"

    def bind(self, values: dict):
        params = self.compiled.construct_params(values)
        if self.sqlite:
            params = {k: v.strftime(self.SQLITE_TIME) if isinstance(v, datetime) else v for k, v in params.items()}
        order = self.compiled.positiontup
        return tuple(params[name] for name in order) if order is not None else params


class Pacer:
    """The rate limit: at most ``rate`` messages per second (0 = no limit)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate else 0.0
        self.next_slot = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_slot > now:
            time.sleep(self.next_slot - now)
        self.next_slot = max(self.next_slot, now) + self.interval


# --- the sender --------------------------------------------------------------------------------------

@dataclass
class BatchFacts:
    """What the checks before sending need, read once per batch."""

    campaigns: dict
    customers: dict
    suppressed: dict
    soft: set
    ordered: dict
    cap: FrequencyCap


class _StopRun(Exception):
    """The mail server or the database cannot go on; the rest waits for the next run.
    ``ops`` are the state changes that still need committing (e.g. the current row's retry)."""

    def __init__(self, message: str, ops: list | None = None):
        super().__init__(message)
        self.ops = ops or []


class Sender:
    def __init__(self, lock, report: SendReport):
        self.config = current_app.config
        self.lock, self.report = lock, report
        self.owner = make_owner()[:56]
        self.lease = timedelta(seconds=self.config["SHOPCRM_SEND_LEASE_SECONDS"])
        self.pacer = Pacer(self.config["SHOPCRM_SEND_RATE"])
        self.builder = MailBuilder()
        self.lookups = SendLookups(current_mapping())
        self.exempt_reminders = self.config["SHOPCRM_CAP_EXEMPT_REMINDERS"]
        self.per_session = self.config.get("MAIL_MAX_EMAILS")  # Flask-Mail's setting, same meaning
        self.checks_max_age = self.config["SHOPCRM_SEND_CHECKS_MAX_AGE"]
        self.batch_no = 0
        self.token = ""
        self.connection: sa.Connection | None = None
        self.statements: dict = {}
        self.staged: list[tuple] = []  # run in the open transaction, not committed yet
        self.staged_counts: list[int] = []  # their row counts (after the commit, on SQLite)
        self.early = db.engine.dialect.name != "sqlite"
        self.pending = None  # a COMMIT on its way (MariaDB/MySQL), see commit(wait=False)
        self.ready: list[tuple] | None = None  # SQLite: changes to commit once the body is out
        self.accepted: list[int] = []  # this batch's rows the server accepted, written at its end
        self.committer: ThreadPoolExecutor | None = None
        self.sqlite_synchronous = None
        self.last_renew = time.monotonic()

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
            self._await_commit()
        finally:
            if self.committer is not None:
                self.committer.shutdown()
                self.committer = None
            self._close_connection()

    def _close_connection(self) -> None:
        if self.connection is not None:
            if self.sqlite_synchronous is not None:  # the pooled connection goes back as it came
                raw = self.connection.connection.dbapi_connection
                raw.execute(f"PRAGMA synchronous = {int(self.sqlite_synchronous)}")
            self.connection.close()
            self.connection = None

    @property
    def driver(self):
        """The driver's own connection under the sender's connection: the hot statements and
        the commits go straight to it."""
        return self.connection.connection.dbapi_connection

    def _execute(self, ops: list[tuple]) -> list[int]:
        """Run per-message state changes on the sender's own connection, inside its open
        transaction; the row counts tell whether each guarded change applied."""
        self._await_commit()
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
        and the next message's end (see :meth:`_deliver`). It locks that
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
            self.driver.rollback()
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
        :meth:`_await_commit` must return before the body's end goes out. On MariaDB/MySQL the
        COMMIT runs in a helper thread (the driver's connection is never used by two threads
        at once: everything else that touches it waits for the COMMIT first); on SQLite, where
        it costs CPU rather than a wait, :meth:`_await_commit` runs it after the body went out."""
        self._await_commit()
        if not wait and not self.early:
            self.ready = list(ops)
            return []
        if self.connection is None:
            self.connection = self._connect()
        deferred = [] if self.early else self.staged
        per_message = [op for op in ops if op[0] not in _ID_LISTS]
        id_lists = [op for op in ops if op[0] in _ID_LISTS]
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
            if id_lists:
                self.connection.rollback()
            raise
        staged_counts = counts[:len(deferred)] if deferred else self.staged_counts
        self.staged, self.staged_counts = [], staged_counts
        return counts[len(deferred):]

    def _await_commit(self, channel=None) -> None:
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
            try:
                self.driver.rollback()
            except Exception:
                pass  # a connection that failed to commit may be gone; the error below says why
            raise

    # --- claiming -----------------------------------------------------------------------------

    def claim(self, size: int) -> list[dict]:
        self.batch_no += 1
        self.token = f"{self.owner}:{self.batch_no}"
        now = utcnow()
        free = sa.or_(_m.c.lease_until.is_(None), _m.c.lease_until < now)
        due = sa.and_(_m.c.state == "queued", _m.c.next_attempt_at <= now, free)
        stamp = {"claimed_by": self.token, "claimed_at": now, "lease_until": now + self.lease}
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
        rows = db.session.execute(sa.select(*_ROW_COLUMNS).where(_m.c.id.in_(ids), _m.c.claimed_by == self.token)
                                  .order_by(_m.c.id)).mappings().all()
        db.session.commit()  # end the read: the sender's own connection writes next (SQLite: one writer)
        return [dict(r) for r in rows]

    # --- checks before sending ------------------------------------------------------------------

    def facts(self, rows: list[dict]) -> BatchFacts:
        hashes = {r["email_hash"] for r in rows}
        campaign_ids = {r["campaign_id"] for r in rows}
        campaigns = {c.id: (c.status, c.kind) for c in
                     db.session.execute(sa.select(Campaign.id, Campaign.status, Campaign.kind)
                                        .where(Campaign.id.in_(campaign_ids)))}
        cap = FrequencyCap()
        cap.load(hashes)
        facts = BatchFacts(campaigns, {}, reasons_for(hashes), soft_bounced(hashes), {}, cap)
        db.session.commit()
        customer_ids = [r["customer_id"] for r in rows]
        watched = [r for r in rows if r["stop_if_ordered_since"] is not None]
        try:
            with connect_shop() as shop:
                facts.customers = self.lookups.customers(shop, customer_ids)
                if watched:
                    facts.ordered = self.lookups.latest_orders(shop, [r["customer_id"] for r in watched],
                                                               min(r["stop_if_ordered_since"] for r in watched))
        except ShopCRMError as exc:
            self.report.errors.append(f"cannot check consent and orders in the shop before sending: {exc}")
            raise _StopRun(str(exc)) from exc
        return facts

    def verdict(self, row: dict, facts: BatchFacts) -> tuple[str, str] | None:
        """Why this row must not go out now, as (state, reason); ``None`` if it may."""
        status, kind = facts.campaigns.get(row["campaign_id"], ("cancelled", None))
        if status == "cancelled":
            return "cancelled", "campaign cancelled"
        customer = facts.customers.get(row["customer_id"])
        if customer is None:
            return "cancelled", "customer no longer in the shop"
        current = normalize(customer.get("email"))
        if current is None or address_hash(current) != row["email_hash"]:
            return "cancelled", "the customer's address changed"
        if not customer.get("consent"):
            return "suppressed", "no_consent"
        if row["email_hash"] in facts.suppressed:
            return "suppressed", facts.suppressed[row["email_hash"]]
        since, ordered = row["stop_if_ordered_since"], facts.ordered.get(row["customer_id"])
        if since is not None and ordered is not None and ordered >= since:
            return "cancelled", "bought meanwhile"
        if not (self.exempt_reminders and kind in REMINDER_KINDS) and facts.cap.blocks(row["email_hash"]):
            return "suppressed", "frequency_cap"
        return None

    # --- one batch ------------------------------------------------------------------------------

    def send_batch(self, rows: list[dict]) -> int:
        """Send one claimed batch over one connection (or a new one every
        ``MAIL_MAX_EMAILS`` messages); returns how many of its rows it
        handled. The checks are read once for the batch: once they are older than
        ``SHOPCRM_SEND_CHECKS_MAX_AGE`` (a rate limit, a slow server), the rest of the batch
        goes back to the pool at once, to be claimed and checked anew. Raises
        :class:`_StopRun` when the run must stop (the rest of the batch is released first)."""
        ops: list[tuple] = []
        channel = None
        waiting: tuple[dict, WireMessage] | None = None  # content sent, the server's answer not read yet
        handled = len(rows)
        try:
            facts = self.facts(rows)
            checked = time.monotonic()
            for i, row in enumerate(rows):
                if i and time.monotonic() - checked > self.checks_max_age:
                    ops.append(self._release(rows[i:], due=utcnow()))
                    handled = i
                    break
                skip = self.verdict(row, facts)
                if skip is not None:
                    ops.append(self._done(row, *skip))
                    self.report.skipped(*skip)
                    continue
                if channel is not None and self.per_session and channel.messages >= self.per_session:
                    # A relay that ends sessions after so many messages answers 421, which stops
                    # the whole run: end the session first, with the last answer read.
                    if waiting is not None:
                        ops, waiting = ops + self._answer(waiting, facts, channel), None
                    channel.close()
                    channel = None
                if channel is None:
                    channel = self._open()
                ops, waiting = self._deliver(row, facts, channel, ops, waiting)
                ops += self._renewal(rows)
            if waiting is not None:
                ops += self._answer(waiting, facts, channel)
            return handled
        except _StopRun as stop:
            ops += stop.ops
            ops.append(self._release(rows))
            raise
        finally:
            if self.accepted:  # every 250 of the batch, in one statement
                ops.append((_MARK_SENT, {"ids": self.accepted, "token": self.token}))
                self.accepted = []
            try:
                if ops:
                    self.commit(ops)
            finally:
                if channel is not None:
                    channel.close()

    def _open(self):
        channel = make_channel()
        try:
            channel.open()
        except CONNECTION_ERRORS as exc:
            self.report.errors.append(f"cannot connect to the mail server: {exc}")
            raise _StopRun(str(exc)) from exc
        return channel

    def _deliver(self, row: dict, facts: BatchFacts, channel, ops: list,
                 waiting: tuple | None) -> tuple[list, tuple | None]:
        """Hand one message over. ``ops`` are state changes not yet committed, ``waiting`` the
        previous message if its answer is still on the wire; returns the same two for the next."""
        try:
            wire = self.builder.build(row)
        except (ValueError, UnicodeError) as exc:
            self.report.failed += 1
            return ops + [self._done(row, "failed", f"cannot build the message: {exc}", row["attempts"] + 1)], waiting
        self.pacer.wait()
        if channel.pipelining:  # first, so the server has the envelope while the UPDATE below runs
            try:
                channel.send_envelope(self.builder.envelope_from, row["email"])
            except CONNECTION_ERRORS as exc:
                raise self._connection_lost(row, exc, [], waiting) from exc
        later = [op for op in ops if op[0] in _ID_LISTS]
        self.stage([op for op in ops if op[0] not in _ID_LISTS]
                   + [(_MARK_SENDING, {"mid": row["id"], "token": self.token, "h": row["email_hash"], "now": utcnow(),
                                       "msgid": wire.message_id})])
        try:
            answered: list = []
            if waiting is not None and not channel.pipelining:  # the answer must come before the next command
                answered, waiting = self._answer(waiting, facts, channel), None
            if not channel.pipelining:
                try:
                    channel.send_envelope(self.builder.envelope_from, row["email"])
                except CONNECTION_ERRORS as exc:
                    raise self._connection_lost(row, exc, answered, None) from exc
            if waiting is not None:  # pipelining: the envelope is already on its way
                answered = self._answer(waiting, facts, channel)
            # A 250 for the previous message is not written here: this row's committed "sending"
            # implies it (see settle_accepted); a refusal or a retry is, in this commit.
            self.commit(later + answered, wait=False)  # under way while the envelope's answers and the body go out
            marked = self.staged_counts[-1] == 1 if self.early else None
        except BaseException:
            if self.staged:  # undone: nothing of this row was sent; the caller still holds the other changes
                self.rollback()
            raise
        return self._hand_over(row, wire, channel, marked)

    def _hand_over(self, row: dict, wire: WireMessage, channel, marked: bool | None) -> tuple[list, tuple | None]:
        """The envelope's answers, the body, and — once the row is durably ``sending`` — the
        body's end, which alone makes the server deliver it."""
        try:
            try:
                channel.read_envelope()
                if marked is not False:  # None: known after the commit (SQLite)
                    channel.send_body(wire.data)
            finally:
                self._await_commit(channel)
            marked = self.staged_counts[-1] == 1
        except smtplib.SMTPRecipientsRefused as exc:
            return self._refused(row, *next(iter(exc.recipients.values())), stage="recipient"), None
        except smtplib.SMTPSenderRefused as exc:
            raise self._sender_refused(row, exc, []) from exc
        except smtplib.SMTPDataError as exc:
            return self._refused(row, exc.smtp_code, exc.smtp_error, stage="content"), None
        except CONNECTION_ERRORS as exc:
            raise self._connection_lost(row, exc, [], None) from exc
        if not marked:  # unsubscribed, cancelled or erased since the batch started
            try:
                channel.abort()
            except CONNECTION_ERRORS:
                pass  # a broken connection discards the unfinished message too
            return [self._resolve_unmarked(row)], None
        try:
            channel.end_content(wire.message_id)
        except CONNECTION_ERRORS as exc:
            raise self._connection_lost(row, exc, [], None) from exc
        return [], (row, wire)  # its answer is read while the next message is being prepared

    def _answer(self, waiting: tuple, facts: BatchFacts, channel) -> list:
        """Read the server's answer to a message whose content went out."""
        row, wire = waiting
        try:
            channel.read_content_reply()
        except smtplib.SMTPDataError as exc:
            return self._refused(row, exc.smtp_code, exc.smtp_error, stage="content")
        except CONNECTION_ERRORS as exc:
            raise self._connection_lost(row, exc, [], None) from exc
        return self._sent(row, wire, facts)

    def _sent(self, row: dict, wire: WireMessage, facts: BatchFacts) -> list:
        self.report.sent += 1
        now = utcnow()
        facts.cap.count(row["email_hash"], now)
        self.accepted.append(row["id"])
        done = []
        if row["email_hash"] in facts.soft:
            done.append((_FORGIVE, {"h": row["email_hash"]}))
            facts.soft.discard(row["email_hash"])
        return done

    def _renewal(self, rows: list[dict]) -> list:
        """Keep the lock and the batch's claims alive during a long batch (slow server, rate limit)."""
        if time.monotonic() - self.last_renew < self.lease.total_seconds() / 4:
            return []
        self.lock.renew()
        self.last_renew = time.monotonic()
        return [(_RENEW, {"ids": [r["id"] for r in rows], "token": self.token, "until": utcnow() + self.lease})]

    # --- outcomes -------------------------------------------------------------------------------

    def _done(self, row: dict, state: str, reason: str, attempts: int | None = None) -> tuple:
        return (_MARK_DONE, {"mid": row["id"], "token": self.token, "new_state": state, "why": reason[:255],
                             "n": row["attempts"] if attempts is None else attempts})

    def _retry(self, row: dict, reason: str) -> tuple:
        attempts = row["attempts"] + 1
        if attempts >= MAX_ATTEMPTS:
            self.report.failed += 1
            return self._done(row, "failed", f"gave up after {attempts} attempts: {reason}", attempts)
        self.report.retried += 1
        due = utcnow() + timedelta(seconds=RETRY_BACKOFF_SECONDS[attempts - 1])
        return (_RETRY, {"mid": row["id"], "token": self.token, "why": f"retrying: {reason}"[:255], "n": attempts,
                         "due": due})

    def _release(self, rows: list[dict], due: datetime | None = None) -> tuple:
        """Give back the batch's untouched rows (only those still queued and ours), due again
        at ``due`` (by default after a pause: the run stopped because something is unreachable)."""
        return (_RELEASE, {"ids": [r["id"] for r in rows], "token": self.token,
                           "due": due or utcnow() + UNREACHABLE_DELAY})

    def _resolve_unmarked(self, row: dict) -> tuple:
        reason = db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == row["email_hash"]))
        db.session.commit()
        if reason:
            self.report.skipped("suppressed", reason)
            return self._done(row, "suppressed", reason)
        self.report.skipped("cancelled", "changed while sending")
        return self._done(row, "cancelled", "changed while sending")  # a no-op unless still ours

    def _refused(self, row: dict, code: int, reply, stage: str) -> list:
        detail = f"{code} {_text(reply)}"
        if 500 <= code < 600:
            self.report.failed += 1
            with self.outside_transaction():
                suppress(row["email_hash"], "hard_bounce")
                db.session.commit()  # bounces are rare: recorded on the session, at once
            return [self._done(row, "failed", f"rejected: {detail}", row["attempts"] + 1)]
        if code == 421:  # the server is closing the session: try again later, from a new connection
            self.report.errors.append(f"the mail server closed the session: {detail}")
            raise _StopRun(detail, [self._retry(row, detail)])
        if stage == "recipient":
            with self.outside_transaction():
                suppressed = record_soft_bounce(row["email_hash"], detail)
                db.session.commit()
            if suppressed:
                self.report.failed += 1
                return [self._done(row, "failed", f"suppressed after repeated temporary refusals: {detail}",
                                   row["attempts"] + 1)]
        return [self._retry(row, detail)]

    def _sender_refused(self, row: dict, exc: smtplib.SMTPSenderRefused, ops: list) -> "_StopRun":
        detail = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        self.report.errors.append(f"the mail server refused the sender address: {detail}")
        return _StopRun("sender refused", ops + [self._retry(row, f"sender refused: {detail}")])

    def _connection_lost(self, row: dict, exc: Exception, ops: list, waiting: tuple | None) -> "_StopRun":
        """The session broke while ``row`` was being sent. A message whose content went out but
        whose answer never came (``waiting``) is retried too: the server did not confirm it."""
        self.report.errors.append(f"lost the connection to the mail server: {exc}")
        retries = [self._retry(w, f"connection lost: {exc}") for w in ([waiting[0]] if waiting else [])]
        return _StopRun(str(exc), ops + retries + [self._retry(row, f"connection lost: {exc}")])


def _text(reply) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def send_due(max_messages: int | None = None, batch_size: int | None = None, worker: str | None = None) -> SendReport:
    """Send due messages until none is due (or ``max_messages`` were handled).

    Holds the lock ``send`` (``send:<worker>`` for an additional, deliberate parallel sender)
    so two cron runs never overlap; :class:`RunLocked` if another run holds it.
    """
    config = current_app.config
    report = SendReport()
    batch_size = batch_size or config["SHOPCRM_SEND_BATCH_SIZE"]
    name = f"send:{worker}" if worker else "send"
    db.session.commit()  # start from a clean session: the claims set their own isolation level
    with job_lock(name, ttl=config["SHOPCRM_SEND_LEASE_SECONDS"]) as lock:
        settle_accepted()
        db.session.commit()
        sender = Sender(lock, report)
        handled = 0
        try:
            while max_messages is None or handled < max_messages:
                size = batch_size if max_messages is None else min(batch_size, max_messages - handled)
                rows = sender.claim(size)
                if not rows:
                    break
                report.batches += 1
                try:
                    handled += sender.send_batch(rows)
                except _StopRun:
                    break
                lock.renew()
            settle_accepted()  # a stopped sender's claims may have expired meanwhile
            db.session.commit()
        finally:
            sender.close()
    report.in_doubt = count_in_doubt()
    return report


# --- in doubt -----------------------------------------------------------------------------------------

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
