"""An OpenCart 4.1 or 3.x shop filled from a demo data set (``shopcrm.shop.demo``).

Everything the generic schema holds is written the way OpenCart would store it (texts
HTML-escaped, guest orders with customer_id 0, status ids, a category tree with a root, the
default address among others), plus what only OpenCart has and shopcrm must not count: guest
carts and orders, orders in statuses that are not sales, other languages. OpenCart keeps no
per-customer views, so the demo's views come back as crm_view rows (the beacon's table).
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shopcrm.demo import DemoShop
from tests.shops.common import create_tables, escaped, later, load, nonce, utc

HERE = Path(__file__).resolve().parent
ROOT_CATEGORY = 100
STATUS = {"complete": 5, "processing": 2, "cancelled": 7, "pending": 0}


def _cols(shop: DemoShop, table: str) -> dict[str, list]:
    return {name: values.tolist() for name, values in shop.tables[table].items()}


def locations(shop: DemoShop) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Country ids by ISO code and zone ids by (country, region), as a shop's install would have them."""
    cust = _cols(shop, "customers")
    countries = {code: 80 + i for i, code in enumerate(sorted(set(cust["country"])))}
    zones = {key: 3000 + i for i, key in enumerate(sorted(set(zip(cust["country"], cust["region"]))))}
    return countries, zones


def write_opencart(engine: sa.Engine, shop: DemoShop, version: str = "4.1", prefix: str = "oc_") -> list[tuple]:
    """Create and fill the shop; return the demo's views as crm_view rows (customer, product, utc, nonce)."""
    v3 = version == "3"
    create_tables(engine, (HERE / ("opencart3.sql" if v3 else "opencart4.sql")).read_text(), prefix)
    p = prefix
    cust, prod = _cols(shop, "customers"), _cols(shop, "products")
    countries, zones = locations(shop)
    with engine.begin() as conn:
        # --- customers, with the default address after a non-default one -----------------------
        customer_rows, address_rows = [], []
        for i, cid in enumerate(cust["customer_id"]):
            default_address = 2 * i + 2
            row = [cid, 1, 0, 1, escaped(cust["first_name"][i]), escaped(cust["last_name"][i]),
                   escaped(cust["email"][i]) or "", cust["newsletter"][i], cust["active"][i], cust["created_at"][i],
                   cust["telephone"][i] or ""]  # NOT NULL in OpenCart: an empty phone is ''
            customer_rows.append(row + ([default_address] if v3 else []))
            country, region = cust["country"][i], cust["region"][i]
            place = [countries[country], zones[(country, region)]]
            address_rows.append([2 * i + 1, cid, "Old", "Address", escaped("Elsewhere & Co"), countries["DE"],
                                 zones[next(k for k in zones if k[0] == "DE")]] + ([] if v3 else [0]))
            address_rows.append([default_address, cid, escaped(cust["first_name"][i]), escaped(cust["last_name"][i]),
                                 escaped(cust["city"][i])] + place + ([] if v3 else [1]))
        load(conn, f"{p}customer", ["customer_id", "customer_group_id", "store_id", "language_id", "firstname",
                                    "lastname", "email", "newsletter", "status", "date_added", "telephone"]
             + (["address_id"] if v3 else []), customer_rows)
        load(conn, f"{p}address", ["address_id", "customer_id", "firstname", "lastname", "city", "country_id",
                                   "zone_id"] + ([] if v3 else ["default"]), address_rows)
        _locations(conn, p, v3, countries, zones)

        # --- catalogue: a root category above the demo's, names per language ------------------
        cats = _cols(shop, "categories")
        load(conn, f"{p}category", ["category_id", "parent_id", "status", "date_added", "date_modified"],
             [[ROOT_CATEGORY, 0, 1, "2020-01-01 00:00:00", "2020-01-01 00:00:00"]]
             + [[c, ROOT_CATEGORY, 1, "2020-01-01 00:00:00", "2020-01-01 00:00:00"] for c in cats["category_id"]])
        load(conn, f"{p}category_description", ["category_id", "language_id", "name"],
             [[ROOT_CATEGORY, 1, "All products"]]
             + [[c, lang, escaped(n) if lang == 1 else f"Kategorie {c}"]
                for c, n in zip(cats["category_id"], cats["name"]) for lang in (1, 2)])
        load(conn, f"{p}category_path", ["category_id", "path_id", "level"],
             [[ROOT_CATEGORY, ROOT_CATEGORY, 0]]
             + [row for c in cats["category_id"] for row in ([c, ROOT_CATEGORY, 0], [c, c, 1])])
        brands = _cols(shop, "brands")
        load(conn, f"{p}manufacturer", ["manufacturer_id", "name", "sort_order"],
             [[b, escaped(n), 0] for b, n in zip(brands["brand_id"], brands["name"])])
        load(conn, f"{p}product", ["product_id", "model", "quantity", "image", "manufacturer_id", "price", "status",
                                   "date_added", "date_modified"],
             [[pid, f"M-{pid}", stock, f"catalog/p{pid}.jpg", brand, price, active, "2020-01-01 00:00:00",
               "2020-01-01 00:00:00"]
              for pid, stock, brand, price, active in zip(prod["product_id"], prod["stock"], prod["brand_id"],
                                                          prod["price"], prod["active"])])
        load(conn, f"{p}product_description", ["product_id", "language_id", "name"],
             [[pid, lang, escaped(name) if lang == 1 else f"Produkt {pid}"]
              for pid, name in zip(prod["product_id"], prod["name"]) for lang in (1, 2)])
        load(conn, f"{p}product_to_category", ["product_id", "category_id"],
             [row for pid, cat in zip(prod["product_id"], prod["category_id"])
              for row in ([pid, cat], [pid, ROOT_CATEGORY])])

        # --- carts: the customers' open carts, and guest carts shopcrm must not read ------------
        carts = _cols(shop, "cart_items")
        cart_rows = [[i + 1, c, f"s{i}", pid, q, "[]", t]
                     for i, (c, pid, q, t) in enumerate(zip(carts["customer_id"], carts["product_id"],
                                                            carts["quantity"], carts["added_at"]))]
        first_pid = prod["product_id"][0]
        cart_rows += [[len(cart_rows) + k + 1, 0, f"guest{k}", first_pid, 1, "[]", shop.now.strftime("%Y-%m-%d")]
                      for k in range(5)]
        load(conn, f"{p}cart", ["cart_id", "customer_id", "session_id", "product_id", "quantity", "option",
                                "date_added"], cart_rows)

        # --- orders: the demo's, then guest orders and orders in statuses that are not sales ---
        orders, lines = _cols(shop, "orders"), _cols(shop, "order_lines")
        order_rows = [[o, c, "Demo", total, STATUS[s], t, t]
                      for o, c, total, s, t in zip(orders["order_id"], orders["customer_id"], orders["total"],
                                                   orders["status"], orders["placed_at"])]
        line_rows = [[lid, o, pid, f"M-{pid}", q, round(u - round(u * 0.19 / 1.19, 4), 4), round(u * q, 4),
                      round(u * 0.19 / 1.19, 4)]
                     for lid, o, pid, q, u in zip(lines["order_line_id"], lines["order_id"], lines["product_id"],
                                                  lines["quantity"], lines["unit_price"])]
        extra_id, extra_line = 900001, 9000001
        buyers = [c for c, a in zip(cust["customer_id"], cust["active"]) if a == 1][:40]
        for k, customer in enumerate([0] * 20 + buyers):
            status = 5 if customer == 0 else (10, 16, 8)[k % 3]  # guest sales; failed, voided, denied
            when = later(orders["placed_at"][k], 1)
            order_rows.append([extra_id + k, customer, "Demo", 99.0, status, when, when])
            line_rows.append([extra_line + k, extra_id + k, prod["product_id"][k % 7], f"M-{k}", 2, 49.5, 99.0, 0])
        load(conn, f"{p}order", ["order_id", "customer_id", "store_name", "total", "order_status_id", "date_added",
                                 "date_modified"], order_rows)
        load(conn, f"{p}order_product", ["order_product_id", "order_id", "product_id", "model", "quantity", "price",
                                         "total", "tax"], line_rows)
    views = _cols(shop, "product_views")
    return [(c, pid, utc(t), nonce()) for c, pid, t in zip(views["customer_id"], views["product_id"],
                                                          views["viewed_at"]) if c is not None]


