"""Product recommendations for an email: what goes with what they bought, then their interests.

Pure functions over data the caller has already fetched (association rules of the run, popular
products per category, the customer's purchases), so the enqueue loop fetches once per chunk
of customers, not per email. Klaviyo's rule applies: never recommend what the customer already
bought, what cannot be sold (inactive, no price) or the item the email is about.
"""
from __future__ import annotations

import functools
from urllib.parse import urljoin, urlsplit

from ..formatting import currency, locale, money


def product_url(base_url: str, url: object) -> str:
    """An absolute http(s) link into the shop; anything else falls back to the shop's home."""
    if not isinstance(url, str) or not url.strip():
        return base_url
    absolute = urljoin(base_url, url.strip())
    return absolute if urlsplit(absolute).scheme in ("http", "https") else base_url


def image_url(base_url: str, url: object) -> str | None:
    """An absolute http(s) image address, or ``None`` (the template then shows no image)."""
    if not isinstance(url, str) or not url.strip():
        return None
    absolute = urljoin(base_url, url.strip())
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def format_price(value: object) -> str:
    """A price as the shop writes it (``formatting.money``: the shop's currency and locale), or
    nothing when the shop has no usable price."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return _price(number, currency(), locale())


@functools.lru_cache(maxsize=8192)
def _price(number: float, currency_code: str, locale_name: str) -> str:
    """Babel's formatting is most of a product's cost in an email, and a catalogue's prices repeat
    across thousands of emails: kept per (price, currency, locale)."""
    return money(number)


def sellable(product: dict | None) -> bool:
    """Active, with a price: the only products an email may offer."""
    if not product:
        return False
    try:
        return int(product.get("active", 1) or 0) == 1 and float(product.get("price") or 0) > 0
    except (TypeError, ValueError):
        return False


def related(owned: set[int], rules: dict[int, list[tuple[int, float]]], products: dict[int, dict]) -> list[dict]:
    """Products the association rules pair with ``owned`` (bought, or in the cart), strongest
    rule first. ``rules`` maps an antecedent to its (consequent, confidence) pairs."""
    best: dict[int, float] = {}
    for antecedent in owned:
        for consequent, confidence in rules.get(antecedent, ()):
            if confidence > best.get(consequent, -1.0):
                best[consequent] = confidence
    ranked = sorted(best, key=lambda pid: (-best[pid], pid))
    return [products[pid] for pid in ranked if sellable(products.get(pid))]


def best_categories(popular: dict[int, list[dict]]) -> list[int]:
    """Categories by how well their best seller sells: where a customer with no known interests
    (or whose interests are bought out) gets picks from."""
    return sorted(popular, key=lambda c: (-int((popular[c][0].get("sold") or 0) if popular[c] else 0), c))


def _round_robin(picked: list[dict], seen: set[int], queues: list[list[dict]], n: int) -> None:
    queues = [[p for p in queue if int(p["id"]) not in seen] for queue in queues]
    while len(picked) < n and any(queues):
        for queue in queues:
            while queue and int(queue[0]["id"]) in seen:
                queue.pop(0)
            if queue and len(picked) < n:
                product = queue.pop(0)
                seen.add(int(product["id"]))
                picked.append(product)


def recommend(top_categories: list[int], popular: dict[int, list[dict]], bought: set[int], n: int,
              exclude: set[int] = frozenset(), paired: list[dict] = (), fallback: list[int] = ()) -> list[dict]:
    """Up to ``n`` products: first those ``paired`` by association rules, then taken in turn
    from the customer's top categories (best sellers first), then from the ``fallback``
    categories (the shop's best, for a customer whose interests are unknown or bought out).

    Skips products the customer bought and ``exclude`` (e.g. the item a reminder is about).
    ``popular`` already holds only sellable products (active, priced).
    """
    picked: list[dict] = []
    seen: set[int] = set(bought) | set(exclude)
    for product in paired:
        pid = int(product["id"])
        if len(picked) < n and pid not in seen:
            seen.add(pid)
            picked.append(product)
    _round_robin(picked, seen, [popular.get(c, []) for c in top_categories], n)
    others = [c for c in fallback if c not in set(top_categories)]
    _round_robin(picked, seen, [popular.get(c, []) for c in others], n)
    return picked
