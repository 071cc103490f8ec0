"""Mapping presets for shops shopcrm knows.

``generic`` reads the seed shop's schema (``generic_schema.py``), which the demo generator
writes. Presets for real shops (OpenCart, PrestaShop) sit beside it.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import MappingError
from .generic_schema import VALID_ORDER_STATUSES
from .mapping import EntityMap, ShopMapping


def generic(prefix: str = "", **params: Any) -> ShopMapping:
    statuses = list(params.get("order_statuses") or VALID_ORDER_STATUSES)
    return ShopMapping(
        name="generic",
        prefix=prefix,
        entities={
            "customer": EntityMap(
                "customer", table="customers",
                columns={"id": "customer_id", "email": "email", "first_name": "first_name",
                         "last_name": "last_name", "created_at": "created_at", "city": "city",
                         "region": "region", "country": "country", "source": "source", "consent": "newsletter"},
                where={"active": 1},
            ),
            "product": EntityMap(
                "product", table="products",
                columns={"id": "product_id", "name": "name", "price": "price", "category_id": "category_id",
                         "brand_id": "brand_id", "url": "url", "image_url": "image_url", "active": "active",
                         "in_stock": "stock"},
            ),
            "category": EntityMap("category", table="categories",
                                  columns={"id": "category_id", "name": "name", "parent_id": "parent_id"}),
            "brand": EntityMap("brand", table="brands", columns={"id": "brand_id", "name": "name"}),
            "view": EntityMap("view", table="product_views",
                              columns={"customer_id": "customer_id", "product_id": "product_id",
                                       "viewed_at": "viewed_at"}),
            "cart_item": EntityMap("cart_item", table="cart_items",
                                   columns={"customer_id": "customer_id", "product_id": "product_id",
                                            "quantity": "quantity", "added_at": "added_at"}),
            "order": EntityMap("order", table="orders",
                               columns={"id": "order_id", "customer_id": "customer_id", "placed_at": "placed_at",
                                        "total": "total"},
                               where={"status": statuses}),
            "order_line": EntityMap("order_line", table="order_lines",
                                    columns={"order_id": "order_id", "product_id": "product_id",
                                             "quantity": "quantity", "unit_price": "unit_price"}),
        },
    )


PRESETS: dict[str, Callable[..., ShopMapping]] = {"generic": generic}


def preset(name: str, prefix: str = "", **params: Any) -> ShopMapping:
    try:
        factory = PRESETS[name]
    except KeyError:
        raise MappingError(f"unknown mapping preset {name!r}; known presets: {', '.join(sorted(PRESETS))}") from None
    return factory(prefix=prefix, **params)
