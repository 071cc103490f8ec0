"""Extraction: the SQL aggregations that turn a shop's raw tables into mining inputs.

The database does the heavy scans. What crosses the wire is already grouped: one row per
(customer, category) with the decayed, weighted interest score, and one row per buying
customer with their order figures. Everything is read through a mapping's canonical
subqueries, so the same code reads every shop schema.

These functions take a SQLAlchemy connection and a :class:`ShopMapping`; they know nothing
of Flask, so tests and benchmarks can call them directly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa

from .mapping import ShopMapping
from .sqlfuncs import as_float, days_between

LN2 = math.log(2.0)


@dataclass(frozen=True)
class InterestParams:
    """How actions are weighted and decay. Defaults follow seed 000 and the design."""

    weight_view: float = 1.0
    weight_cart: float = 3.0
    weight_purchase: float = 5.0
    half_life_days: float = 30.0
    horizon_days: int = 365


@dataclass(frozen=True)
class OrderParams:
    window_days: int = 365
    growth_days: int = 90


@dataclass
class ShopExtract:
    """Everything a segmentation run needs from the shop, aligned on ``customer_ids``."""

    as_of: datetime
    customer_ids: np.ndarray  # int64, sorted, unique
    account_age_days: np.ndarray  # float64; NaN where the shop has no sign-up date
    category_ids: np.ndarray  # int64, the interest matrix's columns
    category_names: list[str]
    interest: np.ndarray  # (customers, categories): weighted, decayed action counts
    orders_total: np.ndarray  # int64, valid orders ever
    recency_days: np.ndarray  # days since the last order; NaN if none
    first_order_days: np.ndarray  # days since the first order; NaN if none
    frequency: np.ndarray  # orders inside the value window
    monetary: np.ndarray  # spend inside the value window
    recent_spend: np.ndarray  # spend inside the growth window
    counts: dict = field(default_factory=dict)  # rows read per query, for the run record

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)


def _as_of_param(as_of: datetime) -> sa.BindParameter:
    return sa.bindparam("as_of", as_of.replace(microsecond=0), type_=sa.DateTime)


def customers(conn: sa.Connection, mapping: ShopMapping, as_of: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Customer ids (sorted, unique) and account ages in days."""
    src = mapping.source("customer", ("id", "created_at"))
    query = sa.select(src.c.id, days_between(src.c.created_at, _as_of_param(as_of))).where(src.c.id.is_not(None))
    rows = conn.execute(query).all()
    if not rows:
        return np.empty(0, np.int64), np.empty(0)
    data = np.array([(r[0], np.nan if r[1] is None else r[1]) for r in rows], dtype=np.float64)
    ids, first = np.unique(data[:, 0].astype(np.int64), return_index=True)
    return ids, np.maximum(data[first, 1], 0.0)


def categories(conn: sa.Connection, mapping: ShopMapping) -> dict[int, str]:
    src = mapping.source("category", ("id", "name"))
    return {int(i): (n if n is not None else f"Category {i}") for i, n in conn.execute(sa.select(src.c.id, src.c.name))
            if i is not None}


def _decay(ts: sa.ColumnElement, as_of: sa.BindParameter, half_life: float) -> sa.ColumnElement:
    return sa.func.exp(sa.literal(-LN2 / half_life, sa.Float) * days_between(ts, as_of))


