"""Tables the campaigns area owns besides the campaigns and the outbox (in ``shopcrm.models``).

Everything a shopper can be recognised by is keyed on the customer id or on the hash of their
address (``addresses.address_hash``), never on the address itself, so that "forget me" can
leave a hash behind and nothing else.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import utcnow

TRIGGER_KINDS = ("run_offer", "abandoned_cart", "browse_abandonment", "win_back")
#: Triggered reminders: the frequency cap may exempt them (SHOPCRM_CAP_EXEMPT_REMINDERS).
REMINDER_KINDS = ("abandoned_cart", "browse_abandonment")
FREQUENCIES = ("normal", "weekly", "monthly")


class Trigger(db.Model):
    """One automatic campaign: whether it runs, its parameters, and the campaign holding its
    template. ``state`` is the trigger's memory between evaluations (e.g. the last
    segmentation run it made offers for)."""

    __tablename__ = "crm_trigger"

    id = sa.Column(sa.Integer, primary_key=True)
    kind = sa.Column(sa.String(32), nullable=False, unique=True)
    enabled = sa.Column(sa.Boolean, nullable=False, default=False)
    params = sa.Column(sa.JSON, nullable=False)
    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("crm_campaign.id", ondelete="CASCADE"), nullable=False)
    enabled_at = sa.Column(sa.DateTime)
    state = sa.Column(sa.JSON)
    last_evaluated_at = sa.Column(sa.DateTime)
    last_report = sa.Column(sa.JSON)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    campaign = db.relationship("Campaign")


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
