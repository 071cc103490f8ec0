"""The PrestaShop preset (8.x; the tables shopcrm reads are the same in 1.7).

Guest checkout creates a real ``customer`` row with ``is_guest = 1``; shopcrm leaves those
accounts out (no account, no consent) and gives their orders no customer, like OpenCart's
``customer_id = 0``. Product views come from the statsdata module's per-visitor path when the
shop records it, and from shopcrm's view beacon.
"""
from __future__ import annotations

from ...errors import MappingError
from ..mapping import EntityMap, IndexHint, ShopMapping

DEFAULT_PREFIX = "ps_"

CUSTOMER = """
SELECT c.id_customer AS id, c.email AS email, c.firstname AS first_name, c.lastname AS last_name,
       c.date_add AS created_at, a.city AS city, st.name AS region, co.iso_code AS country,
       CASE WHEN c.newsletter = 1 AND c.active = 1 AND c.deleted = 0 THEN 1 ELSE 0 END AS consent,
       COALESCE(NULLIF(a.phone_mobile, ''), NULLIF(a.phone, '')) AS phone
FROM {prefix}customer c
LEFT JOIN {prefix}address a ON a.id_address = (
    SELECT MAX(d.id_address) FROM {prefix}address d WHERE d.id_customer = c.id_customer AND d.deleted = 0)
LEFT JOIN {prefix}country co ON co.id_country = a.id_country
LEFT JOIN {prefix}state st ON st.id_state = a.id_state
WHERE c.active = 1 AND c.deleted = 0 AND c.is_guest = 0
"""

PRODUCT = """
SELECT p.id_product AS id, pl.name AS name, p.price AS price,
       COALESCE((SELECT cp.id_category
                   FROM {prefix}category_product cp
                   JOIN {prefix}category k ON k.id_category = cp.id_category
                  WHERE cp.id_product = p.id_product
                  ORDER BY k.level_depth DESC, cp.id_category = p.id_category_default DESC, cp.id_category
                  LIMIT 1), p.id_category_default) AS category_id,
       NULLIF(p.id_manufacturer, 0) AS brand_id,
       CONCAT('index.php?controller=product&id_product=', p.id_product) AS url,
       p.active AS active,
       (SELECT MAX(s.quantity) FROM {prefix}stock_available s
         WHERE s.id_product = p.id_product AND s.id_product_attribute = 0) AS in_stock
FROM {prefix}product p
LEFT JOIN {prefix}product_lang pl ON pl.id_product = p.id_product AND pl.id_lang = :language_id
     AND pl.id_shop = :shop_id
"""

CATEGORY = """
SELECT k.id_category AS id, kl.name AS name, NULLIF(k.id_parent, 0) AS parent_id
FROM {prefix}category k
LEFT JOIN {prefix}category_lang kl ON kl.id_category = k.id_category AND kl.id_lang = :language_id
     AND kl.id_shop = :shop_id
"""

VIEW = """
SELECT g.id_customer AS customer_id, pg.id_object AS product_id, cp.time_start AS viewed_at
FROM {prefix}connections_page cp
JOIN {prefix}connections cn ON cn.id_connections = cp.id_connections
JOIN {prefix}guest g ON g.id_guest = cn.id_guest
JOIN {prefix}page pg ON pg.id_page = cp.id_page
JOIN {prefix}page_type pt ON pt.id_page_type = pg.id_page_type
WHERE g.id_customer > 0 AND pt.name = :product_page_type
"""

CART_ITEM = """
SELECT c.id_customer AS customer_id, cp.id_product AS product_id, cp.quantity AS quantity, cp.date_add AS added_at
FROM {prefix}cart_product cp
JOIN {prefix}cart c ON c.id_cart = cp.id_cart
WHERE c.id_customer > 0
  AND NOT EXISTS (SELECT 1 FROM {prefix}orders o WHERE o.id_cart = c.id_cart)
"""

ORDER = """
SELECT o.id_order AS id, CASE WHEN c.is_guest = 1 THEN NULL ELSE o.id_customer END AS customer_id,
       o.date_add AS placed_at, o.total_paid_tax_incl / NULLIF(o.conversion_rate, 0) AS total
FROM {prefix}orders o
LEFT JOIN {prefix}customer c ON c.id_customer = o.id_customer
WHERE o.valid = 1
"""

