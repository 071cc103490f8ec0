"""Campaigns, and the triggers whose standing campaigns hold their templates."""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db


class Campaign(db.Model):
    """A campaign, or the standing campaign of a trigger (``kind`` names the trigger).

    ``target`` is a stored-results filter (see ``campaigns.targets``). Manual campaigns go
    draft → scheduled (launched, waiting for ``scheduled_at``) → sending (rendered into the
    outbox, being delivered) → sent (nothing left to deliver, ``finished_at``) and may be
    cancelled until they are sent (``vocab.CAMPAIGN_STATES``); a trigger's campaign stays
    ``trigger`` and only holds the template its messages are rendered from.

    ``template`` names the shipped template the campaign started from and ``content`` holds
    what a marketer writes without template code (``campaigns.content``: preheader, heading,
    intro, button label, number of products); the subject and the template sources stay in
    their own columns.
    """

    __tablename__ = "crm_campaign"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(255), nullable=False)
    kind = sa.Column(sa.String(32), nullable=False, default="campaign", server_default="campaign")
    status = sa.Column(sa.String(16), nullable=False, default="draft")
    target = sa.Column(sa.JSON, nullable=False)  # e.g. {"segment_ids": [3]} or {"value_types": [...]}
    subject = sa.Column(sa.Text, nullable=False)
    html_body = sa.Column(sa.Text, nullable=False)
    text_body = sa.Column(sa.Text, nullable=False)
    coupon = sa.Column(sa.String(64))
    created_by = sa.Column(sa.String(255))
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    scheduled_at = sa.Column(sa.DateTime)  # UTC; when a launched campaign is rendered and sent
    enqueued_at = sa.Column(sa.DateTime)
    cancelled_at = sa.Column(sa.DateTime)
    template = sa.Column(sa.String(32))  # the shipped template it started from (templating.TEMPLATE_NAMES)
    content = sa.Column(sa.JSON)  # campaigns.content.Content as a dict; None: the template's defaults
    finished_at = sa.Column(sa.DateTime)  # UTC; when the last message was delivered (status "sent")
    channel = sa.Column(sa.String(8), nullable=False, default="email", server_default="email")  # email|sms|both
    sms_body = sa.Column(sa.Text)  # the SMS template (sandboxed Jinja); None: templates/sms/default.txt


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
