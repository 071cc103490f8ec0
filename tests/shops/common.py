"""Helpers shared by the real-shop fixtures: DDL with a prefix, fast bulk loads, a SELECT-only user."""
from __future__ import annotations

import html
import os
import secrets
import tempfile
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

import numpy as np
import sqlalchemy as sa

# Both shops switch strict mode off for their own sessions (OpenCart's mysqli driver sets
# NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION; PrestaShop removes STRICT_*): columns a loader leaves
# out then get their implicit default, as when the shop itself inserts a row.
SHOP_SQL_MODE = "NO_ENGINE_SUBSTITUTION"


def create_tables(engine: sa.Engine, ddl: str, prefix: str) -> None:
    sql = "\n".join(line for line in ddl.splitlines() if not line.lstrip().startswith("--"))
    with engine.begin() as conn:
        for statement in sql.replace("{prefix}", prefix).split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)


def _field(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def load(conn: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """LOAD DATA LOCAL INFILE ``rows`` into ``table`` (the shop's own sql_mode); returns the count."""
    fd, path = tempfile.mkstemp(suffix=".tsv")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write("\t".join(_field(v) for v in row) + "\n")
                count += 1
        conn.exec_driver_sql(f"SET SESSION sql_mode = '{SHOP_SQL_MODE}'")
        cols = ", ".join(f"`{c}`" for c in columns)
        conn.exec_driver_sql(f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 ({cols})", (path,))
        # A shop that has run for a while has index statistics; a bulk load leaves them stale and
        # the optimizer would pick join orders no live shop gets.
        conn.exec_driver_sql(f"ANALYZE TABLE `{table}`").all()
    finally:
        os.unlink(path)
    return count


def escaped(value):
    """What OpenCart stores for a text a user typed: htmlspecialchars($text, ENT_COMPAT)."""
    return None if value is None else html.escape(str(value), quote=False).replace('"', "&quot;")


def writer_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, connect_args={"local_infile": True})


@contextmanager
def select_only_user(server_url: str, database: str):
    """A MariaDB user that may only SELECT from ``database``; yields its URL, drops it after.

    It is created for 'localhost' and '127.0.0.1': which one a TCP login matches depends on
    the server's skip_name_resolve.
    """
    name = f"crm_ro_{uuid.uuid4().hex[:10]}"
    password = secrets.token_hex(12)
    hosts = ("localhost", "127.0.0.1")
    admin = sa.create_engine(server_url)
    with admin.begin() as conn:
        for host in hosts:
            conn.execute(sa.text(f"CREATE USER '{name}'@'{host}' IDENTIFIED BY :pw"), {"pw": password})
            conn.execute(sa.text(f"GRANT SELECT ON `{database}`.* TO '{name}'@'{host}'"))
    url = sa.engine.make_url(server_url).set(username=name, password=password, database=database)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            for host in hosts:
                conn.execute(sa.text(f"DROP USER IF EXISTS '{name}'@'{host}'"))
        admin.dispose()


def database_name(url: str) -> str:
    return sa.engine.make_url(url).database


def utc(value) -> datetime:
    """A naive local demo timestamp as naive UTC (how crm_view stores beacon times)."""
    local = datetime.fromisoformat(str(value))
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def later(value, days: float) -> str:
    return (datetime.fromisoformat(str(value)) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


def nonce() -> str:
    return secrets.token_hex(16)



@contextmanager
def fresh_database(server_url: str, prefix: str):
    """A new, empty MariaDB database (unique name), dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    try:
        yield sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
