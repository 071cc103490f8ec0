"""Small read-only lookups in the shop, for pages and emails (never for whole-shop scans).

Every lookup is bounded: by a list of ids (sent in chunks, as bound parameters), or by a
LIMIT. Values come back as plain dicts with canonical keys.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Iterator

import sqlalchemy as sa

from .mapping import ShopMapping

CHUNK = 500

CUSTOMER_FIELDS = ("id", "email", "first_name", "last_name", "city", "region", "country", "source", "consent",
                   "phone", "sms_consent", "created_at")
PRODUCT_FIELDS = ("id", "name", "price", "category_id", "brand_id", "url", "image_url", "active", "in_stock")


def chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    batch: list[int] = []
    for value in ids:
        batch.append(int(value))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def customers_by_ids(conn: sa.Connection, mapping: ShopMapping, ids: Iterable[int],
                     columns: tuple[str, ...] = CUSTOMER_FIELDS) -> dict[int, dict]:
    src = mapping.source("customer", columns)
    found: dict[int, dict] = {}
    for batch in chunks(ids):
        for row in conn.execute(sa.select(src).where(src.c.id.in_(batch))).mappings():
            found.setdefault(int(row["id"]), dict(row))
    return found


def search_customers(conn: sa.Connection, mapping: ShopMapping, text: str, limit: int = 50) -> list[dict]:
    """Customers matching ``text`` (case-insensitive where the database is).

    An e-mail address (text with an @ after its first character) is matched from its start: the shop has an index on
    it for its own log-in, so finding one customer among hundreds of thousands costs a few
    index entries instead of a scan of the table. A number also finds the customer with that
    id. Other text is looked for anywhere in the e-mail address and the names.
    """
    src = mapping.source("customer", CUSTOMER_FIELDS)
    query = sa.select(src).where(_search_condition(src, text)).order_by(src.c.id).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def search_customer_ids(conn: sa.Connection, mapping: ShopMapping, text: str, limit: int) -> list[int]:
    """The ids of the customers :func:`search_customers` finds, lowest first: ids only, so a
    few thousand matches cost little to fetch."""
    src = mapping.source("customer", ("id", "email", "first_name", "last_name"))
    query = sa.select(src.c.id).where(_search_condition(src, text)).order_by(src.c.id).limit(limit)
    return [int(i) for i in conn.execute(query).scalars() if i is not None]


def search_customers_above(conn: sa.Connection, mapping: ShopMapping, words: list[str], above_id: int,
                           limit: int) -> list[dict]:
    """Customers with an id above ``above_id`` (those shopcrm's word index does not know yet)
    whose e-mail address or names contain every one of ``words``: a range of the primary key,
    so it costs what the newest sign-ups cost, never a scan of the table."""
    src = mapping.source("customer", CUSTOMER_FIELDS)
    condition = src.c.id > above_id
    for word in words:
        pattern = "%" + _escape_like(word) + "%"
        condition = sa.and_(condition, sa.or_(src.c.email.like(pattern, escape="\\"),
                                              src.c.first_name.like(pattern, escape="\\"),
                                              src.c.last_name.like(pattern, escape="\\")))
    query = sa.select(src).where(condition).order_by(src.c.id).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_condition(src, text: str):
    escaped = _escape_like(text)
    if "@" in text[1:]:  # "@example.com" alone: the domain, anywhere
        return src.c.email.like(escaped + "%", escape="\\")
    pattern = "%" + escaped + "%"
    condition = sa.or_(src.c.email.like(pattern, escape="\\"), src.c.first_name.like(pattern, escape="\\"),
                       src.c.last_name.like(pattern, escape="\\"))
    if text.isdigit() and len(text) < 19:
        condition = sa.or_(condition, src.c.id == int(text))
    return condition


def products_by_ids(conn: sa.Connection, mapping: ShopMapping, ids: Iterable[int]) -> dict[int, dict]:
    src = mapping.source("product", PRODUCT_FIELDS)
    found: dict[int, dict] = {}
    for batch in chunks(ids):
        for row in conn.execute(sa.select(src).where(src.c.id.in_(batch))).mappings():
            found[int(row["id"])] = dict(row)
    return found


def category_names(conn: sa.Connection, mapping: ShopMapping) -> dict[int, str]:
    src = mapping.source("category", ("id", "name"))
    return {int(r.id): (r.name if r.name is not None else f"Category {r.id}")
            for r in conn.execute(sa.select(src.c.id, src.c.name)) if r.id is not None}


def popular_products(conn: sa.Connection, mapping: ShopMapping, as_of: datetime, days: int = 365,
                     per_category: int = 12) -> dict[int, list[dict]]:
    """Per category, its sellable products (active, price > 0), best sellers first.

    Sales are counted over the last ``days``; products nobody bought follow, by id, so a new
    shop still gets recommendations.
    """
    product = mapping.source("product", PRODUCT_FIELDS)
    line = mapping.source("order_line", ("order_id", "product_id"))
    order = mapping.source("order", ("id", "placed_at"))
    sold = (
        sa.select(line.c.product_id, sa.func.count().label("sold"))
        .select_from(line.join(order, order.c.id == line.c.order_id))
        .where(order.c.placed_at > sa.bindparam("since", as_of - timedelta(days=days), type_=sa.DateTime))
        .group_by(line.c.product_id)
        .subquery("sold")
    )
    query = (
        sa.select(product, sa.func.coalesce(sold.c.sold, 0).label("sold"))
        .select_from(product.outerjoin(sold, sold.c.product_id == product.c.id))
        .where(product.c.active == 1, product.c.price > 0, product.c.category_id.is_not(None))
        .order_by(product.c.category_id, sa.desc("sold"), product.c.id)
    )
    result: dict[int, list[dict]] = {}
    for row in conn.execute(query).mappings():
        bucket = result.setdefault(int(row["category_id"]), [])
        if len(bucket) < per_category:
            bucket.append(dict(row))
    return result


def purchased_products(conn: sa.Connection, mapping: ShopMapping, customer_ids: Iterable[int]) -> dict[int, set[int]]:
    """What each of these customers has bought (valid orders only)."""
    line = mapping.source("order_line", ("order_id", "product_id"))
    order = mapping.source("order", ("id", "customer_id"))
    bought: dict[int, set[int]] = {}
    for batch in chunks(customer_ids):
        query = (sa.select(order.c.customer_id, line.c.product_id).distinct()
                 .select_from(line.join(order, order.c.id == line.c.order_id))
                 .where(order.c.customer_id.in_(batch)))
        for cid, pid in conn.execute(query):
            if pid is not None:
                bought.setdefault(int(cid), set()).add(int(pid))
    return bought


def count(conn: sa.Connection, mapping: ShopMapping, entity: str) -> int:
    src = mapping.source(entity, (mapping_first_column(entity),))
    return int(conn.execute(sa.select(sa.func.count()).select_from(src)).scalar_one())


def mapping_first_column(entity: str) -> str:
    from .mapping import ENTITIES

    return ENTITIES[entity].required[0]
