"""The sender: delivers due outbox rows, one SMTP connection per batch, nothing lost, nothing twice.

How a row travels
-----------------
1. **Claim.** A sender takes a batch of due ``queued`` rows by stamping them with its claim
   token and a lease (``lease_until``). On MariaDB/MySQL the candidates are picked with
   ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent senders get disjoint batches instead of
   waiting for each other; the stamp itself is an UPDATE guarded by "still queued, lease free"
   (on SQLite, which serialises writers, that guarded UPDATE alone is the claim). Claimed
   rows stay ``queued``: if the sender dies, they return to the pool when the lease runs out.
2. **Sending.** Just before a message is handed over, its row becomes ``sending`` — and that
   is committed *before* the mail server gets the end of the message. The same commit records
   the previous message as ``sent``, so at any moment at most one row per sender is
   ``sending``. The UPDATE is guarded (still queued, still claimed by us, address not on the
   suppression list): an unsubscribe or a cancelled campaign takes effect before the next
   message, not the next batch.
3. **Outcome.** ``sent`` (committed with the next message's step 2, or at the end of the
   batch), ``failed`` + address suppressed for a permanent refusal (5xx), back to ``queued``
   with a growing delay for a temporary one (4xx, connection lost).

A row left ``sending`` after its lease ran out was handed to the mail server by a sender that
died before it could record the answer: it may or may not have been delivered. It is reported
as *in doubt* (:func:`in_doubt`) and never resent or dropped silently; an admin decides
(:func:`resolve_in_doubt`).

Speed: each message costs one commit, and a commit waits for the disk. The commit runs on its
own connection in a worker thread while the main thread builds the message and sends the
envelope (MAIL FROM, RCPT TO); only the message content waits for it. Batches stream from the
database; memory does not grow with the outbox.

Without ``MAIL_SERVER`` the transport writes each message as an ``.eml`` file into the outbox
folder instead (the demo, and development).
"""
from __future__ import annotations

import os
import smtplib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy as email_policy
from email.utils import make_msgid, parseaddr

import sqlalchemy as sa
from flask import current_app
from flask_mail import BadHeaderError, Connection
from flask_mail import Message as MailMessage

from ..errors import CampaignError, ShopCRMError
from ..extensions import db
from ..locks import job_lock, make_owner
from ..models import Campaign, Message, Suppression, utcnow
from ..shop import connect_shop, current_mapping
from ..shop import queries as shopq
from .addresses import address_hash, normalize
from .links import link_template, unsubscribe_url
from .models import REMINDER_KINDS, SoftBounce
from .shopreads import latest_orders
from .suppression import FrequencyCap, reasons_for, record_soft_bounce, soft_bounced, suppress

RETRY_BACKOFF_SECONDS = (60, 300, 1800, 7200, 21600)
MAX_ATTEMPTS = len(RETRY_BACKOFF_SECONDS) + 1
UNREACHABLE_DELAY = timedelta(seconds=60)
_m = Message.__table__
_ROW_COLUMNS = (_m.c.id, _m.c.campaign_id, _m.c.customer_id, _m.c.email, _m.c.email_hash, _m.c.subject,
                _m.c.html, _m.c.text, _m.c.attempts, _m.c.stop_if_ordered_since)


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


# --- transports -----------------------------------------------------------------------------------

class TimedConnection(Connection):
    """Flask-Mail's connection with a timeout, so a mail server that stops answering cannot
    hang the sender (and its cron lock) forever."""

    def configure_host(self):
        state, timeout = self.mail, current_app.config["SHOPCRM_SMTP_TIMEOUT"] or None
        host = (smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP)(state.server, state.port, timeout=timeout)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class SmtpChannel:
    """One SMTP session for a batch, opened through Flask-Mail. A message goes in two steps,
    :meth:`envelope` then :meth:`content`, because only the end of the content makes the
    server take responsibility for it: the sender's commit must be done before that."""

    def __init__(self):
        self.connection: TimedConnection | None = None

    def open(self) -> None:
        self.connection = TimedConnection(current_app.extensions["mail"])
        self.connection.__enter__()

    @property
    def host(self) -> smtplib.SMTP | None:
        return self.connection.host if self.connection is not None else None

    def envelope(self, sender: str, recipient: str) -> None:
        host = self.host
        if host is None:  # MAIL_SUPPRESS_SEND: Flask-Mail's "pretend to send"
            return
        host.ehlo_or_helo_if_needed()
        code, reply = host.mail(sender)
        if code != 250:
            self._after_refusal(code)
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        code, reply = host.rcpt(recipient)
        if code not in (250, 251):
            self._after_refusal(code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})

    def content(self, data: bytes, message_id: str) -> None:
        host = self.host
        if host is None:
            return
        code, reply = host.data(data)
        if code != 250:
            self._after_refusal(code)
            raise smtplib.SMTPDataError(code, reply)

    def abort(self) -> None:
        """Drop the envelope of a message that must not go out after all."""
        if self.host is not None:
            self.host.rset()

    def _after_refusal(self, code: int) -> None:
        if code == 421:
            self.host.close()
        else:
            try:
                self.host.rset()
            except smtplib.SMTPServerDisconnected:
                pass

    def close(self) -> None:
        if self.connection is not None and self.connection.host is not None:
            try:
                self.connection.host.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the server went away after our last message; nothing is lost
        self.connection = None


