"""Shopper-facing views. Links carry signed tokens; nothing here needs a login."""
from __future__ import annotations

from flask import Response, redirect, render_template, request

from ..delivery import clicks
from ..delivery.shopper_area import shopper_from
from ..delivery.suppression import suppress
from ..delivery.tokens import TokenInvalid
from ..extensions import csrf, db
from . import bp

# A transparent 1×1 GIF, the smallest image every mail client shows.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def bad_link(error: TokenInvalid):
    return render_template("public/error.html", code=400, message=str(error)), 400


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the credential; RFC 8058 one-click POSTs carry no form token
def unsubscribe(token: str):
    """GET shows a one-button page; POST (the button, or a mail client's one-click request per
    RFC 8058) unsubscribes at once, with no login and no further confirmation. It is committed
    before the response, and the sender checks the list before every message."""
    try:
        subscriber = shopper_from("unsubscribe", token)
    except TokenInvalid as exc:
        return bad_link(exc)
    if request.method == "POST":
        suppress(subscriber.email_hash, "unsubscribed")
        db.session.commit()
        return render_template("public/unsubscribed.html")
    return render_template("public/unsubscribe.html", token=token)


@bp.route("/c/<token>")
def click(token: str):
    """A tracked link: record the click, then go to the shop (and only to the shop)."""
    try:
        target = clicks.follow(token)
    except TokenInvalid as exc:
        return bad_link(exc)
    return redirect(target, code=302)


@bp.route("/o/<token>.gif")
def opened(token: str):
    """The open-tracking image (only in emails when SHOPCRM_TRACK_OPENS is on)."""
    try:
        clicks.record_open(token)
    except TokenInvalid:
        pass  # an image must always load; a bad token just records nothing
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store"})


from . import shopper  # noqa: E402,F401  the shopper's own pages
