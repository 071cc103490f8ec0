"""The generic preset: the seed shop's schema, as the demo generator writes it."""
from __future__ import annotations

from ...errors import MappingError
from ..mapping import EntityMap, ShopMapping

#: Orders that count as real sales in the generic shop.
VALID_ORDER_STATUSES = ("complete", "processing")


def generic(prefix: str | None = None, order_statuses=None, language_id=None, store_id=None) -> ShopMapping:
    """Every entity is one table; real sales are orders whose ``status`` is complete or processing."""
    if language_id is not None or store_id is not None:
        raise MappingError("the generic shop has no languages or stores: leave SHOPCRM_SHOP_LANGUAGE_ID and "
                           "SHOPCRM_SHOP_STORE_ID empty")
    statuses = [str(s) for s in (order_statuses or VALID_ORDER_STATUSES)]
    return ShopMapping(
        name="generic",
        prefix=prefix or "",
        entities={
            "customer": EntityMap(
                "customer", table="customers",
                columns={"id": "customer_id", "email": "email", "first_name": "first_name",
                         "last_name": "last_name", "created_at": "created_at", "city": "city",
                         "region": "region", "country": "country", "source": "source", "consent": "newsletter",
                         "phone": "telephone", "sms_consent": "sms_optin"},
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
        notes={
            "customer": "Customers with active = 0 are left out.",
            "order": "Only orders whose status is in SHOPCRM_SHOP_ORDER_STATUSES count "
                     f"(default: {', '.join(VALID_ORDER_STATUSES)}).",
        },
    )
