"""Campaigns: list, create (from a ready-made audience), edit the wording without template code
(template code stays an advanced option), preview as a customer found by name, e-mail or
number, test send to the admin's own address, launch after a confirmation that names the exact
audience, cancel, and follow the campaign from draft to sent with its results as counts and rates.

Everything goes through ``campaigns.service``; launching only schedules (the next cron send
run renders and delivers), so no request renders thousands of emails.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from ..campaigns import content as content_fields
from ..campaigns import preview as previews
from ..campaigns import service
from ..campaigns.audiences import AUDIENCES, audience
from ..campaigns.results import recent_results
from ..campaigns.targets import describe
from ..campaigns.templating import TEMPLATE_NAMES, default_template
from ..clock import to_utc
from ..customers.finder import SEARCH_LIMIT, find
from ..errors import ShopCRMError
from ..extensions import db
from ..formatting import number
from ..models import Campaign, Run
from ..segmentation import search_index
from ..vocab import (
    ACTION_LABELS,
    ACTIONS,
    CAMPAIGN_STATE_LABELS,
    CAMPAIGN_STATES,
    POTENTIAL_PROFITABLE,
    RFM_LABELS,
    RISK_LABELS,
    VALUE_TYPE_LABELS,
    VALUE_TYPES,
)
from . import bp
from .auth import role_required
from .common import as_sentence, page_from_request, shop_reader

LIST_PAGE = 20
PREVIEW_MATCHES = 8
TEMPLATES = {"segment_offer": "Offer for a segment (recommended products)", "run_offer": "Thank-you offer",
             "win_back": "Win-back"}
#: The preview is a marketer's HTML: a sandboxed document (no scripts, no navigation, not even by
#: <meta http-equiv="refresh">, no forms, an opaque origin), with only its own styles and pictures.
PREVIEW_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
               "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def _lines(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace(",", "\n").splitlines() if part.strip()]


def target_from_form(form) -> dict:
    """The campaign target from the edit form; ``check_target`` validates it."""
    target: dict = {
        "segment_ids": form.getlist("segment_ids"),
        "value_types": form.getlist("value_types"),
        "actions": form.getlist("actions"),
        "countries": _lines(form.get("countries")),
        "cities": _lines(form.get("cities")),
        "sources": _lines(form.get("sources")),
    }
    if form.get("churn_risk") in ("yes", "no"):
        target["churn_risk"] = form["churn_risk"] == "yes"
    if (form.get("predicted_top_percent") or "").strip():
        target["predicted_top_percent"] = form["predicted_top_percent"].strip()
    rfm = {}
    for letter in "rfm":
        low, high = form.get(f"rfm_{letter}_min", ""), form.get(f"rfm_{letter}_max", "")
        if low or high:
            rfm[letter] = [low or 1, high or 5]
    if rfm:
        target["rfm"] = rfm
    return target


def content_from_form(form) -> dict:
    """The wording fields present on the form (``campaigns.content.check`` validates them)."""
    return {key: form[key] for key in (*content_fields.FIELDS, "products") if key in form}


def _source(form, key: str) -> str | None:
    """A template source from a textarea, with the browser's CRLF line ends made plain."""
    value = form.get(key)
    return None if value is None else value.replace("\r\n", "\n")


def _schedule_from_form(form) -> datetime | None:
    """``datetime-local`` input (the shop's local time) as naive UTC, or None for "now"."""
    text = (form.get("scheduled_at") or "").strip()
    if not text:
        return None
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise ShopCRMError(f"{text!r} is not a date and time") from None
    return to_utc(local)


def _form_context(campaign: Campaign | None, target: dict) -> dict:
    run = Run.current()
    return {
        "campaign": campaign, "target": target, "run": run,
        "segments": run.segments if run else [],
        "value_types": [(t, VALUE_TYPE_LABELS[t]) for t in VALUE_TYPES],
        "actions": [(a, ACTION_LABELS[a]) for a in ACTIONS], "labels": {"rfm": RFM_LABELS, "risk": RISK_LABELS}, "templates": TEMPLATES, "potential_profitable": POTENTIAL_PROFITABLE,
        "can_edit": current_user.has_role("marketer"), "state_labels": CAMPAIGN_STATE_LABELS,
        "content_fields": content_fields.FIELDS, "max_products": content_fields.MAX_PRODUCTS,
    }


