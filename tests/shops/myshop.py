"""The hand-written shop of docs/MAPPING.md ("Kleinladen", docs/examples/myshop-schema.sql),
filled from a demo data set: the test that the documented example mapping really works."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shopcrm.demo import DemoShop
from tests.shops.common import create_tables, load
from tests.shops.opencart import _cols

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
MAPPING_FILE = EXAMPLES / "myshop.toml"
SCHEMA_FILE = EXAMPLES / "myshop-schema.sql"


def write_myshop(engine: sa.Engine, shop: DemoShop, prefix: str = "kl_") -> None:
    create_tables(engine, SCHEMA_FILE.read_text(), prefix)
    t = {name: _cols(shop, name) for name in shop.tables}
    c = t["customers"]
    with engine.begin() as conn:
        load(conn, f"{prefix}kunden", ["kd_nr", "mail", "vorname", "nachname", "angelegt", "ort", "bundesland",
                                       "land", "werbequelle", "newsletter_ok", "gesperrt"],
             zip(c["customer_id"], c["email"], c["first_name"], c["last_name"], c["created_at"], c["city"],
                 c["region"], c["country"], c["source"], c["newsletter"], [1 - a for a in c["active"]]))
        load(conn, f"{prefix}warengruppen", ["wg_nr", "bezeichnung", "ober_wg"],
             zip(*(t["categories"][k] for k in ("category_id", "name", "parent_id"))))
        load(conn, f"{prefix}hersteller", ["hst_nr", "firma"], zip(t["brands"]["brand_id"], t["brands"]["name"]))
        p = t["products"]
        load(conn, f"{prefix}artikel", ["art_nr", "titel", "vk_preis", "wg_nr", "hst_nr", "im_sortiment", "bestand"],
             zip(p["product_id"], p["name"], p["price"], p["category_id"], p["brand_id"], p["active"], p["stock"]))
        v = t["product_views"]
        load(conn, f"{prefix}besuche", ["kd_nr", "art_nr", "zeitpunkt"],
             zip(v["customer_id"], v["product_id"], v["viewed_at"]))
        k = t["cart_items"]
        load(conn, f"{prefix}warenkorb", ["kd_nr", "art_nr", "menge", "eingelegt"],
             zip(k["customer_id"], k["product_id"], k["quantity"], k["added_at"]))
        load(conn, f"{prefix}bestellstatus", ["code", "ist_umsatz"],
             [("complete", 1), ("processing", 1), ("cancelled", 0), ("pending", 0)])
        o = t["orders"]
        load(conn, f"{prefix}bestellungen", ["best_nr", "kd_nr", "bestellt_am", "status_code"],
             zip(o["order_id"], o["customer_id"], o["placed_at"], o["status"]))
        ol = t["order_lines"]
        load(conn, f"{prefix}positionen", ["pos_nr", "best_nr", "art_nr", "anzahl", "einzelpreis"],
             zip(ol["order_line_id"], ol["order_id"], ol["product_id"], ol["quantity"], ol["unit_price"]))
