"""The view beacon's rows (``crm_view``) as interest scores, and how a view is recorded.

``crm_view`` lives in shopcrm's own database, which may be another database (or another
server) than the shop's, so it cannot be joined to the shop's products. So the shop's
product → category map (one row per product: small) is copied into a temporary table on
shopcrm's side, and the views are aggregated there in SQL per (customer, category) with the
same decay as the extraction (``mining.features``): what crosses the wire is as small as the
shop's own aggregate.
"""
from __future__ import annotations

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
_categories = sa.Table("crm_tmp_view_category", _scratch,
                       sa.Column("product_id", sa.BigInteger, primary_key=True, autoincrement=False),
                       sa.Column("category_id", sa.BigInteger, nullable=False),
                       prefixes=["TEMPORARY"])


def product_categories(shop_conn: sa.Connection, mapping: ShopMapping) -> list[dict]:
    """Every product the shop knows with its canonical category."""
    product = mapping.source("product", ("id", "category_id"))
    query = sa.select(product.c.id, product.c.category_id).where(product.c.id.is_not(None),
                                                                 product.c.category_id.is_not(None))
    return [{"product_id": int(p), "category_id": int(c)} for p, c in shop_conn.execute(query)]


def view_scores(crm_conn: sa.Connection, shop_conn: sa.Connection, mapping: ShopMapping, as_of: datetime,
                half_life_days: float, horizon_days: int) -> np.ndarray:
    """Per (customer, category): beacon view scores, (n, 3) floats: customer, category, score.

    Views in the future (a clock ahead) or older than the horizon are ignored, and views of
    products the shop does not know (orphans) drop out in the join, as in the extraction.
    """
    as_of_utc = to_utc(as_of)
    as_of_p = sa.bindparam("as_of", as_of_utc, type_=sa.DateTime)
    since = sa.bindparam("since", as_of_utc - timedelta(days=horizon_days), type_=sa.DateTime)
    # mining.features.decay, rendered in SQL: exp(rate × age in days)
    decay = sa.func.exp(sa.literal(decay_rate(half_life_days), sa.Float)
                        * days_between(_views.c.viewed_at, as_of_p))
    query = (
        sa.select(_views.c.customer_id, _categories.c.category_id, sa.func.sum(decay))
        .select_from(_views.join(_categories, _categories.c.product_id == _views.c.product_id))
        .where(_views.c.viewed_at <= as_of_p, _views.c.viewed_at > since)
        .group_by(_views.c.customer_id, _categories.c.category_id)
    )
    products = product_categories(shop_conn, mapping)
    _categories.create(crm_conn)
    try:
        if products:
            crm_conn.execute(_categories.insert(), products)
        rows = crm_conn.execute(query).all()
    finally:
        _categories.drop(crm_conn)
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def beacon_view_scores(shop_conn: sa.Connection, mapping: ShopMapping, as_of: datetime, half_life_days: float,
                       horizon_days: int) -> np.ndarray | None:
    """``view_scores`` on the app's own database, or ``None`` when the mapping reads no beacon views.

    It reads on a connection of its own, closed before the run writes (SQLite allows one
    writer, and a read snapshot held open would block the run's write transaction).
    """
    if not mapping.reads_crm("view"):
        return None
    from ..extensions import db

    with db.engine.connect() as crm_conn:
        return view_scores(crm_conn, shop_conn, mapping, as_of, half_life_days, horizon_days)


def record_view(conn: sa.Connection, customer_id: int, product_id: int, viewed_at: datetime, nonce: str) -> None:
    """Insert one view; a nonce seen before raises ``IntegrityError`` (the caller commits)."""
    conn.execute(_views.insert().values(customer_id=customer_id, product_id=product_id, viewed_at=viewed_at,
                                        nonce=nonce, received_at=utcnow()))
