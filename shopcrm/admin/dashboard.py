"""The dashboard: what to do today, how the shop moves, what the last campaigns brought.

Action cards come first, each with a count and money and one click into a prefilled campaign
(``campaigns.audiences``) or the automatic e-mail that does it every day; then the trends
against the previous month and the previous analysis; then the last campaigns' results and the
charts. Figures come from the stored run and the outbox (``customers.today``,
``customers.figures``); the only shop read, the open carts, is kept for a minute and the page
still answers when the shop does not.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import render_template, url_for
from flask_login import login_required

from ..campaigns.audiences import audience
from ..campaigns.results import recent_results
from ..customers import figures, today
from ..errors import ShopCRMError
from ..extensions import db
from ..models import Campaign, Run
from ..vocab import CAMPAIGN_STATE_LABELS, VALUE_TYPE_HELP, VALUE_TYPE_LABELS, VALUE_TYPES
from . import bp, charts, has_endpoint
from .insights import name_of

MONTHS_SHOWN = 13  # a year of complete months and the one running
TOP_PRODUCTS = 5
CAMPAIGNS_SHOWN = 5
RESULTS_SECONDS = 30
DOCUMENTS = ("names", "sales_per_month", "summary", "top_products", "best_month")


@dataclass
class Card:
    key: str
    title: str
    why: str
    count: int | None
    count_label: str
    money: float | None
    money_label: str
    href: str
    button: str
    note: str = ""
    problem: str = ""


def _campaign_link(key: str) -> str:
    if has_endpoint("crm_admin.campaign_new"):
        return url_for("crm_admin.campaign_new", audience=key)
    return url_for("crm_admin.segments")


def _trigger_link(kind: str) -> str:
    return url_for("crm_admin.triggers") + f"#{kind}" if has_endpoint("crm_admin.triggers") else "#"


def action_cards(run: Run, sales: list[dict]) -> list[Card]:
    """What to do today, biggest money first (cards with nobody to act on go last)."""
    cube = figures.cube(run)
    on = today.triggers_on()
    cards = []

    at_risk = cube.total(churn_risk=True)
    win_back = audience("win_back")
    cards.append(Card(
        "win_back", win_back.name, win_back.why, at_risk.customers, "customers at risk of leaving",
        at_risk.revenue, "they spent in the last 12 months", _campaign_link("win_back"), "Prepare a win-back e-mail",
        note="The automatic win-back e-mail is on." if on["win_back"]
        else "The automatic win-back e-mail is off: it would write to each of them once, as they drift."))

    days = today.trigger_param("abandoned_cart", "max_age_days", 7)
    carts = today.open_carts(days)
    cart_card = Card(
        "abandoned_cart", "Bring back open carts",
        f"Shoppers put products in their cart in the last {days} days and did not order.",
        None, "open carts", None, "in these carts", _trigger_link("abandoned_cart"),
        "See the cart reminder" if on["abandoned_cart"] else "Switch on the cart reminder",
        note="The cart reminder is on: each cart gets one reminder." if on["abandoned_cart"]
        else "The cart reminder is off.")
    if carts.problem:
        cart_card.problem = "The shop could not be reached, so open carts cannot be counted right now."
    elif carts.carts is None:
        cart_card.problem = "This shop's database keeps no carts shopcrm can read."
    else:
        cart_card.count, cart_card.money = carts.carts.carts, carts.carts.value
        if carts.carts.capped:
            cart_card.count_label = "open carts at least"
    cards.append(cart_card)

    welcome = audience("welcome")
    fresh = cube.total(value_type="new", bought=False)
    first_order = today.average_order(sales)
    cards.append(Card(
        "welcome", welcome.name, welcome.why, fresh.customers, "new sign-ups have not ordered yet",
        first_order, "is your average order", _campaign_link("welcome"), "Prepare a welcome offer"))

    best = audience("best_customers")
    quiet = today.not_mailed(run)
    everyone = cube.total(value_type="high_value")
    cards.append(Card(
        "best_customers", best.name, best.why, quiet.customers,
        f"of your {everyone.customers:,} best customers got no e-mail in {today.NOT_MAILED_DAYS} days",
        quiet.revenue, "they spent in the last 12 months", _campaign_link("best_customers"), "Prepare a thank-you"))
    return sorted(cards, key=lambda c: (not c.count, -(c.money or 0) if c.key != "welcome" else 0))


def _campaign_figures(campaign_id: int) -> dict:
    """Sent, clicked, ordered and revenue of one campaign; the outbox's figures alone when the shop
    cannot say which orders followed."""
    campaign = db.session.get(Campaign, campaign_id)
    try:
        results, _ = recent_results().get(campaign)
        problem = ("The shop could not be reached: orders after the e-mail are not counted right now."
                   if results.get("orders_error") else "")
        return {"sent": results["states"].get("sent", 0), "clicked": results.get("clicked"),
                "orders": results.get("orders"), "revenue": results.get("revenue"), "problem": problem}
    except (ShopCRMError, sa.exc.OperationalError):
        db.session.rollback()
        states = recent_results().state_counts([campaign_id]).get(campaign_id, {})
        return {"sent": states.get("sent", 0), "clicked": None, "orders": None, "revenue": None,
                "problem": "The shop could not be reached: orders after the e-mail are not counted right now."}


def last_campaigns(limit: int = CAMPAIGNS_SHOWN) -> list[dict]:
    rows = []
    for campaign in db.session.scalars(sa.select(Campaign).where(Campaign.kind == "campaign")
                                       .order_by(Campaign.id.desc()).limit(limit)):
        row = {"id": campaign.id, "name": campaign.name, "status": campaign.status,
               "state": CAMPAIGN_STATE_LABELS.get(campaign.status, campaign.status.capitalize()),
               "when": campaign.enqueued_at or campaign.scheduled_at or campaign.created_at,
               "sent": None, "clicked": None, "orders": None, "revenue": None, "problem": ""}
        if campaign.status not in ("draft",):
            row.update(figures.kept().get(("campaign", campaign.id), RESULTS_SECONDS,
                                          lambda cid=campaign.id: _campaign_figures(cid)))
        rows.append(row)
    return rows


def value_type_chart(run: Run) -> charts.HBars | None:
    """Customers per value type, from the counts stored with the run (no scan of memberships)."""
    counts = (run.counts or {}).get("value_types") or {}
    return charts.hbars([{"label": VALUE_TYPE_LABELS[t], "value": int(counts.get(t, 0)),
                          "color": charts.VALUE_TYPE_COLORS[t], "help": VALUE_TYPE_HELP[t],
                          "href": url_for("crm_admin.group", kind="type", key=t)} for t in VALUE_TYPES])


@bp.route("/")
@login_required
def dashboard():
    run = Run.current()
    last = db.session.scalars(sa.select(Run).order_by(Run.id.desc()).limit(1)).first()
    on = today.triggers_on()
    context = {"run": run, "last": last, "cards": [], "trends": [], "campaigns": last_campaigns(),
               "triggers_on": sum(on.values()), "triggers_total": len(on)}
    if run is not None:
        docs = figures.stored_documents(run, DOCUMENTS)
        previous = today.previous_run(run)
        previous_summary = (figures.stored_document(previous, "summary") or {}) if previous else {}
        sales = docs.get("sales_per_month") or []
        names = docs.get("names") or {}
        shown = sales[-MONTHS_SHOWN:]
        segments = figures.segments_of(run)
        context.update(
            cards=action_cards(run, sales),
            trends=today.trends(run, sales, docs.get("summary") or {}, previous, previous_summary),
            revenue_chart=charts.line(shown, "revenue", "revenue", is_money=True), sales=shown,
            segments=segments,
            pie=charts.pie([(s.name, s.size, charts.segment_color(s.label),
                             url_for("crm_admin.segment", segment_id=s.id)) for s in segments]),
            value_chart=value_type_chart(run),
            top_products=[{**p, "name": name_of(names, "product", p["product_id"])}
                          for p in (docs.get("top_products") or [])[:TOP_PRODUCTS]],
            best_month=docs.get("best_month"), as_of=today.as_of_text(run),
        )
    return render_template("admin/dashboard.html", **context)
