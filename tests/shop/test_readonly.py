"""shopcrm never writes to the shop: the statement guard and the database's own read-only mode."""
import pytest
import sqlalchemy as sa

from shopcrm.errors import ReadOnlyViolation
from shopcrm.shop import connect_shop, shop_engine
from shopcrm.shop.readonly import check_statement, install_guard
from tests.support.apps import base_config


@pytest.mark.parametrize("statement", [
    "SELECT * FROM customers",
    "  select id from `order` where name = 'DELETE me; UPDATE x'",
    "WITH x AS (SELECT 1) SELECT * FROM x",
    "SHOW VARIABLES LIKE 'sql_mode'",
    "PRAGMA main.table_info(\"customers\")",
    "SET SESSION TRANSACTION READ ONLY",
    "SELECT name AS `update` FROM products",
    "/* comment */ SELECT 1",
])
def test_reads_pass(statement):
    check_statement(statement)


@pytest.mark.parametrize("statement", [
    "INSERT INTO customers (id) VALUES (1)",
    "update customers set email = NULL",
    "DELETE FROM orders",
    "DROP TABLE products",
    "TRUNCATE orders",
    "CREATE INDEX ix ON product_views (customer_id)",
    "ALTER TABLE customers ADD COLUMN x INT",
    "REPLACE INTO customers VALUES (1)",
    "SELECT * FROM customers FOR UPDATE",
    "SELECT * INTO OUTFILE '/tmp/x' FROM customers",
    "WITH x AS (SELECT 1) DELETE FROM customers",
    "SET GLOBAL read_only = 0",
    "LOAD DATA INFILE '/tmp/x' INTO TABLE customers",
    "CALL wipe()",
    "/* SELECT */ DELETE FROM orders",
])
def test_writes_are_refused(statement):
    with pytest.raises(ReadOnlyViolation):
        check_statement(statement)


def test_shop_bind_refuses_writes_through_sqlalchemy(app):
    with app.app_context():
        with connect_shop() as conn:
            before = conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar()
            with pytest.raises(ReadOnlyViolation):
                conn.execute(sa.text("DELETE FROM customers"))
            with pytest.raises(ReadOnlyViolation):
                conn.execute(sa.text("INSERT INTO brands (brand_id, name) VALUES (:i, :n)"), [{"i": 1, "n": "x"}])
            assert conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar() == before


def test_sqlite_shop_connection_is_read_only_in_the_database_too(app):
    """Even a statement that slipped past the guard is refused by SQLite itself (its authorizer)."""
    with app.app_context():
        raw = shop_engine().raw_connection()
        try:
            cursor = raw.cursor()
            with pytest.raises(Exception, match="not authorized|readonly|read-only|query_only|attempt to write"):
                cursor.execute("DELETE FROM customers")
        finally:
            raw.close()


def test_mariadb_shop_connection_is_read_only_in_the_database_too(mariadb_database, tmp_path):
    url = mariadb_database()
    writer = sa.create_engine(url)
    with writer.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id INT PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO customers VALUES (1)"))
    writer.dispose()
    engine = install_guard(sa.create_engine(url))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar() == 1
        with pytest.raises(ReadOnlyViolation):
            conn.execute(sa.text("DELETE FROM customers"))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with pytest.raises(Exception, match="READ ONLY|read.only"):
            cursor.execute("DELETE FROM customers")
    finally:
        raw.close()
        engine.dispose()


def test_the_guard_is_installed_on_a_fresh_app(tmp_path):
    from shopcrm import create_app

    app = create_app(base_config(tmp_path))
    with app.app_context():
        with shop_engine().connect() as conn:
            with pytest.raises(ReadOnlyViolation):
                conn.execute(sa.text("CREATE TABLE evil (x INT)"))
