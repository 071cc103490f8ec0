"""The generic shop schema: the tables of a hand-written PHP/MySQL shop like the seed's.

This is the *shop's* schema, not shopcrm's: it lives in its own ``MetaData`` so that
shopcrm's migrations never see it. The demo generator creates it; the ``generic`` mapping
preset reads it. SQLAlchemy turns it into DDL for MariaDB/MySQL, SQLite or PostgreSQL
(``flask shopcrm demo-shop --print-ddl`` shows it).

The seed shop encodes category and brand in the product id; here they are explicit columns,
which is what real shops do and what a mapping can read.
"""
import sqlalchemy as sa

metadata = sa.MetaData()

customers = sa.Table(
    "customers", metadata,
    sa.Column("customer_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(255)),
    sa.Column("first_name", sa.String(64)),
    sa.Column("last_name", sa.String(64)),
    sa.Column("city", sa.String(64)),
    sa.Column("region", sa.String(64)),
    sa.Column("country", sa.String(2)),
    sa.Column("source", sa.String(32)),
    sa.Column("newsletter", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("telephone", sa.String(32)),  # as typed at checkout: national or +, landlines and junk included
    sa.Column("sms_optin", sa.SmallInteger, nullable=False, server_default="0"),  # ticked "text me offers"
    sa.Column("active", sa.SmallInteger, nullable=False, server_default="1"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_customers_email", "email"),  # the shop logs its customers in by e-mail address
    mysql_charset="utf8mb4",
)

categories = sa.Table(
    "categories", metadata,
    sa.Column("category_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("parent_id", sa.Integer),
    mysql_charset="utf8mb4",
)

brands = sa.Table(
    "brands", metadata,
    sa.Column("brand_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(128), nullable=False),
    mysql_charset="utf8mb4",
)

products = sa.Table(
    "products", metadata,
    sa.Column("product_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("category_id", sa.Integer, nullable=False),
    sa.Column("brand_id", sa.Integer),
    sa.Column("price", sa.Numeric(10, 2), nullable=False),
    sa.Column("url", sa.String(255)),
    sa.Column("image_url", sa.String(255)),
    sa.Column("active", sa.SmallInteger, nullable=False, server_default="1"),
    sa.Column("stock", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_products_category", "category_id", "product_id"),
    mysql_charset="utf8mb4",
)

product_views = sa.Table(
    "product_views", metadata,
    sa.Column("view_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("customer_id", sa.Integer),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("viewed_at", sa.DateTime, nullable=False),
    # Covering index for the interest aggregation (customer, product, time).
    sa.Index("ix_product_views_customer", "customer_id", "product_id", "viewed_at"),
    mysql_charset="utf8mb4",
)

cart_items = sa.Table(
    "cart_items", metadata,
    sa.Column("cart_item_id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False, server_default="1"),
    sa.Column("added_at", sa.DateTime, nullable=False),
    sa.Index("ix_cart_items_customer", "customer_id", "product_id", "added_at"),
    mysql_charset="utf8mb4",
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("order_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("placed_at", sa.DateTime, nullable=False),
    sa.Column("total", sa.Numeric(12, 2), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # complete, processing, cancelled, pending
    sa.Index("ix_orders_customer", "customer_id", "placed_at", "total"),
    mysql_charset="utf8mb4",
)

order_lines = sa.Table(
    "order_lines", metadata,
    sa.Column("order_line_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_id", sa.Integer, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", sa.Numeric(10, 2), nullable=False),
    sa.Index("ix_order_lines_order", "order_id", "product_id"),
    mysql_charset="utf8mb4",
)

TABLES = (customers, categories, brands, products, product_views, cart_items, orders, order_lines)


def ddl(dialect_name: str) -> str:
    """The CREATE TABLE/INDEX statements for one dialect, for docs and for hosting admins."""
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = sa.create_mock_engine(f"{dialect_name}://", executor=None).dialect
    parts = []
    for table in TABLES:
        parts.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";")
        parts.extend(str(CreateIndex(ix).compile(dialect=dialect)).strip() + ";" for ix in table.indexes)
    return "\n\n".join(parts) + "\n"
