"""The outbox and everything about the addresses it mails: messages, suppressions.

Everything a shopper can be recognised by is keyed on the customer id or on the hash of their
address (``delivery.addresses.address_hash``), never on the address itself, so that "forget me"
can leave a hash behind and nothing else.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db


class Message(db.Model):
    """The outbox: one row per (campaign, customer, trigger key), never two.

    ``send_key`` holds the address hash while the row may still be delivered, so the second
    unique key allows one message per address and occasion even when two shop customers share
    an address (suppressed rows carry NULL there and do not count). ``lease_until`` is the
    claim of a sender: rows it claimed but has not started stay ``queued`` and go back to the
    pool when the lease runs out; a row in ``sending`` whose lease ran out was handed to the
    mail server by a sender that died before recording the answer: it is *in doubt*.
    ``stop_if_ordered_since`` (shop clock) cancels a trigger message if the customer orders
    after that moment.

    ``channel`` is ``email`` or ``sms``. An SMS row keeps its body in ``text``, the number in
    ``phone`` (E.164), and the provider's message id in ``provider_sid`` once it was taken; its
    ``send_key`` is the hash of the number (``delivery.sms.consent.phone_hash``), and its
    ``email_hash`` the customer's address hash when they have one (else the number's hash), so
    the one frequency cap and the shopper's chosen frequency count both channels.
    """

    __tablename__ = "crm_message"

    id = sa.Column(sa.Integer, primary_key=True)
    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("crm_campaign.id", ondelete="CASCADE"), nullable=False)
    customer_id = sa.Column(sa.BigInteger, nullable=False)
    dedupe_key = sa.Column(sa.String(64), nullable=False, default="")
    channel = sa.Column(sa.String(8), nullable=False, default="email", server_default="email")
    email = sa.Column(sa.String(255), nullable=False)
    phone = sa.Column(sa.String(20))
    provider_sid = sa.Column(sa.String(64))
    email_hash = sa.Column(sa.String(64), nullable=False, default="", server_default="")
    send_key = sa.Column(sa.String(64))
    subject = sa.Column(sa.Text, nullable=False)
    html = sa.Column(sa.Text, nullable=False)
    text = sa.Column(sa.Text, nullable=False)
    unsubscribe_url = sa.Column(sa.Text)  # signed at enqueue; the List-Unsubscribe header's https link
    state = sa.Column(sa.String(16), nullable=False, default="queued")
    reason = sa.Column(sa.String(255))
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    next_attempt_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    claimed_by = sa.Column(sa.String(64))
    claimed_at = sa.Column(sa.DateTime)
    lease_until = sa.Column(sa.DateTime)
    stop_if_ordered_since = sa.Column(sa.DateTime)
    sent_at = sa.Column(sa.DateTime)
    message_id = sa.Column(sa.String(255))
    clicked_at = sa.Column(sa.DateTime)
    click_count = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    opened_at = sa.Column(sa.DateTime)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "customer_id", "dedupe_key", "channel", name="uq_crm_message_once_channel"),
        sa.UniqueConstraint("campaign_id", "dedupe_key", "send_key", name="uq_crm_message_address"),
        sa.Index("ix_crm_message_due", "state", "next_attempt_at"),
        sa.Index("ix_crm_message_customer", "customer_id", "created_at"),
        sa.Index("ix_crm_message_address", "email_hash", "sent_at"),
        # every figure of the campaign list and results pages is counted from this index alone
        sa.Index("ix_crm_message_campaign_stats", "campaign_id", "state", "reason", "clicked_at", "click_count",
                 "opened_at"),
    )


class Suppression(db.Model):
    """Addresses that must never be mailed again, kept only as a hash of the address."""

    __tablename__ = "crm_suppression"

    id = sa.Column(sa.Integer, primary_key=True)
    email_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    reason = sa.Column(sa.String(32), nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class Click(db.Model):
    """One click on a tracked link (opens are recorded on the message row only)."""

    __tablename__ = "crm_click"

    id = sa.Column(sa.Integer, primary_key=True)
    message_id = sa.Column(sa.Integer, sa.ForeignKey("crm_message.id", ondelete="CASCADE"), nullable=False)
    campaign_id = sa.Column(sa.Integer, nullable=False)
    customer_id = sa.Column(sa.BigInteger, nullable=False)
    url = sa.Column(sa.Text, nullable=False)
    clicked_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.Index("ix_crm_click_campaign", "campaign_id", "customer_id", "clicked_at"),
        sa.Index("ix_crm_click_customer", "customer_id", "clicked_at"),
        sa.Index("ix_crm_click_message", "message_id"),
    )


class TrackedLink(db.Model):
    """A shop link of one campaign's emails, named by a short number (``delivery.clicks``).

    An email's tracked link carries only this number, the customer's id and a signature, so
    it stays short in a plain-text email; the address it leads to is kept here once per
    campaign and occasion (``dedupe_key``), not once per message."""

    __tablename__ = "crm_link"

    id = sa.Column(sa.Integer, primary_key=True)
    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("crm_campaign.id", ondelete="CASCADE"), nullable=False)
    dedupe_key = sa.Column(sa.String(64), nullable=False, default="")
    url_hash = sa.Column(sa.String(64), nullable=False)  # SHA-256 of url: the unique key (url itself is long)
    url = sa.Column(sa.Text, nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "dedupe_key", "url_hash", name="uq_crm_link_url"),
    )


class Preference(db.Model):
    """A shopper's choice of how often they want marketing email (from their own page)."""

    __tablename__ = "crm_preference"

    email_hash = sa.Column(sa.String(64), primary_key=True)
    frequency = sa.Column(sa.String(16), nullable=False, default="normal")
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class SoftBounce(db.Model):
    """Consecutive temporary refusals of one address; reset by a delivery. Past
    ``SHOPCRM_SOFT_BOUNCE_LIMIT`` the address is suppressed (``soft_bounce``)."""

    __tablename__ = "crm_soft_bounce"

    email_hash = sa.Column(sa.String(64), primary_key=True)
    count = sa.Column(sa.Integer, nullable=False, default=0)
    last_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    last_reply = sa.Column(sa.String(255))


class SmsConsent(db.Model):
    """A phone number's own SMS choice, kept as the hash of the E.164 number.

    ``opted_in`` comes from the shopper's page (or a START reply); ``opted_out`` from a STOP
    reply, the shopper's page, or Twilio refusing the number as unsubscribed. An opt-out here
    wins over a consent column in the shop. E-mail consent never counts for SMS.
    """

    __tablename__ = "crm_sms_consent"

    phone_hash = sa.Column(sa.String(64), primary_key=True)
    state = sa.Column(sa.String(16), nullable=False)  # opted_in | opted_out
    source = sa.Column(sa.String(32), nullable=False)  # preferences | reply | provider | admin
    customer_id = sa.Column(sa.BigInteger)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