ORDER_LINE = """
SELECT od.id_order AS order_id, od.product_id AS product_id, od.product_quantity AS quantity,
       od.unit_price_tax_incl / NULLIF(o.conversion_rate, 0) AS unit_price
FROM {prefix}order_detail od
JOIN {prefix}orders o ON o.id_order = od.id_order
"""

NOTES = {
    "customer": "Guest accounts (is_guest = 1), deleted and inactive customers are left out. Subscribers of the "
                "newsletter module who have no account (emailsubscription) are not customers. PrestaShop keeps "
                "no acquisition source per customer (the referrer per visit needs statsdata; not read). City, "
                "region and country come from the customer's newest address that is not deleted.",
    "product": "A product in several categories gets one: the deepest (level_depth), then its default "
               "category, then the lowest id; a product in none gets id_category_default. Names come from the "
               "shop SHOPCRM_SHOP_STORE_ID (id_shop) in language SHOPCRM_SHOP_LANGUAGE_ID. Images are not read "
               "(their paths depend on the image id and the theme). Stock is stock_available for the product "
               "as a whole.",
    "view": "PrestaShop keeps per-customer product views only with the statsdata module and its setting 'Save "
            "page views for each customer' (PS_STATSDATA_CUSTOMER_PAGESVIEWS = 1); PS_STATS_OLD_CONNECT_AUTO_CLEAN "
            "deletes old ones. They are read when present, together with shopcrm's view beacon (crm_view); if "
            "both record the same visits, choose one with SHOPCRM_SHOP_VIEWS = shop or beacon.",
    "cart_item": "Carts of logged-in customers that have not become an order.",
    "order": "An order counts when orders.valid = 1 (set by PrestaShop from the order state's 'consider the "
             "associated order as validated'). Totals are total_paid_tax_incl converted to the default "
             "currency (divided by conversion_rate). Orders of guest accounts count for products but belong to "
             "no customer.",
}


def prestashop(prefix: str | None = None, language_id: int = 1, store_id: int = 1, order_statuses=None
               ) -> ShopMapping:
    if order_statuses is not None:
        raise MappingError("SHOPCRM_SHOP_ORDER_STATUSES does not apply to PrestaShop: an order counts when "
                           "PrestaShop marked it valid (orders.valid = 1); leave the setting empty")
    return ShopMapping(
        name="prestashop",
        prefix=DEFAULT_PREFIX if prefix is None else prefix,
        params={"language_id": int(language_id), "shop_id": int(store_id), "product_page_type": "product"},
        entities={
            "customer": EntityMap("customer", select=CUSTOMER,
                                  returns=("id", "email", "first_name", "last_name", "created_at", "city", "region",
                                           "country", "consent", "phone"),
                                  indexes=(IndexHint("address", ("id_customer",)),)),
            "product": EntityMap("product", select=PRODUCT,
                                 returns=("id", "name", "price", "category_id", "brand_id", "url", "active",
                                          "in_stock"),
                                 indexes=(IndexHint("category_product", ("id_product",)),
                                          IndexHint("stock_available", ("id_product", "id_product_attribute")))),
            "category": EntityMap("category", select=CATEGORY),
            "brand": EntityMap("brand", table="manufacturer", columns={"id": "id_manufacturer", "name": "name"}),
            "view": EntityMap("view", select=VIEW, store="both",
                              indexes=(IndexHint("guest", ("id_customer",)), IndexHint("connections", ("id_guest",)))),
            "cart_item": EntityMap("cart_item", select=CART_ITEM,
                                   indexes=(IndexHint("cart", ("id_customer",)), IndexHint("orders", ("id_cart",)))),
            "order": EntityMap("order", select=ORDER, indexes=(IndexHint("orders", ("id_customer",)),)),
            "order_line": EntityMap("order_line", select=ORDER_LINE,
                                    indexes=(IndexHint("order_detail", ("id_order", "product_id")),)),
        },
        notes=NOTES,
    )
