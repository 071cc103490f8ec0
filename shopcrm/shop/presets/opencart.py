"""OpenCart presets: 4.1.0.1+ (``opencart``), 4.0.x–4.1.0.0 (``opencart40``), 3.x (``opencart3``).

What differs between the versions, for what shopcrm reads (reference/shop-schemas.md):

* zone (region) names: ``zone_description`` per language from 4.1.0.1, ``zone.name`` before;
* the default address: ``address.default = 1`` in 4.x, ``customer.address_id`` in 3.x.

Everything else shopcrm reads has the same columns in all three. OpenCart stores every text a
user typed HTML-escaped (``htmlspecialchars``: ``Coffee &amp; tea``); names are decoded in SQL
so that shopcrm escapes them exactly once, like every other shop's names.
"""
from __future__ import annotations

from ...errors import MappingError
from ..mapping import EntityMap, IndexHint, ShopMapping

#: OpenCart's own defaults: config_processing_status (5, 1, 2, 12, 3) and config_complete_status (5, 3).
DEFAULT_ORDER_STATUSES = (1, 2, 3, 5, 12)
DEFAULT_PREFIX = "oc_"
BEACON_DOC = "docs/MAPPING.md#the-view-beacon"


def _decoded(column: str) -> str:
    """``column`` with the entities htmlspecialchars() writes turned back into characters.

    ``&amp;`` goes last, so ``&amp;lt;`` (a literal "&lt;" typed by the admin) becomes "&lt;".
    """
    expression = column
    for entity, char in (("&quot;", '"'), ("&#039;", "''"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        expression = f"REPLACE({expression}, '{entity}', '{char}')"
    return expression


def _statuses(order_statuses) -> list[int]:
    try:
        statuses = sorted({int(s) for s in order_statuses})
    except (TypeError, ValueError):
        raise MappingError("SHOPCRM_SHOP_ORDER_STATUSES: OpenCart order statuses are numbers "
                           f"(order_status_id), e.g. 2,3,5; got {list(order_statuses)!r}") from None
    if not statuses:
        raise MappingError("SHOPCRM_SHOP_ORDER_STATUSES: give at least one OpenCart order status")
    if 0 in statuses:
        raise MappingError("SHOPCRM_SHOP_ORDER_STATUSES: status 0 is OpenCart's 'missing order' (a checkout "
                           "that was never finished); it never counts as a sale")
    return statuses


def _customer_select(version: str) -> str:
    if version == "3":
        address = "c.address_id"
    else:
        address = ("(SELECT MIN(d.address_id) FROM {prefix}address d "
                   "WHERE d.customer_id = c.customer_id AND d.`default` = 1)")
    if version == "4.1":
        region_join = ("LEFT JOIN {prefix}zone_description z ON z.zone_id = a.zone_id "
                       "AND z.language_id = :language_id")
    else:
        region_join = "LEFT JOIN {prefix}zone z ON z.zone_id = a.zone_id"
    return f"""
SELECT c.customer_id AS id, {_decoded('c.email')} AS email,
       {_decoded('c.firstname')} AS first_name, {_decoded('c.lastname')} AS last_name,
       c.date_added AS created_at, {_decoded('a.city')} AS city, {_decoded('z.name')} AS region,
       co.iso_code_2 AS country,
       CASE WHEN c.newsletter = 1 AND c.status = 1 THEN 1 ELSE 0 END AS consent,
       c.telephone AS phone
FROM {{prefix}}customer c
LEFT JOIN {{prefix}}address a ON a.address_id = {address}
LEFT JOIN {{prefix}}country co ON co.country_id = a.country_id
{region_join}
WHERE c.status = 1
"""


PRODUCT = f"""
SELECT p.product_id AS id, {_decoded('pd.name')} AS name, p.price AS price,
       (SELECT p2c.category_id
          FROM {{prefix}}product_to_category p2c
          LEFT JOIN {{prefix}}category_path cp ON cp.category_id = p2c.category_id AND cp.path_id = p2c.category_id
         WHERE p2c.product_id = p.product_id
         ORDER BY cp.level DESC,
                  (SELECT COUNT(*) FROM {{prefix}}product_to_category n WHERE n.category_id = p2c.category_id),
                  p2c.category_id
         LIMIT 1) AS category_id,
       NULLIF(p.manufacturer_id, 0) AS brand_id,
       CONCAT('index.php?route=product/product&product_id=', p.product_id) AS url,
       CASE WHEN p.image <> '' THEN CONCAT('image/', p.image) END AS image_url,
       p.status AS active, p.quantity AS in_stock
FROM {{prefix}}product p
LEFT JOIN {{prefix}}product_description pd ON pd.product_id = p.product_id AND pd.language_id = :language_id
"""

CATEGORY = f"""
SELECT c.category_id AS id, {_decoded('cd.name')} AS name, NULLIF(c.parent_id, 0) AS parent_id
FROM {{prefix}}category c
LEFT JOIN {{prefix}}category_description cd ON cd.category_id = c.category_id AND cd.language_id = :language_id
"""

BRAND = f"SELECT m.manufacturer_id AS id, {_decoded('m.name')} AS name FROM {{prefix}}manufacturer m"

CART_ITEM = """
SELECT customer_id, product_id, quantity, date_added AS added_at
FROM {prefix}cart
WHERE customer_id > 0
"""

ORDER = """
SELECT o.order_id AS id, NULLIF(o.customer_id, 0) AS customer_id, o.date_added AS placed_at, o.total AS total
FROM `{prefix}order` o
WHERE o.order_status_id IN :order_statuses
"""

ORDER_LINE = """
SELECT op.order_id AS order_id, op.product_id AS product_id, op.quantity AS quantity,
       op.price + op.tax AS unit_price
FROM {prefix}order_product op
"""

NOTES = {
    "customer": "Customers with status = 0 (disabled, or waiting for approval) are left out. Guest checkouts "
                "create no customer account, so guests are not customers for shopcrm. OpenCart records no "
                "acquisition source per customer (source stays empty). City, region and country come from "
                "the customer's default address.",
    "product": "A product linked to several categories gets one: the deepest (category_path.level), then the "
               "one with the fewest products (the most specific: OpenCart's demo lists its phones under "
               "'Desktops' too), then the lowest category_id. product_to_store is not read: products of every store are read. Links are "
               "the plain index.php?route=product/product&product_id=… address (SEO URLs are not read).",
    "view": "OpenCart keeps no per-customer product views: product_report (4.x, off by default) holds only the "
            "visitor's IP address and product.viewed (3.x) is a shop-wide counter. Views come from shopcrm's "
            f"view beacon (crm_view): install it on the product page, see {BEACON_DOC}.",
    "cart_item": "Only carts of logged-in customers are read (customer_id > 0); OpenCart deletes guest carts "
                 "when their session expires.",
    "order": "An order counts when its order_status_id is in SHOPCRM_SHOP_ORDER_STATUSES (default 1, 2, 3, 5, "
             "12: OpenCart's default 'processing' and 'complete' statuses; set it to your shop's, see System > "
             "Settings > Option > Checkout). Status 0 ('missing orders') never counts. Guest orders "
             "(customer_id 0) count for products but belong to no customer. Totals are in the default currency.",
}


def _opencart(version: str, prefix: str | None, language_id: int = 1, order_statuses=DEFAULT_ORDER_STATUSES,
              store_id=None) -> ShopMapping:
    if store_id is not None:
        raise MappingError("SHOPCRM_SHOP_STORE_ID does not apply to OpenCart: shopcrm reads every store "
                           "(product and category names have no store)")
    name = {"4.1": "opencart", "4.0": "opencart40", "3": "opencart3"}[version]
    hints = (IndexHint("order", ("customer_id", "order_status_id", "date_added", "total")),)
    notes = dict(NOTES)
    if version != "4.1":
        notes["customer"] += (" Region names come from zone.name (before 4.1.0.1 names were not per language)."
                              if version == "4.0" else
                              " The default address is customer.address_id; region names come from zone.name.")
    return ShopMapping(
        name=name,
        prefix=DEFAULT_PREFIX if prefix is None else prefix,
        params={"language_id": int(language_id), "order_statuses": _statuses(order_statuses)},
        entities={
            "customer": EntityMap("customer", select=_customer_select(version),
                                  returns=("id", "email", "first_name", "last_name", "created_at", "city", "region",
                                           "country", "consent", "phone"),
                                  indexes=(IndexHint("address", ("customer_id",)),)),
            "product": EntityMap("product", select=PRODUCT,
                                 indexes=(IndexHint("product_to_category", ("product_id", "category_id")),
                                          IndexHint("category_path", ("category_id", "path_id")))),
            "category": EntityMap("category", select=CATEGORY),
            "brand": EntityMap("brand", select=BRAND),
            "view": EntityMap("view", store="crm"),
            "cart_item": EntityMap("cart_item", select=CART_ITEM,
                                   indexes=(IndexHint("cart", ("customer_id", "product_id", "date_added")),)),
            "order": EntityMap("order", select=ORDER, indexes=hints),
            "order_line": EntityMap("order_line", select=ORDER_LINE,
                                    indexes=(IndexHint("order_product", ("order_id", "product_id")),)),
        },
        notes=notes,
    )


def opencart(prefix: str | None = None, **params) -> ShopMapping:
    """OpenCart 4.1.0.1 and newer."""
    return _opencart("4.1", prefix, **params)


def opencart40(prefix: str | None = None, **params) -> ShopMapping:
    """OpenCart 4.0.x to 4.1.0.0 (zone names not yet per language)."""
    return _opencart("4.0", prefix, **params)


def opencart3(prefix: str | None = None, **params) -> ShopMapping:
    """OpenCart 3.x."""
    return _opencart("3", prefix, **params)