class FileChannel:
    """Writes each message to ``<outbox>/<message id>.eml``; used when no SMTP server is set."""

    def __init__(self, directory: str):
        self.directory = directory

    def open(self) -> None:
        os.makedirs(self.directory, exist_ok=True)

    def envelope(self, sender: str, recipient: str) -> None:
        pass

    def content(self, data: bytes, message_id: str) -> None:
        name = message_id.strip("<>").replace("@", "_at_").replace("/", "_")
        path = os.path.join(self.directory, name + ".eml")
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # a reader never sees half a file

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_channel():
    if current_app.config.get("MAIL_SERVER"):
        return SmtpChannel()
    return FileChannel(current_app.config["SHOPCRM_OUTBOX_DIR"])


# --- building a message ------------------------------------------------------------------------------

class OutboxMail(MailMessage):
    """Flask-Mail's message with headers serialised as written.

    Python's default SMTP policy folds at 78 characters and RFC 2047-encodes a long word it
    cannot fold, which turns a ``List-Unsubscribe`` URL into something no mail client can
    use. RFC 5322 allows lines up to 998 characters, so headers fold only beyond that.
    """

    POLICY = email_policy.SMTP.clone(max_line_length=998)

    def _message(self):
        msg = super()._message()
        msg.policy = self.POLICY
        return msg


class MailBuilder:
    """Turns an outbox row into a MIME message: HTML and plain text, Message-ID, Date, From,
    and the RFC 8058 one-click unsubscribe headers (an https link and a mailto)."""

    def __init__(self):
        config = current_app.config
        sender = config["MAIL_DEFAULT_SENDER"]
        self.sender = f"{sender[0]} <{sender[1]}>" if isinstance(sender, tuple) else sender
        address = parseaddr(self.sender)[1]
        if "@" not in address:
            raise CampaignError(f"MAIL_DEFAULT_SENDER {self.sender!r} holds no email address")
        self.envelope_from = address
        self.domain = address.rsplit("@", 1)[-1]
        self.mailto = config.get("SHOPCRM_UNSUBSCRIBE_MAILTO") or address
        self.unsubscribe = link_template("crm_public.unsubscribe")

    def build(self, row: dict) -> OutboxMail:
        headers = {
            "X-Shopcrm-Message": str(row["id"]),
            "List-Unsubscribe": f"<{unsubscribe_url(self.unsubscribe, row['customer_id'], row['email'])}>, "
                                f"<mailto:{self.mailto}?subject=unsubscribe>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        message = OutboxMail(subject=row["subject"], recipients=[row["email"]], body=row["text"], html=row["html"],
                             sender=self.sender, extra_headers=headers)
        message.msgId = make_msgid(idstring=f"m{row['id']}", domain=self.domain)
        return message


# --- the state writer -------------------------------------------------------------------------------

_free_lease = sa.or_(_m.c.lease_until.is_(None), _m.c.lease_until < sa.bindparam("now"))
_MARK_SENDING = (
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.state == "queued", _m.c.claimed_by == sa.bindparam("token"),
           ~sa.exists().where(Suppression.__table__.c.email_hash == sa.bindparam("h")))
    .values(state="sending", claimed_at=sa.bindparam("now"))
)
_MARK_SENT = (
    _m.update().where(_m.c.id == sa.bindparam("mid"), _m.c.state == "sending")
    .values(state="sent", sent_at=sa.bindparam("now"), message_id=sa.bindparam("msgid"), reason=None,
            attempts=_m.c.attempts + 1, lease_until=None)
)
_MARK_DONE = (  # suppressed, cancelled or failed, with the reason
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.claimed_by == sa.bindparam("token"),
           _m.c.state.in_(("queued", "sending")))
    .values(state=sa.bindparam("new_state"), reason=sa.bindparam("why"), attempts=sa.bindparam("n"),
            lease_until=None)
)
_RETRY = (
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.claimed_by == sa.bindparam("token"),
           _m.c.state.in_(("queued", "sending")))
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


