"""Triggers: turn the automatic campaigns on and off and set their parameters.

The cron command ``flask shopcrm triggers run`` evaluates them; this page only edits them and
shows what each one did last.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..campaigns import triggers as service
from ..campaigns.targets import describe
from ..errors import ShopCRMError
from ..extensions import db
from ..vocab import VALUE_TYPE_LABELS, VALUE_TYPES
from . import bp
from .auth import role_required

HELP = {
    "run_offer": "After each segmentation run, one offer to the chosen customers (once per run).",
    "abandoned_cart": "Cart lines older than the given hours and no order since: one reminder per cart.",
    "browse_abandonment": "A product viewed repeatedly, not carted, not bought, no recent order: one reminder.",
    "win_back": "Customers flagged at risk of churning: one win-back email per window.",
}
PARAM_LABELS = {
    "hours": "hours after the last cart change", "max_age_days": "ignore carts older than (days)",
    "window_days": "at most one email per customer every (days)", "min_views": "views of the same product",
    "lookback_hours": "look at views of the last (hours)", "quiet_hours": "wait after the last view (hours)",
    "recent_order_days": "skip customers who ordered in the last (days)",
}


@bp.route("/triggers")
@role_required("marketer", "viewer")
def triggers():
    items = service.ensure_triggers()
    return render_template("admin/triggers.html", triggers=items, titles=service.TITLES, help=HELP,
                           labels=PARAM_LABELS, describe=describe, can_edit=current_user.has_role("marketer"),
                           value_types=[(t, VALUE_TYPE_LABELS[t]) for t in VALUE_TYPES])


@bp.route("/triggers/<kind>", methods=["POST"])
@role_required("marketer")
def trigger_update(kind: str):
    form = request.form
    try:
        trigger = service.get_trigger(kind)
        params = {key: form[key] for key in (trigger.params or {}) if key != "target" and key in form}
        if form.get("has_target") == "y":  # the value-type boxes were on the form: take them as they are
            target = {k: v for k, v in (trigger.params.get("target") or {}).items() if k != "value_types"}
            chosen = form.getlist("target_value_types")
            params["target"] = {**target, "value_types": chosen} if chosen else target
        service.configure(kind, enabled=form.get("enabled") == "y", params=params, coupon=form.get("coupon"))
        db.session.commit()
        flash(f"{service.TITLES[kind]}: saved ({'on' if form.get('enabled') == 'y' else 'off'}).", "success")
    except ShopCRMError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("crm_admin.triggers"))
