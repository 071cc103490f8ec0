"""The shopper's own page, opened from the signed link in every email (seed 001).

The token in the URL identifies the shopper; forms on these pages carry a CSRF token (the
page has a session), so a third-party page cannot unsubscribe, resubscribe or erase anyone by
posting to them. Only the RFC 8058 one-click unsubscribe (``/u/<token>``) is exempt.
"""
from __future__ import annotations

import json

from flask import Response, abort, flash, redirect, render_template, request, url_for

from ..delivery import shopper_area as customer_area
from ..delivery.shopper_area import Shopper, shopper_from
from ..delivery.tokens import TokenInvalid
from ..errors import CampaignError
from ..extensions import db
from . import bp
from .views import bad_link

# The stored email, shown on its own: its inline styles are allowed, nothing else is
# (no scripts, no forms, no plugins), and it may not be framed.
EMAIL_CSP = ("default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
             "frame-ancestors 'none'; form-action 'none'; base-uri 'none'; sandbox allow-popups "
             "allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation")


def _shopper(token: str) -> Shopper:
    return shopper_from("preferences", token)


@bp.errorhandler(TokenInvalid)
def _invalid_token(error: TokenInvalid):
    return bad_link(error)


@bp.route("/me/<token>")
def shopper_home(token: str):
    shopper = _shopper(token)
    return render_template("public/me.html", token=token, name=customer_area.first_name(shopper),
                           messages=customer_area.received(shopper), status=customer_area.status(shopper),
                           sms=customer_area.sms_status(shopper))


@bp.route("/me/<token>/emails/<int:message_id>")
def shopper_message(token: str, message_id: int):
    shopper = _shopper(token)
    message = customer_area.message(shopper, message_id)
    if message is None:
        abort(404)
    return render_template("public/me_message.html", token=token, message=message)


@bp.route("/me/<token>/emails/<int:message_id>/html")
def shopper_message_html(token: str, message_id: int):
    shopper = _shopper(token)
    message = customer_area.message(shopper, message_id)
    if message is None:
        abort(404)
    return Response(message.html, mimetype="text/html",
                    headers={"Content-Security-Policy": EMAIL_CSP, "Cache-Control": "private, no-store"})


@bp.route("/me/<token>/subscription", methods=["POST"])
def shopper_subscription(token: str):
    shopper = _shopper(token)
    action = request.form.get("action")
    try:
        if action == "unsubscribe":
            customer_area.unsubscribe(shopper)
            flash("You are unsubscribed: no more marketing emails to this address.", "success")
        elif action == "resubscribe":
            customer_area.resubscribe(shopper)
            flash("You are subscribed again.", "success")
        else:
            abort(400)
        db.session.commit()
    except CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("crm_public.shopper_home", token=token))


@bp.route("/me/<token>/frequency", methods=["POST"])
def shopper_frequency(token: str):
    shopper = _shopper(token)
    try:
        customer_area.set_frequency(shopper, request.form.get("frequency", ""))
        db.session.commit()
        flash("Saved: we will respect how often you want to hear from us.", "success")
    except CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("crm_public.shopper_home", token=token))


@bp.route("/me/<token>/sms", methods=["POST"])
def shopper_sms(token: str):
    shopper = _shopper(token)
    on = request.form.get("sms") == "yes"
    try:
        customer_area.set_sms(shopper, on)
        db.session.commit()
        flash("Saved: we will send you text messages." if on else "Saved: no more text messages from us.",
              "success")
    except CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("crm_public.shopper_home", token=token))


@bp.route("/me/<token>/data.json")
def shopper_data(token: str):
    shopper = _shopper(token)
    body = json.dumps(customer_area.export(shopper), indent=2, ensure_ascii=False, default=str)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="my-data-{shopper.customer_id}.json"',
                             "Cache-Control": "private, no-store"})


@bp.route("/me/<token>/forget", methods=["POST"])
def shopper_forget(token: str):
    shopper = _shopper(token)
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm that your data should be erased.", "error")
        return redirect(url_for("crm_public.shopper_home", token=token))
    customer_area.forget(shopper)
    return render_template("public/forgotten.html")
