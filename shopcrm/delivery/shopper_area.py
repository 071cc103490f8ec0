"""The shopper's own page (seed 001): what shopcrm sent them, their choices, their data.

A shopper is identified by a signed, expiring token from one of their emails: the shop
customer id and the hash of the address the email went to. Nothing here needs a login; the
token is the credential, and it works only for that customer and that address.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from ..errors import CampaignError, ShopCRMError
from ..extensions import db
from ..models import (
    Click,
    Membership,
    Message,
    Preference,
    ProductView,
    Run,
    Segment,
    SmsConsent,
    SoftBounce,
    Suppression,
)
from ..segmentation import search_index as search
from ..shop import connect_shop, current_mapping
from ..shop import queries as shopq
from ..vocab import RESUBSCRIBABLE, VALUE_TYPE_LABELS
from . import suppression
from .sms import consent as sms_consent
from .tokens import TokenInvalid, read_token

MESSAGES_SHOWN = 100


@dataclass(frozen=True)
class Shopper:
    customer_id: int
    email_hash: str


def shopper_from(purpose: str, token: str) -> Shopper:
    """The shopper a link was made for; :class:`TokenInvalid` if it was tampered with or expired."""
    data = read_token(purpose, token)
    try:
        customer_id, email_hash = int(data["c"]), str(data["h"])
    except (KeyError, TypeError, ValueError):
        raise TokenInvalid("this link is not valid") from None
    if len(email_hash) != 64:
        raise TokenInvalid("this link is not valid")
    return Shopper(customer_id, email_hash)


def _their_messages(shopper: Shopper):
    return sa.and_(Message.customer_id == shopper.customer_id, Message.email_hash == shopper.email_hash)


def received(shopper: Shopper, limit: int = MESSAGES_SHOWN) -> list[Message]:
    """The emails delivered to them, newest first."""
    return db.session.scalars(sa.select(Message).where(_their_messages(shopper), Message.state == "sent",
                                                       Message.channel == "email")
                              .order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)).all()


def message(shopper: Shopper, message_id: int) -> Message | None:
    """One of their delivered emails, or ``None`` (someone else's, or not delivered)."""
    return db.session.scalar(sa.select(Message).where(Message.id == message_id, _their_messages(shopper),
                                                      Message.state == "sent", Message.channel == "email"))


def status(shopper: Shopper) -> dict:
    reason = suppression.reason_for(shopper.email_hash)
    return {"suppressed": reason, "can_resubscribe": reason in RESUBSCRIBABLE,
            "frequency": suppression.frequency_of(shopper.email_hash)}


def first_name(shopper: Shopper) -> str:
    """Their first name from the shop, for a friendly greeting (empty when unavailable)."""
    try:
        with connect_shop() as shop:
            customer = shopq.customers_by_ids(shop, current_mapping(), [shopper.customer_id]).get(shopper.customer_id)
    except ShopCRMError:
        return ""
    return str((customer or {}).get("first_name") or "").strip()


def _shop_customer(shopper: Shopper) -> dict | None:
    with connect_shop() as shop:
        return shopq.customers_by_ids(shop, current_mapping(), [shopper.customer_id]).get(shopper.customer_id)


def sms_status(shopper: Shopper) -> dict | None:
    """Their "Text messages" choice: ``None`` when the shop sends no SMS; else whether they get
    texts (``on``), the end of their number (``number``) or why it cannot get texts (``reason``).
    The shop's own SMS consent counts until they choose here; e-mail consent never does."""
    config = current_app.config
    if not config.get("SHOPCRM_TWILIO_ACCOUNT_SID"):
        return None
    try:
        customer = _shop_customer(shopper)
    except ShopCRMError:
        return {"on": False, "number": None, "reason": "the shop cannot be reached just now"}
    check = sms_consent.number_of(customer, config["SHOPCRM_SMS_DEFAULT_REGION"])
    if not check.usable:
        return {"on": False, "number": None, "reason": check.reason}
    state = sms_consent.state_of(check.e164)
    on = state == sms_consent.OPTED_IN or (state is None and bool((customer or {}).get("sms_consent")))
    return {"on": on, "number": f"…{check.e164[-4:]}", "reason": None}


def set_sms(shopper: Shopper, on: bool) -> None:
    """Their explicit opt-in or opt-out for texts; turning texts off also suppresses the texts
    still queued for them. Not committed."""
    config = current_app.config
    if not config.get("SHOPCRM_TWILIO_ACCOUNT_SID"):
        raise CampaignError("this shop sends no text messages")
    check = sms_consent.number_of(_shop_customer(shopper), config["SHOPCRM_SMS_DEFAULT_REGION"])
    if not check.usable:
        raise CampaignError("your shop account has no mobile number we can text; add one in your account first")
    sms_consent.record(check.e164, sms_consent.OPTED_IN if on else sms_consent.OPTED_OUT, "preferences",
                       shopper.customer_id)
    if not on:
        db.session.execute(sa.update(Message).where(Message.channel == "sms", Message.phone == check.e164,
                                                    Message.state == "queued")
                           .values(state="suppressed", reason="sms_opted_out", send_key=None))


def _forget_texts(shopper: Shopper) -> None:
    """No more texts after "forget me": every SMS choice kept for this customer becomes an
    opt-out without the customer's id, and their current number (when the shop can be read)
    is opted out too, so a consent column in the shop cannot bring texts back. Only the
    number's hash stays, like the address's."""
    db.session.execute(sa.update(SmsConsent).where(SmsConsent.customer_id == shopper.customer_id)
                       .values(state=sms_consent.OPTED_OUT, source="forgotten", customer_id=None))
    config = current_app.config
    if not config.get("SHOPCRM_TWILIO_ACCOUNT_SID"):
        return
    try:
        check = sms_consent.number_of(_shop_customer(shopper), config["SHOPCRM_SMS_DEFAULT_REGION"])
    except ShopCRMError:
        return
    if check.usable:
        sms_consent.record(check.e164, sms_consent.OPTED_OUT, "forgotten")
        db.session.execute(sa.update(SmsConsent).where(SmsConsent.phone_hash == sms_consent.phone_hash(check.e164))
                           .values(customer_id=None))


def unsubscribe(shopper: Shopper) -> None:
    """Not committed (the form handler commits)."""
    suppression.suppress(shopper.email_hash, "unsubscribed")


def resubscribe(shopper: Shopper) -> None:
    suppression.resubscribe(shopper.email_hash)


def set_frequency(shopper: Shopper, frequency: str) -> None:
    suppression.set_frequency(shopper.email_hash, frequency)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(shopper: Shopper) -> dict:
    """Everything shopcrm holds about them, and what it read from the shop, as plain data."""
    profile: dict = {}
    try:
        with connect_shop() as shop:
            customer = shopq.customers_by_ids(shop, current_mapping(), [shopper.customer_id]).get(shopper.customer_id)
        profile = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in (customer or {}).items()}
    except ShopCRMError as exc:
        profile = {"unavailable": str(exc)}
    memberships = []
    for member, run_as_of, segment_name in db.session.execute(
            sa.select(Membership, Run.as_of, Segment.name).join(Run, Run.id == Membership.run_id)
            .outerjoin(Segment, Segment.id == Membership.segment_id)
            .where(Membership.customer_id == shopper.customer_id).order_by(Membership.run_id)):
        memberships.append({
            "run": member.run_id, "as_of": _iso(run_as_of), "interest_segment": segment_name,
            "value_type": VALUE_TYPE_LABELS.get(member.value_type, member.value_type),
            "recency_days": member.recency_days, "orders_in_window": member.frequency, "spend_in_window": member.monetary,
            "rfm": [member.rfm_r, member.rfm_f, member.rfm_m], "churn_score": member.churn_score,
            "churn_risk": member.churn_risk, "recommended_action": member.action,
            "location": {"country": member.country, "region": member.region, "city": member.city},
            "source": member.source,
        })
    messages = [{"id": m.id, "subject": m.subject, "state": m.state, "reason": m.reason, "created_at": _iso(m.created_at),
                 "sent_at": _iso(m.sent_at), "clicks": m.click_count, "opened_at": _iso(m.opened_at)}
                for m in db.session.scalars(sa.select(Message).where(_their_messages(shopper)).order_by(Message.id))]
    clicks = [{"message": c.message_id, "url": c.url, "clicked_at": _iso(c.clicked_at)}
              for c in db.session.scalars(sa.select(Click).where(Click.customer_id == shopper.customer_id)
                                          .order_by(Click.id))]
    views = [{"product": v.product_id, "viewed_at": _iso(v.viewed_at)}
             for v in db.session.scalars(sa.select(ProductView).where(ProductView.customer_id == shopper.customer_id)
                                         .order_by(ProductView.viewed_at))]
    return {"customer_id": shopper.customer_id, "shop_profile": profile, "subscription": status(shopper),
            "segmentation": memberships, "emails": messages, "clicks": clicks, "product_views": views,
            "search_words": search.words_for(shopper.customer_id)}


