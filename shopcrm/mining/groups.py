"""Location and source groups (seed 001): customers and revenue per place and per channel.

Seed 001 clusters customers by where they are and by the medium that brought them, and shows
the groups as pie charts and reports so the business sees its profitable areas and the media
that respond best. A group is a value of a categorical field (a country, a region within a
country, a city within a region, an acquisition source); there is nothing to learn, only to
count, so this is a group-by, not a clustering algorithm.
"""
from __future__ import annotations

import numpy as np

UNKNOWN = "(unknown)"
OTHER = "(other)"


def _labels(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct cleaned labels and each customer's label index (missing or blank: unknown)."""
    arr = np.array(values, dtype=object)
    arr[np.equal(arr, None)] = ""
    labels, inverse = np.unique(np.char.strip(arr.astype(str)), return_inverse=True)  # sorted in C, not Python
    labels = labels.astype(object)
    labels[labels == ""] = UNKNOWN
    return labels, inverse.ravel()


def group_totals(keys: list[np.ndarray], revenue: np.ndarray, buyers: np.ndarray, top: int = 50) -> list[dict]:
    """Customers, buyers and revenue per distinct combination of ``keys``, largest first.

    ``keys`` are parallel per-customer label arrays (e.g. [country, region, city]); empty
    or missing labels count as ``(unknown)``. Beyond ``top`` groups the rest is summed into
    one ``(other)`` group, so a shop with thousands of cities stores a bounded report.
    """
    if not keys or len(keys[0]) == 0:
        return []
    parts = [_labels(k) for k in keys]
    code = np.zeros(len(keys[0]), dtype=np.int64)
    for labels, inverse in parts:
        code = code * len(labels) + inverse
    codes, group = np.unique(code, return_inverse=True)
    group = group.ravel()
    customers = np.bincount(group, minlength=len(codes))
    buying = np.bincount(group, weights=np.asarray(buyers, dtype=np.float64), minlength=len(codes))
    money = np.bincount(group, weights=np.asarray(revenue, dtype=np.float64), minlength=len(codes))

    def key_of(c: int) -> list[str]:
        names = []
        for labels, _ in reversed(parts):
            c, i = divmod(c, len(labels))
            names.append(str(labels[i]))
        return names[::-1]

    keys_text = [key_of(int(c)) for c in codes]
    order = sorted(range(len(codes)), key=lambda i: (-customers[i], -money[i], keys_text[i]))
    groups = [{"key": keys_text[i], "customers": int(customers[i]), "buyers": int(buying[i]),
               "revenue": round(float(money[i]), 2)} for i in order[:top]]
    rest = order[top:]
    if rest:
        groups.append({"key": [OTHER] * len(keys), "customers": int(customers[rest].sum()),
                       "buyers": int(buying[rest].sum()), "revenue": round(float(money[rest].sum()), 2)})
    return groups


def location_source_groups(country: np.ndarray, region: np.ndarray, city: np.ndarray, source: np.ndarray,
                           revenue: np.ndarray, buyers: np.ndarray, top: int = 50) -> dict[str, list[dict]]:
    """The four reports: by country, by region (within its country), by city (within its
    region and country) and by acquisition source."""
    return {
        "country": group_totals([country], revenue, buyers, top),
        "region": group_totals([country, region], revenue, buyers, top),
        "city": group_totals([country, region, city], revenue, buyers, top),
        "source": group_totals([source], revenue, buyers, top),
    }
