"""The view beacon's rows (``crm_view``) as interest scores, and how a view is recorded.

``crm_view`` lives in shopcrm's own database, which may be another database (or another
server) than the shop's, so it cannot be joined to the shop's products. So the shop's
product → category and brand map (one row per product: small) is copied into a temporary table
on shopcrm's side, and the views are aggregated there in SQL per (customer, category), per
(customer, brand) and per (customer, month) for the visitors per month, with the
same decay as the extraction (``mining.features``): what crosses the wire is as small as the
shop's own aggregate.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa

from ..clock import to_utc, utcnow
from ..mining.features import decay_rate
from ..models import ProductView
from ..shop.mapping import ShopMapping
from ..shop.sqlfuncs import days_between

_views = ProductView.__table__
# Session-private scratch space on shopcrm's database (never a migration's business: its own
# MetaData, created and dropped by the aggregation on its connection).
_scratch = sa.MetaData()
_groups = sa.Table("crm_tmp_view_product", _scratch,
                   sa.Column("product_id", sa.BigInteger, primary_key=True, autoincrement=False),
                   sa.Column("category_id", sa.BigInteger),
                   sa.Column("brand_id", sa.BigInteger),
                   prefixes=["TEMPORARY"])


@dataclass
class BeaconViews:
    """The beacon's views, aggregated where they are stored: what a run's extraction adds to the
    shop's own browsing (all per customer, as float arrays)."""

    categories: np.ndarray  # (n, 3): customer, category, decayed view count
    brands: np.ndarray  # (n, 3): customer, brand, decayed view count
    months: np.ndarray  # (n, 2): customer, months before the as-of month (UTC) in which they viewed

    def __len__(self) -> int:
        return len(self.categories) + len(self.brands) + len(self.months)


def product_groups(shop_conn: sa.Connection, mapping: ShopMapping) -> list[dict]:
    """Every product the shop knows with its canonical category and brand (either may be missing)."""
    columns = ("id", "category_id", "brand_id") if mapping.has("brand") else ("id", "category_id")
    product = mapping.source("product", columns)
    brand = product.c.brand_id if "brand_id" in columns else sa.null()
    query = sa.select(product.c.id, product.c.category_id, brand).where(
        product.c.id.is_not(None), sa.or_(product.c.category_id.is_not(None), brand.is_not(None)))
    return [{"product_id": int(p), "category_id": None if c is None else int(c),
             "brand_id": None if b is None else int(b)} for p, c, b in shop_conn.execute(query)]


def _months_back(as_of_utc: datetime):
    """Months between a view's month and the as-of month, in SQL (0: the as-of month itself)."""
    viewed = _views.c.viewed_at
    return (as_of_utc.year * 12 + as_of_utc.month) - (sa.extract("year", viewed) * 12 + sa.extract("month", viewed))


def beacon_views(crm_conn: sa.Connection, shop_conn: sa.Connection, mapping: ShopMapping, as_of: datetime,
                 half_life_days: float, horizon_days: int) -> BeaconViews:
    """The beacon's views within the horizon, per (customer, category), per (customer, brand) and
    the months each customer viewed anything in (visitors per month).

    Views in the future (a clock ahead) or older than the horizon are ignored, and views of
    products the shop does not know (orphans) drop out in the join, as in the extraction.
    """
    as_of_utc = to_utc(as_of)
    as_of_p = sa.bindparam("as_of", as_of_utc, type_=sa.DateTime)
    since = sa.bindparam("since", as_of_utc - timedelta(days=horizon_days), type_=sa.DateTime)
    # mining.features.decay, rendered in SQL: exp(rate × age in days)
    decay = sa.func.exp(sa.literal(decay_rate(half_life_days), sa.Float)
                        * days_between(_views.c.viewed_at, as_of_p))
    window = (_views.c.viewed_at <= as_of_p, _views.c.viewed_at > since)
    joined = _views.join(_groups, _groups.c.product_id == _views.c.product_id)

    def scores(column) -> sa.Select:
        return (sa.select(_views.c.customer_id, column, sa.func.sum(decay)).select_from(joined)
                .where(*window, column.is_not(None)).group_by(_views.c.customer_id, column))

    months = _months_back(as_of_utc)
    visits = sa.select(_views.c.customer_id, months).select_from(joined).where(*window).group_by(
        _views.c.customer_id, months)
    products = product_groups(shop_conn, mapping)
    _groups.create(crm_conn)
    try:
        if products:
            crm_conn.execute(_groups.insert(), products)
        found = [crm_conn.execute(q).all() for q in (scores(_groups.c.category_id), scores(_groups.c.brand_id))]
        month_rows = crm_conn.execute(visits).all()
    finally:
        _groups.drop(crm_conn)
        # Committed: on SQLite the DROP ran inside the transaction the INSERT began, and a
        # rollback as the connection goes back to the pool would bring the table back there.
        crm_conn.commit()
    return BeaconViews(*(np.array(rows, dtype=np.float64).reshape(-1, 3) for rows in found),
                       np.array(month_rows, dtype=np.float64).reshape(-1, 2))


def beacon_view_scores(shop_conn: sa.Connection, mapping: ShopMapping, as_of: datetime, half_life_days: float,
                       horizon_days: int) -> BeaconViews | None:
    """``beacon_views`` on the app's own database, or ``None`` when the mapping reads no beacon views.

    It reads on a connection of its own, closed before the run writes (SQLite allows one
    writer, and a read snapshot held open would block the run's write transaction).
    """
    if not mapping.reads_crm("view"):
        return None
    from ..extensions import db

    with db.engine.connect() as crm_conn:
        return beacon_views(crm_conn, shop_conn, mapping, as_of, half_life_days, horizon_days)


def record_view(conn: sa.Connection, customer_id: int, product_id: int, viewed_at: datetime, nonce: str) -> None:
    """Insert one view; a nonce seen before raises ``IntegrityError`` (the caller commits)."""
    conn.execute(_views.insert().values(customer_id=customer_id, product_id=product_id, viewed_at=viewed_at,
                                        nonce=nonce, received_at=utcnow()))
