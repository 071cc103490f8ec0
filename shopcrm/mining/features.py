"""Features of a run, computed from the shop's plain arrays: the interest a customer's actions
express, and the purchase figures R, F and M are made of.

**Time decay** — one definition for every place that weighs an action by its age: an action
``age_days`` old weighs ``exp(decay_rate(half_life) * age_days)``, i.e. half as much every
``half_life_days``. The beacon's SQL aggregation renders the same formula with the same rate.
"""
from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from ..arrays import IdIndex
from ..clock import DAY

MONTHS = 63  # visit months tracked per customer (bits of an int64)


def decay_rate(half_life_days: float) -> float:
    """The exponent per day of the decay: ``-ln 2 / half_life_days``."""
    return -math.log(2.0) / half_life_days


def decay(age_days, half_life_days: float):
    """The weight of an action ``age_days`` old (1 now, 1/2 after one half-life)."""
    return np.exp(decay_rate(half_life_days) * np.asarray(age_days, dtype=np.float64))


class InterestAccumulator:
    """Sums decayed, weighted events into (customer × category) and (customer × brand) matrices,
    and records in which months each customer viewed anything (visitors per month).

    ``catalog`` is the shop's product table as positions: ``locate(product_ids)`` → (rows,
    found), ``product_category`` and ``product_brand`` (column per product row, -1 without),
    ``category_ids`` and ``brand_ids`` (the matrices' columns).
    """

    def __init__(self, customer_ids: np.ndarray, catalog, as_of: datetime, half_life_days: float):
        self.customers, self.catalog, self.half_life = IdIndex(customer_ids), catalog, half_life_days
        n = len(customer_ids)
        # float32 halves the largest arrays of a run; seven digits are plenty for interest shares
        self.categories = np.zeros((n, len(catalog.category_ids)), dtype=np.float32)
        self.brands = np.zeros((n, len(catalog.brand_ids)), dtype=np.float32)
        self.months = np.zeros(n, dtype=np.int64)
        # month_ends[m]: the largest age (seconds) of an event in the m-th month before as_of's month
        month = np.datetime64(as_of.replace(day=1, hour=0, minute=0, second=0, microsecond=0), "M")
        starts = (month - np.arange(MONTHS)).astype("datetime64[s]")
        self.month_ends = (np.datetime64(as_of.replace(microsecond=0), "s") - starts).astype(np.int64)
        self.counts: dict[str, int] = {}

    def _count(self, key: str, value: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + int(value)

    def add_grouped(self, kind: str, customer_ids: np.ndarray, per_customer: np.ndarray, product_ids: np.ndarray,
                    age_seconds: np.ndarray, weight: float, track_months: bool = False) -> None:
        """Events grouped by customer: ``per_customer[i]`` events of ``customer_ids[i]`` in a row."""
        rows, known = self.customers.locate(customer_ids)
        self._count(f"{kind}_rows", per_customer.sum())
        self._count(f"{kind}_orphan_rows", per_customer[~known].sum())
        local = np.repeat(np.arange(len(rows)), per_customer)
        keep = known[local]
        local, product_ids, age_seconds = local[keep], product_ids[keep], age_seconds[keep]
        # renumber the known customers 0..k-1 (they stay in their original order)
        renumber = np.cumsum(known) - 1
        touched, local = rows[known], renumber[local]
        if track_months:
            self._add_months(touched, local, age_seconds)
        self._add(kind, touched, local, product_ids, age_seconds, weight)

    def add(self, kind: str, rows: np.ndarray, product_ids: np.ndarray, age_seconds: np.ndarray,
            weight: float) -> None:
        """Events of customers given by their rows in the customer table, in any order."""
        self._count(f"{kind}_rows", len(rows))
        touched, local = np.unique(rows, return_inverse=True)
        self._add(kind, touched, local.ravel(), product_ids, age_seconds, weight)

    def _add(self, kind: str, touched: np.ndarray, local: np.ndarray, product_ids: np.ndarray,
             age_seconds: np.ndarray, weight: float) -> None:
        products, found = self.catalog.locate(product_ids)
        self._count(f"{kind}_unknown_product_rows", (~found).sum())
        local, products = local[found], products[found]
        scores = weight * decay(age_seconds[found] / DAY, self.half_life)
        self._scatter(self.categories, touched, local, self.catalog.product_category[products], scores)
        self._scatter(self.brands, touched, local, self.catalog.product_brand[products], scores)

    def add_scores(self, rows: np.ndarray, columns: np.ndarray, scores: np.ndarray, brands: bool = False) -> None:
        """Scores aggregated elsewhere (the view beacon's), by customer row and category column
        (``brands``: brand column)."""
        touched, local = np.unique(rows, return_inverse=True)
        self._scatter(self.brands if brands else self.categories, touched, local.ravel(), columns, scores)

    def add_months(self, rows: np.ndarray, months_back: np.ndarray) -> None:
        """Visits counted elsewhere: customer rows and how many months before as-of's month each was."""
        ok = (months_back >= 0) & (months_back < MONTHS)
        bits = np.zeros(len(self.months), dtype=np.int64)
        np.bitwise_or.at(bits, rows[ok], np.left_shift(np.int64(1), months_back[ok].astype(np.int64)))
        self.months |= bits

    @staticmethod
    def _scatter(matrix: np.ndarray, touched: np.ndarray, local: np.ndarray, columns: np.ndarray,
                 scores: np.ndarray) -> None:
        """matrix[touched[local[i]], columns[i]] += scores[i] (columns < 0 are skipped)."""
        width = matrix.shape[1]
        ok = columns >= 0
        if width == 0 or not ok.any():
            return
        sums = np.bincount(local[ok] * width + columns[ok], weights=scores[ok], minlength=len(touched) * width)
        matrix[touched] += sums.reshape(len(touched), width)

    def _add_months(self, touched: np.ndarray, local: np.ndarray, age_seconds: np.ndarray) -> None:
        back = np.searchsorted(self.month_ends, age_seconds, side="left")
        ok = back < MONTHS
        bits = np.zeros(len(touched), dtype=np.int64)
        np.bitwise_or.at(bits, local[ok], np.left_shift(np.int64(1), back[ok]))
        self.months[touched] |= bits


def order_features(customer: np.ndarray, age_days: np.ndarray, total: np.ndarray, n_customers: int,
                   window_days: int, growth_days: int) -> dict[str, np.ndarray]:
    """Per customer, the inputs of R, F and M and of the growth rule: orders ever, days since the
    last and the first order, orders and spend inside the value window, spend inside the growth
    window. ``customer`` is each order's customer row, ``age_days`` its age at the as-of date."""
    c, age = customer, age_days
    in_window, in_growth = age < window_days, age < growth_days  # younger than the window: one rule for every edge
    recency = np.full(n_customers, np.inf)
    first = np.full(n_customers, -np.inf)
    np.minimum.at(recency, c, age)
    np.maximum.at(first, c, age)
    return {
        "orders_total": np.bincount(c, minlength=n_customers).astype(np.int64),
        "recency_days": np.where(np.isfinite(recency), recency, np.nan),
        "first_order_days": np.where(np.isfinite(first), first, np.nan),
        "frequency": np.bincount(c, weights=in_window, minlength=n_customers).astype(np.int64),
        "monetary": np.bincount(c, weights=total * in_window, minlength=n_customers),
        "recent_spend": np.bincount(c, weights=total * in_growth, minlength=n_customers),
    }
