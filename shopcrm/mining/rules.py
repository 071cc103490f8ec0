"""Association rules (market basket) and sequence rules (seed 002).

**Pair rules** ``A → B`` between single items (products, or categories): with ``n`` baskets
(orders), ``n(A)`` baskets holding A and ``n(A, B)`` holding both,

    support = n(A, B) / n,   confidence = n(A, B) / n(A),   lift = confidence / (n(B) / n).

All pair counts come from one sparse product ``BᵀB`` of the basket × item incidence matrix,
so the cost grows with the pairs that really occur, not with the item count squared, and
there is no candidate generation as in apriori (only pairs are mined: what recommendations
use).

**Sequence rules** "bought A, later bought B" count customers instead of baskets: a customer
supports ``A ⇒ B`` when their first purchase of B came strictly after their first purchase of
A. With ``m`` buying customers, ``m(A)`` customers who bought A and ``m(A ⇒ B)``,

    support = m(A ⇒ B) / m,   confidence = m(A ⇒ B) / m(A),   lift = confidence / (m(B) / m).
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

RULE_FIELDS = ("antecedent", "consequent", "count", "support", "confidence", "lift")


def _empty_rules() -> dict[str, np.ndarray]:
    return {f: np.empty(0, dtype=np.int64 if f in RULE_FIELDS[:3] else np.float64) for f in RULE_FIELDS}


class _RuleFilter:
    """Thresholds shared by both kinds of rules."""

    def __init__(self, min_support: float, min_confidence: float, min_lift: float, min_count: int, max_rules: int):
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.min_lift = min_lift
        self.min_count = min_count
        self.max_rules = max_rules

    def _rules(self, items: np.ndarray, a: np.ndarray, b: np.ndarray, both: np.ndarray, single: np.ndarray,
               total: int) -> dict[str, np.ndarray]:
        """Rules from pair counts ``both`` of item positions (a, b) and per-item counts."""
        if total == 0 or len(both) == 0:
            return _empty_rules()
        support = both / total
        confidence = both / single[a]
        lift = confidence / (single[b] / total)
        keep = ((both >= self.min_count) & (support >= self.min_support) & (confidence >= self.min_confidence)
                & (lift >= self.min_lift))
        a, b, both, support, confidence, lift = (x[keep] for x in (a, b, both, support, confidence, lift))
        # Strongest first: by confidence, then lift, then count; ids break ties for reproducibility.
        order = np.lexsort((items[b], items[a], -both, -lift, -confidence))[: self.max_rules]
        return {"antecedent": items[a][order], "consequent": items[b][order], "count": both[order].astype(np.int64),
                "support": support[order], "confidence": confidence[order], "lift": lift[order]}


class PairRules(_RuleFilter):
    """Pair rules from baskets.

    ``fit(baskets, items)`` takes two parallel arrays: the basket (order) of each entry and
    the item in it. Duplicate entries count once per basket.

    Attributes
    ----------
    rules_ : dict of arrays (antecedent, consequent, count, support, confidence, lift), strongest first
    n_baskets_ : baskets counted (the support's denominator)
    items_, item_counts_ : every item seen and the baskets holding it
    """

    def __init__(self, min_support: float = 0.0, min_confidence: float = 0.05, min_lift: float = 1.0,
                 min_count: int = 5, max_rules: int = 5000):
        super().__init__(min_support, min_confidence, min_lift, min_count, max_rules)

    def fit(self, baskets: np.ndarray, items: np.ndarray, y=None) -> "PairRules":
        baskets, items = np.asarray(baskets, dtype=np.int64), np.asarray(items, dtype=np.int64)
        basket_ids, b = np.unique(baskets, return_inverse=True)
        self.items_, j = np.unique(items, return_inverse=True)
        self.n_baskets_ = len(basket_ids)
        incidence = sparse.csr_matrix((np.ones(len(b), dtype=np.int64), (b.ravel(), j.ravel())),
                                      shape=(len(basket_ids), len(self.items_)))
        incidence.data[:] = 1  # duplicates were summed: count a basket once
        co = (incidence.T @ incidence).tocoo()
        self.item_counts_ = np.asarray(incidence.sum(axis=0)).ravel()
        off = co.row != co.col
        self.rules_ = self._rules(self.items_, co.row[off], co.col[off], co.data[off], self.item_counts_,
                                  self.n_baskets_)
        return self


class SequenceRules(_RuleFilter):
    """"Bought A, later bought B" rules over customers.

    ``fit(customers, items, times)`` takes parallel arrays of purchases (time: any number
    that grows with time, e.g. days before now negated). Only each customer's first purchase
    of an item matters; at most ``max_items_per_customer`` items per customer (their first
    ones) are paired, which bounds the work for a few very heavy buyers.

    Attributes
    ----------
    rules_ : as for :class:`PairRules`
    n_customers_ : buying customers counted
    """

    def __init__(self, min_support: float = 0.0, min_confidence: float = 0.05, min_lift: float = 1.0,
                 min_count: int = 5, max_rules: int = 5000, max_items_per_customer: int = 50):
        super().__init__(min_support, min_confidence, min_lift, min_count, max_rules)
        self.max_items_per_customer = max_items_per_customer

    def fit(self, customers: np.ndarray, items: np.ndarray, times: np.ndarray, y=None) -> "SequenceRules":
        customers = np.asarray(customers, dtype=np.int64)
        times = np.asarray(times, dtype=np.float64)
        self.items_, j = np.unique(np.asarray(items, dtype=np.int64), return_inverse=True)
        m = max(len(self.items_), 1)
        _, c = np.unique(customers, return_inverse=True)
        # First purchase of each (customer, item): group by one integer key, keep the minimum time.
        key = c.ravel() * m + j.ravel()
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.empty(0, np.int64)
        t = np.minimum.reduceat(times[order], starts) if len(key) else np.empty(0)
        c, j = key[starts] // m, key[starts] % m
        # Per customer in time order (stable sorts: ties keep item order), first items only.
        order = np.argsort(t, kind="stable")
        order = order[np.argsort(c[order], kind="stable")]
        c, j, t = c[order], j[order], t[order]
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if len(c) else np.empty(0, np.int64)
        sizes = np.diff(np.r_[starts, len(c)])
        rank = np.arange(len(c)) - np.repeat(starts, sizes)
        keep = rank < self.max_items_per_customer
        j, t, rank = j[keep], t[keep], rank[keep]
        sizes = np.minimum(sizes, self.max_items_per_customer)
        self.n_customers_ = len(starts)
        single = np.bincount(j, minlength=len(self.items_))
        # Every ordered pair (earlier, later) within a customer: element p pairs with the
        # elements after it in its customer's list.
        later = np.repeat(sizes, sizes) - 1 - rank
        a_pos = np.repeat(np.arange(len(j)), later)
        offsets = np.arange(len(a_pos)) - np.repeat(np.cumsum(later) - later, later)
        b_pos = a_pos + 1 + offsets
        strictly = t[b_pos] > t[a_pos]
        codes = j[a_pos[strictly]] * m + j[b_pos[strictly]]
        if m * m <= 1 << 24:  # few items: count every pair code directly
            both = np.bincount(codes, minlength=m * m)
            codes = np.flatnonzero(both)
            both = both[codes]
        else:
            codes, both = np.unique(codes, return_counts=True)
        self.rules_ = self._rules(self.items_, codes // m, codes % m, both, single, self.n_customers_)
        return self
