"""The admin's preview: a campaign's email as one real customer would get it, written nowhere.

Campaigns render for the customer asked for with their own data. A trigger's email is about
something — the cart left behind, the product looked at — so the preview shows the customer's
own cart or their most viewed product; a customer who has none gets an example (the shop's
best sellers), and the preview says so on top of the email, so nobody mistakes it for what the
customer would get. Without a customer asked for, the preview picks one who fits: the first of
the campaign's audience, or for the cart reminder the first customer with an abandoned cart.

Nothing in a preview is tracked: its links lead straight to the shop and it carries no open
pixel, so an admin clicking around in a preview (or in a test email) never adds a click to a
customer's timeline or to the campaign's results.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from ..clock import shop_now
from ..errors import ShopCRMError
from ..extensions import db
from ..models import Campaign, Membership, ProductView, Run
from ..shop import connect_shop, current_mapping, timeline
from ..shop import queries as shopq
from ..shop.activity import abandoned_carts
from ..state import app_state
from .outbox import Candidate, OutboxWriter
from .recommend import best_categories, sellable
from .targets import audience_filter, check_target, target_run
from .templating import Rendered

PREVIEW_POPULAR_TTL = 300  # seconds
EXAMPLE_CART_SIZE = 2
VIEWS_LOOKED_AT = 200  # a customer's latest views the preview counts to find their most viewed product
CART_SEARCH_DAYS = 365  # how far back the preview looks for a customer with an abandoned cart


@dataclass
class Preview:
    customer_id: int
    rendered: Rendered
    notes: list[str] = field(default_factory=list)  # what the admin should know (an example cart, ...)


def popular_for_previews(shop) -> dict[int, list[dict]]:
    """The best sellers per category, kept per process for a few minutes for the preview.

    Reading a year of sales takes a second or more on a large shop: too long for a page an admin
    reloads while editing, and a few minutes' lag does not change what a preview shows. Sending
    reads them afresh."""
    state = app_state()
    cached = state.preview_popular
    if cached is None or time.monotonic() - cached[0] > PREVIEW_POPULAR_TTL:
        cached = state.preview_popular = (time.monotonic(), shopq.popular_products(shop, current_mapping(),
                                                                                      shop_now()))
    return cached[1]


def _best_sellers(popular: dict[int, list[dict]], categories: tuple[int, ...], n: int) -> list[dict]:
    """``n`` sellable best sellers (one per category), from the customer's categories first."""
    order = list(categories) + best_categories(popular)
    picked: list[dict] = []
    for category in order:
        for product in popular.get(category, []):
            if len(picked) < n and sellable(product) and product not in picked:
                picked.append(product)
                break
    return picked


def _own_cart(shop, customer_id: int) -> tuple[tuple[int, int], ...]:
    """The customer's cart as (product, quantity) pairs, whatever its age."""
    items: dict[int, int] = {}
    for line in reversed(timeline.cart_items(shop, current_mapping(), customer_id)):
        items[line["product_id"]] = items.get(line["product_id"], 0) + int(line["quantity"] or 1)
    return tuple(items.items())


def _most_viewed(shop, customer_id: int) -> int | None:
    """The product the customer looked at most often among their latest views (shop and beacon)."""
    mapping = current_mapping()
    counts: dict[int, int] = {}
    for view in timeline.views(shop, mapping, customer_id, limit=VIEWS_LOOKED_AT):
        counts[view["product_id"]] = counts.get(view["product_id"], 0) + 1
    if mapping.reads_crm("view"):
        for (product_id,) in db.session.execute(sa.select(ProductView.product_id).where(
                ProductView.customer_id == customer_id).order_by(ProductView.viewed_at.desc()).limit(VIEWS_LOOKED_AT)):
            counts[int(product_id)] = counts.get(int(product_id), 0) + 1
    if not counts:
        return None
    products = shopq.products_by_ids(shop, mapping, set(counts))
    ranked = sorted((pid for pid in counts if sellable(products.get(pid))), key=lambda pid: (-counts[pid], pid))
    return ranked[0] if ranked else None


def _run_of(campaign: Campaign) -> Run | None:
    return target_run(check_target(campaign.target)) if campaign.kind == "campaign" else Run.current()


def render(campaign: Campaign, customer_id: int) -> Preview:
    """The campaign's email as ``customer_id`` would get it, with the trigger's occasion taken from
    their own cart or views, or an example marked as such."""
    run = _run_of(campaign)
    member = None
    if run is not None:
        member = db.session.scalar(sa.select(Membership).where(Membership.run_id == run.id,
                                                                Membership.customer_id == customer_id))
    top = tuple(member.top_category_ids()) if member else ()
    notes: list[str] = []
    with connect_shop() as shop:
        popular = popular_for_previews(shop)
        candidate = Candidate(int(customer_id), segment_id=member.segment_id if member else None, top_categories=top)
        if campaign.kind == "abandoned_cart":
            cart = tuple((pid, qty) for pid, qty in _own_cart(shop, customer_id))
            cart_products = shopq.products_by_ids(shop, current_mapping(), {pid for pid, _ in cart}) if cart else {}
            cart = tuple((pid, qty) for pid, qty in cart if sellable(cart_products.get(pid)))
            if not cart:
                cart = tuple((int(p["id"]), 1) for p in _best_sellers(popular, top, EXAMPLE_CART_SIZE))
                notes.append("Example cart: this customer has nothing in their cart, so the preview shows "
                             f"{len(cart)} of the shop's best sellers. Real reminders go only to customers "
                             "who left products in their cart.")
            candidate.cart = cart
        elif campaign.kind == "browse_abandonment":
            viewed = _most_viewed(shop, customer_id)
            if viewed is None:
                example = _best_sellers(popular, top, 1)
                viewed = int(example[0]["id"]) if example else None
                notes.append("Example product: this customer has not looked at any product the shop still "
                             "sells, so the preview shows one of the shop's best sellers. Real reminders go only "
                             "to customers who looked at a product several times.")
            candidate.viewed = viewed
        writer = OutboxWriter(campaign, shop, run, popular=popular, track=False)
        rendered = writer.preview(candidate, notice=notes[0] if notes else None)
    return Preview(int(customer_id), rendered, notes)


def default_customer(campaign: Campaign) -> int | None:
    """Whom the preview shows when nobody is asked for: for the cart reminder someone with an
    abandoned cart, else the first of the audience (a trigger: the first of the current run)."""
    if campaign.kind == "abandoned_cart":
        try:
            if current_mapping().has("cart_item"):
                now = shop_now()
                with connect_shop() as shop:
                    carts = abandoned_carts(shop, current_mapping(), now - timedelta(days=CART_SEARCH_DAYS), now,
                                            None, 1)
                if carts:
                    return carts[0].customer_id
        except ShopCRMError:
            pass  # the shop cannot say who has a cart: anyone of the run (the preview then says why it fails)
    try:
        if campaign.kind == "campaign":
            target = check_target(campaign.target)
            conditions = audience_filter(target, target_run(target))
        else:
            run = Run.current()
            if run is None:
                return None
            conditions = [Membership.run_id == run.id]
        return db.session.scalar(sa.select(Membership.customer_id).where(*conditions)
                                 .order_by(Membership.customer_id).limit(1))
    except ShopCRMError:
        return None
