"""One customer's profile: their shop row, whether we may e-mail them, what they bought in all,
their place in the current run and in earlier ones, and a timeline of everything that happened
with them (views, carts, orders, e-mails, clicks), a day at a time.

A day's product views are one entry ("viewed 7 products: …, the trail shoe 3 times"), as are a
day's cart additions: a keen shopper's hundred views do not bury their orders. Times are kept as
UTC (the shop's own times converted from its database's clock) and shown in the shop's zone.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app

from ..clock import to_display, to_shop, to_utc
from ..delivery.sms import consent as sms_consent
from ..extensions import db
from ..models import Click, Membership, Message, ProductView, Run, Segment
from ..segmentation import partitions
from ..vocab import MESSAGE_STATE_LABELS, REASON_LABELS
from .email_status import EmailStatus, status_of
from .figures import stored_document
from .reader import ShopReader

TIMELINE_LIMIT = 50
RUNS_SHOWN = 24
NAMES_PER_ENTRY = 4  # products named in a grouped entry before "and 3 more"


@dataclass
class Entry:
    at: datetime  # UTC
    kind: str  # view, cart, order, email, click
    text: str
    amount: float | None = None
    count: int = 1


@dataclass
class Day:
    day: date  # in the shop's zone
    entries: list[Entry]


@dataclass
class Profile:
    customer: dict
    membership: Membership | None
    segment: Segment | None
    history: list  # (run id, finished, value type, segment name) per earlier run, newest first
    days: list[Day]  # newest first
    interests: list[str] = field(default_factory=list)  # category names, most interesting first
    email: EmailStatus | None = None  # None: the shop could not say
    lifetime: dict | None = None  # orders, revenue, first, last; None: the shop could not say
    sms: dict | None = None  # their number and SMS consent (see sms_status); None: SMS is off
    sms_messages: list = field(default_factory=list)  # their SMS, newest first

    @property
    def events(self) -> list[Entry]:
        return [e for d in self.days for e in d.entries]


def beacon_views(customer_id: int, limit: int = TIMELINE_LIMIT) -> list[dict]:
    """Views the shop's product page reported to shopcrm (``crm_view``), on the shop database's
    clock like the rest of the shop's history (crm_view stores UTC)."""
    rows = db.session.execute(sa.select(ProductView.product_id, ProductView.viewed_at)
                              .where(ProductView.customer_id == customer_id)
                              .order_by(ProductView.viewed_at.desc()).limit(limit)).all()
    return [{"product_id": int(p), "at": to_shop(at)} for p, at in rows]


def _named(counts: Counter, name) -> str:
    parts = [name(pid) + (f" ({n}×)" if n > 1 else "") for pid, n in counts.most_common(NAMES_PER_ENTRY)]
    rest = len(counts) - NAMES_PER_ENTRY
    return ", ".join(parts) + (f" and {rest} more" if rest > 0 else "")


def _grouped(kind: str, items: list[dict], name, verb: str) -> list[Entry]:
    """One entry per day for ``items`` (views or cart lines, with ``at`` in UTC)."""
    by_day: dict[date, list[dict]] = {}
    for item in items:
        by_day.setdefault(to_display(item["at"]).date(), []).append(item)
    entries = []
    for same_day in by_day.values():
        counts = Counter(i["product_id"] for i in same_day)
        total = sum(int(i.get("quantity") or 1) for i in same_day) if kind == "cart" else len(same_day)
        what = "product" if len(counts) == 1 else f"{len(counts)} products"
        text = f"{verb} {what}: {_named(counts, name)}" if len(counts) > 1 else f"{verb} {_named(counts, name)}"
        entries.append(Entry(max(i["at"] for i in same_day), kind, text, count=total))
    return entries


def timeline(history: dict, messages: list[sa.Row], clicks: list[sa.Row]) -> list[Day]:
    """Everything that happened with this customer, a day at a time, newest first. ``history``
    holds the shop's events on its database's clock; shopcrm's are UTC."""
    names = history["product_names"]

    def product(pid):
        return names.get(pid) or f"product #{pid}"

    def utc(items):
        return [{**i, "at": to_utc(i["at"])} for i in items if isinstance(i.get("at"), datetime)]

    entries = _grouped("view", utc(history["views"]), product, "viewed")
    entries += _grouped("cart", utc(history["cart_items"]), product, "put in the cart")
    for order in history["orders"]:
        if not isinstance(order["at"], datetime):
            continue
        items = ", ".join(f"{line['quantity']} × {product(line['product_id'])}" for line in order["lines"])
        entries.append(Entry(to_utc(order["at"]), "order", f"order #{order['id']}: {items}", order["total"]))
    for message in messages:
        state = MESSAGE_STATE_LABELS.get(message.state, message.state)
        reason = REASON_LABELS.get((message.reason or "").split(":")[0], message.reason) if message.reason else ""
        if getattr(message, "channel", "email") == "sms":
            entries.append(Entry(message.sent_at or message.created_at, "sms",
                                 f"text message: {state}{' (' + reason + ')' if reason else ''}"))
            continue
        entries.append(Entry(message.sent_at or message.created_at, "email",
                             f"e-mail “{message.subject or '(not written yet)'}”: {state}"
                             f"{' (' + reason + ')' if reason else ''}"))
    for click in clicks:
        entries.append(Entry(click.clicked_at, "click", f"clicked {click.url}"))
    entries.sort(key=lambda e: e.at, reverse=True)
    days: list[Day] = []
    for entry in entries:
        on = to_display(entry.at).date()
        if not days or days[-1].day != on:
            days.append(Day(on, []))
        days[-1].entries.append(entry)
    return days


