"""Campaigns: list, create/edit with a live preview for a real customer, audience count, test
send to the admin's own address, launch/schedule/cancel, results.

Everything goes through ``campaigns.service``; launching only schedules (the next cron send
run renders and delivers), so no request renders thousands of emails.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from ..campaigns import service
from ..campaigns.results import recent_results
from ..campaigns.targets import audience_filter, check_target, describe, target_run
from ..clock import to_shop, to_utc
from ..errors import ShopCRMError
from ..extensions import db
from ..models import Campaign, Membership, Run
from ..vocab import ACTIONS, POTENTIAL_PROFITABLE, VALUE_TYPE_LABELS, VALUE_TYPES
from . import bp
from .auth import role_required
from .common import page_from_request

LIST_PAGE = 20
TEMPLATES = {"segment_offer": "Offer for a segment (recommended products)", "run_offer": "Offer after a run",
             "win_back": "Win-back"}
PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
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
    rfm = {}
    for letter in "rfm":
        low, high = form.get(f"rfm_{letter}_min", ""), form.get(f"rfm_{letter}_max", "")
        if low or high:
            rfm[letter] = [low or 1, high or 5]
    if rfm:
        target["rfm"] = rfm
    churn = form.get("churn_risk", "")
    if churn in ("yes", "no"):
        target["churn_risk"] = churn == "yes"
    return target


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
        "actions": ACTIONS, "templates": TEMPLATES, "potential_profitable": POTENTIAL_PROFITABLE,
        "can_edit": current_user.has_role("marketer"),
    }


@bp.route("/campaigns")
@role_required("marketer", "viewer")
def campaigns():
    query = sa.select(Campaign).where(Campaign.kind == "campaign")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    page = page_from_request(total, LIST_PAGE)
    rows = db.session.scalars(query.order_by(Campaign.id.desc()).limit(page.size).offset(page.offset)).all()
    counts = recent_results().state_counts([c.id for c in rows]) if rows else {}
    return render_template("admin/campaigns.html", campaigns=rows, counts=counts, page=page,
                           describe=describe)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@role_required("marketer")
def campaign_new():
    if request.method == "POST":
        target = target_from_form(request.form)
        try:
            campaign = service.create_campaign(
                request.form.get("name", ""), target, template=request.form.get("template") or "segment_offer",
                coupon=request.form.get("coupon"), created_by=current_user.email)
            db.session.commit()
        except ShopCRMError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template("admin/campaign_new.html", **_form_context(None, target),
                                   name=request.form.get("name", ""), coupon=request.form.get("coupon", ""))
        flash("Draft saved. Check the preview, send yourself a test, then launch.", "success")
        return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
    preset = {"segment_ids": [request.args.get("segment_id", type=int)]} if request.args.get("segment_id") \
        else {"value_types": list(POTENTIAL_PROFITABLE)}
    return render_template("admin/campaign_new.html", **_form_context(None, preset), name="", coupon="")


def _preview_customer(campaign: Campaign) -> int | None:
    """The customer the preview shows: the one asked for, else the first of the audience."""
    asked = request.args.get("customer_id", type=int)
    if asked:
        return asked
    try:
        if campaign.kind == "campaign":
            target = check_target(campaign.target)
            conditions = audience_filter(target, target_run(target))
        else:  # a trigger's template: anyone of the current run
            run = Run.current()
            if run is None:
                return None
            conditions = [Membership.run_id == run.id]
        return db.session.scalar(sa.select(Membership.customer_id).where(*conditions)
                                 .order_by(Membership.customer_id).limit(1))
    except ShopCRMError:
        return None


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
@role_required("marketer", "viewer")
def campaign(campaign_id: int):
    if request.method == "POST" and not current_user.has_role("marketer"):
        abort(403)  # viewers read campaigns; only marketers change them
    campaign = _campaign_or_404(campaign_id)
    if request.method == "POST":
        fields = {"name": request.form.get("name"), "subject": request.form.get("subject"),
                  "html": request.form.get("html_body"), "text": request.form.get("text_body"),
                  "coupon": request.form.get("coupon")}
        if campaign.kind == "campaign":
            fields["target"] = target_from_form(request.form)
        try:
            service.update_campaign(campaign, **fields)
            db.session.commit()
            flash("Saved.", "success")
        except ShopCRMError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
    audience = None
    if campaign.kind == "campaign" and campaign.status in service.EDITABLE:
        # once rendered, the outbox counts who it went to; the live count would only differ
        try:
            audience = service.audience_count(campaign.target)
        except ShopCRMError as exc:
            flash(str(exc), "error")
    results, counted_at = None, None
    if campaign.status not in ("draft", "trigger"):
        results, counted_at = recent_results().get(campaign)
    scheduled_local = to_shop(campaign.scheduled_at) if campaign.scheduled_at else None
    return render_template("admin/campaign.html", **_form_context(campaign, campaign.target or {}),
                           audience=audience, results=results, preview_customer=_preview_customer(campaign),
                           describe=describe, scheduled_local=scheduled_local,
                           counted_local=to_shop(counted_at) if counted_at else None,
                           editable=campaign.status in service.EDITABLE)


@bp.route("/campaigns/<int:campaign_id>/preview.html")
@role_required("marketer", "viewer")
def campaign_preview(campaign_id: int):
    """The rendered email for one real customer, shown in a sandboxed frame (no scripts)."""
    campaign = _campaign_or_404(campaign_id)
    customer_id = _preview_customer(campaign)
    if customer_id is None:
        body = "<p>Nobody to preview: the campaign's audience is empty.</p>"
    else:
        try:
            rendered = service.preview(campaign, customer_id)
            body = rendered.html
        except ShopCRMError as exc:
            body = f"<p>The preview failed: {Markup.escape(str(exc))}</p>"
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.route("/campaigns/<int:campaign_id>/test", methods=["POST"])
@role_required("marketer")
def campaign_test(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    customer_id = request.form.get("customer_id", type=int) or _preview_customer(campaign)
    try:
        if customer_id is None:
            raise ShopCRMError("choose a customer to render the test for")
        message_id = service.send_test(campaign, customer_id, current_user.email)
        flash(f"Test sent to {current_user.email} as customer #{customer_id} ({message_id}).", "success")
    except ShopCRMError as exc:
        flash(str(exc), "error")
    return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id, customer_id=customer_id))


@bp.route("/campaigns/<int:campaign_id>/launch", methods=["POST"])
@role_required("marketer")
def campaign_launch(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    try:
        at = _schedule_from_form(request.form)
        service.launch(campaign, at)
        db.session.commit()
        recent_results().forget(campaign.id)
        when = "at " + request.form["scheduled_at"].replace("T", " ") if at else "now"
        flash(f"Launched {when}: the next send run (every minute from cron) renders and delivers it.", "success")
    except ShopCRMError as exc:
        db.session.rollback()
        flash(str(exc), "error")
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
        flash(str(exc), "error")
    return redirect(url_for("crm_admin.campaign", campaign_id=campaign.id))
