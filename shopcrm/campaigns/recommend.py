"""Product recommendations for an email: from the customer's interests, minus what they own.

Pure functions over data the caller has already fetched (popular products per category, the
customer's purchases), so the enqueue loop fetches once per chunk of customers, not per email.
"""
from __future__ import annotations

from urllib.parse import urljoin, urlsplit


def product_url(base_url: str, url: object) -> str:
    """An absolute http(s) link into the shop; anything else falls back to the shop's home."""
    if not isinstance(url, str) or not url.strip():
        return base_url
    absolute = urljoin(base_url, url.strip())
    return absolute if urlsplit(absolute).scheme in ("http", "https") else base_url


def format_price(value: object, currency: str = "€") -> str:
    try:
        return f"{currency}{float(value):,.2f}"
    except (TypeError, ValueError):
        return ""


def recommend(top_categories: list[int], popular: dict[int, list[dict]], bought: set[int], n: int,
              exclude: set[int] = frozenset()) -> list[dict]:
    """Up to ``n`` products, taken in turn from the customer's top categories.

    Skips products the customer bought and ``exclude`` (e.g. the item a reminder is about).
    ``popular`` already holds only sellable products (active, priced), best sellers first.
    """
    queues = [[p for p in popular.get(c, []) if int(p["id"]) not in bought and int(p["id"]) not in exclude]
              for c in top_categories]
    picked: list[dict] = []
    seen: set[int] = set()
    while len(picked) < n and any(queues):
        for queue in queues:
            while queue and int(queue[0]["id"]) in seen:
                queue.pop(0)
            if queue and len(picked) < n:
                product = queue.pop(0)
                seen.add(int(product["id"]))
                picked.append(product)
    return picked