def event_scores(conn: sa.Connection, mapping: ShopMapping, entity: str, as_of: datetime,
                 params: InterestParams) -> np.ndarray:
    """Per (customer, category): the sum of decayed weights of one kind of action.

    ``entity`` is ``view``, ``cart_item`` or ``purchase`` (order lines of valid orders). Rows
    with unknown products (orphan ids) drop out in the join; future-dated rows are ignored.
    Returns an array of shape (n, 3): customer id, category id, score.
    """
    as_of_p = _as_of_param(as_of)
    since = sa.bindparam("since", (as_of - timedelta(days=params.horizon_days)).replace(microsecond=0),
                         type_=sa.DateTime)
    product = mapping.source("product", ("id", "category_id"))
    if entity == "purchase":
        line = mapping.source("order_line", ("order_id", "product_id"))
        order = mapping.source("order", ("id", "customer_id", "placed_at"))
        customer_col, product_col, ts = order.c.customer_id, line.c.product_id, order.c.placed_at
        from_ = line.join(order, order.c.id == line.c.order_id).join(product, product.c.id == line.c.product_id)
    else:
        time_column = {"view": "viewed_at", "cart_item": "added_at"}[entity]
        events = mapping.source(entity, ("customer_id", "product_id", time_column))
        customer_col, product_col, ts = events.c.customer_id, events.c.product_id, events.c[time_column]
        from_ = events.join(product, product.c.id == product_col)
    query = (
        sa.select(customer_col, product.c.category_id, sa.func.sum(_decay(ts, as_of_p, params.half_life_days)))
        .select_from(from_)
        .where(ts <= as_of_p, ts > since, customer_col.is_not(None), product.c.category_id.is_not(None))
        .group_by(customer_col, product.c.category_id)
    )
    rows = conn.execute(query).all()
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def order_features(conn: sa.Connection, mapping: ShopMapping, as_of: datetime, params: OrderParams) -> np.ndarray:
    """Per buying customer: orders, recency, first order age, frequency, spend, recent spend.

    Returns an array of shape (n, 7) in that column order (customer id first).
    """
    order = mapping.source("order", ("id", "customer_id", "placed_at", "total"))
    age = days_between(order.c.placed_at, _as_of_param(as_of))
    in_window = sa.case((age <= params.window_days, 1), else_=0)
    query = (
        sa.select(
            order.c.customer_id,
            sa.func.count(),
            sa.func.min(age),
            sa.func.max(age),
            sa.func.sum(in_window),
            as_float(sa.func.sum(sa.case((age <= params.window_days, order.c.total), else_=0))),
            as_float(sa.func.sum(sa.case((age <= params.growth_days, order.c.total), else_=0))),
        )
        .where(order.c.placed_at <= _as_of_param(as_of), order.c.customer_id.is_not(None))
        .group_by(order.c.customer_id)
    )
    rows = conn.execute(query).all()
    return np.array(rows, dtype=np.float64).reshape(-1, 7)


def _scatter(target_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``ids`` in the sorted ``target_ids`` and a mask of those found."""
    if len(target_ids) == 0:
        return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
    pos = np.searchsorted(target_ids, ids)
    pos = np.minimum(pos, len(target_ids) - 1)
    return pos, target_ids[pos] == ids


def extract(conn: sa.Connection, mapping: ShopMapping, as_of: datetime,
            interest: InterestParams = InterestParams(), orders: OrderParams = OrderParams(),
            extra_views: np.ndarray | None = None) -> ShopExtract:
    """Run every aggregation and align the results on the shop's customers.

    ``extra_views`` are (customer, category, score) rows aggregated elsewhere (shopcrm's own
    view beacon table) and added to the shop's own browsing history.
    Rows for customer ids the customer table does not know (orphans) are dropped.
    """
    ids, age = customers(conn, mapping, as_of)
    names = categories(conn, mapping)
    parts = {"purchase": event_scores(conn, mapping, "purchase", as_of, interest)}
    weights = {"view": interest.weight_view, "cart_item": interest.weight_cart, "purchase": interest.weight_purchase}
    for entity in ("view", "cart_item"):
        parts[entity] = (event_scores(conn, mapping, entity, as_of, interest) if mapping.has(entity)
                         else np.empty((0, 3)))
    if extra_views is not None and len(extra_views):
        parts["view"] = np.vstack([parts["view"], extra_views])
    counts = {f"{k}_rows": int(len(v)) for k, v in parts.items()}

    seen = np.concatenate([p[:, 1] for p in parts.values()]).astype(np.int64)
    category_ids = np.unique(seen)
    matrix = np.zeros((len(ids), len(category_ids)))
    for entity, rows in parts.items():
        if not len(rows):
            continue
        row, found = _scatter(ids, rows[:, 0].astype(np.int64))
        col = np.searchsorted(category_ids, rows[:, 1].astype(np.int64))
        counts[f"{entity}_orphan_rows"] = int((~found).sum())
        np.add.at(matrix, (row[found], col[found]), weights[entity] * rows[found, 2])

    feats = order_features(conn, mapping, as_of, orders)
    row, found = _scatter(ids, feats[:, 0].astype(np.int64))
    counts["order_customer_rows"] = int(len(feats))
    counts["order_orphan_customers"] = int((~found).sum())
    row, feats = row[found], feats[found]

    def column(j: int, fill: float) -> np.ndarray:
        out = np.full(len(ids), fill)
        out[row] = feats[:, j]
        return out

    return ShopExtract(
        as_of=as_of,
        customer_ids=ids,
        account_age_days=age,
        category_ids=category_ids,
        category_names=[names.get(int(c), f"Category {int(c)}") for c in category_ids],
        interest=matrix,
        orders_total=column(1, 0).astype(np.int64),
        recency_days=column(2, np.nan),
        first_order_days=column(3, np.nan),
        frequency=column(4, 0).astype(np.int64),
        monetary=column(5, 0.0),
        recent_spend=column(6, 0.0),
        counts=counts,
    )
