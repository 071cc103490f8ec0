"""``GET /beacon``: product views reported by the shop's product page, signed with a shared secret.

It answers fast: no session, no cookie, no database read; a valid view is one INSERT (its
unique nonce turns a replay into a refused insert) and ``204 No Content``. The beacon is off
(404) until ``SHOPCRM_BEACON_SECRET`` is set. The rate limit is per client address
(``request.remote_addr``: behind a proxy, the visitor's only with ``SHOPCRM_TRUSTED_PROXIES``)
and minute, counted in ``crm_throttle`` by one UPSERT, so every process shares one budget.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, request

from ..beacon.signing import BeaconRefused, verify
from ..beacon.store import record_view
from ..extensions import db
from ..state import app_state
from ..throttle import WindowLimit
from . import bp


def _limiter() -> WindowLimit:
    state = app_state()
    if state.beacon_limiter is None:
        state.beacon_limiter = WindowLimit("beacon", current_app.config["SHOPCRM_BEACON_RATE_PER_MINUTE"], 60)
    return state.beacon_limiter


def _answer(status: int, text: str = ""):
    headers = {"Cache-Control": "no-store", "Content-Type": "text/plain; charset=utf-8"}
    return (text + "\n" if text else ""), status, headers


@bp.route("/beacon", methods=["GET"])
def beacon():
    secret = current_app.config.get("SHOPCRM_BEACON_SECRET")
    if not secret:
        abort(404)
    if not _limiter().allow(request.remote_addr or "-"):
        return _answer(429, "too many requests")
    try:
        view = verify(request.args, secret, current_app.config["SHOPCRM_BEACON_WINDOW_SECONDS"])
    except BeaconRefused as refused:
        return _answer(refused.status, refused.reason)
    try:
        record_view(db.session.connection(), view.customer_id, view.product_id, view.viewed_at, view.nonce)
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        return _answer(409, "replayed request")
    return _answer(204)
