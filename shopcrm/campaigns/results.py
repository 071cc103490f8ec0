"""What a campaign achieved: outbox states, clicks, orders and unsubscribes attributed to it,
as counts and as rates.

Attribution is last-touch, as Klaviyo's: an order counts for a campaign when the customer
clicked one of its emails at most ``SHOPCRM_ATTRIBUTION_DAYS`` before placing it and clicked
no other campaign's email in between. Orders are read from the shop (through the mapping)
only for customers who clicked, in chunks, so the cost follows the clicks, not the audience.
When the shop cannot be reached the orders are not counted (``orders`` is None and
``orders_error`` says why) and everything counted from shopcrm's own outbox is still shown.
An unsubscribe counts for the campaign whose email was the last one the address got before
unsubscribing. Opens are shown when tracked but never attributed (mail privacy proxies fake them).

Rates are over the emails delivered (``sent``), as Klaviyo's click, placed-order and
unsubscribe rates; the delivery rate is over the emails handed to the mail server (delivered
or refused).
"""
from __future__ import annotations

import bisect
import threading
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from ..clock import to_shop, utcnow
from ..delivery.sender import doubtful
from ..errors import ShopCRMError
from ..extensions import db
from ..models import Campaign, Click, Message, Suppression
from ..shop import connect_shop, current_mapping
from ..shop.activity import orders_between
from ..state import app_state

CHUNK = 500


def outbox_counts(campaign_id: int | None = None) -> dict[str, int]:
    query = sa.select(Message.state, sa.func.count()).group_by(Message.state)
    if campaign_id is not None:
        query = query.where(Message.campaign_id == campaign_id)
    return {state: int(n) for state, n in db.session.execute(query)}


def campaign_results(campaign: Campaign) -> dict:
    """Everything the results page and ``flask shopcrm campaign show`` print."""
    now = utcnow()
    by_reason: dict[str, dict[str, int]] = {}
    counts: dict[str, int] = {}
    engagement = [0, 0, 0]
    # states, reasons and engagement in one pass over the campaign's part of ix_crm_message_campaign_stats
    for state, reason, n, clicked, clicks, opened in db.session.execute(
            sa.select(Message.state, Message.reason, sa.func.count(), sa.func.count(Message.clicked_at),
                      sa.func.coalesce(sa.func.sum(Message.click_count), 0), sa.func.count(Message.opened_at))
            .where(Message.campaign_id == campaign.id).group_by(Message.state, Message.reason)):
        n = int(n)
        counts[state] = counts.get(state, 0) + n
        engagement = [engagement[0] + int(clicked), engagement[1] + int(clicks), engagement[2] + int(opened)]
        if state in ("suppressed", "cancelled", "failed"):
            key = (reason or "unknown").split(":")[0] if state == "failed" else (reason or "unknown")
            bucket = by_reason.setdefault(state, {})
            bucket[key] = bucket.get(key, 0) + n
    in_doubt = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        Message.campaign_id == campaign.id, doubtful(now)))
    orders_error = None
    try:
        orders, revenue = attributed_orders(campaign.id)
        revenue = round(revenue, 2)
    except (ShopCRMError, sa.exc.DBAPIError) as exc:  # the shop is down: say so, show the rest
        db.session.rollback()
        orders, revenue = None, None
        orders_error = str(exc) if isinstance(exc, ShopCRMError) else f"the shop database failed: {exc.orig}"
    delivered, clicked = counts.get("sent", 0), int(engagement[0])
    unsubscribed = unsubscribes(campaign.id)
    return {
        "campaign": campaign.id, "name": campaign.name, "status": campaign.status,
        "states": counts, "total": sum(counts.values()), "in_doubt": int(in_doubt or 0),
        "waiting": counts.get("queued", 0) + counts.get("sending", 0),
        "suppressed_by_reason": by_reason.get("suppressed", {}), "cancelled_by_reason": by_reason.get("cancelled", {}),
        "failed_by_reason": by_reason.get("failed", {}),
        "delivered": delivered, "clicked": clicked, "clicks": int(engagement[1]),
        "opened": int(engagement[2]) if current_app.config["SHOPCRM_TRACK_OPENS"] else None,
        "orders": orders, "revenue": revenue, "orders_error": orders_error,
        "missing": f"orders and revenue could not be counted: {orders_error}" if orders_error else None,
        "unsubscribed": unsubscribed,
        "rates": {
            "delivered": rate(delivered, delivered + counts.get("failed", 0)),
            "clicked": rate(clicked, delivered),
            "ordered": rate(orders, delivered),
            "unsubscribed": rate(unsubscribed, delivered),
        },
        "revenue_per_recipient": round(revenue / delivered, 2) if revenue is not None and delivered else None,
        "attribution_days": current_app.config["SHOPCRM_ATTRIBUTION_DAYS"],
        "sms": sms_results(campaign),
    }


