"""The read-only guard cannot be talked out of it: statements that hide a write from a naive
reading (string and comment tricks, executable comments, SET, PRAGMA) are refused by the
statement check, and on SQLite the database's own authorizer refuses them too. Each attack
runs against a real database, and the test checks that nothing was written."""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid

import pytest
import sqlalchemy as sa

from shopcrm.errors import MappingError, ReadOnlyViolation
from shopcrm.shop.mapping import EntityMap, ShopMapping
from shopcrm.shop.presets import preset
from shopcrm.shop.readonly import check_statement, install_guard

BACKSLASH_TRICK = "WITH x AS (SELECT '\\') DELETE FROM customers -- '"


# --- the statement check, per dialect ---------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "SET SESSION TRANSACTION READ WRITE",
    "SET TRANSACTION READ WRITE",
    "set session tx_read_only = 0",
    "SET @@session.tx_read_only = 0",
    "SET GLOBAL read_only = 0",
    "SET SESSION group_concat_max_len = 1, tx_read_only = 0",
    "SET SESSION group_concat_max_len = (SELECT 1 INTO OUTFILE '/tmp/x')",
    "SET SESSION TRANSACTION READ ONLY, READ WRITE",
    "SELECT * FROM customers INTO OUTFILE '/tmp/x'",
    "SeLeCt *\n\tFrOm customers\n\tInTo\n\tOuTfIlE '/tmp/x'",
    "SELECT * FROM customers INTO/**/OUTFILE '/tmp/x'",
    "SELECT * FROM customers /*!50000 INTO OUTFILE '/tmp/x' */",
    "SELECT * FROM customers /*M!100000 INTO OUTFILE '/tmp/x' */",
    "SELECT * FROM customers #'\n INTO OUTFILE '/tmp/x' -- '",
    "SELECT * FROM customers -- '\n INTO OUTFILE '/tmp/x' -- '",
    "SELECT 1--id FROM customers INTO OUTFILE '/tmp/x'",  # MySQL: 1 - -id, not a comment
    "SELECT * FROM customers WHERE email = '\\' INTO OUTFILE \\'/tmp/x' -- '",
    "SELECT * FROM customers INTO DUMPFILE '/tmp/x'",
    "SELECT id FROM customers INTO @stolen",
    "SELECT @a := id FROM customers",
    "SELECT LOAD_FILE('/etc/passwd')",
    "SELECT * FROM customers FOR UPDATE",
    "SELECT * FROM customers FOR SHARE",
    "SELECT * FROM customers LOCK IN SHARE MODE",
    "SELECT 1; DELETE FROM customers",
    "SELECT 1; SET SESSION TRANSACTION READ WRITE",
    "SELECT ';'; DELETE FROM customers",
    "LOAD DATA INFILE '/tmp/x' INTO TABLE customers",
    "HANDLER customers OPEN",
    "CALL wipe()",
    "DO SLEEP(1)",
    "SELECT * FROM customers PROCEDURE ANALYSE()",
    BACKSLASH_TRICK,
    "SELECT 'unterminated",
    "SELECT 1 /* unterminated",
])
def test_mariadb_statement_tricks_are_refused(statement):
    with pytest.raises(ReadOnlyViolation):
        check_statement(statement, "mariadb")


@pytest.mark.parametrize("statement", [
    "PRAGMA query_only = OFF",
    "PRAGMA query_only=0",
    "pragma main.query_only = false",
    "PRAGMA writable_schema = ON",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA wal_checkpoint",
    "PRAGMA table_info = customers",
    BACKSLASH_TRICK,
    "WITH x AS (SELECT 1) DELETE FROM customers",
    "SELECT [a'b] FROM customers; DELETE FROM customers",
    "SELECT [a'] FROM customers; DELETE FROM customers --']",  # [..] quotes an identifier on SQLite
    "SELECT 1 --'\n; DELETE FROM customers",
    "ATTACH DATABASE '/tmp/x.db' AS x",
    "VACUUM INTO '/tmp/x.db'",
    "BEGIN EXCLUSIVE",
    "SELECT 1 UNION SELECT 2; UPDATE customers SET email = NULL",
])
def test_sqlite_statement_tricks_are_refused(statement):
    with pytest.raises(ReadOnlyViolation):
        check_statement(statement, "sqlite")


