"""The shop reads that campaigns, triggers and the sender need, all bounded.

Each query is either limited to a list of customer ids (sent in chunks, as bound parameters) or
paged by customer id with a LIMIT, so nothing here loads a whole table. Times are the shop's
own clock (naive local time, as the shop's PHP code writes them).

Browsing data is read in exactly one place, :func:`repeated_views`: the mapping's ``view``
entity and/or the view beacon's ``crm_view`` table, as the mapping says.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import sqlalchemy as sa

from ..clock import to_shop, to_utc, whole_seconds
from .mapping import ShopMapping
from .queries import CUSTOMER_FIELDS, chunks


def latest_orders(conn: sa.Connection, mapping: ShopMapping, customer_ids: Iterable[int],
                  since: datetime | None = None) -> dict[int, datetime]:
    """The newest valid order of each customer (placed at or after ``since``, if given)."""
    order = mapping.source("order", ("customer_id", "placed_at"))
    found: dict[int, datetime] = {}
    for batch in chunks(customer_ids):
        query = (sa.select(order.c.customer_id, sa.func.max(order.c.placed_at))
                 .where(order.c.customer_id.in_(batch)).group_by(order.c.customer_id))
        if since is not None:
            query = query.where(order.c.placed_at >= whole_seconds(since))
        for cid, placed in conn.execute(query):
            if placed is not None:
                found[int(cid)] = placed
    return found


class SendLookups:
    """The two shop reads a send run repeats for every batch (the customers, for consent and
    address; their latest orders, for "bought meanwhile"), with the statements built once per
    run so SQLAlchemy compiles each once instead of once per batch."""

    def __init__(self, mapping: ShopMapping):
        customer = mapping.source("customer", CUSTOMER_FIELDS)
        order = mapping.source("order", ("customer_id", "placed_at"))
        ids, since = sa.bindparam("ids", expanding=True), sa.bindparam("since", type_=sa.DateTime)
        self.customers_query = sa.select(customer).where(customer.c.id.in_(ids))
        self.orders_query = (sa.select(order.c.customer_id, sa.func.max(order.c.placed_at))
                             .where(order.c.customer_id.in_(ids), order.c.placed_at >= since)
                             .group_by(order.c.customer_id))

    def customers(self, conn: sa.Connection, customer_ids: Iterable[int]) -> dict[int, dict]:
        found: dict[int, dict] = {}
        for batch in chunks(customer_ids):
            for row in conn.execute(self.customers_query, {"ids": batch}).mappings():
                found.setdefault(int(row["id"]), dict(row))
        return found

    def latest_orders(self, conn: sa.Connection, customer_ids: Iterable[int], since: datetime) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for batch in chunks(customer_ids):
            for cid, placed in conn.execute(self.orders_query, {"ids": batch, "since": whole_seconds(since)}):
                if placed is not None:
                    found[int(cid)] = placed
        return found


def orders_between(conn: sa.Connection, mapping: ShopMapping, customer_ids: Iterable[int], start: datetime,
                   end: datetime) -> list[dict]:
    """Valid orders of these customers placed in [start, end]: id, customer_id, placed_at, total."""
    order = mapping.source("order", ("id", "customer_id", "placed_at", "total"))
    found = []
    for batch in chunks(customer_ids):
        query = (sa.select(order).where(order.c.customer_id.in_(batch),
                                        order.c.placed_at.between(whole_seconds(start), whole_seconds(end)))
                 .order_by(order.c.customer_id, order.c.placed_at))
        found.extend(dict(r) for r in conn.execute(query).mappings())
    return found


def cart_lines(conn: sa.Connection, mapping: ShopMapping, customer_ids: Iterable[int],
               since: datetime | None = None) -> dict[int, list[dict]]:
    """The cart lines of these customers (added at or after ``since``), oldest first."""
    if not mapping.has("cart_item"):
        return {}
    cart = mapping.source("cart_item", ("customer_id", "product_id", "quantity", "added_at"))
    found: dict[int, list[dict]] = {}
    for batch in chunks(customer_ids):
        query = sa.select(cart).where(cart.c.customer_id.in_(batch)).order_by(cart.c.customer_id, cart.c.added_at)
        if since is not None:
            query = query.where(cart.c.added_at >= whole_seconds(since))
        for row in conn.execute(query).mappings():
            if row["product_id"] is not None:
                found.setdefault(int(row["customer_id"]), []).append(dict(row))
    return found


@dataclass(frozen=True)
class OpenCart:
    customer_id: int
    started: datetime  # the oldest line considered: "no order since" is measured from here
    last_added: datetime
    lines: int


def abandoned_carts(conn: sa.Connection, mapping: ShopMapping, oldest: datetime, newest: datetime,
                    after_customer: int | None, limit: int) -> list[OpenCart]:
    """Carts whose lines were added between ``oldest`` and ``newest`` (nothing added since)
    and whose owner has placed no order since the cart was started. One page, by customer id."""
    if not mapping.has("cart_item"):
        return []
    cart = mapping.source("cart_item", ("customer_id", "added_at"))
    order = mapping.source("order", ("customer_id", "placed_at"))
    conditions = [cart.c.added_at >= whole_seconds(oldest), cart.c.customer_id.is_not(None)]
    if after_customer is not None:
        conditions.append(cart.c.customer_id > after_customer)
    carts = (sa.select(cart.c.customer_id, sa.func.min(cart.c.added_at).label("started"),
                       sa.func.max(cart.c.added_at).label("last_added"), sa.func.count().label("lines"))
             .where(*conditions).group_by(cart.c.customer_id)
             .having(sa.func.max(cart.c.added_at) <= whole_seconds(newest)).subquery("carts"))
    bought_since = (sa.select(sa.literal(1)).select_from(order)
                    .where(order.c.customer_id == carts.c.customer_id, order.c.placed_at >= carts.c.started))
    query = (sa.select(carts).where(~bought_since.exists()).order_by(carts.c.customer_id).limit(limit))
    return [OpenCart(int(r.customer_id), r.started, r.last_added, int(r.lines)) for r in conn.execute(query)]


@dataclass(frozen=True)
class ViewedProduct:
    customer_id: int
    product_id: int
    views: int
    first_view: datetime
    last_view: datetime


def _view_aggregates(conn: sa.Connection, view, since: datetime, customer_ids: list[int]) -> list[tuple]:
    """Per (customer, product): count, first and last view since ``since``, for these customers."""
    query = (sa.select(view.c.customer_id, view.c.product_id, sa.func.count(), sa.func.min(view.c.viewed_at),
                       sa.func.max(view.c.viewed_at))
             .where(view.c.viewed_at >= since, view.c.customer_id.in_(customer_ids), view.c.product_id.is_not(None))
             .group_by(view.c.customer_id, view.c.product_id))
    return conn.execute(query).all()


def _qualifying_page(conn: sa.Connection, view, since: datetime, until: datetime, min_views: int,
                     after_customer: int | None, limit: int) -> list[int]:
    """Customers (one page, by id) with a product viewed ``min_views`` times, last view ≤ ``until``."""
    window = [view.c.viewed_at >= since, view.c.customer_id.is_not(None), view.c.product_id.is_not(None)]
    if after_customer is not None:
        window.append(view.c.customer_id > after_customer)
    grouped = (sa.select(view.c.customer_id).where(*window).group_by(view.c.customer_id, view.c.product_id)
               .having(sa.func.count() >= min_views, sa.func.max(view.c.viewed_at) <= until).subquery("viewers"))
    return [int(c) for c in conn.execute(sa.select(grouped.c.customer_id).distinct()
                                         .order_by(grouped.c.customer_id).limit(limit)).scalars()]


def repeated_views(conn: sa.Connection, mapping: ShopMapping, since: datetime, until: datetime, min_views: int,
                   after_customer: int | None, limit: int) -> tuple[list[ViewedProduct], int | None]:
    """Products each customer viewed at least ``min_views`` times since ``since``, the last
    view no later than ``until``, for one page of at most ``limit`` customers by id; and the
    last customer id the page covered (``None`` when there is nothing further).

    The one place browsing data is read: the shop's own view table through the mapping, and/or
    shopcrm's ``crm_view`` (the view beacon, stored in UTC on shopcrm's own database). When a
    shop has both, a customer's counts from the two are added up.
    """
    from ..extensions import db
    from ..models import ProductView

    sources = []  # (connection, view columns, shop time -> source time, source time -> shop time)
    if mapping.has("view"):
        sources.append((conn, mapping.source("view", ("customer_id", "product_id", "viewed_at")), whole_seconds,
                        whole_seconds))
    if mapping.reads_crm("view"):
        sources.append((db.session.connection(), ProductView.__table__, to_utc, to_shop))
    if not sources:
        return [], None
    if len(sources) == 1:
        source_conn, view, to_source, _ = sources[0]
        page = _qualifying_page(source_conn, view, to_source(since), to_source(until), min_views, after_customer, limit)
    else:  # the page is every customer with any view; qualification needs both sources' counts
        page = sorted({c for source_conn, view, to_source, _ in sources
                       for c in _qualifying_page(source_conn, view, to_source(since), to_source(until), 1,
                                                 after_customer, limit)})[:limit]
    if not page:
        return [], None
    combined: dict[tuple[int, int], list] = {}
    for source_conn, view, to_source, back_to_shop in sources:
        for customer, product, count, first, last in _view_aggregates(source_conn, view, to_source(since), page):
            entry = combined.setdefault((int(customer), int(product)), [0, back_to_shop(first), back_to_shop(last)])
            entry[0] += int(count)
            entry[1], entry[2] = min(entry[1], back_to_shop(first)), max(entry[2], back_to_shop(last))
    views = [ViewedProduct(c, p, n, first, last) for (c, p), (n, first, last) in sorted(combined.items())
             if n >= min_views and last <= whole_seconds(until)]
    return views, page[-1]