def _locations(conn: sa.Connection, p: str, v3: bool, countries: dict, zones: dict) -> None:
    names = {"DE": "Germany", "AT": "Austria", "CH": "Switzerland", "FR": "France", "GB": "United Kingdom",
             "ES": "Spain", "NL": "Netherlands", "PL": "Poland", "DK": "Denmark", "IT": "Italy", "BE": "Belgium"}
    if v3:
        load(conn, f"{p}country", ["country_id", "name", "iso_code_2", "iso_code_3"],
             [[cid, names.get(code, code), code, code + "X"] for code, cid in countries.items()])
        load(conn, f"{p}zone", ["zone_id", "country_id", "name", "code"],
             [[zid, countries[c], escaped(r), r[:3].upper()] for (c, r), zid in zones.items()])
        return
    load(conn, f"{p}country", ["country_id", "iso_code_2", "iso_code_3"],
         [[cid, code, code + "X"] for code, cid in countries.items()])
    load(conn, f"{p}country_description", ["country_id", "language_id", "name"],
         [[cid, lang, names.get(code, code) if lang == 1 else f"Land {code}"]
          for code, cid in countries.items() for lang in (1, 2)])
    load(conn, f"{p}zone", ["zone_id", "country_id", "code"], [[zid, countries[c], r[:3].upper()]
                                                                for (c, r), zid in zones.items()])
    load(conn, f"{p}zone_description", ["zone_id", "language_id", "name"],
         [[zid, lang, escaped(r) if lang == 1 else f"Region {zid}"]
          for (c, r), zid in zones.items() for lang in (1, 2)])
