"""A PrestaShop 8 shop filled from a demo data set (``shopcrm.shop.demo``).

The demo's data is written the way PrestaShop stores it (Root and Home above the categories,
a product's default category not always its deepest, carts that became orders, totals in the
order's currency with a conversion rate, half of the views in statsdata's per-visitor path and
half reported by the beacon), plus what PrestaShop has and shopcrm must leave out: guest
accounts and deleted customers with orders, anonymous visitors, category pages, carts that
were ordered, another language, a deleted newer address.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shopcrm.demo import DemoShop
from tests.shops.common import create_tables, later, load, nonce, utc
from tests.shops.opencart import _cols, locations

HERE = Path(__file__).resolve().parent
CATEGORY_OFFSET = 10  # PrestaShop's Root (1) and Home (2) come first
PAGE_TYPES = {"index": 1, "category": 2, "product": 3}
STATE = {"complete": 5, "processing": 3, "cancelled": 6, "pending": 10}
EXTRA_CUSTOMER = 990001


def write_prestashop(engine: sa.Engine, shop: DemoShop, prefix: str = "ps_") -> list[tuple]:
    """Create and fill the shop; return the views for shopcrm's crm_view (the other half is in statsdata)."""
    create_tables(engine, (HERE / "prestashop8.sql").read_text(), prefix)
    p = prefix
    cust, prod = _cols(shop, "customers"), _cols(shop, "products")
    countries, zones = locations(shop)
    stamp = "2020-01-01 00:00:00"
    with engine.begin() as conn:
        # --- customers; guest accounts and deleted customers that shopcrm leaves out ----------
        rows = [[cid, cust["first_name"][i], cust["last_name"][i], cust["email"][i] or "", cust["newsletter"][i],
                 cust["active"][i], 0, 0, cust["created_at"][i], cust["created_at"][i]]
                for i, cid in enumerate(cust["customer_id"])]
        extras = [EXTRA_CUSTOMER + k for k in range(30)]  # 0-14 guest accounts, 15-29 deleted customers
        rows += [[cid, "Gast", "Kunde", f"g{cid}@example.org", 1, 1, int(k < 15), int(k >= 15), stamp, stamp]
                 for k, cid in enumerate(extras)]
        load(conn, f"{p}customer", ["id_customer", "firstname", "lastname", "email", "newsletter", "active",
                                    "is_guest", "deleted", "date_add", "date_upd"], rows)
        addresses = []
        for i, cid in enumerate(cust["customer_id"]):
            country, region = cust["country"][i], cust["region"][i]
            # the mobile field is preferred; every third customer typed their number into 'phone' only,
            # and the others have a landline there beside their mobile
            tel = cust["telephone"][i]
            mobile, phone = ("", tel) if i % 3 == 0 else (tel, "030 5550000" if tel else None)
            addresses.append([3 * i + 1, cid, countries[country], zones[(country, region)], cust["city"][i], 0,
                              mobile, phone])
            if i % 4 == 0:  # a newer address the customer deleted: not theirs any more
                addresses.append([3 * i + 2, cid, countries["DE"], None, "Deletedtown", 1, "0170 9999999", None])
        load(conn, f"{p}address", ["id_address", "id_customer", "id_country", "id_state", "city", "deleted",
                                   "phone_mobile", "phone"], addresses)
        load(conn, f"{p}country", ["id_country", "iso_code", "active"],
             [[cid, code, 1] for code, cid in countries.items()])
        load(conn, f"{p}state", ["id_state", "id_country", "name", "iso_code", "active"],
             [[zid, countries[c], r, r[:3].upper(), 1] for (c, r), zid in zones.items()])

        # --- catalogue ---------------------------------------------------------------------------
        cats = _cols(shop, "categories")
        load(conn, f"{p}category", ["id_category", "id_parent", "level_depth", "active", "is_root_category",
                                    "date_add", "date_upd"],
             [[1, 0, 0, 1, 0, stamp, stamp], [2, 1, 1, 1, 1, stamp, stamp]]
             + [[c + CATEGORY_OFFSET, 2, 2, 1, 0, stamp, stamp] for c in cats["category_id"]])
        names = [(1, "Root"), (2, "Home")] + [(c + CATEGORY_OFFSET, n)
                                              for c, n in zip(cats["category_id"], cats["name"])]
        load(conn, f"{p}category_lang", ["id_category", "id_shop", "id_lang", "name", "link_rewrite"],
             [[c, 1, lang, n if lang == 1 else f"Kategorie {c}", f"c{c}"] for c, n in names for lang in (1, 2)])
        brands = _cols(shop, "brands")
        load(conn, f"{p}manufacturer", ["id_manufacturer", "name", "active", "date_add", "date_upd"],
             [[b, n, 1, stamp, stamp] for b, n in zip(brands["brand_id"], brands["name"])])
        load(conn, f"{p}product", ["id_product", "id_manufacturer", "id_category_default", "price", "active",
                                   "date_add", "date_upd"],
             [[pid, brand, 2 if k % 2 else cat + CATEGORY_OFFSET, price, active, stamp, stamp]
              for k, (pid, brand, cat, price, active) in enumerate(zip(prod["product_id"], prod["brand_id"],
                                                                       prod["category_id"], prod["price"],
                                                                       prod["active"]))])
        load(conn, f"{p}product_lang", ["id_product", "id_shop", "id_lang", "name", "link_rewrite"],
             [[pid, 1, lang, name if lang == 1 else f"Produkt {pid}", f"p{pid}"]
              for pid, name in zip(prod["product_id"], prod["name"]) for lang in (1, 2)])
        load(conn, f"{p}category_product", ["id_category", "id_product", "position"],
             [row for pid, cat in zip(prod["product_id"], prod["category_id"])
              for row in ([cat + CATEGORY_OFFSET, pid, 0], [2, pid, 0])])
        load(conn, f"{p}stock_available", ["id_product", "id_product_attribute", "id_shop", "id_shop_group",
                                           "quantity"],
             [[pid, 0, 1, 0, stock] for pid, stock in zip(prod["product_id"], prod["stock"])])

        # --- orders (with the cart each came from) and open carts --------------------------------
        orders, lines = _cols(shop, "orders"), _cols(shop, "order_lines")
        order_rows, cart_rows, cart_lines, detail_rows = [], [], [], []
        rate_of = {}
        for k, (o, c, total, status, t) in enumerate(zip(orders["order_id"], orders["customer_id"], orders["total"],
                                                         orders["status"], orders["placed_at"])):
            rate = 2.0 if k % 3 == 0 else 1.0  # a third paid in a currency worth half the default
            rate_of[o] = rate
            valid = int(status in ("complete", "processing"))
            order_rows.append([o, f"R{o}", c, o, STATE[status], rate, valid, total * rate, total * rate, total, t, t])
            cart_rows.append([o, c, 0, t, t])
        for k, extra in enumerate(extras):  # guest accounts and deleted customers bought too
            when = later(orders["placed_at"][k], 1)
            order_rows.append([800001 + k, f"X{k}", extra, 800001 + k, 5, 1.0, 1, 120.0, 120.0, 120.0, when, when])
            cart_rows.append([800001 + k, extra, 0, when, when])
            detail_rows.append([8000001 + k, 800001 + k, prod["product_id"][k % 9], "x", 1, 120.0, 120.0, 120.0])
        seen = set()
        for lid, o, pid, q, unit in zip(lines["order_line_id"], lines["order_id"], lines["product_id"],
                                        lines["quantity"], lines["unit_price"]):
            rate = rate_of[o]
            detail_rows.append([lid, o, pid, "x", q, unit, unit * rate, unit * q * rate])
            if (o, pid) not in seen:
                seen.add((o, pid))
                cart_lines.append([o, pid, q, orders["placed_at"][0]])
        carts = _cols(shop, "cart_items")
        open_cart = 700001
        for c, pid, q, t in zip(carts["customer_id"], carts["product_id"], carts["quantity"], carts["added_at"]):
            cart_rows.append([open_cart, c, 0, t, t])
            cart_lines.append([open_cart, pid, q, t])
            open_cart += 1
        for k in range(5):  # anonymous visitors' carts
            cart_rows.append([open_cart, 0, 50 + k, stamp, stamp])
            cart_lines.append([open_cart, prod["product_id"][0], 1, stamp])
            open_cart += 1
        load(conn, f"{p}orders", ["id_order", "reference", "id_customer", "id_cart", "current_state", "conversion_rate",
                                  "valid", "total_paid_tax_incl", "total_paid", "total_products", "date_add",
                                  "date_upd"], order_rows)
        load(conn, f"{p}order_detail", ["id_order_detail", "id_order", "product_id", "product_name",
                                        "product_quantity", "product_price", "unit_price_tax_incl",
                                        "total_price_tax_incl"], detail_rows)
        load(conn, f"{p}cart", ["id_cart", "id_customer", "id_guest", "date_add", "date_upd"], cart_rows)
        load(conn, f"{p}cart_product", ["id_cart", "id_product", "quantity", "date_add"], cart_lines)

        # --- views: statsdata's path for half, the beacon for the other half ----------------------
        beacon = _statsdata(conn, p, shop)
    return beacon


