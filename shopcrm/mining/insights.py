"""The figures behind seed 004's charts, computed once per run and stored with it.

Seed 004 shows: transactions per customer (with what they spent), visitors per month, goods
purchased per month, customers per product, the top product of the last year and the best
month ("give some attracting offers for that particular upcoming month in next year"). The
admin pages read these stored figures; they never scan the shop.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np

from ..arrays import distinct

TRANSACTION_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, None))
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")


def month_starts(as_of: datetime, months: int) -> np.ndarray:
    """Start of as_of's month and of the ``months - 1`` months before it (newest first)."""
    first = np.datetime64(as_of.replace(day=1, hour=0, minute=0, second=0, microsecond=0), "M")
    return first - np.arange(months)


def months_back(as_of: datetime, age_days: np.ndarray, months: int) -> np.ndarray:
    """For each age, how many calendar months before as_of's month it falls (0 = the same
    month); ``months`` or more for older ones."""
    ends = (np.datetime64(as_of.replace(microsecond=0), "s")
            - month_starts(as_of, months).astype("datetime64[s]")).astype(np.float64) / 86400.0
    return np.searchsorted(ends, np.asarray(age_days, dtype=np.float64), side="left")


def _label(month: np.datetime64) -> str:
    return str(month)[:7]


def visitors_per_month(as_of: datetime, visit_months: np.ndarray, horizon_days: int) -> list[dict]:
    """Customers who viewed anything, per calendar month, oldest first. ``visit_months`` is a
    bit mask per customer (bit m: a view in the m-th month before as_of's month)."""
    n_months = int(months_back(as_of, np.array([horizon_days]), 60)[0]) + 1
    starts = month_starts(as_of, n_months)
    masks = np.asarray(visit_months, dtype=np.int64)
    return [{"month": _label(starts[m]), "visitors": int(((masks >> m) & 1).sum())}
            for m in range(n_months - 1, -1, -1)]


def sales_per_month(as_of: datetime, order_age: np.ndarray, order_total: np.ndarray, order_customer: np.ndarray,
                    line_order: np.ndarray, line_quantity: np.ndarray, months: int = 24) -> list[dict]:
    """Orders, revenue, goods (units) and distinct buyers per calendar month, oldest first."""
    back = months_back(as_of, order_age, months)
    order_customer = np.asarray(order_customer, dtype=np.int64)
    inside = back < months
    orders = np.bincount(back[inside], minlength=months)
    revenue = np.bincount(back[inside], weights=np.asarray(order_total)[inside], minlength=months)
    line_back = back[line_order]
    line_inside = line_back < months
    items = np.bincount(line_back[line_inside], weights=np.asarray(line_quantity)[line_inside], minlength=months)
    width = int(np.max(order_customer, initial=0)) + 1
    pairs = distinct(back[inside] * width + np.asarray(order_customer)[inside])
    buyers = np.bincount(pairs // width, minlength=months)
    starts = month_starts(as_of, months)
    return [{"month": _label(starts[m]), "orders": int(orders[m]), "revenue": round(float(revenue[m]), 2),
             "items": int(items[m]), "buyers": int(buyers[m])} for m in range(months - 1, -1, -1)]


def best_months(sales: list[dict]) -> dict:
    """The best of the last twelve complete months, and the calendar month that sells best
    on average over the series since the shop's first sale (what to plan next year's offers
    around)."""
    complete = sales[:-1][-12:]
    result: dict = {"best_month": None, "best_calendar_month": None}
    if complete and any(m["revenue"] > 0 for m in complete):
        best = max(complete, key=lambda m: (m["revenue"], m["orders"]))
        result["best_month"] = {"month": best["month"], "revenue": best["revenue"], "orders": best["orders"]}
    totals: dict[int, list[float]] = {}
    first_sale = next((i for i, m in enumerate(sales) if m["orders"]), len(sales))
    for m in sales[first_sale:-1]:
        totals.setdefault(int(m["month"][5:7]), []).append(m["revenue"])
    if totals and any(sum(v) > 0 for v in totals.values()):
        month = max(totals, key=lambda k: (float(np.mean(totals[k])), -k))
        result["best_calendar_month"] = {"month": month, "name": MONTH_NAMES[month - 1],
                                         "average_revenue": round(float(np.mean(totals[month])), 2)}
    return result


def transactions_per_customer(frequency: np.ndarray, monetary: np.ndarray) -> list[dict]:
    """How many buyers made 1, 2, 3, ... orders in the value window, and what they spent."""
    frequency, monetary = np.asarray(frequency), np.asarray(monetary, dtype=np.float64)
    rows = []
    for low, high in TRANSACTION_BUCKETS:
        inside = (frequency >= low) & ((frequency <= high) if high is not None else True)
        label = str(low) if low == high else (f"{low}-{high}" if high is not None else f"{low}+")
        rows.append({"orders": label, "customers": int(inside.sum()), "revenue": round(float(monetary[inside].sum()), 2)})
    return rows


def product_figures(product_ids: np.ndarray, order_age: np.ndarray, order_customer: np.ndarray,
                    line_order: np.ndarray, line_product: np.ndarray, line_quantity: np.ndarray,
                    line_price: np.ndarray, top: int = 20, recent_days: int = 365) -> dict:
    """Customers per product (distinct buyers, over the lines read) and the top products of
    the last ``recent_days`` by revenue, with units, orders and buyers."""
    n = len(product_ids)
    line_order, line_product = np.asarray(line_order, dtype=np.int64), np.asarray(line_product, dtype=np.int64)
    customer = np.asarray(order_customer, dtype=np.int64)[line_order]
    width = int(np.max(customer, initial=0)) + 1
    buyers = np.bincount(distinct(np.asarray(line_product) * width + customer) // width, minlength=n)
    bought = np.flatnonzero(buyers)
    by_buyers = bought[np.lexsort((product_ids[bought], -buyers[bought]))][:top]

    recent = np.asarray(order_age)[line_order] <= recent_days
    p, q = np.asarray(line_product)[recent], np.asarray(line_quantity)[recent]
    revenue = np.bincount(p, weights=q * np.asarray(line_price)[recent], minlength=n)
    units = np.bincount(p, weights=q, minlength=n)
    n_orders = len(order_age) + 1
    orders = np.bincount(distinct(p * n_orders + np.asarray(line_order)[recent]) // n_orders, minlength=n)
    recent_buyers = np.bincount(distinct(p * width + customer[recent]) // width, minlength=n)
    sold = np.flatnonzero(units)
    by_revenue = sold[np.lexsort((product_ids[sold], -units[sold], -revenue[sold]))][:top]
    return {
        "products_bought": int(len(bought)),
        "customers_per_product": [{"product_id": int(product_ids[i]), "customers": int(buyers[i])} for i in by_buyers],
        "top_products": [{"product_id": int(product_ids[i]), "revenue": round(float(revenue[i]), 2),
                          "units": int(units[i]), "orders": int(orders[i]), "customers": int(recent_buyers[i])}
                         for i in by_revenue],
    }
