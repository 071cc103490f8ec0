"""Database helpers that differ by dialect."""
from __future__ import annotations

import sqlalchemy as sa


def insert_ignoring_duplicates(table: sa.Table, dialect_name: str):
    """An INSERT that silently skips rows whose unique key already exists.

    This is what makes enqueueing idempotent under concurrency: the unique key decides, not a
    check-then-insert race. (MySQL's ``INSERT IGNORE`` would also hide unrelated errors, so
    ``ON DUPLICATE KEY UPDATE`` with a no-op is used there.)
    """
    if dialect_name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert

        stmt = insert(table)
        key = next(iter(table.primary_key.columns))
        return stmt.on_duplicate_key_update({key.name: sa.literal_column(key.name)})
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert

    return insert(table).on_conflict_do_nothing()


def tune_sqlite(engine: sa.Engine) -> None:
    """SQLite for shopcrm's own tables (demo, development): WAL lets the admin read while a
    run or a send writes, and a busy timeout makes concurrent writers wait instead of failing."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()


def keyset_chunks(session, query: sa.Select, key: sa.ColumnElement, size: int):
    """Yield the rows of ``query`` in chunks of ``size``, ordered by ``key`` (unique).

    Keyset paging (``WHERE key > last``) costs the same for the first chunk and the
    thousandth, unlike OFFSET, and never holds a cursor open between chunks, so the caller
    may commit in between.
    """
    last = None
    while True:
        page = query.order_by(key).limit(size)
        if last is not None:
            page = page.where(key > last)
        rows = session.execute(page).all()
        if not rows:
            return
        last = getattr(rows[-1], key.key)
        yield rows