@bp.route("/campaigns")
@role_required("marketer", "viewer")
def campaigns():
    if service.settle():
        db.session.commit()
    query = sa.select(Campaign).where(Campaign.kind == "campaign")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    page = page_from_request(total, LIST_PAGE)
    rows = db.session.scalars(query.order_by(Campaign.id.desc()).limit(page.size).offset(page.offset)).all()
    counts = recent_results().state_counts([c.id for c in rows]) if rows else {}
    return render_template("admin/campaigns.html", campaigns=rows, counts=counts, page=page,
                           describe=describe, state_labels=CAMPAIGN_STATE_LABELS)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@role_required("marketer")
def campaign_new():
    if request.method == "POST":
        target = target_from_form(request.form)
        template = request.form.get("template") or "segment_offer"
        try:
            if template not in TEMPLATES:
                raise ShopCRMError(f"choose one of the templates: {', '.join(TEMPLATES.values())}")
            campaign = service.create_campaign(request.form.get("name", ""), target, template=template,
                                               coupon=request.form.get("coupon"), created_by=current_user.email)
            db.session.commit()
        except ShopCRMError as exc:
            db.session.rollback()
            flash(as_sentence(exc), "error")
            return render_template("admin/campaign_new.html", **_form_context(None, target),
                                   name=request.form.get("name", ""), coupon=request.form.get("coupon", ""),
                                   template=template, audiences=AUDIENCES, chosen=None)
        flash("Draft saved. Write the e-mail, check the preview, send yourself a test, then launch.", "success")
        return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
    chosen = audience(request.args.get("audience") or "")
    name, template = "", "segment_offer"
    if chosen is not None:  # a ready-made audience (the dashboard's action cards link here)
        preset, name, template = dict(chosen.target), chosen.name, chosen.template
    elif request.args.get("segment_id", type=int):
        preset = {"segment_ids": [request.args.get("segment_id", type=int)]}
    else:
        preset = {"value_types": list(POTENTIAL_PROFITABLE)}
    return render_template("admin/campaign_new.html", **_form_context(None, preset), name=name, coupon="",
                           template=template if template in TEMPLATES else "segment_offer", audiences=AUDIENCES,
                           chosen=chosen)


def _preview_choice(campaign: Campaign) -> tuple[int | None, list[dict], str]:
    """Whom the preview shows: the customer asked for by number, or the first a search by name or
    e-mail finds (with the others it found, to choose from), else one who fits the campaign."""
    asked = request.args.get("customer_id", type=int)
    if asked:
        return asked, [], ""
    text = (request.args.get("customer") or "").strip()[:100]
    if text.lstrip("#").isdigit():
        return int(text.lstrip("#")), [], text
    if text:
        found, _ = find(text, 1, PREVIEW_MATCHES, shop_reader())
        words = search_index.query_words(text)
        if not found and len(words) > 1:  # "Ben Dubois" before the word index is built: the shop's matches
            found = [c for c in shop_reader().search(words[0], SEARCH_LIMIT) if search_index.matches(words, c)]
        found = found[:PREVIEW_MATCHES]
        if found:
            return int(found[0]["id"]), found, text
        flash(f"Nobody found for “{text}”: showing the preview for another customer.", "error")
    return previews.default_customer(campaign), [], text


