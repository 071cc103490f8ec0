"""Campaigns as a service: create, edit, count, preview, launch, cancel, enqueue.

The CLI and the admin call these functions; every refusal is a :class:`CampaignError` or a
:class:`TemplateError` whose message can be shown to a shop admin as it is. Functions that
change a campaign leave the commit to the caller (a form handler, a CLI command);
:func:`enqueue` commits after each chunk, because it may write millions of rows.

Launching never renders anything in the request that launches: it marks the campaign
``scheduled`` and the next ``flask shopcrm send`` (cron) renders it once its time has come,
so a web request never runs long under mod_wsgi.
"""
from __future__ import annotations

import smtplib
import time
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from ..clock import shop_now, utcnow
from ..dbutil import keyset_chunks
from ..delivery.addresses import normalize
from ..delivery.mime import MailBuilder
from ..delivery.transport import make_channel
from ..errors import CampaignError, RunLocked
from ..extensions import db
from ..locks import job_lock
from ..models import Campaign, Membership, Message, Run
from ..shop import connect_shop, current_mapping
from ..shop import queries as shopq
from ..state import app_state
from .outbox import CHUNK, Candidate, EnqueueReport, OutboxWriter
from .targets import audience_count, audience_filter, check_target, target_run  # noqa: F401  (API)
from .templating import Rendered, default_template, sample_context, validate_templates

EDITABLE = ("draft", "scheduled", "trigger")


def get_campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"no campaign #{campaign_id}")
    return campaign


def _check_templates(subject: str, html: str, text: str) -> None:
    """Syntax and sandbox errors now, with sample data, rather than half-way through a send."""
    config = current_app.config
    validate_templates(subject, html, text, sample_context(config["SHOPCRM_SHOP_NAME"], config["SHOPCRM_SHOP_BASE_URL"]))


def create_campaign(name: str, target: dict, template: str = "segment_offer", coupon: str | None = None,
                    created_by: str | None = None, subject: str | None = None, html: str | None = None,
                    text: str | None = None, kind: str = "campaign") -> Campaign:
    """A draft campaign with the shipped template ``template`` (or the given sources). Not committed."""
    target = check_target(target) if kind == "campaign" else {}  # a trigger keeps its target in its params
    sources = default_template(template)
    campaign = Campaign(
        name=(name or "").strip()[:255] or "Untitled campaign", kind=kind, target=target,
        coupon=(coupon or "").strip()[:64] or None,
        subject=subject if subject is not None else sources["subject"],
        html_body=html if html is not None else sources["html"],
        text_body=text if text is not None else sources["text"],
        created_by=created_by, status="draft" if kind == "campaign" else "trigger",
    )
    _check_templates(campaign.subject, campaign.html_body, campaign.text_body)
    db.session.add(campaign)
    return campaign


def update_campaign(campaign: Campaign, *, name: str | None = None, target: dict | None = None,
                    subject: str | None = None, html: str | None = None, text: str | None = None,
                    coupon: str | None = None) -> Campaign:
    """Change a campaign that has not been rendered yet (or a trigger's template). Not committed."""
    if campaign.status not in EDITABLE:
        raise CampaignError(f"campaign #{campaign.id} is {campaign.status}; only draft or scheduled campaigns "
                            "can be changed (copy it into a new one instead)")
    if target is not None:
        if campaign.kind != "campaign":
            raise CampaignError("a trigger's audience is part of the trigger's settings")
        campaign.target = check_target(target)
    new_sources = (subject if subject is not None else campaign.subject, html if html is not None else campaign.html_body,
                   text if text is not None else campaign.text_body)
    _check_templates(*new_sources)
    campaign.subject, campaign.html_body, campaign.text_body = new_sources
    if name is not None:
        campaign.name = name.strip()[:255] or campaign.name
    if coupon is not None:
        campaign.coupon = coupon.strip()[:64] or None
    return campaign


def launch(campaign: Campaign, at: datetime | None = None) -> Campaign:
    """Schedule the campaign for ``at`` (UTC; default now). The next send run renders and
    delivers it. Not committed."""
    if campaign.kind != "campaign":
        raise CampaignError("a trigger's campaign runs by itself; enable or disable the trigger instead")
    if campaign.status not in ("draft", "scheduled"):
        raise CampaignError(f"campaign #{campaign.id} is {campaign.status} and cannot be launched again")
    check_target(campaign.target)
    if audience_count(campaign.target) == 0:
        raise CampaignError("nobody matches this campaign's target in the run it reads")
    campaign.status, campaign.scheduled_at = "scheduled", at or utcnow()
    return campaign


def cancel(campaign: Campaign, reason: str = "campaign_cancelled") -> int:
    """Stop a campaign: its queued messages are cancelled at once (a message already handed
    to the mail server cannot be called back). Returns how many were cancelled. Not committed."""
    if campaign.kind != "campaign":
        raise CampaignError("a trigger's campaign cannot be cancelled; disable the trigger instead")
    if campaign.status == "cancelled":
        return 0
    campaign.status, campaign.cancelled_at = "cancelled", utcnow()
    result = db.session.execute(sa.update(Message).where(Message.campaign_id == campaign.id, Message.state == "queued")
                                .values(state="cancelled", reason=reason[:255]))
    return result.rowcount or 0