def forget(shopper: Shopper) -> dict[str, int]:
    """Erase shopcrm's data about them; keep only the hash of their address on the suppression
    list, so no campaign mails them again. Commits. The shop's own records are the shop's to
    erase (shopcrm never writes there); the next segmentation would read them again."""
    message_ids = sa.select(Message.id).where(sa.or_(Message.customer_id == shopper.customer_id,
                                                      Message.email_hash == shopper.email_hash))
    counts = {
        "clicks": db.session.execute(sa.delete(Click).where(sa.or_(Click.customer_id == shopper.customer_id,
                                                                   Click.message_id.in_(message_ids)))).rowcount,
        "emails": db.session.execute(sa.delete(Message).where(sa.or_(Message.customer_id == shopper.customer_id,
                                                                     Message.email_hash == shopper.email_hash))).rowcount,
        "segmentation": db.session.execute(sa.delete(Membership).where(
            Membership.customer_id == shopper.customer_id)).rowcount,
        "product views": db.session.execute(sa.delete(ProductView).where(
            ProductView.customer_id == shopper.customer_id)).rowcount,
        "search words": search.forget(shopper.customer_id),
    }
    _forget_texts(shopper)
    db.session.execute(sa.delete(Preference).where(Preference.email_hash == shopper.email_hash))
    db.session.execute(sa.delete(SoftBounce).where(SoftBounce.email_hash == shopper.email_hash))
    existing = db.session.scalar(sa.select(Suppression).where(Suppression.email_hash == shopper.email_hash))
    if existing is None:
        db.session.add(Suppression(email_hash=shopper.email_hash, reason="forgotten"))
    else:
        existing.reason = "forgotten"
    db.session.commit()
    return counts