def _statsdata(conn: sa.Connection, p: str, shop: DemoShop) -> list[tuple]:
    views = _cols(shop, "product_views")
    products = sorted(set(shop.tables["products"]["product_id"].tolist()) | set(views["product_id"]))
    page_of = {pid: k + 1 for k, pid in enumerate(products)}
    # Category pages whose id_object happens to equal a product id: they are not product views.
    category_pages = {pid: len(products) + k + 1 for k, pid in enumerate(products[:12])}
    load(conn, f"{p}page_type", ["id_page_type", "name"], [[i, n] for n, i in PAGE_TYPES.items()])
    load(conn, f"{p}page", ["id_page", "id_page_type", "id_object"],
         [[page, PAGE_TYPES["product"], pid] for pid, page in page_of.items()]
         + [[page, PAGE_TYPES["category"], pid] for pid, page in category_pages.items()])
    guests: dict[object, int] = {}
    connections, hits, beacon = [], [], []
    for k, (c, pid, t) in enumerate(zip(views["customer_id"], views["product_id"], views["viewed_at"])):
        if k % 2 and c is not None:
            beacon.append((c, pid, utc(t), nonce()))
            continue
        guest = guests.setdefault(c if c is not None else f"anonymous{k % 3}", len(guests) + 1)
        connections.append([k + 1, guest, page_of[pid], t])
        hits.append([k + 1, page_of[pid], t])
        if pid in category_pages and k % 5 == 0:
            hits.append([k + 1, category_pages[pid], later(t, 1 / 86400)])
    load(conn, f"{p}guest", ["id_guest", "id_customer"],
         [[g, None if isinstance(c, str) and c.endswith("0") else 0 if isinstance(c, str) else c]
          for c, g in guests.items()])
    load(conn, f"{p}connections", ["id_connections", "id_guest", "id_page", "date_add"], connections)
    load(conn, f"{p}connections_page", ["id_connections", "id_page", "time_start"], hits)
    return beacon