def sms_results(campaign: Campaign) -> dict | None:
    """The SMS part of a campaign's messages (the figures above count both channels): texts
    per state, and how many Twilio confirmed delivered. ``None`` for an e-mail-only campaign."""
    if (campaign.channel or "email") == "email":
        return None
    counts: dict[str, int] = {}
    confirmed = 0
    for state, reason, n in db.session.execute(
            sa.select(Message.state, Message.reason, sa.func.count())
            .where(Message.campaign_id == campaign.id, Message.channel == "sms").group_by(Message.state, Message.reason)):
        counts[state] = counts.get(state, 0) + int(n)
        confirmed += int(n) if state == "sent" and reason == "delivered" else 0
    return {"total": sum(counts.values()), "sent": counts.get("sent", 0), "confirmed": confirmed,
            "failed": counts.get("failed", 0), "waiting": counts.get("queued", 0) + counts.get("sending", 0),
            "not_sent": counts.get("suppressed", 0) + counts.get("cancelled", 0)}


def rate(part: int | None, whole: int) -> float | None:
    """``part`` of ``whole`` (0.25), or None when there is nothing to divide or ``part`` is unknown."""
    if part is None or not whole:
        return None
    return part / whole


def unsubscribes(campaign_id: int) -> int:
    """Addresses that unsubscribed after this campaign's email and got no other email in between."""
    later = aliased(Message)
    other_since = sa.select(later.id).where(later.email_hash == Message.email_hash, later.state == "sent",
                                            later.sent_at > Message.sent_at, later.sent_at <= Suppression.created_at)
    return int(db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Message.email_hash))).select_from(Message)
        .join(Suppression, Suppression.email_hash == Message.email_hash)
        .where(Message.campaign_id == campaign_id, Message.state == "sent", Suppression.reason == "unsubscribed",
               Suppression.created_at >= Message.sent_at, ~other_since.exists())) or 0)


