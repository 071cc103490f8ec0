"""Campaigns as a service: create, edit, count, preview, launch, cancel, enqueue, settle.

The CLI and the admin call these functions; every refusal is a :class:`CampaignError` or a
:class:`TemplateError` whose message can be shown to a shop admin as it is. Functions that
change a campaign leave the commit to the caller (a form handler, a CLI command);
:func:`enqueue` commits after each chunk, because it may write millions of rows.

A campaign's life (``vocab.CAMPAIGN_STATES``): a **draft** is edited and previewed; launching
makes it **scheduled** for a moment (now or later) — never rendering anything in the request
that launches, so a web request never runs long under mod_wsgi; the next ``flask shopcrm send``
(cron) renders it once its time has come and it is **sending** while messages wait in the
outbox; once none waits (each was delivered, refused or left out) it is **sent**
(:func:`settle`, at the start of every send run and whenever its page is looked at). It can be
**cancelled** while scheduled or sending, not once sent.
"""
from __future__ import annotations

import smtplib
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from ..clock import utcnow
from ..dbutil import keyset_chunks
from ..delivery.addresses import normalize
from ..delivery.mime import MailBuilder
from ..delivery.transport import make_channel
from ..errors import CampaignError, RunLocked
from ..extensions import db
from ..locks import job_lock
from ..models import Campaign, Membership, Message, Segment
from ..shop import connect_shop
from . import content as content_fields
from . import preview as previews
from .outbox import CHUNK, Candidate, EnqueueReport, current_shop
from .sms_outbox import make_writer
from .targets import audience_count, audience_filter, check_target, target_run  # noqa: F401  (API)
from .templating import TEMPLATE_NAMES, Rendered, default_template, sample_context, validate_templates

EDITABLE = ("draft", "scheduled", "trigger")
CANCELLABLE = ("scheduled", "sending")
WAITING = ("queued", "sending")  # outbox states of a message that may still go out


class AudienceChanged(CampaignError):
    """The audience is not the size the person launching confirmed; ``count`` is the new size."""

    def __init__(self, count: int):
        super().__init__(f"the audience changed to {count} customers since you looked; confirm again")
        self.count = count


def get_campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"no campaign #{campaign_id}")
    return campaign


def _check_templates(subject: str, html: str, text: str, content: dict | None = None) -> None:
    """Syntax and sandbox errors now, with sample data, rather than half-way through a send."""
    validate_templates(subject, html, text, sample_context(shop=current_shop()), content)


def check_segment_names(target: dict) -> None:
    """A campaign for segments named X needs a segment named X in the run it reads: a typo would
    otherwise make an empty campaign that looks fine."""
    names = target.get("segment_names")
    if not names:
        return
    run = target_run(target)
    known = set(db.session.scalars(sa.select(Segment.name).where(Segment.run_id == run.id)))
    missing = [n for n in names if n not in known]
    if missing:
        raise CampaignError(f"no segment named {', '.join(repr(n) for n in missing)} in run #{run.id}; "
                            f"its segments: {', '.join(sorted(known)) or 'none'}")


def create_campaign(name: str, target: dict, template: str = "segment_offer", coupon: str | None = None,
                    created_by: str | None = None, subject: str | None = None, html: str | None = None,
                    text: str | None = None, kind: str = "campaign", content: dict | None = None,
                    channel: str = "email", sms_body: str | None = None) -> Campaign:
    """A draft campaign with the shipped template ``template`` (or the given sources) and its
    wording (``content`` changes some of it: preheader, heading, intro, button, products). Not
    committed."""
    if kind == "campaign":
        target = check_target(target)
        check_segment_names(target)
    else:
        target = {}  # a trigger keeps its target in its params
    sources = default_template(template)
    wording = content_fields.check(content or {}, content_fields.defaults(template))
    campaign = Campaign(
        name=(name or "").strip()[:255] or "Untitled campaign", kind=kind, target=target,
        coupon=(coupon or "").strip()[:64] or None,
        subject=subject if subject is not None else sources["subject"],
        html_body=html if html is not None else sources["html"],
        text_body=text if text is not None else sources["text"],
        created_by=created_by, status="draft" if kind == "campaign" else "trigger",
        template=template, content=wording.as_dict(),
    )
    _check_templates(campaign.subject, campaign.html_body, campaign.text_body, campaign.content)
    set_channel(campaign, channel, sms_body)
    db.session.add(campaign)
    return campaign


def set_channel(campaign: Campaign, channel: str, sms_body: str | None = None) -> Campaign:
    """Which channel(s) the campaign goes out on, and its SMS text (checked with sample data;
    empty: the shipped text). Not committed."""
    from .sms_content import default_sms_body, sample_sms
    from .sms_outbox import CHANNELS

    if campaign.status not in EDITABLE and campaign.kind == "campaign":
        raise CampaignError(f"campaign #{campaign.id} is {campaign.status}; its channel can no longer change")
    if channel not in CHANNELS:
        raise CampaignError(f"channel {channel!r}: choose email, sms or both")
    body = (sms_body or "").strip()
    if body == default_sms_body():
        body = ""
    sample_sms(body or None, current_app.config["SHOPCRM_SHOP_NAME"], campaign.coupon)  # TemplateError if broken
    campaign.channel, campaign.sms_body = channel, body or None
    return campaign