def enqueue(campaign: Campaign, as_of: datetime | None = None, limit: int | None = None) -> EnqueueReport:
    """Render and queue one message per audience member. Safe to call again: it adds only
    what is missing. Walks the audience by customer id (keyset), a chunk at a time, so memory
    stays flat; commits per chunk; holds a lock so two processes never enqueue one campaign
    at once."""
    if campaign.status == "cancelled":
        raise CampaignError("this campaign was cancelled")
    if campaign.kind != "campaign":
        raise CampaignError("a trigger's messages are queued by `flask shopcrm triggers run`")
    target = check_target(campaign.target or {})
    run = target_run(target)
    ttl = current_app.config["SHOPCRM_LOCK_TTL_SECONDS"]
    with job_lock(f"enqueue:{campaign.id}", ttl=ttl) as lease, connect_shop() as shop:
        writer = OutboxWriter(campaign, shop, run, as_of=as_of,
                              send_at=max(campaign.scheduled_at or utcnow(), utcnow()))
        query = (sa.select(Membership.customer_id, Membership.segment_id, Membership.top_categories)
                 .where(*audience_filter(target, run)))
        for members in keyset_chunks(db.session, query, Membership.customer_id, CHUNK):
            if limit is not None and writer.report.audience >= limit:
                break
            writer.write([Candidate(int(m.customer_id), segment_id=m.segment_id,
                                    top_categories=tuple(int(x) for x in (m.top_categories or "").split(",") if x))
                          for m in members])
            lease.renew()
    campaign.status = "queued"
    campaign.enqueued_at = campaign.enqueued_at or utcnow()
    db.session.commit()
    return writer.report


def enqueue_due(now: datetime | None = None) -> list[tuple[Campaign, EnqueueReport]]:
    """Render every launched campaign whose time has come (what cron's send run does first).
    A campaign another process is enqueueing right now is left to it."""
    now = now or utcnow()
    due = db.session.scalars(sa.select(Campaign).where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
                             .order_by(Campaign.scheduled_at, Campaign.id)).all()
    done = []
    for campaign in due:
        try:
            done.append((campaign, enqueue(campaign)))
        except RunLocked:
            db.session.rollback()
    return done


PREVIEW_POPULAR_TTL = 300  # seconds


def _popular_for_previews(shop) -> dict[int, list[dict]]:
    """The best sellers per category, kept per process for a few minutes for the preview.

    Reading a year of sales takes a second or more on a large shop: too long for a page an admin
    reloads while editing, and a few minutes' lag does not change what a preview shows. Sending
    reads them afresh."""
    state = app_state()
    cached = state.preview_popular
    if cached is None or time.monotonic() - cached[0] > PREVIEW_POPULAR_TTL:
        cached = state.preview_popular = (time.monotonic(), shopq.popular_products(shop, current_mapping(),
                                                                                      shop_now()))
    return cached[1]


def preview(campaign: Campaign, customer_id: int) -> Rendered:
    """The campaign's email as one real customer would get it (nothing is written)."""
    run = target_run(check_target(campaign.target)) if campaign.kind == "campaign" else Run.current()
    member = None
    if run is not None:
        member = db.session.scalar(sa.select(Membership).where(Membership.run_id == run.id,
                                                                Membership.customer_id == customer_id))
    with connect_shop() as shop:
        writer = OutboxWriter(campaign, shop, run, popular=_popular_for_previews(shop))
        candidate = Candidate(int(customer_id), segment_id=member.segment_id if member else None,
                              top_categories=tuple(member.top_category_ids()) if member else ())
        return writer.preview(candidate)


def send_test(campaign: Campaign, customer_id: int, to_address: str) -> str:
    """Send the campaign as ``customer_id`` would get it, to ``to_address`` (the admin's own
    inbox), right away and outside the outbox; returns the Message-ID. The subject says TEST."""
    address = normalize(to_address)
    if address is None:
        raise CampaignError(f"{to_address!r} is not an email address")
    rendered = preview(campaign, customer_id)
    builder = MailBuilder()
    wire = builder.build({"id": f"test{campaign.id}", "customer_id": customer_id, "email": address,
                          "subject": f"[TEST] {rendered.subject}", "text": rendered.text, "html": rendered.html,
                          "unsubscribe_url": None})
    channel = make_channel()
    try:
        channel.open()
        channel.send_envelope(builder.envelope_from, address)
        channel.read_envelope()
        channel.send_content(wire.data, wire.message_id)
        channel.read_content_reply()
    except (OSError, smtplib.SMTPException) as exc:
        raise CampaignError(f"the test email could not be sent: {exc}") from exc
    finally:
        channel.close()
    return wire.message_id
