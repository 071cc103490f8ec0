"""The extract stage of a run: the shop's rows (``shop.readers``) turned into the arrays the
analyses take (``mining.features``), aligned on the shop's customers.

Reading and the feature sums are interleaved: events arrive a chunk of customers at a time and
are added to the interest matrices as they stream, so a big shop never sits in memory twice.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

import numpy as np
import sqlalchemy as sa

from ..arrays import locate
from ..beacon.store import BeaconViews
from ..clock import DAY
from ..mining.features import InterestAccumulator, order_features
from ..shop.mapping import ShopMapping
from ..shop.readers import (
    Catalog,
    Lines,
    Orders,
    event_chunks,
    prepare_packing,
    read_catalog,
    read_customers,
    read_lines,
    read_orders,
)
from .params import InterestParams, OrderParams


@dataclass
class ShopExtract:
    """Everything a run needs from the shop, aligned on ``customer_ids``."""

    as_of: datetime
    customer_ids: np.ndarray  # int64, sorted, unique
    account_age_days: np.ndarray  # float64; NaN where the shop has no sign-up date
    country: np.ndarray  # object arrays of str or None, copied to memberships
    region: np.ndarray
    city: np.ndarray
    source: np.ndarray
    catalog: Catalog
    interest: np.ndarray  # (customers, categories) float32: weighted, decayed action counts
    brand_interest: np.ndarray  # (customers, brands) float32: the same per brand
    visit_months: np.ndarray  # int64 bit mask: bit m set = viewed in the m-th month before as_of's month
    orders: Orders
    lines: Lines
    orders_total: np.ndarray  # int64, valid orders ever
    recency_days: np.ndarray  # days since the last order; NaN if none
    first_order_days: np.ndarray  # days since the first order; NaN if none
    frequency: np.ndarray  # orders inside the value window
    monetary: np.ndarray  # spend inside the value window
    recent_spend: np.ndarray  # spend inside the growth window
    counts: dict = field(default_factory=dict)  # rows read and dropped, for the run record
    #: What ``after_orders`` computed from the orders while the views streamed (the run's forecast).
    order_analysis: Any = None

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def category_ids(self) -> np.ndarray:
        return self.catalog.category_ids

    @property
    def category_names(self) -> list[str]:
        return self.catalog.category_names

    @property
    def brand_ids(self) -> np.ndarray:
        return self.catalog.brand_ids

    @property
    def brand_names(self) -> list[str]:
        return self.catalog.brand_names


OrderWork = Callable[[Orders, int], Any]


def _orders_and_lines(conn: sa.Connection, mapping: ShopMapping, as_of: datetime, ids: np.ndarray,
                      catalog: Catalog, history_days: int, only: list[int] | None, after_orders: OrderWork | None):
    order_table, order_counts = read_orders(conn, mapping, as_of, ids, only)
    line_table, line_counts = read_lines(conn, mapping, order_table, catalog, history_days, restricted=only is not None)
    analysis = after_orders(order_table, len(ids)) if after_orders is not None else None
    return order_table, line_table, {**order_counts, **line_counts}, analysis


def _read_in_parallel(conn: sa.Connection) -> bool:
    """Server databases answer two queries at once (one per connection): the order side is
    then read while the views stream. SQLite gains nothing from it."""
    return conn.dialect.name in ("mysql", "mariadb", "postgresql")


def extract(conn: sa.Connection, mapping: ShopMapping, as_of: datetime,
            interest: InterestParams = InterestParams(), orders: OrderParams = OrderParams(),
            extra_views: BeaconViews | None = None, only_customers: Iterable[int] | None = None,
            parallel: bool = True, after_orders: OrderWork | None = None) -> ShopExtract:
    """Run every query and align the results on the shop's customers.

    ``extra_views`` are the view beacon's views aggregated where they are stored
    (``beacon.store.BeaconViews``: per category, per brand, and the months of each customer's
    visits); they are added to the browsing
    interest with the view weight, and to the visitors per month. ``only_customers`` restricts the whole
    extraction to those customer ids (assigning new customers between runs). With
    ``parallel`` (and a server database) orders and order lines are read on a second
    connection of the same engine while the views stream on this one.

    ``after_orders(orders, n_customers)`` is work that needs only the orders (the run's
    lifetime models and backtests, ``mine.order_work``): it runs right after the order side is
    read, on that side's thread, so on a server database it overlaps with the views streaming
    in; its result is the extract's ``order_analysis``.
    """
    only = None if only_customers is None else sorted({int(i) for i in only_customers})
    prepare_packing(conn)
    table = read_customers(conn, mapping, as_of, only)
    ids = table["ids"]
    catalog = read_catalog(conn, mapping)
    history_days = max(orders.history_days, interest.horizon_days)
    pool = second = None
    if parallel and _read_in_parallel(conn):
        second = conn.engine.connect()
        prepare_packing(second)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopcrm-extract")
        order_side = pool.submit(_orders_and_lines, second, mapping, as_of, ids, catalog, history_days, only,
                                 after_orders)
    try:
        acc = InterestAccumulator(ids, catalog, as_of, interest.half_life_days)
        weights = {"view": interest.weight_view, "cart_item": interest.weight_cart}
        for entity in ("view", "cart_item"):
            if not mapping.has(entity):
                continue
            for keys, per_customer, product, age in event_chunks(conn, mapping, entity, as_of, interest.horizon_days,
                                                                 only):
                acc.add_grouped(entity, keys, per_customer, product, age.astype(np.float64), weights[entity],
                                track_months=entity == "view")
        if pool is not None:
            order_table, line_table, order_counts, analysis = order_side.result()
        else:
            order_table, line_table, order_counts, analysis = _orders_and_lines(conn, mapping, as_of, ids, catalog,
                                                                                 history_days, only, after_orders)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            second.close()
    if extra_views is not None and len(extra_views):
        for extra, column_ids, brands in ((extra_views.categories, catalog.category_ids, False),
                                          (extra_views.brands, catalog.brand_ids, True)):
            rows, known = locate(ids, extra[:, 0].astype(np.int64))
            cols, has_col = locate(column_ids, extra[:, 1].astype(np.int64))
            ok = known & has_col
            acc.add_scores(rows[ok], cols[ok], interest.weight_view * extra[ok, 2], brands=brands)
            if not brands:  # views of products the shop does not have, counted once
                acc.counts["extra_view_rows"] = int(len(extra))
                acc.counts["extra_view_orphan_rows"] = int((~ok).sum())
        rows, known = locate(ids, extra_views.months[:, 0].astype(np.int64))
        acc.add_months(rows[known], extra_views.months[known, 1])

    purchase_age = order_table.age_days[line_table.order]
    bought = purchase_age < interest.horizon_days
    acc.add("purchase", order_table.customer[line_table.order[bought]],
            catalog.product_ids[line_table.product[bought]], purchase_age[bought] * DAY, interest.weight_purchase)

    features = order_features(order_table.customer, order_table.age_days, order_table.total, len(ids),
                              orders.window_days, orders.growth_days)
    return ShopExtract(
        as_of=as_of, customer_ids=ids, account_age_days=table["age_days"],
        country=table["country"], region=table["region"], city=table["city"], source=table["source"],
        catalog=catalog, interest=acc.categories, brand_interest=acc.brands, visit_months=acc.months,
        orders=order_table, lines=line_table, counts={**acc.counts, **order_counts}, order_analysis=analysis,
        **features,
    )
