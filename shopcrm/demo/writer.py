"""Writing a demo shop into a database: the generic schema's tables, created and filled.

This writes shop tables, which nothing else in shopcrm does: only into a database it is
pointed at explicitly, never through the read-only shop connection.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
import sqlalchemy as sa

from ..errors import ShopCRMError
from . import schema as gs
from .generator import WRITE_CHUNK, DemoShop


def _columns_rows(cols: dict[str, np.ndarray]):
    """Column names and an iterator over rows of plain Python values, converted a chunk at a
    time so that writing millions of rows does not hold them all as Python objects."""
    names = list(cols)
    total = len(cols[names[0]]) if names else 0

    def rows():
        for start in range(0, total, WRITE_CHUNK):
            arrays = [np.asarray(cols[c][start:start + WRITE_CHUNK]).tolist() for c in names]
            yield from zip(*arrays)

    return names, rows()


def _tsv_field(value) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _load_mysql(conn: sa.Connection, table: sa.Table, cols: dict[str, np.ndarray]) -> bool:
    """LOAD DATA LOCAL INFILE: much faster than INSERTs for millions of rows.

    Needs ``local_infile`` on both sides; when the server or driver refuses, the caller falls
    back to multi-row INSERTs.
    """
    names, rows = _columns_rows(cols)
    fd, path = tempfile.mkstemp(suffix=".tsv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write("\t".join(_tsv_field(v) for v in row) + "\n")
        cols_sql = ", ".join(f"`{c}`" for c in names)
        conn.exec_driver_sql(
            f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table.name}` CHARACTER SET utf8mb4 ({cols_sql})", (path,))
        return True
    except (sa.exc.DBAPIError, RuntimeError):
        return False
    finally:
        os.unlink(path)


def _insert(conn: sa.Connection, table: sa.Table, cols: dict[str, np.ndarray], chunk: int = 20000) -> None:
    names, rows = _columns_rows(cols)
    placeholders = ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * len(names))
    quote = conn.dialect.identifier_preparer.quote
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) VALUES ({placeholders})"
    batch = []
    cursor = conn.connection.cursor()
    try:
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
    finally:
        cursor.close()


class ShopExists(ShopCRMError):
    """The target database already holds shop tables."""


def write(engine: sa.Engine, shop: DemoShop, replace: bool = False, fast_load: bool = True) -> dict[str, int]:
    """Create the generic schema in ``engine``'s database and fill it.

    Refuses to touch a database that already has shop tables unless ``replace`` is given, so
    pointing the demo generator at a real shop cannot damage it.
    """
    existing = set(sa.inspect(engine).get_table_names()) & {t.name for t in gs.TABLES}
    if existing and not replace:
        raise ShopExists(f"the database already has shop tables ({', '.join(sorted(existing))}); "
                         "use --replace to drop and recreate the demo shop")
    if existing:
        gs.metadata.drop_all(engine, tables=[t for t in gs.TABLES if t.name in existing])
    gs.metadata.create_all(engine)
    counts = {}
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA synchronous = OFF")
        for table in gs.TABLES:
            cols = shop.tables[table.name]
            loaded = engine.dialect.name in ("mysql", "mariadb") and fast_load and _load_mysql(conn, table, cols)
            if not loaded:
                _insert(conn, table, cols)
            counts[table.name] = shop.rows(table.name)
    return counts


def append(engine: sa.Engine, tables: dict[str, dict[str, np.ndarray]]) -> dict[str, int]:
    """Add rows to the tables of an existing demo shop (customers who arrive after a run)."""
    counts = {}
    with engine.begin() as conn:
        for table in gs.TABLES:
            cols = tables.get(table.name)
            if cols and len(next(iter(cols.values()))):
                _insert(conn, table, cols)
                counts[table.name] = len(next(iter(cols.values())))
    return counts
