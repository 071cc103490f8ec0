"""Helpers for the SMS tests: the app pointed at the loopback fake of Twilio, shop customers
given phone numbers (as the shop itself would store them), SMS campaigns queued."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shopcrm.extensions import db
from shopcrm.models import Message
from tests.support.campaigns import seed_run, shop_execute

SENDER = "+4915100000001"


def sms_settings(fake, **overrides) -> dict:
    """The SMS settings for an app whose Twilio is ``fake`` (quiet hours off, no rate limit)."""
    return {"SHOPCRM_TWILIO_ACCOUNT_SID": fake.account_sid, "SHOPCRM_TWILIO_AUTH_TOKEN": fake.auth_token,
            "SHOPCRM_TWILIO_FROM": SENDER, "SHOPCRM_TWILIO_API_URL": fake.base_url,
            "SHOPCRM_SMS_DEFAULT_REGION": "DE", "SHOPCRM_SMS_TIME_ZONE": "Europe/Berlin",
            "SHOPCRM_SMS_QUIET_HOURS": "", "SHOPCRM_SMS_SEND_RATE": 0.0, "SHOPCRM_SMS_TIMEOUT": 2.0,
            "SHOPCRM_SHOP_NAME": "Test Shop", **overrides}


def e164_of(index: int) -> str:
    return f"+49151{10_000_000 + index}"


def give_phones(shop_file: Path, count: int, offset: int = 0, optin: int = 1,
                where: str = "active = 1 AND newsletter = 1 AND email LIKE '%_@_%.%'") -> list[tuple[int, str]]:
    """Give ``count`` active customers a German mobile number (typed nationally) and the SMS
    opt-in ``optin``; returns (customer id, E.164). Everyone else's phone is cleared."""
    if offset == 0:
        shop_execute(shop_file, "UPDATE customers SET telephone = NULL, sms_optin = 0")
    ids = [int(r[0]) for r in shop_execute(
        shop_file, f"SELECT customer_id FROM customers WHERE {where} AND lower(email) IN (SELECT lower(email) FROM "
                   "customers GROUP BY lower(email) HAVING COUNT(*) = 1) ORDER BY customer_id LIMIT ? OFFSET ?",
        (count, offset))]
    people = []
    for i, cid in enumerate(ids, start=offset):
        shop_execute(shop_file, "UPDATE customers SET telephone = ?, sms_optin = ? WHERE customer_id = ?",
                     (f"0151 {10_000_000 + i}", optin, cid))
        people.append((cid, e164_of(i)))
    return people


def queue_sms_campaign(customer_ids: list[int], channel: str = "sms", name: str = "Texts", sms_body: str | None = None):
    """A run holding these customers, a campaign for its segment on ``channel``, enqueued (in an
    app context); returns (campaign, report)."""
    from shopcrm.campaigns.service import create_campaign, enqueue

    _, segment = seed_run(customer_ids)
    campaign = create_campaign(name, {"segment_ids": [segment.id]}, coupon="TEN", channel=channel, sms_body=sms_body)
    db.session.commit()
    return campaign, enqueue(campaign)


def sms_rows(campaign_id: int | None = None) -> list[Message]:
    query = sa.select(Message).where(Message.channel == "sms").order_by(Message.id)
    if campaign_id is not None:
        query = query.where(Message.campaign_id == campaign_id)
    rows = db.session.scalars(query).all()
    db.session.commit()
    return rows
