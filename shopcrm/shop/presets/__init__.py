"""Mapping presets for the shops shopcrm knows, so a shop admin never writes SQL.

* ``generic``: the seed shop's schema (``generic_schema.py``), which the demo generator writes;
* ``opencart`` (4.1.0.1 and newer), ``opencart40`` (4.0.x to 4.1.0.0) and ``opencart3`` (3.x);
* ``prestashop`` (8.x; 1.7 has the same tables for what shopcrm reads).

Each preset is a function ``(prefix, language_id, store_id, order_statuses) -> ShopMapping``;
``None`` means "the preset's default". What a preset cannot read, and why, is in its
``ShopMapping.notes`` (``doctor`` shows them; docs/MAPPING.md lists them).
"""
from __future__ import annotations

from typing import Any, Callable

from ...errors import MappingError
from ..mapping import ShopMapping
from .generic import generic
from .opencart import opencart, opencart3, opencart40
from .prestashop import prestashop

PRESETS: dict[str, Callable[..., ShopMapping]] = {
    "generic": generic,
    "opencart": opencart,
    "opencart40": opencart40,
    "opencart3": opencart3,
    "prestashop": prestashop,
}


def preset(name: str, prefix: str | None = None, **params: Any) -> ShopMapping:
    """The preset ``name``; ``params`` are language_id, store_id and order_statuses."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise MappingError(f"unknown mapping preset {name!r}; known presets: {', '.join(sorted(PRESETS))}") from None
    unknown = set(params) - {"language_id", "store_id", "order_statuses"}
    if unknown:
        raise MappingError(f"preset {name!r}: unknown parameter(s) {', '.join(sorted(unknown))}")
    return factory(prefix=prefix, **{k: v for k, v in params.items() if v is not None})


__all__ = ["PRESETS", "preset"]
