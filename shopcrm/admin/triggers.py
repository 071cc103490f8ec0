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
from .common import as_sentence


@bp.route("/triggers")
@role_required("marketer", "viewer")
def triggers():
    items = service.ensure_triggers()
    return render_template("admin/triggers.html", triggers=items, titles=service.TITLES, help=service.HELP,
                           labels=service.PARAM_LABELS, limits=service.NUMBER_LIMITS, describe=describe,
                           can_edit=current_user.has_role("marketer"),
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
        flash(as_sentence(exc), "error")
    return redirect(url_for("crm_admin.triggers", _anchor=kind if kind in service.TITLES else None))
