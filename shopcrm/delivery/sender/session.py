"""One batch over one SMTP session: the order of work between the mail server and the journal.

The time between the server's answer to one message and the next message's content limits a
send run, so as little as possible happens there (see the package docstring).
"""
from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ...clock import utcnow
from ...errors import ShopCRMError
from ...extensions import db
from ...locks import make_owner
from ...models import Suppression
from ...shop import current_mapping
from ...shop.activity import SendLookups
from ..mime import MailBuilder, WireMessage
from ..suppression import record_soft_bounce, suppress
from ..transport import make_channel
from .checks import BatchFacts, read_facts, verdict
from .claims import claim, release, renewal
from .journal import FORGIVE, ID_LISTS, MARK_DONE, MARK_IN_DOUBT, MARK_SENDING, MARK_SENT, RETRY, Journal
from .recovery import IN_DOUBT

RETRY_BACKOFF_SECONDS = (60, 300, 1800, 7200, 21600)
MAX_ATTEMPTS = len(RETRY_BACKOFF_SECONDS) + 1
UNREACHABLE_DELAY = timedelta(seconds=60)
CONNECTION_ERRORS = (smtplib.SMTPException, OSError)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    cancelled: int = 0
    batches: int = 0
    in_doubt: int = 0
    resent_in_doubt: int = 0  # queued again by SHOPCRM_RESEND_IN_DOUBT
    reasons: dict = field(default_factory=dict)  # why rows were suppressed or cancelled at send time
    errors: list = field(default_factory=list)
    quiet_until: datetime | None = None  # SMS: the run stopped for quiet hours; they end then (aware, UTC)

    def skipped(self, state: str, reason: str) -> None:
        setattr(self, state, getattr(self, state) + 1)
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    @property
    def delivered_nothing(self) -> bool:
        """The run met errors and no message reached the mail server: what cron must see as a
        failure (exit code), not a success with warnings."""
        return bool(self.errors) and self.sent == 0


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


class StopRun(Exception):
    """The mail server or the database cannot go on; the rest waits for the next run.
    ``ops`` are the state changes that still need committing (e.g. the current row's retry)."""

    def __init__(self, message: str, ops: list | None = None):
        super().__init__(message)
        self.ops = ops or []


