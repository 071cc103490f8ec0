"""The pipeline a data scientist would write first: every event row into pandas, then groupby.

It computes the same interest vectors (decayed, weighted actions per customer and category)
and R/F/M figures as shopcrm, then clusters with scikit-learn's KMeans at the k shopcrm
found. It stores nothing, so it does strictly less than a shopcrm run; the comparison
flatters it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.cluster import KMeans

VALID_STATUSES = ("complete", "processing")


def run(url: str, as_of: datetime, n_clusters: int, half_life_days: float = 30.0, horizon_days: int = 365,
        weights: tuple[float, float, float] = (1.0, 3.0, 5.0), random_state: int = 0) -> dict:
    engine = sa.create_engine(url)
    since = as_of - timedelta(days=horizon_days)
    with engine.connect() as conn:
        views = pd.read_sql(sa.text("SELECT customer_id, product_id, viewed_at FROM product_views"), conn)
        carts = pd.read_sql(sa.text("SELECT customer_id, product_id, added_at FROM cart_items"), conn)
        orders = pd.read_sql(sa.text("SELECT order_id, customer_id, placed_at, total, status FROM orders"), conn)
        lines = pd.read_sql(sa.text("SELECT order_id, product_id, quantity FROM order_lines"), conn)
        products = pd.read_sql(sa.text("SELECT product_id, category_id FROM products"), conn)
        customers = pd.read_sql(sa.text("SELECT customer_id FROM customers WHERE active = 1"), conn)
    engine.dispose()

    orders = orders[orders["status"].isin(VALID_STATUSES)]
    purchases = lines.merge(orders[["order_id", "customer_id", "placed_at"]], on="order_id")
    events = pd.concat([
        views.rename(columns={"viewed_at": "ts"}).assign(weight=weights[0]),
        carts.rename(columns={"added_at": "ts"}).assign(weight=weights[1]),
        purchases.rename(columns={"placed_at": "ts"})[["customer_id", "product_id", "ts"]].assign(weight=weights[2]),
    ], ignore_index=True)
    events = events[(events["ts"] <= as_of) & (events["ts"] > since)].dropna(subset=["customer_id"])
    events = events.merge(products, on="product_id")
    age = (as_of - events["ts"]).dt.total_seconds() / 86400.0
    events["score"] = events["weight"] * np.power(2.0, -age / half_life_days)
    interest = events.groupby(["customer_id", "category_id"])["score"].sum().unstack(fill_value=0.0)
    interest = interest[interest.index.isin(customers["customer_id"])]
    shares = interest.div(interest.sum(axis=1), axis=0).fillna(0.0)
    labels = KMeans(n_clusters=n_clusters, n_init=4, random_state=random_state).fit_predict(shares.to_numpy())

    valid = orders[orders["placed_at"] <= as_of]
    rfm = valid.groupby("customer_id").agg(last=("placed_at", "max"), orders=("order_id", "count"),
                                            spend=("total", "sum"))
    return {"customers": int(len(shares)), "segments": int(len(np.unique(labels))), "buyers": int(len(rfm)),
            "event_rows": int(len(views) + len(carts) + len(lines))}
