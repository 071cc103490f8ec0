"""The guard that keeps shopcrm from ever writing to the shop's database.

Three layers, so that no single mistake writes to a shop:

1. every statement sent through the shop engine is checked before it leaves Python; anything
   that is not a read is refused with :class:`ReadOnlyViolation`;
2. each new connection is put in a read-only mode by the database itself
   (``SET SESSION TRANSACTION READ ONLY`` on MariaDB/MySQL, ``PRAGMA query_only`` on SQLite,
   ``default_transaction_read_only`` on PostgreSQL);
3. in production the shop is read through a database user with SELECT grants only (README).
"""
from __future__ import annotations

import re

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..errors import ReadOnlyViolation

_LITERALS = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`", re.S)
_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*|#[^\n]*", re.S)
_READ_START = re.compile(
    r"^\s*(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|VALUES)\b"
    r"|^\s*PRAGMA\s+(\w+\.)?(table_info|table_xinfo|index_list|index_info|index_xinfo|foreign_key_list"
    r"|database_list|table_list|query_only|compile_options)\b"
    r"|^\s*SET\s+(SESSION\s+)?(TRANSACTION\s+READ\s+ONLY|NAMES\b|CHARACTER\s+SET\b"
    r"|(SESSION\s+)?(sql_mode|time_zone|group_concat_max_len|max_execution_time|net_read_timeout"
    r"|net_write_timeout|default_transaction_read_only|statement_timeout|client_encoding)\b)",
    re.I,
)
# REPLACE( is the string function (OpenCart's names are decoded with it), not REPLACE INTO.
_WRITE_WORDS = re.compile(
    r"\b(INSERT|UPDATE|DELETE|REPLACE(?!\s*\()|MERGE|UPSERT|ALTER|DROP|CREATE|TRUNCATE|GRANT|REVOKE|RENAME"
    r"|LOAD|CALL|HANDLER|LOCK|UNLOCK|ATTACH|DETACH|VACUUM|REINDEX|OPTIMIZE|ANALYZE|FLUSH|KILL"
    r"|INTO\s+(OUT|DUMP)FILE|FOR\s+UPDATE|FOR\s+SHARE|IN\s+SHARE\s+MODE)\b",
    re.I,
)


def bare_sql(statement: str) -> str:
    """``statement`` with literals, quoted identifiers and comments blanked out."""
    return _COMMENTS.sub(" ", _LITERALS.sub("''", statement))


def check_statement(statement: str) -> None:
    """Raise :class:`ReadOnlyViolation` unless ``statement`` only reads.

    Literals, quoted identifiers and comments are blanked first, so a product called
    "Update your kitchen" or a column named in back-quotes cannot fool the check.
    """
    bare = bare_sql(statement)
    if not _READ_START.match(bare):
        raise ReadOnlyViolation(f"refused to run a non-read statement on the shop database: {statement[:80]!r}")
    if bare.lstrip().upper().startswith(("SELECT", "WITH", "(")) and _WRITE_WORDS.search(bare):
        raise ReadOnlyViolation(f"refused a statement that could write to the shop database: {statement[:80]!r}")


def _before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
    if executemany:
        raise ReadOnlyViolation("refused a bulk write to the shop database")
    check_statement(statement)


def _read_only_session(dbapi_connection, connection_record):
    """Ask the database itself to refuse writes on this connection."""
    module = type(dbapi_connection).__module__
    cursor = dbapi_connection.cursor()
    try:
        if module.startswith("sqlite3"):
            cursor.execute("PRAGMA query_only = ON")
        elif module.startswith(("pymysql", "MySQLdb", "mysql")):
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
        elif module.startswith("psycopg"):
            cursor.execute("SET default_transaction_read_only = on")
    finally:
        cursor.close()


def install_guard(engine: Engine) -> Engine:
    """Make ``engine`` read-only (idempotent)."""
    if not event.contains(engine, "before_cursor_execute", _before_cursor_execute):
        event.listen(engine, "before_cursor_execute", _before_cursor_execute)
        event.listen(engine, "connect", _read_only_session)
    return engine
