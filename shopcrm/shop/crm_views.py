"""The view beacon's rows (``crm_view``) as interest scores, and how a view is recorded.

``crm_view`` lives in shopcrm's own database, which may be another database (or another
server) than the shop's, so it cannot be joined to the shop's products. The heavy part runs
in SQL on shopcrm's database: views are summed per (customer, product) with the same decay as
the extraction. The much smaller result is then mapped to categories through the shop's
product source and summed per (customer, category), ready for ``extract(extra_views=...)``.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import sqlalchemy as sa

from .extract import InterestParams
from .mapping import ShopMapping
from .models import ProductView
from .queries import chunks
from .sqlfuncs import days_between

LN2 = math.log(2.0)
_views = ProductView.__table__


def utc_naive(local: datetime) -> datetime:
    """A naive local time (the pipeline's ``as_of``) as naive UTC (how crm_view stores times)."""
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def product_scores(crm_conn: sa.Connection, as_of: datetime, params: InterestParams) -> np.ndarray:
    """Per (customer, product): the decayed count of beacon views, as (n, 3) floats.

    Views in the future (a clock ahead) or older than the horizon are ignored, as in the shop.
    """
    as_of_utc = utc_naive(as_of).replace(microsecond=0)
    as_of_p = sa.bindparam("as_of", as_of_utc, type_=sa.DateTime)
    since = sa.bindparam("since", as_of_utc - timedelta(days=params.horizon_days), type_=sa.DateTime)
    decay = sa.func.exp(sa.literal(-LN2 / params.half_life_days, sa.Float) * days_between(_views.c.viewed_at, as_of_p))
    query = (
        sa.select(_views.c.customer_id, _views.c.product_id, sa.func.sum(decay))
        .where(_views.c.viewed_at <= as_of_p, _views.c.viewed_at > since)
        .group_by(_views.c.customer_id, _views.c.product_id)
    )
    return np.array(crm_conn.execute(query).all(), dtype=np.float64).reshape(-1, 3)


def product_categories(shop_conn: sa.Connection, mapping: ShopMapping, product_ids) -> dict[int, int]:
    """The canonical category of each of these products that the shop knows."""
    product = mapping.source("product", ("id", "category_id"))
    found: dict[int, int] = {}
    for batch in chunks(product_ids):
        query = sa.select(product.c.id, product.c.category_id).where(product.c.id.in_(batch))
        for pid, cid in shop_conn.execute(query):
            if pid is not None and cid is not None:
                found[int(pid)] = int(cid)
    return found


def view_scores(crm_conn: sa.Connection, shop_conn: sa.Connection, mapping: ShopMapping, as_of: datetime,
                params: InterestParams) -> np.ndarray:
    """Per (customer, category): beacon view scores, (n, 3) floats: customer, category, score.

    Views of products the shop does not know (orphans) are dropped, as in the extraction.
    """
    rows = product_scores(crm_conn, as_of, params)
    if not len(rows):
        return np.empty((0, 3))
    products = np.unique(rows[:, 1].astype(np.int64))
    category_of = product_categories(shop_conn, mapping, products.tolist())
    categories = np.array([category_of.get(int(p), -1) for p in products], dtype=np.int64)
    category = categories[np.searchsorted(products, rows[:, 1].astype(np.int64))]
    known = category >= 0
    pairs = np.column_stack([rows[known, 0].astype(np.int64), category[known]])
    if not len(pairs):
        return np.empty((0, 3))
    keys, inverse = np.unique(pairs, axis=0, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=rows[known, 2], minlength=len(keys))
    return np.column_stack([keys.astype(np.float64), sums])


def beacon_view_scores(shop_conn: sa.Connection, mapping: ShopMapping, as_of: datetime,
                       params: InterestParams) -> np.ndarray | None:
    """``view_scores`` on the app's own database, or ``None`` when the mapping reads no beacon views.

    It reads on a connection of its own, closed before the run writes (SQLite allows one
    writer, and a read snapshot held open would block the run's write transaction).
    """
    if not mapping.reads_crm("view"):
        return None
    from ..extensions import db

    with db.engine.connect() as crm_conn:
        return view_scores(crm_conn, shop_conn, mapping, as_of, params)


def record_view(conn: sa.Connection, customer_id: int, product_id: int, viewed_at: datetime, nonce: str) -> None:
    """Insert one view; a nonce seen before raises ``IntegrityError`` (the caller commits)."""
    conn.execute(_views.insert().values(customer_id=customer_id, product_id=product_id, viewed_at=viewed_at,
                                        nonce=nonce, received_at=datetime.now(timezone.utc).replace(tzinfo=None)))
