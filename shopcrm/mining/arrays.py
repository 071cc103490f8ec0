"""Array helpers the analyses share."""
from __future__ import annotations

import numpy as np


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values. ``np.unique`` without other outputs takes a hash-table path in
    NumPy 2.x that is ~50× slower than sorting for a million widely spread integers."""
    values = np.sort(np.asarray(values).ravel())
    if len(values) == 0:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]
