"""One partition of ``crm_membership`` per run on MariaDB/MySQL, so that pruning a run drops a file.

A run writes one membership per customer (100k rows at 100k customers) into a table with a
dozen indexes that the panel's pages read. Deleting an old run's rows row by row costs InnoDB
as much as writing them — every index entry is marked, then purged in the background while the
next run reads the shop and writes its own rows. Migration 0016 partitions the table by
``run_id`` (a RANGE with only ``p_future`` at first); each run then gets its own partition when it
starts (``open_run``) and the history pruning drops the partitions that hold only old runs
(``drop_below``): a file removed instead of rows deleted.

InnoDB refuses foreign keys on a partitioned table, so on MariaDB/MySQL the memberships carry
none: the pruning and the shopper's erasure delete them explicitly, as they always did.

Partition DDL needs the table to itself for a moment, and while it waits for the panel's
readers, new readers of the table wait behind it: so it waits at most :data:`LOCK_WAIT_SECONDS`
at a time, :data:`ATTEMPTS` times with a pause between, then gives up; the run goes on and its
rows land in an existing partition (or in ``p_future``, copied into the next run's partition by
its split), where the pruning deletes them row by row as before. SQLite, and a table that is not
partitioned (a database created without migrations), use the row-by-row way only.

A transaction whose read view is older than a split and that then reads the new partition gets
MariaDB's "table definition has changed, please retry transaction" (1412). Pages read the current
run's partition, which a split does not touch; the customer profile, which reads every run's
rows for its history, asks again once (``customers.profile``).
"""
from __future__ import annotations

import logging
import time

import sqlalchemy as sa

TABLE = "crm_membership"
FUTURE = "p_future"
#: How long partition DDL waits for readers of the table at a time (others queue behind it)...
LOCK_WAIT_SECONDS = 1
#: ... and how many times, with this pause between, before the run does without it.
ATTEMPTS = 3
PAUSE_SECONDS = 1.0
#: MariaDB/MySQL's "lock wait timeout exceeded".
LOCK_WAIT_TIMEOUT = 1205
#: MariaDB/MySQL's "table definition has changed, please retry transaction".
TABLE_CHANGED = 1412

log = logging.getLogger(__name__)


def applies(conn: sa.Connection) -> bool:
    return conn.dialect.name in ("mysql", "mariadb")


def bounds(conn: sa.Connection) -> list[tuple[str, int]] | None:
    """The table's run partitions with their upper bounds (exclusive), lowest first; ``None``
    when the table is not partitioned by this module's scheme."""
    if not applies(conn):
        return None
    rows = conn.execute(sa.text(
        "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t AND PARTITION_NAME IS NOT NULL "
        "ORDER BY PARTITION_ORDINAL_POSITION"), {"t": TABLE}).all()
    names = [name for name, _ in rows]
    if FUTURE not in names:
        return None
    return [(name, int(upper)) for name, upper in rows if name != FUTURE]


def _busy(exc: sa.exc.OperationalError) -> bool:
    return bool(exc.orig.args) and exc.orig.args[0] == LOCK_WAIT_TIMEOUT


def _ddl(conn: sa.Connection, statement: str) -> bool:
    """Run partition DDL with short lock waits; False (logged) when the table stayed busy."""
    conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {int(LOCK_WAIT_SECONDS)}")
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                conn.exec_driver_sql(statement)
                return True
            except sa.exc.OperationalError as exc:
                if not _busy(exc) or attempt == ATTEMPTS:
                    log.warning("crm_membership's partitions left as they are (%s): %s",
                                statement.split(" (")[0], exc.orig)
                    return False
                time.sleep(PAUSE_SECONDS)
        return False
    finally:
        conn.exec_driver_sql("SET SESSION lock_wait_timeout = DEFAULT")


def open_run(engine: sa.Engine, run_id: int) -> bool:
    """Give run ``run_id`` a partition of its own, split off ``p_future`` (empty, unless an
    earlier split gave up: then its rows are copied over); True when one was made. A run older
    than the newest partition (a queued run started late) has its rows in an existing
    partition instead."""
    with engine.connect() as conn:
        parts = bounds(conn)
        if parts is None or (parts and parts[-1][1] > run_id):
            return False
        return _ddl(conn, f"ALTER TABLE {TABLE} REORGANIZE PARTITION {FUTURE} INTO ("
                          f"PARTITION r{int(run_id)} VALUES LESS THAN ({int(run_id) + 1}), "
                          f"PARTITION {FUTURE} VALUES LESS THAN MAXVALUE)")


def drop_below(engine: sa.Engine, limit: int) -> int:
    """Drop the partitions whose every run id is below ``limit`` (the caller makes sure all
    of those runs are old); returns how many went."""
    with engine.connect() as conn:
        parts = bounds(conn)
        gone = [name for name, upper in parts or () if upper <= limit]
        quote = conn.dialect.identifier_preparer.quote
        if not gone or not _ddl(conn, f"ALTER TABLE {TABLE} DROP PARTITION {', '.join(quote(n) for n in gone)}"):
            return 0
        return len(gone)
