"""A small Magento 2 shop for docs/examples/magento2.toml: its tables from
docs/examples/magento2-schema.sql (unchanged, on SQLite and MariaDB) and a few rows written the
way Magento writes them (EAV values per attribute id and store, UTC times, DECIMAL(12,4)
quantities, configurable products as a parent and a child line, guests without customer id).

48 customers in four interest groups buy mostly in "their" category, so a segmentation has
something to find; the numbers are deterministic.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
MAPPING_FILE = EXAMPLES / "magento2.toml"
SCHEMA_FILE = EXAMPLES / "magento2-schema.sql"
CLOCK = "%Y-%m-%d %H:%M:%S"

PRODUCT, CATEGORY = 4, 3  # eav_entity_type ids (Magento's own)
NAME, PRICE, STATUS, URL_KEY, CATEGORY_NAME = 73, 77, 97, 121, 45  # attribute ids of a stock 2.4 install
GROUPS = {10: "Bags", 11: "Tops", 12: "Shoes", 13: "Gear"}
BACKPACKS = 20  # a sub-category of Bags (level 3): its products are also linked to Bags
CUSTOMERS = 48
INACTIVE_CUSTOMER = 48
DISABLED_PRODUCT, OUT_OF_STOCK, CONFIGURABLE, CHILD = 24, 23, 25, 26


def create_schema(engine: sa.Engine) -> None:
    """Run docs/examples/magento2-schema.sql as it is."""
    sql = "\n".join(line for line in SCHEMA_FILE.read_text().splitlines() if not line.lstrip().startswith("--"))
    with engine.begin() as conn:
        for statement in sql.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)


def insert(conn: sa.Connection, table: str, rows: list[dict]) -> None:
    if rows:
        columns = list(rows[0])
        conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                             f"({', '.join(':' + c for c in columns)})"), rows)


def when(value: datetime) -> str:
    return value.strftime(CLOCK)


def product_category(product: int) -> int:
    return 10 + (product - 1) % 4


def in_backpacks(product: int) -> bool:
    """Products 9 and 21: in Bags and its sub-category Backpacks (which is deeper, so theirs)."""
    return product_category(product) == 10 and product % 3 == 0


@dataclass
class MagentoShop:
    """What was written, for the tests to check against."""

    now: datetime
    persona: dict[int, int] = field(default_factory=dict)  # customer -> category bought most
    next_order: int = 1
    next_item: int = 1
    next_quote: int = 1

    def add_order(self, conn: sa.Connection, customer: int | None, placed: datetime, lines: list[tuple[int, str]],
                  state: str = "complete") -> int:
        """One order with lines (product, qty_ordered as Magento writes it, e.g. "2.0000")."""
        order_id = self.next_order
        self.next_order += 1
        items, total = [], 0.0
        for product, qty in lines:
            price = 10.0 + product
            total += price * float(qty)
            items.append({"item_id": self.next_item, "order_id": order_id, "parent_item_id": None,
                          "product_id": product, "product_type": "simple", "sku": f"SKU-{product}",
                          "qty_ordered": qty, "base_price": price, "base_price_incl_tax": round(price * 1.19, 4),
                          "created_at": when(placed)})
            self.next_item += 1
            if product == CONFIGURABLE:  # the simple product chosen: a child line, price 0
                items[-1]["product_type"] = "configurable"
                items.append({**items[-1], "item_id": self.next_item, "parent_item_id": items[-1]["item_id"],
                              "product_id": CHILD, "product_type": "simple", "base_price": 0,
                              "base_price_incl_tax": 0})
                self.next_item += 1
        insert(conn, "sales_order", [{
            "entity_id": order_id, "state": state, "status": state, "store_id": 1, "customer_id": customer,
            "customer_is_guest": int(customer is None), "base_grand_total": round(total * 1.19, 4),
            "increment_id": f"{100000000 + order_id}", "created_at": when(placed)}])
        insert(conn, "sales_order_item", items)
        return order_id

    def add_cart(self, conn: sa.Connection, customer: int, added: datetime, products: list[int],
                 active: bool = True) -> int:
        quote = self.next_quote
        self.next_quote += 1
        insert(conn, "quote", [{"entity_id": quote, "store_id": 1, "created_at": when(added),
                                "updated_at": when(added), "is_active": int(active), "customer_id": customer,
                                "customer_is_guest": 0}])
        insert(conn, "quote_item", [{"item_id": quote * 100 + i, "quote_id": quote, "created_at": when(added),
                                     "product_id": p, "parent_item_id": None, "qty": "1.0000"}
                                    for i, p in enumerate(products)])
        return quote


def write_magento(engine: sa.Engine, now: datetime, seed: int = 7) -> MagentoShop:
    """The schema and the rows; ``now`` is the shop's clock (UTC, as Magento stores it)."""
    create_schema(engine)
    rng = random.Random(seed)
    shop = MagentoShop(now=now)
    with engine.begin() as conn:
        insert(conn, "eav_entity_type", [{"entity_type_id": CATEGORY, "entity_type_code": "catalog_category"},
                                         {"entity_type_id": PRODUCT, "entity_type_code": "catalog_product"}])
        insert(conn, "eav_attribute", [
            {"attribute_id": CATEGORY_NAME, "entity_type_id": CATEGORY, "attribute_code": "name", "backend_type": "varchar"},
            {"attribute_id": NAME, "entity_type_id": PRODUCT, "attribute_code": "name", "backend_type": "varchar"},
            {"attribute_id": PRICE, "entity_type_id": PRODUCT, "attribute_code": "price", "backend_type": "decimal"},
            {"attribute_id": STATUS, "entity_type_id": PRODUCT, "attribute_code": "status", "backend_type": "int"},
            {"attribute_id": URL_KEY, "entity_type_id": PRODUCT, "attribute_code": "url_key", "backend_type": "varchar"},
        ])
        categories = [(1, 0, "1", 0, "Root Catalog"), (2, 1, "1/2", 1, "Default Category")]
        categories += [(cid, 2, f"1/2/{cid}", 2, name) for cid, name in GROUPS.items()]
        categories.append((BACKPACKS, 10, f"1/2/10/{BACKPACKS}", 3, "Backpacks"))
        insert(conn, "catalog_category_entity", [
            {"entity_id": c, "attribute_set_id": 3, "parent_id": parent, "path": path, "position": 1, "level": level,
             "children_count": 0} for c, parent, path, level, _ in categories])
        names = [{"value_id": c, "attribute_id": CATEGORY_NAME, "store_id": 0, "entity_id": c, "value": name}
                 for c, _, _, _, name in categories]
        names.append({"value_id": 1000, "attribute_id": CATEGORY_NAME, "store_id": 1, "entity_id": 13,
                      "value": "Fitness Gear"})  # the store view's own name wins over the default
        insert(conn, "catalog_category_entity_varchar", names)

        products = list(range(1, CHILD + 1))
        insert(conn, "catalog_product_entity", [
            {"entity_id": p, "attribute_set_id": 4, "sku": f"SKU-{p}",
             "type_id": "configurable" if p == CONFIGURABLE else "simple",
             "created_at": when(now - timedelta(days=400)), "updated_at": when(now - timedelta(days=400))}
            for p in products])
        varchar = [{"value_id": p, "attribute_id": NAME, "store_id": 0, "entity_id": p, "value": f"Product {p}"}
                   for p in products]
        varchar += [{"value_id": 500 + p, "attribute_id": URL_KEY, "store_id": 0, "entity_id": p,
                     "value": f"product-{p}"} for p in products]
        varchar.append({"value_id": 900, "attribute_id": NAME, "store_id": 1, "entity_id": 1, "value": "Joust Duffle Bag"})
        insert(conn, "catalog_product_entity_varchar", varchar)
        insert(conn, "catalog_product_entity_decimal", [
            {"value_id": p, "attribute_id": PRICE, "store_id": 0, "entity_id": p, "value": 10.0 + p}
            for p in products])
        insert(conn, "catalog_product_entity_int", [
            {"value_id": p, "attribute_id": STATUS, "store_id": 0, "entity_id": p,
             "value": 2 if p == DISABLED_PRODUCT else 1} for p in products])
        links, link_id = [], 1
        for p in products:
            if p == CHILD:
                continue  # a configurable product's child is not shown in categories
            own = [product_category(p), 2] + ([BACKPACKS] if in_backpacks(p) else [])
            for c in own:
                links.append({"entity_id": link_id, "category_id": c, "product_id": p, "position": 0})
                link_id += 1
        insert(conn, "catalog_category_product", links)
        insert(conn, "cataloginventory_stock_item", [
            {"item_id": p, "product_id": p, "stock_id": 1, "qty": "0.0000" if p == OUT_OF_STOCK else "100.0000",
             "is_in_stock": 0 if p == OUT_OF_STOCK else 1, "website_id": 0} for p in products])
        rewrites = [{"url_rewrite_id": p, "entity_type": "product", "entity_id": p, "request_path": f"product-{p}.html",
                     "target_path": f"catalog/product/view/id/{p}", "redirect_type": 0, "store_id": 1,
                     "metadata": None} for p in products]
        rewrites.append({"url_rewrite_id": 200, "entity_type": "product", "entity_id": 1,
                         "request_path": "bags/product-1.html", "target_path": "catalog/product/view/id/1/category/10",
                         "redirect_type": 0, "store_id": 1, "metadata": '{"category_id":"10"}'})
        insert(conn, "url_rewrite", rewrites)

        customers, addresses, subscribers = [], [], []
        for c in range(1, CUSTOMERS + 1):
            shop.persona[c] = 10 + (c - 1) % 4
            customers.append({"entity_id": c, "website_id": 1, "email": f"customer{c}@example.com", "group_id": 1,
                              "store_id": 1, "created_at": when(now - timedelta(days=300 - c)),
                              "updated_at": when(now - timedelta(days=300 - c)),
                              "is_active": 0 if c == INACTIVE_CUSTOMER else 1, "firstname": f"First{c}",
                              "lastname": f"Last{c}", "default_billing": 1000 + c, "default_shipping": 1000 + c})
            addresses.append({"entity_id": 1000 + c, "parent_id": c, "city": ["Berlin", "Lyon", "Leeds"][c % 3],
                              "country_id": ["DE", "FR", "GB"][c % 3], "region": None, "street": "Main St 1",
                              "postcode": "12345"})
            if c % 2 == 0:
                subscribers.append({"subscriber_id": c, "store_id": 1, "customer_id": c,
                                    "subscriber_email": f"customer{c}@example.com",
                                    "subscriber_status": 1 if c % 4 == 0 else 3})
        insert(conn, "customer_entity", customers)
        insert(conn, "customer_address_entity", addresses)
        insert(conn, "newsletter_subscriber", subscribers)

        for c in range(1, CUSTOMERS + 1):
            own = [p for p in range(1, 23) if product_category(p) == shop.persona[c] and not in_backpacks(p)]
            for n in range(2 + c % 3):
                placed = now - timedelta(days=rng.uniform(3, 200), minutes=rng.randint(0, 600))
                lines = [(rng.choice(own), f"{rng.choice([1, 1, 2, 3])}.0000")]
                if rng.random() < 0.3:
                    lines.append((rng.choice(range(1, 23)), "1.0000"))
                if shop.persona[c] == 11 and n == 0:
                    lines.append((CONFIGURABLE, "1.0000"))
                state = "canceled" if rng.random() < 0.1 else rng.choice(["complete", "complete", "processing"])
                shop.add_order(conn, c, placed, lines, state=state)
        shop.add_order(conn, None, now - timedelta(days=5), [(3, "1.0000")])  # a guest
        shop.add_order(conn, 5, now - timedelta(days=2), [(5, "1.0000")], state="pending_payment")  # not a sale
        for c in (3, 7, 12):
            shop.add_cart(conn, c, now - timedelta(days=20), [1], active=False)  # became an order
    return shop
