"""Customers: every customer of the current analysis, filtered and sorted (``customers.browse``);
a search by name or e-mail (``customers.finder``); one customer's profile with a timeline."""
from __future__ import annotations

from flask import abort, current_app, flash, render_template, request

from ..customers import browse, figures
from ..customers.finder import SEARCH_LIMIT, find, value_types_of
from ..customers.profile import customer_profile
from ..models import Run
from ..vocab import ACTION_HELP, ACTION_LABELS, ACTIONS, RISK_LABELS, VALUE_TYPE_HELP, VALUE_TYPE_LABELS, VALUE_TYPES
from . import bp, charts
from .auth import role_required
from .common import page_from_request, shop_reader


def _labels() -> dict:
    return {"value_labels": VALUE_TYPE_LABELS, "value_help": VALUE_TYPE_HELP, "action_labels": ACTION_LABELS,
            "action_help": ACTION_HELP, "risk_labels": RISK_LABELS, "segment_color": charts.segment_color}


@bp.route("/customers")
@role_required("marketer", "viewer")
def customers():
    """Without a search: the run's customers, filtered and sorted. With one: who matches it."""
    query_text = (request.args.get("q") or "").strip()[:100]
    run = Run.current()
    context = {"q": query_text, "run": run, "limit": SEARCH_LIMIT, **_labels()}
    if query_text:
        found, page = find(query_text, page_from_request(0).number, current_app.config["SHOPCRM_PAGE_SIZE"],
                           shop_reader())
        context.update(found=found, page=page, value_types=value_types_of([c["id"] for c in found]))
        return render_template("admin/customers.html", **context)
    if run is None:
        return render_template("admin/customers.html", **context)
    filters = browse.Filters.from_args(request.args, run)
    for problem in filters.problems:
        flash(problem, "error")
    listing = browse.listing(run, filters, page_from_request(0).number, current_app.config["SHOPCRM_PAGE_SIZE"],
                             shop_reader())
    segments = figures.segments_of(run)
    context.update(filters=filters, listing=listing, page=listing.page, sorts=browse.SORTS,
                   last_order=browse.LAST_ORDER_LABELS, countries=browse.countries(figures.stored_document(run, "groups") or {}),
                   segments=segments, value_types=VALUE_TYPES, actions=ACTIONS,
                   segment_names={s.id: s for s in segments})
    return render_template("admin/customers.html", **context)


@bp.route("/customers/<int:customer_id>")
@role_required("marketer", "viewer")
def customer(customer_id: int):
    profile = customer_profile(customer_id, shop_reader())
    if profile is None:
        abort(404)
    return render_template("admin/customer.html", profile=profile, customer=profile.customer,
                           membership=profile.membership, segment=profile.segment, history=profile.history,
                           days=profile.days, interests=profile.interests, **_labels())
