"""Customers: search the shop's customers, and one customer's profile with a timeline."""
from __future__ import annotations

from flask import abort, current_app, render_template, request

from ..customers.finder import SEARCH_LIMIT, find, value_types_of
from ..customers.profile import customer_profile
from ..vocab import VALUE_TYPE_LABELS
from . import bp
from .auth import role_required
from .common import page_from_request, shop_reader


@bp.route("/customers")
@role_required("marketer", "viewer")
def customers():
    """Search the shop's customers (``customers.finder``)."""
    query_text = (request.args.get("q") or "").strip()[:100]
    found, page = find(query_text, page_from_request(0).number, current_app.config["SHOPCRM_PAGE_SIZE"],
                       shop_reader())
    value_types = value_types_of([c["id"] for c in found])
    return render_template("admin/customers.html", q=query_text, found=found, value_types=value_types, page=page,
                           limit=SEARCH_LIMIT, value_labels=VALUE_TYPE_LABELS)


@bp.route("/customers/<int:customer_id>")
@role_required("marketer", "viewer")
def customer(customer_id: int):
    profile = customer_profile(customer_id, shop_reader())
    if profile is None:
        abort(404)
    return render_template("admin/customer.html", customer=profile.customer, membership=profile.membership,
                           segment=profile.segment, history=profile.history, events=profile.events,
                           interests=profile.interests, value_labels=VALUE_TYPE_LABELS)