def update_campaign(campaign: Campaign, *, name: str | None = None, target: dict | None = None,
                    subject: str | None = None, html: str | None = None, text: str | None = None,
                    coupon: str | None = None, content: dict | None = None) -> Campaign:
    """Change a campaign that has not been rendered yet (or a trigger's template). ``content``
    changes the given fields of its wording. Not committed."""
    if campaign.status not in EDITABLE:
        raise CampaignError(f"campaign #{campaign.id} is {campaign.status}; only draft or scheduled campaigns "
                            "can be changed (copy it into a new one instead)")
    if target is not None:
        if campaign.kind != "campaign":
            raise CampaignError("a trigger's audience is part of the trigger's settings")
        target = check_target(target)
        check_segment_names(target)
        campaign.target = target
    wording = content_fields.check(content or {}, content_fields.of(campaign)).as_dict()
    if subject is not None and not subject.strip():
        raise CampaignError("the subject is empty")
    new_sources = (subject.strip() if subject is not None else campaign.subject,
                   html if html is not None else campaign.html_body,
                   text if text is not None else campaign.text_body)
    _check_templates(*new_sources, wording)
    campaign.subject, campaign.html_body, campaign.text_body = new_sources
    campaign.content = wording
    if name is not None:
        campaign.name = name.strip()[:255] or campaign.name
    if coupon is not None:
        campaign.coupon = coupon.strip()[:64] or None
    return campaign


def reset_template(campaign: Campaign) -> Campaign:
    """Put the shipped template code back (HTML and text) after edits; the subject and the other
    wording fields stay. Not committed."""
    if campaign.status not in EDITABLE:
        raise CampaignError(f"campaign #{campaign.id} is {campaign.status}; its template can no longer change")
    name = campaign.template or (campaign.kind if campaign.kind in TEMPLATE_NAMES else "segment_offer")
    sources = default_template(name)
    campaign.html_body, campaign.text_body = sources["html"], sources["text"]
    campaign.template = name
    return campaign


def launch(campaign: Campaign, at: datetime | None = None, confirmed_audience: int | None = None) -> Campaign:
    """Schedule the campaign for ``at`` (UTC; default now). The next send run renders and
    delivers it. ``confirmed_audience`` is the audience size the person launching agreed to:
    when it changed meanwhile, :class:`AudienceChanged` says the new size. Not committed."""
    if campaign.kind != "campaign":
        raise CampaignError("a trigger's campaign runs by itself; enable or disable the trigger instead")
    if campaign.status not in ("draft", "scheduled"):
        raise CampaignError(f"campaign #{campaign.id} is {campaign.status} and cannot be launched again")
    target = check_target(campaign.target)
    check_segment_names(target)
    count = audience_count(target)
    if count == 0:
        raise CampaignError("nobody matches this campaign's target in the run it reads")
    if confirmed_audience is not None and confirmed_audience != count:
        raise AudienceChanged(count)
    campaign.status, campaign.scheduled_at = "scheduled", at or utcnow()
    return campaign


def cancel(campaign: Campaign, reason: str = "campaign_cancelled") -> int:
    """Stop a scheduled or sending campaign: its queued messages are cancelled at once (a
    message already handed to the mail server cannot be called back). Returns how many were
    cancelled. Not committed."""
    if campaign.kind != "campaign":
        raise CampaignError("a trigger's campaign cannot be cancelled; disable the trigger instead")
    if campaign.status == "cancelled":
        return 0
    if campaign.status == "draft":
        raise CampaignError("this campaign is a draft: it was never launched, so there is nothing to cancel")
    if campaign.status not in CANCELLABLE:
        raise CampaignError(f"campaign #{campaign.id} was already sent; a sent email cannot be called back")
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
        writer = make_writer(campaign, shop, run, as_of=as_of,
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
    # a cancel from the panel while this ran must stay a cancel: only a live campaign becomes "sending"
    db.session.execute(sa.update(Campaign).where(Campaign.id == campaign.id, Campaign.status != "cancelled")
                       .values(status="sending", finished_at=None,
                               enqueued_at=sa.func.coalesce(Campaign.enqueued_at, utcnow())))
    db.session.commit()
    settle(campaign.id)
    db.session.commit()
    return writer.report


def settle(campaign_id: int | None = None) -> int:
    """Mark sent every sending campaign (or just ``campaign_id``) with no message left waiting;
    returns how many changed. Reads first and writes only when a campaign is done, so a look at
    a page never holds a write lock; cheap (the outbox's campaign index). Not committed."""
    waiting = sa.select(Message.id).where(Message.campaign_id == Campaign.id, Message.state.in_(WAITING))
    query = sa.select(Campaign.id).where(Campaign.status == "sending", ~waiting.exists())
    if campaign_id is not None:
        query = query.where(Campaign.id == campaign_id)
    done = list(db.session.scalars(query))
    if not done:
        return 0
    last = (sa.select(sa.func.max(sa.func.coalesce(Message.sent_at, Message.created_at)))
            .where(Message.campaign_id == Campaign.id).scalar_subquery())
    return db.session.execute(
        sa.update(Campaign).where(Campaign.id.in_(done), Campaign.status == "sending")
        .values(status="sent", finished_at=sa.func.coalesce(last, utcnow()))
        .execution_options(synchronize_session="fetch")).rowcount or 0


def enqueue_due(now: datetime | None = None) -> list[tuple[Campaign, EnqueueReport]]:
    """Render every launched campaign whose time has come (what cron's send run does first),
    after marking sent the campaigns the previous runs finished. A campaign another process is
    enqueueing right now is left to it."""
    now = now or utcnow()
    if settle():
        db.session.commit()
    due = db.session.scalars(sa.select(Campaign).where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
                             .order_by(Campaign.scheduled_at, Campaign.id)).all()
    done = []
    for campaign in due:
        try:
            done.append((campaign, enqueue(campaign)))
        except RunLocked:
            db.session.rollback()
    return done


def preview(campaign: Campaign, customer_id: int) -> Rendered:
    """The campaign's email as one real customer would get it (nothing is written or tracked);
    :func:`campaigns.preview.render` also says when the occasion shown is an example."""
    return previews.render(campaign, customer_id).rendered


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