class Sender:
    """One send run's worker: claims batches and sends them over SMTP sessions (see the package
    docstring for the order of work and what it guarantees)."""

    def __init__(self, lock, report: SendReport):
        self.config = current_app.config
        self.lock, self.report = lock, report
        self.owner = make_owner()[:56]
        self.lease = timedelta(seconds=self.config["SHOPCRM_SEND_LEASE_SECONDS"])
        self.pacer = Pacer(self.config["SHOPCRM_SEND_RATE"])
        self.builder = MailBuilder()
        self.lookups = SendLookups(current_mapping())
        self.exempt_reminders = self.config["SHOPCRM_CAP_EXEMPT_REMINDERS"]
        self.server = mail_server_named(self.config)
        self.per_session = self.config.get("MAIL_MAX_EMAILS")  # Flask-Mail's setting, same meaning
        self.checks_max_age = self.config["SHOPCRM_SEND_CHECKS_MAX_AGE"]
        self.batch_no = 0
        self.token = ""
        self.journal = Journal()
        self.accepted: list[int] = []  # this batch's rows the server accepted, written at its end
        self.last_renew = time.monotonic()

    def close(self) -> None:
        self.journal.close()

    def claim(self, size: int) -> list[dict]:
        """The next batch, under a new claim token."""
        self.batch_no += 1
        self.token = f"{self.owner}:{self.batch_no}"
        return claim(self.token, size, self.lease)

    def _facts(self, rows: list[dict]) -> BatchFacts:
        try:
            return read_facts(rows, self.lookups)
        except ShopCRMError as exc:
            self.report.errors.append(f"cannot check consent and orders in the shop before sending: {exc}")
            raise StopRun(str(exc)) from exc

    # --- one batch ------------------------------------------------------------------------------

    def send_batch(self, rows: list[dict]) -> int:
        """Send one claimed batch over one connection (or a new one every
        ``MAIL_MAX_EMAILS`` messages); returns how many of its rows it
        handled. The checks are read once for the batch: once they are older than
        ``SHOPCRM_SEND_CHECKS_MAX_AGE`` (a rate limit, a slow server), the rest of the batch
        goes back to the pool at once, to be claimed and checked anew. Raises
        :class:`StopRun` when the run must stop (the rest of the batch is released first)."""
        ops: list[tuple] = []
        channel = None
        waiting: tuple[dict, WireMessage] | None = None  # content sent, the server's answer not read yet
        handled = len(rows)
        failure: BaseException | None = None
        try:
            facts = self._facts(rows)
            checked = time.monotonic()
            for i, row in enumerate(rows):
                if i and time.monotonic() - checked > self.checks_max_age:
                    ops.append(self._release(rows[i:], due=utcnow()))
                    handled = i
                    break
                skip = verdict(row, facts, self.exempt_reminders)
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
        except StopRun as stop:
            ops += stop.ops
            ops.append(self._release(rows))
            raise
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if self.accepted:  # every 250 of the batch, in one statement
                ops.append((MARK_SENT, {"ids": self.accepted, "token": self.token}))
                self.accepted = []
            try:
                if ops:
                    self.journal.commit(ops)
            except Exception:
                if failure is None:
                    raise
                # The batch failed already, usually because the database went away: that first
                # error is the one to report. What was not written is settled by the next run
                # (rows "sending" of this claim: sent or in doubt; the rest returns to the pool).
            finally:
                if channel is not None:
                    channel.close()

    def _open(self):
        channel = make_channel()
        try:
            channel.open()
        except CONNECTION_ERRORS as exc:
            self.report.errors.append(f"cannot connect to the mail server {self.server}: {_text(exc)}")
            raise StopRun(str(exc)) from exc
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
            except CONNECTION_ERRORS as exc:  # the previous message's end went out: its answer is lost
                raise self._connection_lost(row, exc, [], waiting) from exc
        later = [op for op in ops if op[0] in ID_LISTS]
        self.journal.stage([op for op in ops if op[0] not in ID_LISTS]
                   + [(MARK_SENDING, {"mid": row["id"], "token": self.token, "h": row["email_hash"], "now": utcnow(),
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
            self.journal.commit(later + answered, wait=False)  # under way while the envelope's answers and the body go out
            marked = self.journal.staged_counts[-1] == 1 if self.journal.early else None
        except BaseException:
            if self.journal.staged:  # undone: nothing of this row was sent; the caller still holds the other changes
                self.journal.rollback()
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
                self.journal.await_commit(channel)
            marked = self.journal.staged_counts[-1] == 1
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
        """Read the server's answer to a message whose content went out. No answer (the
        connection dropped, or ``SHOPCRM_SMTP_DATA_TIMEOUT`` passed) leaves it in doubt: the
        server may have taken it, so it is not retried (see ``recovery``)."""
        row, wire = waiting
        try:
            channel.read_content_reply()
        except smtplib.SMTPDataError as exc:
            return self._refused(row, exc.smtp_code, exc.smtp_error, stage="content")
        except CONNECTION_ERRORS as exc:
            raise self._connection_lost(None, exc, [], waiting) from exc
        return self._sent(row, wire, facts)

    def _sent(self, row: dict, wire: WireMessage, facts: BatchFacts) -> list:
        self.report.sent += 1
        now = utcnow()
        facts.cap.count(row["email_hash"], now)
        self.accepted.append(row["id"])
        done = []
        if row["email_hash"] in facts.soft:
            done.append((FORGIVE, {"h": row["email_hash"]}))
            facts.soft.discard(row["email_hash"])
        return done

    def _renewal(self, rows: list[dict]) -> list:
        """Keep the lock and the batch's claims alive during a long batch (slow server, rate limit)."""
        if time.monotonic() - self.last_renew < self.lease.total_seconds() / 4:
            return []
        self.lock.renew()
        self.last_renew = time.monotonic()
        return [renewal(rows, self.token, utcnow() + self.lease)]

    # --- outcomes -------------------------------------------------------------------------------

    def _done(self, row: dict, state: str, reason: str, attempts: int | None = None) -> tuple:
        return (MARK_DONE, {"mid": row["id"], "token": self.token, "new_state": state, "why": reason[:255],
                             "n": row["attempts"] if attempts is None else attempts})

    def _retry(self, row: dict, reason: str) -> tuple:
        attempts = row["attempts"] + 1
        if attempts >= MAX_ATTEMPTS:
            self.report.failed += 1
            return self._done(row, "failed", f"gave up after {attempts} attempts: {reason}", attempts)
        self.report.retried += 1
        due = utcnow() + timedelta(seconds=RETRY_BACKOFF_SECONDS[attempts - 1])
        return (RETRY, {"mid": row["id"], "token": self.token, "why": f"retrying: {reason}"[:255], "n": attempts,
                         "due": due})

    def _release(self, rows: list[dict], due: datetime | None = None) -> tuple:
        """Give back the batch's untouched rows (only those still queued and ours), due again
        at ``due`` (by default after a pause: the run stopped because something is unreachable)."""
        return release(rows, self.token, due or utcnow() + UNREACHABLE_DELAY)

    def _resolve_unmarked(self, row: dict) -> tuple:
        reason = db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == row["email_hash"]))
        db.session.commit()
        if reason:
            self.report.skipped("suppressed", reason)
            return self._done(row, "suppressed", reason)
        self.report.skipped("cancelled", "changed_while_sending")
        return self._done(row, "cancelled", "changed_while_sending")  # a no-op unless still ours

    def _refused(self, row: dict, code: int, reply, stage: str) -> list:
        detail = f"{code} {_text(reply)}"
        if 500 <= code < 600:
            self.report.failed += 1
            with self.journal.outside_transaction():
                suppress(row["email_hash"], "hard_bounce")
                db.session.commit()  # bounces are rare: recorded on the session, at once
            return [self._done(row, "failed", f"rejected: {detail}", row["attempts"] + 1)]
        if code == 421:  # the server is closing the session: try again later, from a new connection
            self.report.errors.append(f"the mail server {self.server} closed the session: {detail}")
            raise StopRun(detail, [self._retry(row, detail)])
        if stage == "recipient":
            with self.journal.outside_transaction():
                suppressed = record_soft_bounce(row["email_hash"], detail)
                db.session.commit()
            if suppressed:
                self.report.failed += 1
                return [self._done(row, "failed", f"suppressed after repeated temporary refusals: {detail}",
                                   row["attempts"] + 1)]
        return [self._retry(row, detail)]

    def _sender_refused(self, row: dict, exc: smtplib.SMTPSenderRefused, ops: list) -> "StopRun":
        detail = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        self.report.errors.append(f"the mail server {self.server} refused the sender address "
                                  f"(MAIL_DEFAULT_SENDER): {detail}")
        return StopRun("sender refused", ops + [self._retry(row, f"sender refused: {detail}")])

    def _connection_lost(self, row: dict | None, exc: Exception, ops: list, waiting: tuple | None) -> "StopRun":
        """The session broke while ``row`` was being sent (``None``: between two messages).
        ``row``'s end had not gone out — the server delivers nothing without it — so it is
        retried. A message whose end went out but whose answer never came (``waiting``) may
        have been taken: it is left in doubt, not retried (a retry would deliver it twice)."""
        what = _text(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            limit = "SHOPCRM_SMTP_DATA_TIMEOUT" if row is None else "SHOPCRM_SMTP_TIMEOUT"
            what = f"no answer within {self.config[limit]:g} s ({limit}): {what}"
        self.report.errors.append(f"lost the connection to the mail server {self.server}: {what}")
        changes = list(ops)
        if waiting is not None:
            changes.append(self._in_doubt(waiting[0], waiting[1], what))
        if row is not None:
            changes.append(self._retry(row, f"connection lost: {what}"))
        return StopRun(what, changes)

    def _in_doubt(self, row: dict, wire: WireMessage, what: str) -> tuple:
        """The message's end went out and no answer came: it stays ``sending``, in doubt at once,
        with the Message-ID it went out with (a resend reuses it)."""
        self.report.errors.append(f"message #{row['id']} to {row['email']} is {IN_DOUBT}: the mail server may have "
                                  f"taken it ({wire.message_id}); see `flask shopcrm outbox in-doubt`")
        return (MARK_IN_DOUBT, {"mid": row["id"], "token": self.token,
                                "why": f"{IN_DOUBT}: no answer after the message was handed over: {what}"[:255]})


def mail_server_named(config) -> str:
    """The mail server as the settings name it, for messages an admin acts on."""
    return f"{config.get('MAIL_SERVER')}:{config.get('MAIL_PORT')} (MAIL_SERVER, MAIL_PORT)"


def _text(reply) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def send_in_batches(sender, lock, report, batch_size: int, max_messages: int | None,
                    stop: type[Exception]) -> int:
    """Claim and send batches until nothing is due, ``max_messages`` were handled or the sender
    raises ``stop``; the job's lock is renewed after each batch. The same loop for every channel
    (``Sender`` for e-mail, ``delivery.sms.sender.SmsSender``); returns how many were handled."""
    handled = 0
    while max_messages is None or handled < max_messages:
        size = batch_size if max_messages is None else min(batch_size, max_messages - handled)
        rows = sender.claim(size)
        if not rows:
            break
        report.batches += 1
        try:
            handled += sender.send_batch(rows)
        except stop:
            break
        lock.renew()
    return handled