@pytest.mark.parametrize("dialect,statement", [
    ("mariadb", "SET SESSION group_concat_max_len = @@max_allowed_packet"),
    ("mariadb", "SET SESSION TRANSACTION READ ONLY"),
    ("mariadb", "SHOW CREATE TABLE `customers`"),
    ("mariadb", "SHOW GRANTS"),
    ("mariadb", "DESCRIBE `customers`"),
    ("mariadb", "SELECT DATABASE()"),
    ("mariadb", "SELECT REPLACE(name, '&amp;', '&'), INSERT(name, 1, 1, 'x') FROM products"),
    ("mariadb", "SELECT name AS `into`, 'update; delete' FROM products WHERE id = %(id_1)s"),
    ("mariadb", "SELECT 'it''s', \"say \"\"hi\"\"\" # a comment with an ' apostrophe\nFROM dual"),
    ("mariadb", "SELECT id FROM customers WHERE email LIKE %(p)s ESCAPE '\\\\'"),  # how SQLAlchemy escapes
    ("mariadb", "SELECT 1--1"),  # MySQL: one minus minus one, not a comment
    ("mariadb", "SELECT CAST(name AS CHAR CHARACTER SET utf8mb4) FROM products;"),
    ("sqlite", "PRAGMA main.table_info(\"customers\")"),
    ("sqlite", "PRAGMA query_only"),
    ("sqlite", "SELECT '\\' AS backslash, [select] FROM customers"),  # SQLite has no backslash escapes
    ("sqlite", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT i FROM n"),
    ("sqlite", "SELECT julianday(placed_at) FROM orders WHERE id = ? --'"),
])
def test_the_project_s_reads_pass(dialect, statement):
    check_statement(statement, dialect)


def generic_entities(**replace) -> dict:
    return {**preset("generic").entities, **replace}


def test_a_mapping_select_is_checked_as_both_databases_would_read_it():
    """Before a connection exists, a SELECT must be a read as MariaDB and as SQLite read it."""
    with pytest.raises(MappingError, match="only reads are allowed"):
        ShopMapping("test", generic_entities(order=EntityMap("order", select=BACKSLASH_TRICK)))
    with pytest.raises(MappingError, match="only reads are allowed"):
        ShopMapping("test", generic_entities(order=EntityMap(
            "order", select="SELECT id FROM orders /*!50000 INTO OUTFILE '/tmp/x' */")))


# --- SQLite: the statement check and the authorizer, on a real file ---------------------------------

@pytest.fixture
def sqlite_shop(tmp_path):
    """A one-table shop file and a guarded engine on it."""
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, created_at TEXT)")
        setup.execute("CREATE INDEX ix_email ON customers (email)")
        setup.execute("INSERT INTO customers VALUES (1, 'anna@example.org', '2024-01-02 10:00:00')")
    setup.close()
    engine = install_guard(sa.create_engine(f"sqlite:///{path}"))
    yield engine, path
    engine.dispose()


def _count(path) -> int:
    with sqlite3.connect(path) as check:
        count = check.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    check.close()
    return count


def test_sqlite_the_query_only_and_backslash_attack_is_refused(sqlite_shop):
    """The attack that worked: switch query_only off, then hide a DELETE behind '\\'."""
    engine, path = sqlite_shop
    with engine.connect() as conn:
        for statement in ("PRAGMA query_only = OFF", BACKSLASH_TRICK,
                          "SELECT 1 --'\n; DELETE FROM customers", "VACUUM INTO '" + str(path) + ".copy'"):
            with pytest.raises(ReadOnlyViolation):
                conn.exec_driver_sql(statement)
        assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 1
    assert _count(path) == 1 and not os.path.exists(f"{path}.copy")


def test_sqlite_authorizer_refuses_what_slips_past_the_statement_check(sqlite_shop, tmp_path):
    """On the raw DB-API connection (no statement check at all) SQLite itself refuses."""
    engine, path = sqlite_shop
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement in ("PRAGMA query_only = OFF", BACKSLASH_TRICK, "DELETE FROM customers",
                          "UPDATE customers SET email = NULL", "INSERT INTO customers (id) VALUES (2)",
                          "CREATE TEMP TABLE t (x)", "DROP INDEX ix_email", "BEGIN EXCLUSIVE",
                          f"ATTACH DATABASE '{tmp_path / 'new.db'}' AS x",
                          f"VACUUM INTO '{tmp_path / 'copy.db'}'", "SELECT load_extension('libm')",
                          "SELECT zeroblob(1000000)"):
            with pytest.raises(sqlite3.DatabaseError, match="not authorized|authorization denied"):
                cursor.execute(statement)
        with pytest.raises(sqlite3.DatabaseError, match="not authorized|authorization denied"):
            raw.executescript("PRAGMA query_only = OFF; DELETE FROM customers;")
        assert cursor.execute("PRAGMA query_only").fetchone()[0] == 1
    finally:
        raw.close()
    assert _count(path) == 1
    assert not (tmp_path / "new.db").exists() and not (tmp_path / "copy.db").exists()


def test_sqlite_a_denied_function_is_a_read_only_violation_naming_it(sqlite_shop):
    engine, _ = sqlite_shop
    with engine.connect() as conn, pytest.raises(ReadOnlyViolation, match="zeroblob"):
        conn.exec_driver_sql("SELECT zeroblob(1000000)")


