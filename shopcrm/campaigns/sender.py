"""The sender: delivers due outbox rows, one SMTP connection per batch, nothing lost.

How a row travels: ``queued`` → claimed (``sending``, stamped with this sender's id) → handed
to the SMTP server → ``sent`` and committed at once. A temporary failure (4xx, connection
lost) puts the row back to ``queued`` with a later ``next_attempt_at``; a permanent one (5xx)
marks it ``failed`` and suppresses the address. Claiming is an UPDATE guarded by
``state = 'queued'``, so two senders can never claim the same row.

Without ``MAIL_SERVER`` the transport writes each message as an ``.eml`` file into the
outbox folder instead (the demo, and development).
"""
from __future__ import annotations

import os
import smtplib
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy as email_policy
from email.utils import make_msgid

import sqlalchemy as sa
from flask import current_app
from flask_mail import Message as MailMessage

from ..extensions import db, mail
from ..models import Message, Suppression, utcnow
from .addresses import address_hash
from .links import link_template, unsubscribe_url

RETRY_BACKOFF_SECONDS = (60, 300, 1800, 7200, 21600)
MAX_ATTEMPTS = len(RETRY_BACKOFF_SECONDS) + 1


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    batches: int = 0
    errors: list = field(default_factory=list)


class FileTransport:
    """Writes each message to ``<outbox>/<message id>.eml``; used when no SMTP server is set."""

    def __init__(self, directory: str):
        self.directory = directory

    def __enter__(self):
        os.makedirs(self.directory, exist_ok=True)
        return self

    def __exit__(self, *exc):
        return False

    def send(self, message: MailMessage) -> None:
        name = message.msgId.strip("<>").replace("@", "_at_").replace("/", "_")
        path = os.path.join(self.directory, name + ".eml")
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(message.as_bytes())
        os.replace(tmp, path)  # a reader never sees half a file


class SmtpTransport:
    """One Flask-Mail connection (one SMTP session) for a whole batch."""

    def __enter__(self):
        self.connection = mail.connect()
        self.connection.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            self.connection.__exit__(*exc)
        except (smtplib.SMTPException, OSError):
            pass  # the server went away after our last message; nothing is lost
        return False

    def send(self, message: MailMessage) -> None:
        self.connection.send(message)


def transport():
    if current_app.config.get("MAIL_SERVER"):
        return SmtpTransport()
    return FileTransport(current_app.config["SHOPCRM_OUTBOX_DIR"])


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


def build_mail(row: Message, unsubscribe_link: str) -> MailMessage:
    """The MIME message for an outbox row, with RFC 8058 one-click unsubscribe headers."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else None
    headers = {
        "X-Shopcrm-Message": str(row.id),
        "List-Unsubscribe": f"<{unsubscribe_url(unsubscribe_link, row.customer_id, row.email)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    message = OutboxMail(subject=row.subject, recipients=[row.email], body=row.text, html=row.html,
                          sender=sender, extra_headers=headers)
    message.msgId = make_msgid(idstring=f"m{row.id}", domain=domain)
    return message


def _claim(owner: str, batch_size: int) -> list[Message]:
    now = utcnow()
    ids = db.session.scalars(
        sa.select(Message.id).where(Message.state == "queued", Message.next_attempt_at <= now)
        .order_by(Message.id).limit(batch_size)).all()
    if not ids:
        return []
    db.session.execute(
        sa.update(Message).where(Message.id.in_(ids), Message.state == "queued")
        .values(state="sending", claimed_by=owner, claimed_at=now))
    db.session.commit()
    return db.session.scalars(
        sa.select(Message).where(Message.claimed_by == owner, Message.state == "sending").order_by(Message.id)).all()


def _is_suppressed(email: str) -> str | None:
    return db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == address_hash(email)))


def _suppress(email: str, reason: str) -> None:
    key = address_hash(email)
    if db.session.scalar(sa.select(Suppression.id).where(Suppression.email_hash == key)) is None:
        db.session.add(Suppression(email_hash=key, reason=reason))


def _retry_later(row: Message, error: str) -> None:
    row.attempts += 1
    if row.attempts >= MAX_ATTEMPTS:
        row.state, row.reason = "failed", f"gave up after {row.attempts} attempts: {error}"[:255]
    else:
        row.state, row.reason = "queued", f"retrying: {error}"[:255]
        row.next_attempt_at = utcnow() + timedelta(seconds=RETRY_BACKOFF_SECONDS[row.attempts - 1])
    row.claimed_by = None


def _release(rows: list[Message]) -> None:
    """Give claimed-but-untouched rows back to the queue (the connection broke before them)."""
    for row in rows:
        if row.state == "sending":
            row.state, row.claimed_by = "queued", None
    db.session.commit()


def send_due(max_messages: int | None = None, batch_size: int | None = None) -> SendReport:
    """Send due messages until none is due (or ``max_messages`` were handled)."""
    report = SendReport()
    batch_size = batch_size or current_app.config["SHOPCRM_SEND_BATCH_SIZE"]
    owner = f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    handled = 0
    while max_messages is None or handled < max_messages:
        size = batch_size if max_messages is None else min(batch_size, max_messages - handled)
        rows = _claim(owner, size)
        if not rows:
            break
        report.batches += 1
        handled += len(rows)
        _send_batch(rows, report)
    return report


def _send_batch(rows: list[Message], report: SendReport) -> None:
    unsubscribe_link = link_template("crm_public.unsubscribe")
    try:
        with transport() as channel:
            for index, row in enumerate(rows):
                reason = _is_suppressed(row.email)
                if reason:
                    row.state, row.reason, row.claimed_by = "suppressed", reason, None
                    report.suppressed += 1
                    db.session.commit()
                    continue
                try:
                    message = build_mail(row, unsubscribe_link)
                    channel.send(message)
                except smtplib.SMTPRecipientsRefused as exc:
                    code, text = next(iter(exc.recipients.values()))
                    _handle_smtp_error(row, code, text, report)
                except smtplib.SMTPResponseException as exc:
                    _handle_smtp_error(row, exc.smtp_code, exc.smtp_error, report)
                    if exc.smtp_code == 421:  # the server is closing the session
                        db.session.commit()
                        _release(rows[index + 1:])
                        return
                except (smtplib.SMTPServerDisconnected, OSError) as exc:
                    _retry_later(row, f"connection lost: {exc}")
                    report.retried += 1
                    db.session.commit()
                    _release(rows[index + 1:])
                    return
                else:
                    row.state, row.sent_at, row.message_id, row.reason = "sent", utcnow(), message.msgId, None
                    row.attempts += 1
                    report.sent += 1
                db.session.commit()  # this message's fate is durable before the next one starts
    except (smtplib.SMTPException, OSError) as exc:  # could not even connect
        report.errors.append(f"cannot connect to the mail server: {exc}")
        for row in rows:
            if row.state == "sending":
                _retry_later(row, f"mail server unreachable: {exc}")
                report.retried += 1
        db.session.commit()


def _handle_smtp_error(row: Message, code: int, text, report: SendReport) -> None:
    detail = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if 500 <= code < 600:
        row.state, row.reason, row.claimed_by = "failed", f"rejected: {detail}"[:255], None
        row.attempts += 1
        _suppress(row.email, "hard_bounce")
        report.failed += 1
    else:
        _retry_later(row, detail)
        report.retried += 1
