"""One customer's history in the shop, newest first, for the admin's customer profile.

Every query is for a single customer id and bounded by a LIMIT, so a profile page costs a few
index lookups whatever the size of the shop.
"""
from __future__ import annotations

import sqlalchemy as sa

from .mapping import ShopMapping


def _product_names(conn: sa.Connection, mapping: ShopMapping, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    src = mapping.source("product", ("id", "name"))
    rows = conn.execute(sa.select(src.c.id, src.c.name).where(src.c.id.in_(sorted(ids))))
    return {int(i): n for i, n in rows}


def views(conn: sa.Connection, mapping: ShopMapping, customer_id: int, limit: int = 50) -> list[dict]:
    if not mapping.has("view"):
        return []
    src = mapping.source("view", ("customer_id", "product_id", "viewed_at"))
    rows = conn.execute(sa.select(src.c.product_id, src.c.viewed_at).where(src.c.customer_id == customer_id)
                        .order_by(src.c.viewed_at.desc()).limit(limit)).all()
    return [{"product_id": int(p), "at": t} for p, t in rows if p is not None]


def cart_items(conn: sa.Connection, mapping: ShopMapping, customer_id: int, limit: int = 50) -> list[dict]:
    if not mapping.has("cart_item"):
        return []
    src = mapping.source("cart_item", ("customer_id", "product_id", "quantity", "added_at"))
    rows = conn.execute(sa.select(src.c.product_id, src.c.quantity, src.c.added_at)
                        .where(src.c.customer_id == customer_id).order_by(src.c.added_at.desc()).limit(limit)).all()
    return [{"product_id": int(p), "quantity": q, "at": t} for p, q, t in rows if p is not None]


def orders(conn: sa.Connection, mapping: ShopMapping, customer_id: int, limit: int = 30) -> list[dict]:
    """Valid orders (as the mapping defines them) with their lines."""
    order = mapping.source("order", ("id", "customer_id", "placed_at", "total"))
    found = conn.execute(sa.select(order.c.id, order.c.placed_at, order.c.total)
                         .where(order.c.customer_id == customer_id)
                         .order_by(order.c.placed_at.desc()).limit(limit)).all()
    result = [{"id": int(i), "at": t, "total": float(total or 0), "lines": []} for i, t, total in found]
    if result:
        line = mapping.source("order_line", ("order_id", "product_id", "quantity", "unit_price"))
        by_id = {o["id"]: o for o in result}
        for oid, pid, qty, price in conn.execute(
                sa.select(line.c.order_id, line.c.product_id, line.c.quantity, line.c.unit_price)
                .where(line.c.order_id.in_(list(by_id)))):
            by_id[int(oid)]["lines"].append({"product_id": int(pid) if pid is not None else None,
                                             "quantity": qty, "unit_price": float(price or 0)})
    return result


def history(conn: sa.Connection, mapping: ShopMapping, customer_id: int, limit: int = 50,
            extra_product_ids: set[int] = frozenset()) -> dict:
    """Views, cart items and orders of one customer, with product names resolved (also for
    ``extra_product_ids``: products the caller knows of from elsewhere, e.g. beacon views)."""
    data = {"views": views(conn, mapping, customer_id, limit), "cart_items": cart_items(conn, mapping, customer_id, limit),
            "orders": orders(conn, mapping, customer_id)}
    ids = {e["product_id"] for e in data["views"] + data["cart_items"]}
    ids |= {line["product_id"] for o in data["orders"] for line in o["lines"] if line["product_id"] is not None}
    ids |= set(extra_product_ids)
    data["product_names"] = _product_names(conn, mapping, ids)
    return data
