"""One customer's profile: their shop row, their place in the current run and in earlier ones,
and a timeline of everything that happened with them (views, carts, orders, e-mails, clicks)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from ..clock import to_shop
from ..extensions import db
from ..models import Click, Membership, Message, ProductView, Run, Segment
from .reader import ShopReader

TIMELINE_LIMIT = 50
RUNS_SHOWN = 24


@dataclass
class Profile:
    customer: dict
    membership: Membership | None
    segment: Segment | None
    history: list  # (run id, finished, value type, segment name) per earlier run, newest first
    events: list[dict]  # {"at", "kind", "text"[, "amount"]}, newest first, shop time
    interests: list[str] = field(default_factory=list)  # category names, most interesting first


def beacon_views(customer_id: int, limit: int = TIMELINE_LIMIT) -> list[dict]:
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


def customer_profile(customer_id: int, reader: ShopReader) -> Profile | None:
    """The profile, or ``None`` when the shop says it has no such customer (when the shop cannot
    be reached, the profile shows what shopcrm itself knows)."""
    found = reader.customer(customer_id)
    if found is False:
        return None
    run = Run.current()
    current = db.session.get(Membership, (run.id, customer_id)) if run else None
    segment = db.session.get(Segment, current.segment_id) if current and current.segment_id else None
    history_rows = db.session.execute(
        sa.select(Run.id, Run.finished_at, Membership.value_type, Segment.name)
        .join(Membership, Membership.run_id == Run.id)
        .outerjoin(Segment, Segment.id == Membership.segment_id)
        .where(Membership.customer_id == customer_id, Run.status == "succeeded")
        .order_by(Run.id.desc()).limit(RUNS_SHOWN)).all()
    # the timeline's columns only: a message row also holds its rendered bodies
    messages = db.session.execute(sa.select(Message.subject, Message.state, Message.reason, Message.sent_at,
                                            Message.created_at).where(Message.customer_id == customer_id)
                                  .order_by(Message.created_at.desc()).limit(TIMELINE_LIMIT)).all()
    clicks = db.session.execute(sa.select(Click.url, Click.clicked_at).where(Click.customer_id == customer_id)
                                .order_by(Click.clicked_at.desc()).limit(TIMELINE_LIMIT)).all()
    beacon = beacon_views(customer_id)
    shop_history = reader.history(customer_id, {v["product_id"] for v in beacon})
    shop_history["views"] = sorted(shop_history["views"] + beacon, key=lambda v: v["at"], reverse=True)
    categories = reader.category_names()
    interests = [categories.get(c, f"Category {c}") for c in (current.top_category_ids() if current else [])]
    return Profile(customer=found or {"id": customer_id}, membership=current, segment=segment, history=history_rows,
                   events=_events(shop_history, messages, clicks), interests=interests)