def _template_edited(campaign: Campaign) -> bool:
    """Whether the template code (HTML and text; the subject is wording) differs from the shipped
    template the campaign started from."""
    name = campaign.template or (campaign.kind if campaign.kind in TEMPLATE_NAMES else None)
    if name not in TEMPLATE_NAMES:
        return True
    shipped = default_template(name)
    return (campaign.html_body.strip(), campaign.text_body.strip()) != (shipped["html"].strip(),
                                                                        shipped["text"].strip())


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
@role_required("marketer", "viewer")
def campaign(campaign_id: int):
    if request.method == "POST" and not current_user.has_role("marketer"):
        abort(403)  # viewers read campaigns; only marketers change them
    campaign = _campaign_or_404(campaign_id)
    if request.method == "POST":
        fields = {"name": request.form.get("name"), "subject": request.form.get("subject"),
                  "html": _source(request.form, "html_body"), "text": _source(request.form, "text_body"),
                  "coupon": request.form.get("coupon"), "content": content_from_form(request.form)}
        if campaign.kind == "campaign" and request.form.get("has_target") == "y":
            fields["target"] = target_from_form(request.form)
        try:
            service.update_campaign(campaign, **fields)
            db.session.commit()
            flash("Saved. The preview below shows the new version.", "success")
        except ShopCRMError as exc:
            db.session.rollback()
            flash(as_sentence(exc), "error")
        return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
    if campaign.status == "sending" and service.settle(campaign.id):
        db.session.commit()
        db.session.refresh(campaign)
    audience_size = None
    if campaign.kind == "campaign" and campaign.status in service.EDITABLE:
        # once rendered, the outbox counts who it went to; the live count would only differ
        try:
            audience_size = service.audience_count(campaign.target)
        except ShopCRMError as exc:
            flash(as_sentence(exc), "error")
    results, counted_at = None, None
    if campaign.status not in ("draft", "trigger"):
        results, counted_at = recent_results().get(campaign)
    preview_customer, matches, asked = _preview_choice(campaign)
    return render_template("admin/campaign.html", **_form_context(campaign, campaign.target or {}),
                           audience=audience_size, results=results, preview_customer=preview_customer,
                           matches=matches, asked=asked, describe=describe, content=content_fields.of(campaign),
                           counted_at=counted_at, editable=campaign.status in service.EDITABLE,
                           cancellable=campaign.status in service.CANCELLABLE, steps=CAMPAIGN_STATES[:4],
                           template_edited=_template_edited(campaign), sms=_sms_card(campaign, audience_size),
                           template_label=TEMPLATES.get(campaign.template or "", (campaign.template or "custom")
                                                        .replace("_", " ")))


@bp.route("/campaigns/<int:campaign_id>/sms", methods=["POST"])
@role_required("marketer")
def campaign_sms(campaign_id: int):
    """The channel(s) and the SMS text of a campaign (or a trigger's template)."""
    campaign = _campaign_or_404(campaign_id)
    try:
        service.set_channel(campaign, request.form.get("channel", "email"), request.form.get("sms_body"))
        db.session.commit()
        flash("Saved. The SMS below shows the new version.", "success")
    except ShopCRMError as exc:
        db.session.rollback()
        flash(as_sentence(exc), "error")
    return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id, _anchor="sms"))


def _sms_card(campaign: Campaign, audience_size: int | None) -> dict | None:
    """The SMS card's figures; ``None`` when SMS is off and the campaign sends no SMS."""
    from ..campaigns.sms_content import campaign_estimate, default_sms_body
    from ..delivery.sms.segments import GSM_BASIC, GSM_EXTENSION

    sms_on = bool(current_app.config.get("SHOPCRM_TWILIO_ACCOUNT_SID"))
    if not sms_on and (campaign.channel or "email") == "email":
        return None
    try:
        found = campaign_estimate(campaign.sms_body, audience_size or 0, campaign.coupon)
    except ShopCRMError as exc:
        found = {"error": as_sentence(exc)}
    return {**found, "on": sms_on, "body": campaign.sms_body or default_sms_body(),
            "gsm": "".join(sorted(GSM_BASIC)), "gsm_ext": "".join(sorted(GSM_EXTENSION))}


