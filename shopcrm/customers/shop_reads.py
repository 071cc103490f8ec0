"""The few shop figures the panel needs beyond the stored run: one customer's lifetime totals, and
the carts left open right now. Each is one bounded query (one customer's index range, or the cart
lines of the last days), called through :class:`~shopcrm.customers.reader.ShopReader` so a page
still answers when the shop does not.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..clock import whole_seconds
from ..shop.mapping import ShopMapping

#: Cart lines an open-cart count looks at, at most (the newest first): a shop with more says "at least".
CART_LINES_LIMIT = 20_000


def lifetime(conn: sa.Connection, mapping: ShopMapping, customer_id: int) -> dict:
    """All the customer's valid orders: how many, their total, the first and the last."""
    order = mapping.source("order", ("id", "customer_id", "placed_at", "total"))
    count, total, first, last = conn.execute(
        sa.select(sa.func.count(order.c.id), sa.func.sum(order.c.total), sa.func.min(order.c.placed_at),
                  sa.func.max(order.c.placed_at)).where(order.c.customer_id == customer_id)).one()
    return {"orders": int(count or 0), "revenue": float(total or 0), "first": first, "last": last}


@dataclass(frozen=True)
class OpenCarts:
    carts: int  # customers with an open cart
    lines: int
    value: float  # quantity × the product's current price
    capped: bool  # more lines than CART_LINES_LIMIT: the figures are a lower bound
    since: datetime


def open_carts(conn: sa.Connection, mapping: ShopMapping, since: datetime,
               limit: int = CART_LINES_LIMIT) -> OpenCarts | None:
    """Cart lines added since ``since`` (shop clock) whose customer has not ordered since adding
    them: what the abandoned-cart reminder can still bring back. ``None`` when the shop keeps no
    carts."""
    if not mapping.has("cart_item"):
        return None
    cart = mapping.source("cart_item", ("customer_id", "product_id", "quantity", "added_at"))
    order = mapping.source("order", ("customer_id", "placed_at"))
    product = mapping.source("product", ("id", "price"))
    recent = (sa.select(cart.c.customer_id, cart.c.product_id, cart.c.quantity, cart.c.added_at)
              .where(cart.c.added_at >= whole_seconds(since), cart.c.customer_id.is_not(None))
              .order_by(cart.c.added_at.desc()).limit(limit + 1).subquery("recent"))
    bought_since = (sa.select(sa.literal(1)).select_from(order)
                    .where(order.c.customer_id == recent.c.customer_id, order.c.placed_at >= recent.c.added_at))
    rows = conn.execute(
        sa.select(recent.c.customer_id, sa.func.count(),
                  sa.func.sum(sa.func.coalesce(recent.c.quantity, 1) * sa.func.coalesce(product.c.price, 0)))
        .select_from(recent.outerjoin(product, product.c.id == recent.c.product_id))
        .where(~bought_since.exists()).group_by(recent.c.customer_id)).all()
    lines = sum(int(n) for _, n, _ in rows)
    value = sum(float(v or 0) for _, _, v in rows)
    capped = conn.execute(sa.select(sa.func.count()).select_from(recent)).scalar_one() > limit
    return OpenCarts(carts=len(rows), lines=lines, value=round(value, 2), capped=capped, since=since)
