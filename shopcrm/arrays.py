"""numpy helpers every layer may use: sorted distinct values and fast id look-ups.

Plain numpy, nothing of Flask or the database (the shop readers and the analyses both need them)."""
from __future__ import annotations

import numpy as np


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values. ``np.unique`` without other outputs takes a hash-table path in
    NumPy 2.x that is far slower than sorting for a million widely spread integers."""
    values = np.sort(np.asarray(values).ravel())
    if len(values) == 0:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def locate(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``ids`` in the sorted ``sorted_ids`` and a mask of those found."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(sorted_ids) == 0:
        return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return pos, sorted_ids[pos] == ids


class IdIndex:
    """Positions of ids in a sorted, unique id array, for millions of look-ups.

    Shop ids are mostly dense, so a direct table (one slot per id in the range) answers a
    look-up with one ``take``; sparse ids fall back to binary search.
    """

    def __init__(self, sorted_ids: np.ndarray):
        self.ids = np.asarray(sorted_ids, dtype=np.int64)
        self.table = None
        if len(self.ids) and self.ids[-1] - self.ids[0] < max(4 * len(self.ids), 1 << 20):
            self.base = int(self.ids[0])
            self.table = np.full(int(self.ids[-1]) - self.base + 1, -1, dtype=np.int64)
            self.table[self.ids - self.base] = np.arange(len(self.ids))

    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.table is None:
            return locate(self.ids, ids)
        offset = np.asarray(ids, dtype=np.int64) - self.base
        inside = (offset >= 0) & (offset < len(self.table))
        pos = np.where(inside, self.table[np.where(inside, offset, 0)], -1)
        return np.maximum(pos, 0), pos >= 0


def positions(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for the ids a run passes (orders, customers,
    products: non-negative, not much larger than their count) by marking them in a table
    instead of sorting them: a run's memory peaks here, and a sort of a million ids takes
    several copies of them; other values go through ``np.unique``."""
    values = np.asarray(values).ravel()
    if (values.dtype.kind not in "iu" or len(values) == 0 or values.min() < 0
            or values.max() > 4 * len(values) + 1024):
        ids, inverse = np.unique(values, return_inverse=True)
        return ids, inverse.ravel()
    present = np.zeros(int(values.max()) + 1, dtype=bool)
    present[values] = True
    position = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present), position[values]