@bp.route("/campaigns/<int:campaign_id>/template/reset", methods=["POST"])
@role_required("marketer")
def campaign_reset_template(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    try:
        service.reset_template(campaign)
        db.session.commit()
        flash("The shipped template is back; your wording, coupon and audience are unchanged.", "success")
    except ShopCRMError as exc:
        db.session.rollback()
        flash(as_sentence(exc), "error")
    return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/preview.html")
@role_required("marketer", "viewer")
def campaign_preview(campaign_id: int):
    """The rendered email for one real customer, as a sandboxed document: no scripts, no
    navigation (``Content-Security-Policy: sandbox``), nothing tracked."""
    campaign = _campaign_or_404(campaign_id)
    customer_id = request.args.get("customer_id", type=int) or previews.default_customer(campaign)
    if customer_id is None:
        body = "<p>Nobody to preview: the campaign's audience is empty.</p>"
    else:
        try:
            body = previews.render(campaign, customer_id).rendered.html
        except ShopCRMError as exc:
            body = f"<p>The preview failed: {Markup.escape(as_sentence(exc))}</p>"
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/campaigns/<int:campaign_id>/test", methods=["POST"])
@role_required("marketer")
def campaign_test(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    customer_id = request.form.get("customer_id", type=int) or previews.default_customer(campaign)
    try:
        if customer_id is None:
            raise ShopCRMError("choose a customer to render the test for")
        service.send_test(campaign, customer_id, current_user.email)
        flash(f"Test sent to {current_user.email}, written as customer #{customer_id} would get it. "
              "Its links are not tracked.", "success")
    except ShopCRMError as exc:
        flash(as_sentence(exc), "error")
    return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id, customer_id=customer_id))


def _confirm_launch(campaign: Campaign, at_text: str, problem: str | None = None):
    """The page that asks before sending, with the exact audience the launch is for."""
    try:
        size = service.audience_count(campaign.target)
        at = _schedule_from_form({"scheduled_at": at_text})
    except ShopCRMError as exc:
        flash(as_sentence(exc), "error")
        return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
    if problem:
        flash(problem, "error")
    return render_template("admin/campaign_launch.html", campaign=campaign, audience=size, at=at,
                           at_text=at_text, describe=describe, content=content_fields.of(campaign))


@bp.route("/campaigns/<int:campaign_id>/launch", methods=["GET", "POST"])
@role_required("marketer")
def campaign_launch(campaign_id: int):
    """GET (the campaign page's Launch button) asks; POST with the audience size confirmed launches.
    A POST without it, or whose audience changed meanwhile, asks again with the current size."""
    campaign = _campaign_or_404(campaign_id)
    at_text = (request.values.get("scheduled_at") or "").strip()
    confirmed = request.form.get("confirmed_audience", type=int) if request.method == "POST" else None
    if campaign.kind != "campaign" or campaign.status not in ("draft", "scheduled"):
        flash(f"This campaign is {CAMPAIGN_STATE_LABELS.get(campaign.status, campaign.status).lower()}; "
              "it cannot be launched.", "error")
        return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
    if confirmed is None:
        return _confirm_launch(campaign, at_text)
    try:
        at = _schedule_from_form(request.form)
        service.launch(campaign, at, confirmed_audience=confirmed)
        db.session.commit()
    except service.AudienceChanged as exc:
        db.session.rollback()
        return _confirm_launch(campaign, at_text, as_sentence(exc))
    except ShopCRMError as exc:
        db.session.rollback()
        flash(as_sentence(exc), "error")
        return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
    recent_results().forget(campaign.id)
    when = f"for {at_text.replace('T', ' ')}" if at else "now"
    flash(f"Launched {when} to {number(confirmed)} customers: the next send run (every minute from cron) renders "
          "and delivers it.", "success")
    return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/cancel", methods=["POST"])
@role_required("marketer")
def campaign_cancel(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    try:
        cancelled = service.cancel(campaign)
        db.session.commit()
        recent_results().forget(campaign.id)
        flash(f"Cancelled; {cancelled} queued message(s) will not be sent.", "success")
    except ShopCRMError as exc:
        db.session.rollback()
        flash(as_sentence(exc), "error")
    return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
