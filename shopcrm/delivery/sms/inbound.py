"""What Twilio tells shopcrm: replies from shoppers (STOP, START, HELP) and delivery reports.

A STOP (or another opt-out word, ``keywords``) suppresses the number at once: its consent
becomes ``opted_out`` and every SMS still queued for it is suppressed in the same commit; a
sender in the middle of a batch re-checks the number in the guarded UPDATE that precedes each
hand-over (``sender.MARK_SMS_SENDING``), so not even the next message of a running batch goes
out. The opt-out is confirmed once: a second STOP gets no second confirmation. START opts in
again (confirmed once, too); HELP is answered every time. Anything else is not acted on.

Delivery reports (``delivered``, ``failed``, ``undelivered``) update the message they name by
outbox id *and* Twilio's message id, so a report cannot touch another row. ``delivered`` is
recorded in the reason of a ``sent`` row; ``failed``/``undelivered`` make it ``failed`` with
Twilio's error code; code 21610 (the number replied STOP to Twilio) opts the number out.
Callers (the public routes) check Twilio's signature first.
"""
from __future__ import annotations

from collections.abc import Mapping

import phonenumbers
import sqlalchemy as sa
from flask import current_app

from ...extensions import db
from ...models import Message
from . import consent
from .keywords import Intent
from .settings import load
from .twilio_provider import UNSUBSCRIBED

FINAL_FAILURES = ("failed", "undelivered")


def _e164(text: str | None, region: str) -> str | None:
    try:
        number = phonenumbers.parse((text or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def help_text(config) -> str:
    return config.get("SHOPCRM_SMS_HELP_TEXT") or (
        f"{config['SHOPCRM_SHOP_NAME']}: offers by text message. Reply STOP to opt out, START to opt in again. "
        f"{config['SHOPCRM_SHOP_BASE_URL']}")


def opt_out(e164: str, source: str) -> bool:
    """Suppress the number now (and its queued SMS); ``True`` when it was not opted out before. Commits."""
    changed = consent.record(e164, consent.OPTED_OUT, source)
    db.session.execute(sa.update(Message).where(Message.channel == "sms", Message.phone == e164,
                                                Message.state == "queued")
                       .values(state="suppressed", reason="sms_opted_out", send_key=None))
    db.session.commit()
    return changed


def handle_reply(params: Mapping[str, str]) -> str | None:
    """Act on an inbound SMS; returns the text to answer with, or ``None`` for no answer."""
    config = current_app.config
    settings = load(config)
    e164 = _e164(params.get("From"), settings.default_region)
    if e164 is None:
        return None
    intent = settings.keywords.classify(params.get("Body") or "")
    if intent is Intent.OPT_OUT:
        if opt_out(e164, "reply"):
            return f"{config['SHOPCRM_SHOP_NAME']}: you will get no more text messages from us. Reply START to " \
                   "opt in again."
        return None
    if intent is Intent.OPT_IN:
        changed = consent.record(e164, consent.OPTED_IN, "reply")
        db.session.commit()
        if changed:
            return f"{config['SHOPCRM_SHOP_NAME']}: you will get our text messages again. Reply STOP to opt out."
        return None
    if intent is Intent.HELP:
        return help_text(config)
    return None


def record_status(message_id: int | None, params: Mapping[str, str]) -> bool:
    """Apply a delivery report; ``False`` when it names no SMS of ours. Commits."""
    sid, status = params.get("MessageSid") or params.get("SmsSid"), (params.get("MessageStatus") or "").lower()
    if message_id is None or not sid:
        return False
    row = db.session.scalar(sa.select(Message).where(Message.id == message_id, Message.channel == "sms",
                                                     Message.provider_sid == sid))
    if row is None:
        return False
    code = params.get("ErrorCode")
    if status == "delivered" and row.state == "sent":
        row.reason = "delivered"
    elif status in FINAL_FAILURES and row.state in ("sent", "sending"):
        row.state, row.reason = "failed", f"{status} (Twilio error {code})" if code else status
        if code and code.isdigit() and int(code) == UNSUBSCRIBED and row.phone:
            consent.record(row.phone, consent.OPTED_OUT, "provider", row.customer_id)
    db.session.commit()
    return True
