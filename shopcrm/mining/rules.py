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

from ..arrays import positions

RULE_FIELDS = ("antecedent", "consequent", "count", "support", "confidence", "lift")
PAIR_CHUNK = 250_000  # ordered pairs generated at a time for sequence rules
DENSE_PAIR_TABLE = 1 << 22  # up to this many (item × item) cells, sequence pairs are counted in a table


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
        # The count threshold first, on integers: most pairs occur a few times, and the three
        # float columns are then made for the pairs that may pass only.
        counted = both >= self.min_count
        a, b, both = a[counted], b[counted], both[counted]
        support = both / total
        confidence = both / single[a]
        lift = confidence / (single[b] / total)
        keep = (support >= self.min_support) & (confidence >= self.min_confidence) & (lift >= self.min_lift)
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
        basket_ids, b = positions(baskets)
        self.items_, j = positions(items)
        self.n_baskets_ = len(basket_ids)
        incidence = sparse.csr_matrix((np.ones(len(b), dtype=np.int32), (b, j)),
                                      shape=(len(basket_ids), len(self.items_)))
        del b, j
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
        times = np.asarray(times, dtype=np.float64)
        self.items_, j = positions(items)
        m = max(len(self.items_), 1)
        _, c = positions(customers)
        # First purchase of each (customer, item): group by one integer key, keep the minimum time.
        key = c * m + j
        del c, j
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
        j, t = j[keep], t[keep]
        sizes = np.minimum(sizes, self.max_items_per_customer)
        self.n_customers_ = len(starts)
        del key, order, c, rank, keep, starts  # the pair counting below is the fit's largest step
        single = np.bincount(j, minlength=len(self.items_))
        codes, both = self._count_pairs(j, t, sizes, m)
        self.rules_ = self._rules(self.items_, codes // m, codes % m, both, single, self.n_customers_)
        return self

    @staticmethod
    def _count_pairs(j: np.ndarray, t: np.ndarray, sizes: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Customers per ordered pair (earlier item, strictly later item), as pair codes
        ``a * m + b`` and counts. Customers are taken a few thousand pairs at a time, so
        memory stays bounded however heavy the buyers are."""
        dense = m * m <= DENSE_PAIR_TABLE
        table = np.zeros(m * m if dense else 0, dtype=np.int64)
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        ends = np.cumsum(sizes)
        pair_ends = np.cumsum(sizes * (sizes - 1) // 2)
        first = 0
        while first < len(sizes):
            # the customers [first, last) hold at most PAIR_CHUNK pairs (at least one customer)
            done = pair_ends[first - 1] if first else 0
            last = max(first + 1, int(np.searchsorted(pair_ends, done + PAIR_CHUNK, side="right")))
            lo, hi = (ends[first - 1] if first else 0), ends[last - 1]
            size, jj, tt = sizes[first:last], j[lo:hi], t[lo:hi]
            rank = np.arange(hi - lo) - np.repeat(ends[first:last] - size - lo, size)
            later = np.repeat(size, size) - 1 - rank  # element p pairs with the elements after it
            a_pos = np.repeat(np.arange(hi - lo), later)
            b_pos = a_pos + 1 + (np.arange(len(a_pos)) - np.repeat(np.cumsum(later) - later, later))
            strictly = tt[b_pos] > tt[a_pos]
            codes = jj[a_pos[strictly]] * m + jj[b_pos[strictly]]
            if dense:
                table += np.bincount(codes, minlength=m * m)
            else:
                parts.append(np.unique(codes, return_counts=True))
            first = last
        if dense:
            codes = np.flatnonzero(table)
            return codes, table[codes]
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        codes, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
        both = np.bincount(inverse.ravel(), weights=np.concatenate([p[1] for p in parts]), minlength=len(codes))
        return codes, both.astype(np.int64)