def test_sqlite_reads_and_schema_inspection_still_work(sqlite_shop):
    engine, _ = sqlite_shop
    inspector = sa.inspect(engine)
    assert inspector.get_table_names() == ["customers"]
    assert [c["name"] for c in inspector.get_columns("customers")] == ["id", "email", "created_at"]
    assert [i["name"] for i in inspector.get_indexes("customers")] == ["ix_email"]
    assert inspector.get_foreign_keys("customers") == [] and inspector.get_pk_constraint("customers")
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) "
            "SELECT (SELECT group_concat(i, ',') FROM n), COUNT(*), MAX(julianday(created_at)) > 2400000, "
            "REPLACE(MIN(email), '@', ' at ') FROM customers WHERE email LIKE :p"), {"p": "%@%"}).one()
        assert tuple(row) == ("1,2,3", 1, 1, "anna at example.org")
        assert conn.execute(sa.text("SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM customers")).all() == [(1, 1)]


# --- MariaDB: a root connection, so nothing but the guard stands in the way -------------------------

@pytest.fixture
def mariadb_shop(mariadb_database):
    url = mariadb_database("guard")
    writer = sa.create_engine(url)
    with writer.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100))"))
        conn.execute(sa.text("INSERT INTO customers VALUES (1, 'anna@example.org')"))
    writer.dispose()
    engine = install_guard(sa.create_engine(url))
    # The server (running as its own user) writes OUTFILEs: a directory it may write into.
    outdir = tempfile.mkdtemp(prefix="shopcrm-guard-", dir="/tmp")
    os.chmod(outdir, 0o777)
    yield url, engine, outdir
    engine.dispose()
    shutil.rmtree(outdir, ignore_errors=True)


def _outfile_disguises(path: str) -> list[str]:
    return [
        f"SELECT * FROM customers INTO OUTFILE '{path}'",
        f"sElEcT * fRoM customers\n\tiNtO\n\toUtFiLe '{path}'",
        f"SELECT * FROM customers INTO/**/OUTFILE '{path}'",
        f"SELECT * FROM customers /*!50000 INTO OUTFILE '{path}' */",
        f"SELECT * FROM customers /*M!100000 INTO OUTFILE '{path}' */",
        f"SELECT * FROM customers #'\n INTO OUTFILE '{path}' -- '",
        f"SELECT * FROM customers -- '\n INTO OUTFILE '{path}' -- '",
        f"SELECT 1--id FROM customers INTO OUTFILE '{path}'",
        f"SELECT * FROM customers INTO DUMPFILE '{path}'",
    ]


def test_mariadb_guard_alone_refuses_outfiles_set_and_multi_statements(mariadb_shop):
    url, engine, outdir = mariadb_shop
    target = os.path.join(outdir, f"stolen-{uuid.uuid4().hex}.txt")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT @@session.tx_read_only").scalar() == 1
        for statement in ["SET SESSION TRANSACTION READ WRITE", "SET @@session.tx_read_only = 0",
                          "SET SESSION group_concat_max_len = 1, tx_read_only = 0",
                          *_outfile_disguises(target), "SELECT id FROM customers INTO @stolen",
                          "SELECT 1; DELETE FROM customers", "SELECT * FROM customers FOR UPDATE",
                          "SELECT * FROM customers LOCK IN SHARE MODE", "DELETE FROM customers",
                          "SELECT * FROM customers WHERE email = '\\' INTO OUTFILE \\'/tmp/x' -- '"]:
            with pytest.raises(ReadOnlyViolation):
                conn.exec_driver_sql(statement)
            assert not os.path.exists(target), statement
        # the session is still read-only, and the statement shopcrm itself issues still runs
        assert conn.exec_driver_sql("SELECT @@session.tx_read_only").scalar() == 1
        conn.exec_driver_sql("SET SESSION group_concat_max_len = @@max_allowed_packet")
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM customers").scalar() == 1
    assert os.listdir(outdir) == []


def test_mariadb_without_the_statement_check_the_outfile_would_be_written(mariadb_shop):
    """The control: a read-only session alone does not stop INTO OUTFILE (it is no table write),
    so the refusals above are the statement check's doing."""
    url, _, outdir = mariadb_shop
    target = os.path.join(outdir, "control.txt")
    bare = sa.create_engine(url)
    try:
        with bare.connect() as conn:
            conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SELECT * FROM customers /*!50000 INTO OUTFILE '{target}' */")
    finally:
        bare.dispose()
    assert os.path.exists(target)


def test_mariadb_a_write_the_server_refuses_is_a_read_only_violation(mariadb_shop):
    """A stored function that writes passes the statement check (it is a SELECT) and is refused
    by the read-only session; the error says so in shopcrm's terms."""
    url, engine, _ = mariadb_shop
    writer = sa.create_engine(url)
    with writer.begin() as conn:
        conn.exec_driver_sql("CREATE FUNCTION sneaky() RETURNS INT MODIFIES SQL DATA "
                             "BEGIN DELETE FROM customers; RETURN 1; END")
    writer.dispose()
    with engine.connect() as conn:
        with pytest.raises(ReadOnlyViolation, match="refused a write"):
            conn.exec_driver_sql("SELECT sneaky()")
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM customers").scalar() == 1