class RecentResults:
    """Large campaigns' figures, kept for a few seconds by the process that counted them.

    Counting costs a pass over the campaign's messages and
    the shop's orders of everyone who clicked; an admin watching a big send refresh the page,
    or several admins looking at once, would pay it every time. Campaigns with fewer than
    ``SHOPCRM_RESULTS_CACHE_FROM`` messages are always counted afresh; the page says when the
    figures were counted. A change made from the page (launch, cancel) forgets them at once."""

    def __init__(self):
        self._results: dict[int, tuple[float, datetime, dict]] = {}
        self._states: dict[int, tuple[float, dict[str, int]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _worth_keeping(total: int) -> bool:
        config = current_app.config
        return bool(config["SHOPCRM_RESULTS_MAX_AGE"]) and total >= config["SHOPCRM_RESULTS_CACHE_FROM"]

    def _reusable(self, kept_at: float, total: int) -> bool:
        return time.monotonic() - kept_at < current_app.config["SHOPCRM_RESULTS_MAX_AGE"] and self._worth_keeping(total)

    def get(self, campaign: Campaign) -> tuple[dict, datetime]:
        """A campaign's results and when they were counted (UTC)."""
        with self._lock:
            kept = self._results.get(campaign.id)
        if kept is not None and self._reusable(kept[0], kept[2]["total"]):
            return {**kept[2], "status": campaign.status}, kept[1]
        counted_at, started = utcnow(), time.monotonic()
        results = campaign_results(campaign)
        if self._worth_keeping(results["total"]) and results["orders_error"] is None:
            with self._lock:
                self._results[campaign.id] = (started, counted_at, results)
                self._states[campaign.id] = (started, results["states"])
        return results, counted_at

    def state_counts(self, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
        """Messages per state for each campaign (the campaign list), large ones reused as above."""
        now, found, missing = time.monotonic(), {}, []
        with self._lock:
            for campaign_id in campaign_ids:
                kept = self._states.get(campaign_id)
                if kept is not None and self._reusable(kept[0], sum(kept[1].values())):
                    found[campaign_id] = kept[1]
                else:
                    missing.append(campaign_id)
        if not missing:
            return found
        counted: dict[int, dict[str, int]] = {}
        for campaign_id, state, n in db.session.execute(
                sa.select(Message.campaign_id, Message.state, sa.func.count())
                .where(Message.campaign_id.in_(missing)).group_by(Message.campaign_id, Message.state)):
            counted.setdefault(int(campaign_id), {})[state] = int(n)
        with self._lock:
            for campaign_id, states in counted.items():
                if self._worth_keeping(sum(states.values())):
                    self._states[campaign_id] = (now, states)
        return {**found, **counted}

    def forget(self, campaign_id: int) -> None:
        with self._lock:
            self._results.pop(campaign_id, None)
            self._states.pop(campaign_id, None)


def recent_results() -> RecentResults:
    """The app's own (a process may hold several apps, each with its own database)."""
    state = app_state()
    if state.recent_results is None:
        state.recent_results = RecentResults()
    return state.recent_results


def attributed_orders(campaign_id: int) -> tuple[int, float]:
    """Orders (and their total) attributed to ``campaign_id`` by last click within the window."""
    window = timedelta(days=current_app.config["SHOPCRM_ATTRIBUTION_DAYS"])
    orders = 0
    revenue = 0.0
    last_customer = None
    with connect_shop() as shop:
        while True:
            query = (sa.select(Click.customer_id).where(Click.campaign_id == campaign_id)
                     .group_by(Click.customer_id).order_by(Click.customer_id).limit(CHUNK))
            if last_customer is not None:
                query = query.where(Click.customer_id > last_customer)
            customers = [int(c) for c in db.session.scalars(query)]
            if not customers:
                return orders, revenue
            last_customer = customers[-1]
            first, last = db.session.execute(sa.select(sa.func.min(Click.clicked_at), sa.func.max(Click.clicked_at))
                                             .where(Click.campaign_id == campaign_id,
                                                    Click.customer_id.in_(customers))).one()
            touches: dict[int, list[tuple[datetime, int]]] = {}
            for cid, when, campaign in db.session.execute(
                    sa.select(Click.customer_id, Click.clicked_at, Click.campaign_id)
                    .where(Click.customer_id.in_(customers), Click.clicked_at.between(first, last + window))
                    .order_by(Click.customer_id, Click.clicked_at)):
                touches.setdefault(int(cid), []).append((to_shop(when), int(campaign)))
            for order in orders_between(shop, current_mapping(), customers, to_shop(first),
                                        to_shop(last + window)):
                clicks = touches.get(int(order["customer_id"]), [])
                i = bisect.bisect_right([t for t, _ in clicks], order["placed_at"]) - 1
                if i >= 0 and clicks[i][1] == campaign_id and order["placed_at"] - clicks[i][0] <= window:
                    orders += 1
                    revenue += float(order["total"] or 0)