class StateWriter:
    """Applies a batch's state changes, in order, on its own connection in a worker thread.

    Each :meth:`submit` is one transaction; the caller waits for its future only where it must
    (before a message's content goes out), so the disk flush overlaps useful work.
    """

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopcrm-outbox")
        self.connection: sa.Connection | None = None
        self.last: Future | None = None

    def submit(self, ops: list[tuple]) -> Future:
        self.last = self.executor.submit(self._apply, list(ops))
        return self.last

    def _apply(self, ops: list[tuple]) -> list[int]:
        if self.connection is None:
            self.connection = self.engine.connect()
        try:
            counts = [self.connection.execute(stmt, params).rowcount for stmt, params in ops]
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        return counts

    def wait(self) -> None:
        if self.last is not None:
            self.last.result()

    def close(self) -> None:
        def _close():
            if self.connection is not None:
                self.connection.close()
                self.connection = None

        self.executor.submit(_close).result()
        self.executor.shutdown()


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
        self.exempt_reminders = self.config["SHOPCRM_CAP_EXEMPT_REMINDERS"]
        self.batch_no = 0
        self.token = ""

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
        db.session.commit()  # end the read: the state writer must not wait for us (SQLite)
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
                facts.customers = shopq.customers_by_ids(shop, current_mapping(), customer_ids)
                if watched:
                    facts.ordered = latest_orders(shop, current_mapping(), [r["customer_id"] for r in watched],
                                                  since=min(r["stop_if_ordered_since"] for r in watched))
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

    def send_batch(self, rows: list[dict], writer: StateWriter) -> None:
        """Send one claimed batch over one connection. Raises :class:`_StopRun` when the run
        must stop (the rest of the batch is released first)."""
        ops: list[tuple] = []
        pending = {r["id"] for r in rows}
        channel = None
        last_renew = time.monotonic()
        try:
            facts = self.facts(rows)
            for row in rows:
                skip = self.verdict(row, facts)
                if skip is not None:
                    pending.discard(row["id"])
                    ops.append(self._done(row, *skip))
                    self.report.skipped(*skip)
                    continue
                if channel is None:
                    channel = self._open()
                pending.discard(row["id"])
                submit, ops = ops, []
                ops = self._deliver(row, facts, channel, writer, submit)
                if time.monotonic() - last_renew > self.lease.total_seconds() / 4:
                    writer.wait()
                    self.lock.renew()
                    ops.append((_RENEW, {"ids": sorted(pending) or [0], "token": self.token,
                                         "until": utcnow() + self.lease}))
                    last_renew = time.monotonic()
        except _StopRun as stop:
            ops.extend(stop.ops)
            ops.append(self._release(pending))
            raise
        finally:
            if ops:
                writer.submit(ops)
            try:
                writer.wait()
            finally:
                if channel is not None:
                    channel.close()

    def _open(self):
        channel = make_channel()
        try:
            channel.open()
        except (smtplib.SMTPException, OSError) as exc:
            self.report.errors.append(f"cannot connect to the mail server: {exc}")
            raise _StopRun(str(exc)) from exc
        return channel

    def _deliver(self, row: dict, facts: BatchFacts, channel, writer: StateWriter, ops: list) -> list:
        """Hand one message over; returns the state changes still to commit."""
        now = utcnow()
        future = writer.submit(ops + [(_MARK_SENDING, {"mid": row["id"], "token": self.token, "h": row["email_hash"],
                                                       "now": now})])
        try:
            message = self.builder.build(row)
            if message.has_bad_headers():
                raise BadHeaderError("a header contains a line break")
            data = message.as_bytes()
        except (BadHeaderError, ValueError, UnicodeError) as exc:
            return self._after_envelope(future, channel, [self._done(row, "failed", f"cannot build the message: {exc}",
                                                                     row["attempts"] + 1)], "failed")
        self.pacer.wait()
        try:
            channel.envelope(self.builder.envelope_from, row["email"])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return self._refused(row, future, channel, code, reply, stage="recipient")
        except smtplib.SMTPSenderRefused as exc:
            self.report.errors.append(f"the mail server refused the sender address: {exc.smtp_code} "
                                      f"{_text(exc.smtp_error)}")
            self._settle(future)
            raise _StopRun("sender refused", [self._retry(row, f"sender refused: {exc.smtp_code} "
                                                               f"{_text(exc.smtp_error)}")]) from exc
        except (smtplib.SMTPException, OSError) as exc:
            return self._connection_lost(row, future, exc)
        try:
            marked = future.result()[-1] == 1
        except Exception as exc:  # the database is gone: do not hand over a message we could not record
            self._abort(channel)
            self.report.errors.append(f"cannot record the outbox state: {exc}")
            raise _StopRun(str(exc)) from exc
        if not marked:  # unsubscribed, cancelled or erased since the batch started
            self._abort(channel)
            return [self._resolve_unmarked(row)]
        try:
            channel.content(data, message.msgId)
        except smtplib.SMTPDataError as exc:
            return self._refused(row, None, channel, exc.smtp_code, exc.smtp_error, stage="content")
        except (smtplib.SMTPException, OSError) as exc:
            return self._connection_lost(row, None, exc)
        self.report.sent += 1
        facts.cap.count(row["email_hash"], now)
        done = [(_MARK_SENT, {"mid": row["id"], "now": utcnow(), "msgid": message.msgId})]
        if row["email_hash"] in facts.soft:
            done.append((_FORGIVE, {"h": row["email_hash"]}))
            facts.soft.discard(row["email_hash"])
        return done

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

    def _release(self, ids: set[int]) -> tuple:
        return (_RELEASE, {"ids": sorted(ids) or [0], "token": self.token, "due": utcnow() + UNREACHABLE_DELAY})

    @staticmethod
    def _settle(future: Future | None) -> None:
        """Wait for a pending commit whose outcome no longer matters (the row is resolved by
        the next one either way); a database error here surfaces at that next commit."""
        if future is not None:
            try:
                future.result()
            except Exception:  # noqa: BLE001 - reported by the next commit on the same connection
                pass

    def _abort(self, channel) -> None:
        try:
            channel.abort()
        except (smtplib.SMTPException, OSError):
            pass  # a broken connection discards the unfinished message too

    def _after_envelope(self, future: Future, channel, ops: list, state: str) -> list:
        self._settle(future)
        self._abort(channel)
        setattr(self.report, state, getattr(self.report, state) + 1)
        return ops

    def _resolve_unmarked(self, row: dict) -> tuple:
        reason = db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == row["email_hash"]))
        db.session.commit()
        if reason:
            self.report.skipped("suppressed", reason)
            return self._done(row, "suppressed", reason)
        self.report.skipped("cancelled", "changed while sending")
        return self._done(row, "cancelled", "changed while sending")  # a no-op unless still ours

    def _refused(self, row: dict, future: Future | None, channel, code: int, reply, stage: str) -> list:
        self._settle(future)
        detail = f"{code} {_text(reply)}"
        if 500 <= code < 600:
            self.report.failed += 1
            self._suppress_now(row["email_hash"], "hard_bounce")
            return [self._done(row, "failed", f"rejected: {detail}", row["attempts"] + 1)]
        if code == 421:  # the server is closing the session: try again later, from a new connection
            self.report.errors.append(f"the mail server closed the session: {detail}")
            raise _StopRun(detail, [self._retry(row, detail)])
        if stage == "recipient" and record_soft_bounce_now(row["email_hash"], detail):
            self.report.failed += 1
            return [self._done(row, "failed", f"suppressed after repeated temporary refusals: {detail}",
                               row["attempts"] + 1)]
        return [self._retry(row, detail)]

    def _connection_lost(self, row: dict, future: Future | None, exc: Exception) -> list:
        self._settle(future)
        self.report.errors.append(f"lost the connection to the mail server: {exc}")
        raise _StopRun(str(exc), [self._retry(row, f"connection lost: {exc}")]) from exc

    def _suppress_now(self, email_hash: str, reason: str) -> None:
        """Bounces are rare: recorded on the main session, committed at once."""
        suppress(email_hash, reason)
        db.session.commit()


