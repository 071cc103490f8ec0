"""Customers: search the shop's customers, and one customer's profile with a timeline."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import abort, current_app, render_template, request

from ..clock import to_shop
from ..extensions import db
from ..models import Click, Membership, Message, ProductView, Run, Segment
from ..segmentation import search_index as search
from ..shop import queries as shopq
from ..shop import timeline
from ..vocab import VALUE_TYPE_LABELS
from . import bp
from .auth import role_required
from .common import Page, from_shop, page_from_request

SEARCH_LIMIT = 100


@bp.route("/customers")
@role_required("marketer", "viewer")
def customers():
    """Search the shop's customers: a page at a time from shopcrm's word index; without an index
    yet, or for an e-mail address, the shop's first ``SEARCH_LIMIT`` matches."""
    query_text = (request.args.get("q") or "").strip()[:100]
    found, page = [], None
    state = search.uses_index(query_text) if query_text else None
    if state is not None:
        number = page_from_request(0).number
        size = current_app.config["SHOPCRM_PAGE_SIZE"]
        found, total = from_shop(search.find_page, ([], 0), query_text, state, (number - 1) * size, size)
        page = Page(number, size, total)
    elif query_text:
        found = from_shop(shopq.search_customers, [], query_text, limit=SEARCH_LIMIT)
    run = Run.current()
    value_types = {}
    if found and run is not None:
        value_types = dict(db.session.execute(sa.select(Membership.customer_id, Membership.value_type).where(
            Membership.run_id == run.id, Membership.customer_id.in_([c["id"] for c in found]))).all())
    return render_template("admin/customers.html", q=query_text, found=found, value_types=value_types, page=page,
                           limit=SEARCH_LIMIT, value_labels=VALUE_TYPE_LABELS)


def beacon_views(customer_id: int, limit: int = 50) -> list[dict]:
    """Views the shop's product page reported to shopcrm (``crm_view``), in the shop's local
    time like the rest of the timeline (crm_view stores UTC)."""
    rows = db.session.execute(sa.select(ProductView.product_id, ProductView.viewed_at)
                              .where(ProductView.customer_id == customer_id)
                              .order_by(ProductView.viewed_at.desc()).limit(limit)).all()
    return [{"product_id": int(p), "at": to_shop(at)} for p, at in rows]


def _events(history: dict, messages: list[sa.Row], clicks: list[sa.Row]) -> list[dict]:
    """Everything that happened with this customer as one list, newest first."""
    names = history["product_names"]

    def product(pid):
        return names.get(pid) or f"product #{pid}"

    events = [{"at": v["at"], "kind": "view", "text": f"viewed {product(v['product_id'])}"} for v in history["views"]]
    events += [{"at": c["at"], "kind": "cart", "text": f"put {c['quantity']} × {product(c['product_id'])} in the cart"}
               for c in history["cart_items"]]
    for order in history["orders"]:
        items = ", ".join(f"{line['quantity']} × {product(line['product_id'])}" for line in order["lines"])
        events.append({"at": order["at"], "kind": "order", "text": f"order #{order['id']}: {items}",
                       "amount": order["total"]})
    for message in messages:  # shopcrm's times are UTC; the timeline shows the shop's local time
        when = to_shop(message.sent_at or message.created_at)
        events.append({"at": when, "kind": "email", "text": f"email “{message.subject or '(not rendered)'}”: "
                       f"{message.state}{' — ' + message.reason if message.reason else ''}"})
    for click in clicks:
        events.append({"at": to_shop(click.clicked_at), "kind": "click", "text": f"clicked {click.url}"})
    return sorted((e for e in events if isinstance(e["at"], datetime)), key=lambda e: e["at"], reverse=True)


@bp.route("/customers/<int:customer_id>")
@role_required("marketer", "viewer")
def customer(customer_id: int):
    found = from_shop(shopq.customers_by_ids, None, [customer_id])
    if found is not None and customer_id not in found:
        abort(404)
    shop_row = (found or {}).get(customer_id, {"id": customer_id})
    run = Run.current()
    current = db.session.get(Membership, (run.id, customer_id)) if run else None
    segment = db.session.get(Segment, current.segment_id) if current and current.segment_id else None
    history_rows = db.session.execute(
        sa.select(Run.id, Run.finished_at, Membership.value_type, Segment.name)
        .join(Membership, Membership.run_id == Run.id)
        .outerjoin(Segment, Segment.id == Membership.segment_id)
        .where(Membership.customer_id == customer_id, Run.status == "succeeded")
        .order_by(Run.id.desc()).limit(24)).all()
    # the timeline's columns only: a message row also holds its rendered bodies
    messages = db.session.execute(sa.select(Message.subject, Message.state, Message.reason, Message.sent_at,
                                            Message.created_at).where(Message.customer_id == customer_id)
                                  .order_by(Message.created_at.desc()).limit(50)).all()
    clicks = db.session.execute(sa.select(Click.url, Click.clicked_at).where(Click.customer_id == customer_id)
                                .order_by(Click.clicked_at.desc()).limit(50)).all()
    beacon = beacon_views(customer_id)
    shop_history = from_shop(timeline.history, {"views": [], "cart_items": [], "orders": [], "product_names": {}},
                             customer_id, extra_product_ids={v["product_id"] for v in beacon})
    shop_history["views"] = sorted(shop_history["views"] + beacon, key=lambda v: v["at"], reverse=True)
    categories = from_shop(shopq.category_names, {})
    interests = [categories.get(c, f"Category {c}") for c in (current.top_category_ids() if current else [])]
    return render_template("admin/customer.html", customer=shop_row, membership=current, segment=segment,
                           history=history_rows, events=_events(shop_history, messages, clicks), interests=interests,
                           value_labels=VALUE_TYPE_LABELS)
