"""Shopper-facing views. Links carry signed tokens; nothing here needs a login."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, request

from ..campaigns.tokens import TokenInvalid, read_token
from ..extensions import csrf, db
from ..models import Suppression
from . import bp


def suppress_hash(email_hash: str, reason: str) -> bool:
    """Add the address hash to the suppression list; ``False`` if it was already there."""
    exists = db.session.scalar(sa.select(Suppression.id).where(Suppression.email_hash == email_hash))
    if exists is not None:
        return False
    db.session.add(Suppression(email_hash=email_hash, reason=reason))
    return True


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the credential; RFC 8058 one-click POSTs carry no form token
def unsubscribe(token: str):
    """GET shows a one-button page; POST (the button, or a mail client's one-click request per
    RFC 8058) unsubscribes at once, with no login and no further confirmation."""
    try:
        data = read_token("unsubscribe", token)
        email_hash = str(data["h"])
    except (TokenInvalid, KeyError) as exc:
        return render_template("public/error.html", code=400, message=str(exc) if isinstance(exc, TokenInvalid)
                               else "this link is not valid"), 400
    if request.method == "POST":
        suppress_hash(email_hash, "unsubscribed")
        db.session.commit()
        return render_template("public/unsubscribed.html")
    return render_template("public/unsubscribe.html", token=token)