def record_soft_bounce_now(email_hash: str, reply: str) -> bool:
    suppressed = record_soft_bounce(email_hash, reply)
    db.session.commit()
    return suppressed


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
        sender = Sender(lock, report)
        writer = StateWriter(db.engine)
        handled = 0
        try:
            while max_messages is None or handled < max_messages:
                size = batch_size if max_messages is None else min(batch_size, max_messages - handled)
                rows = sender.claim(size)
                if not rows:
                    break
                report.batches += 1
                handled += len(rows)
                try:
                    sender.send_batch(rows, writer)
                except _StopRun:
                    break
                lock.renew()
        finally:
            writer.close()
    report.in_doubt = count_in_doubt()
    return report


# --- in doubt -----------------------------------------------------------------------------------------

def _doubtful(now: datetime):
    return sa.and_(Message.state == "sending", sa.or_(Message.lease_until.is_(None), Message.lease_until < now))


def count_in_doubt() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(_doubtful(utcnow())))


def in_doubt(limit: int = 100) -> list[Message]:
    """Rows a sender handed to the mail server and then died: delivered or not, nobody knows."""
    return db.session.scalars(sa.select(Message).where(_doubtful(utcnow())).order_by(Message.id).limit(limit)).all()


def resolve_in_doubt(message_id: int, outcome: str) -> Message:
    """An admin's decision on a row in doubt: ``sent`` (it arrived, e.g. the recipient has it)
    or ``requeue`` (send it again, accepting a possible duplicate). Not committed."""
    row = db.session.get(Message, message_id)
    if row is None or row.state != "sending" or (row.lease_until is not None and row.lease_until >= utcnow()):
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