def _runs_of(customer_id: int) -> list[sa.Row]:
    """The customer's type and segment in the last runs. This reads every run's partition of
    the memberships: a run that split off its own meanwhile makes MariaDB refuse the request's
    older read view once ("table definition has changed"), so it is asked again in a new one."""
    query = (sa.select(Run.id, Run.finished_at, Membership.value_type, Segment.name)
             .join(Membership, Membership.run_id == Run.id)
             .outerjoin(Segment, Segment.id == Membership.segment_id)
             .where(Membership.customer_id == customer_id, Run.status == "succeeded")
             .order_by(Run.id.desc()).limit(RUNS_SHOWN))
    try:
        return db.session.execute(query).all()
    except sa.exc.OperationalError as exc:
        if not (exc.orig.args and exc.orig.args[0] == partitions.TABLE_CHANGED):
            raise
        db.session.rollback()
        return db.session.execute(query).all()


def customer_profile(customer_id: int, reader: ShopReader) -> Profile | None:
    """The profile, or ``None`` when the shop says it has no such customer (when the shop cannot
    be reached, the profile shows what shopcrm itself knows)."""
    found = reader.customer(customer_id)
    if found is False:
        return None
    run = Run.current()
    current = db.session.get(Membership, (run.id, customer_id)) if run else None
    segment = db.session.get(Segment, current.segment_id) if current and current.segment_id else None
    history_rows = _runs_of(customer_id)
    # the timeline's columns only: a message row also holds its rendered bodies
    messages = db.session.execute(sa.select(Message.subject, Message.state, Message.reason, Message.sent_at,
                                            Message.created_at, Message.channel).where(Message.customer_id == customer_id)
                                  .order_by(Message.created_at.desc()).limit(TIMELINE_LIMIT)).all()
    clicks = db.session.execute(sa.select(Click.url, Click.clicked_at).where(Click.customer_id == customer_id)
                                .order_by(Click.clicked_at.desc()).limit(TIMELINE_LIMIT)).all()
    beacon = beacon_views(customer_id)
    shop_history = reader.history(customer_id, {v["product_id"] for v in beacon})
    shop_history["views"] = sorted(shop_history["views"] + beacon, key=lambda v: v["at"], reverse=True)
    # the categories' names as the run stored them (every category its interests can name), not
    # one more question to the shop on every profile
    categories = (stored_document(run, "names") or {}).get("categories", {}) if run else {}
    interests = [categories.get(str(c), f"Category {c}") for c in (current.top_category_ids() if current else [])]
    return Profile(customer=found or {"id": customer_id}, membership=current, segment=segment, history=history_rows,
                   days=timeline(shop_history, messages, clicks), interests=interests,
                   email=status_of(found) if found else None,
                   lifetime=reader.lifetime(customer_id) if found else None,
                   sms=sms_status(found) if found else None, sms_messages=sms_messages(customer_id))


def sms_status(customer: dict) -> dict | None:
    """Can we text them: their number in E.164 or why it is unusable, and their SMS consent
    (their own choice here wins over the shop's column; e-mail consent never counts)."""
    config = current_app.config
    if not config.get("SHOPCRM_TWILIO_ACCOUNT_SID"):
        return None
    check = sms_consent.number_of(customer, config["SHOPCRM_SMS_DEFAULT_REGION"])
    if not check.usable:
        return {"number": None, "reason": check.reason, "textable": False, "consent": None}
    state = sms_consent.state_of(check.e164)
    if state == sms_consent.OPTED_OUT:
        words = "opted out (STOP or their page)"
    elif state == sms_consent.OPTED_IN:
        words = "opted in on their page"
    else:
        words = "yes, in the shop" if customer.get("sms_consent") else "no SMS consent"
    textable = state == sms_consent.OPTED_IN or (state is None and bool(customer.get("sms_consent")))
    return {"number": check.e164, "reason": None, "textable": textable, "consent": words}


def sms_messages(customer_id: int, limit: int = TIMELINE_LIMIT) -> list[dict]:
    """Their SMS, newest first, with the state in the panel's words."""
    rows = db.session.execute(sa.select(Message.id, Message.campaign_id, Message.phone, Message.text, Message.state,
                                        Message.reason, Message.sent_at, Message.created_at)
                              .where(Message.customer_id == customer_id, Message.channel == "sms")
                              .order_by(Message.created_at.desc()).limit(limit)).mappings().all()
    return [{**row, "state_label": MESSAGE_STATE_LABELS.get(row["state"], row["state"])} for row in rows]
