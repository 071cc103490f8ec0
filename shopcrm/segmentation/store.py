"""The store stage of a run: results into shopcrm's ``crm_`` tables, in the caller's transaction.

Nothing here commits: the pipeline commits the results together with the switch of the run
to ``succeeded``, so a run is either entirely current or not at all. Memberships are written
as plain tuples, never a dict and an ORM object per customer: on PyMySQL as multi-row INSERTs
prepared in a second thread while the server stores the previous ones (``insert_streamed``),
with LOAD DATA where the URL allows it, elsewhere with the driver's ``executemany``.
"""
from __future__ import annotations

import os
import queue
import tempfile
import threading
from typing import Callable, Iterable

import numpy as np
import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Insight, Membership, Rule, Run, Segment
from ..shop.readers import fetch_packed, prepare_packing
from ..vocab import LAST_ORDER, LAST_ORDER_CODES, RULE_KINDS
from . import partitions
from .extract import ShopExtract
from .mine import MiningResult, Previous

BATCH = 10_000
STATEMENT_BYTES = 1_000_000  # PyMySQL's own executemany cut: well under max_allowed_packet (16 MB)
BATCH_DONE = object()
TEXT_LIMIT = 64  # the width of the location and source columns
MEMBERSHIP_COLUMNS = ("run_id", "customer_id", "segment_id", "value_type", "recency_days", "last_order",
                      "frequency", "monetary",
                      "top_categories", "top_brands", "value_rank", "rfm_r", "rfm_f", "rfm_m", "churn_score",
                      "churn_risk", "action", "country", "region", "city", "source", "p_alive", "expected_orders",
                      "expected_value")
RULE_COLUMNS = ("run_id", "kind", "antecedent", "consequent", "count", "support", "confidence", "lift")
Progress = Callable[[float], None]


def _tsv(value) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "1" if value else "0"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def bulk_loadable(conn: sa.Connection) -> bool:
    """Whether this MariaDB/MySQL connection may send a local file (PyMySQL with
    ``local_infile=1`` in the database URL; see docs/CONFIGURATION.md before enabling it)."""
    from pymysql.constants import CLIENT

    raw = conn.connection.dbapi_connection
    return type(raw).__module__.startswith("pymysql") and bool(getattr(raw, "client_flag", 0) & CLIENT.LOCAL_FILES)


def _load_data(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """LOAD DATA LOCAL INFILE from a private temporary file: the server parses the rows, the
    driver escapes nothing (twice as fast as executemany for 100k memberships)."""
    quote = conn.dialect.identifier_preparer.quote
    fd, path = tempfile.mkstemp(prefix="shopcrm-", suffix=".tsv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines("\t".join(_tsv(v) for v in row) + "\n" for row in rows)
        conn.exec_driver_sql(f"LOAD DATA LOCAL INFILE %s INTO TABLE {quote(table.name)} CHARACTER SET utf8mb4 "
                             f"({', '.join(quote(c) for c in columns)})", (path,))
    finally:
        os.unlink(path)


def executemany(table: sa.Table, columns: tuple[str, ...], rows: list[tuple], bulk: bool = False) -> None:
    """Insert plain tuples through the session's connection (same transaction); with ``bulk``
    through LOAD DATA where the connection allows it."""
    if not rows:
        return
    conn = db.session.connection()
    if bulk and bulk_loadable(conn):
        _load_data(conn, table, columns, rows)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    conn.exec_driver_sql(sql, rows)


def _pymysql(conn: sa.Connection) -> bool:
    return type(conn.connection.dbapi_connection).__module__.startswith("pymysql")


def insert_streamed(table: sa.Table, columns: tuple[str, ...], batches: Iterable[list[tuple]],
                    after_batch: Callable[[], None] = lambda: None) -> None:
    """Insert batches of tuples through the session's PyMySQL connection (same transaction),
    turning the next batch into SQL while the server stores the previous one.

    PyMySQL binds values by escaping them into the statement text on the client, one value at
    a time in Python: for 100k memberships that is as long as the server's own work. Done in a
    second thread, with the driver's own ``mogrify``, it overlaps with the server's (the thread
    that sends waits on the socket without holding the GIL), so the store costs about the
    larger of the two instead of their sum."""
    conn = db.session.connection()
    raw = conn.connection.dbapi_connection
    quote = conn.dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
    template = "(" + ", ".join(["%s"] * len(columns)) + ")"
    statements: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                statements.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        escaper = raw.cursor()
        try:
            for rows in batches:
                values, size = [], 0
                for row in rows:
                    literal = escaper.mogrify(template, row)
                    values.append(literal)
                    size += len(literal) + 1
                    if size >= STATEMENT_BYTES:
                        if not put(head + ",".join(values)):
                            return
                        values, size = [], 0
                if values and not put(head + ",".join(values)):
                    return
                if not put(BATCH_DONE):
                    return
        except BaseException as exc:  # handed to the sending thread, which raises it
            put(exc)
        finally:
            escaper.close()
            put(None)

    producer = threading.Thread(target=produce, name="shopcrm-store", daemon=True)
    producer.start()
    cursor = raw.cursor()
    try:
        while (item := statements.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            if item is BATCH_DONE:
                after_batch()
                continue
            try:
                cursor.execute(item)
            except conn.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy would have raised it
                raise sa.exc.DBAPIError.instance(item[:200] + "…", None, exc, conn.dialect.loaded_dbapi.Error,
                                                 dialect=conn.dialect) from exc
    finally:
        stop.set()
        cursor.close()
        producer.join()


def previous_segments(run: Run | None) -> Previous | None:
    """Who was in which segment in ``run`` (the run current before a new one)."""
    if run is None:
        return None
    segments = db.session.execute(sa.select(Segment.id, Segment.label).where(Segment.run_id == run.id)).all()
    if not segments:
        return None
    label_of = {sid: label for sid, label in segments}
    ids, labels = [], []
    member = Membership.__table__
    with db.engine.connect() as conn:
        prepare_packing(conn)
        for keys, counts, tuples in fetch_packed(conn, member.c.segment_id, [member.c.customer_id], member,
                                                 [member.c.run_id == run.id, member.c.segment_id.is_not(None)]):
            ids.append(tuples[:, 0])
            labels.append(np.repeat([label_of[int(k)] for k in keys], counts))
    return Previous(run_id=run.id, customer_ids=np.concatenate(ids) if ids else np.empty(0, np.int64),
                    labels=np.concatenate(labels) if labels else np.empty(0, np.int64), n_segments=len(segments))


def _nullable(values: np.ndarray, missing: np.ndarray) -> list:
    return np.where(missing, None, values).tolist()


def _text(values: np.ndarray) -> list:
    return [None if v is None else str(v)[:TEXT_LIMIT] for v in values.tolist()]


def last_order_codes(recency_days: np.ndarray) -> np.ndarray:
    """Each recency's bucket code (vocab.LAST_ORDER_CODES): a bucket holds the days up to its
    upper edge, inclusive; no order at all (NaN) is "never"."""
    highs = [high for _, high in LAST_ORDER.values() if high is not None]
    codes = np.asarray([LAST_ORDER_CODES[key] for key in LAST_ORDER], dtype=np.int64)
    days = np.asarray(recency_days, dtype=np.float64)
    found = codes[np.searchsorted(highs, np.nan_to_num(days), side="left")]
    return np.where(np.isnan(days), LAST_ORDER_CODES["never"], found)


def membership_rows(run_id: int, ex: ShopExtract, result: MiningResult, segment_ids: np.ndarray,
                    rows: np.ndarray | slice = slice(None)) -> list[tuple]:
    """One tuple per customer (``rows`` of the extract), in :data:`MEMBERSHIP_COLUMNS` order."""
    label = result.segment_of[rows]
    recency = np.round(ex.recency_days[rows], 3)  # as stored: its bucket must be the stored value's
    rank = result.value_rank[rows]
    rfm = result.rfm[rows]
    churn = result.churn_score[rows]
    alive, orders, value = result.p_alive[rows], result.expected_orders[rows], result.expected_value[rows]
    n = len(label)
    columns = [
        [run_id] * n,
        ex.customer_ids[rows].tolist(),
        _nullable(segment_ids[np.maximum(label, 0)], label < 0),
        result.value_types[rows].tolist(),
        _nullable(recency, np.isnan(recency)),
        last_order_codes(recency).tolist(),
        ex.frequency[rows].tolist(),
        np.round(ex.monetary[rows], 2).tolist(),
        result.top_categories[rows].tolist(),
        result.top_brands[rows].tolist(),
        _nullable(rank, rank < 0),
        *(_nullable(rfm[:, j], rfm[:, j] == 0) for j in range(3)),
        _nullable(np.round(churn, 4), np.isnan(churn)),
        result.churn_risk[rows].astype(bool).tolist(),
        result.actions[rows].tolist(),
        *(_text(getattr(ex, f)[rows]) for f in ("country", "region", "city", "source")),
        _nullable(np.round(alive, 4), np.isnan(alive)),
        _nullable(np.round(orders, 4), np.isnan(orders)),
        _nullable(np.round(value, 2), np.isnan(value)),
    ]
    return list(zip(*columns))


def store_memberships(run: Run, ex: ShopExtract, result: MiningResult, progress: Progress | None = None) -> None:
    """Write the run's segments and one membership per customer."""
    say = progress or (lambda fraction: None)
    sizes = np.bincount(result.segment_of[result.segment_of >= 0], minlength=len(result.names))
    segments = [Segment(run_id=run.id, label=i, name=name, size=int(sizes[i]), top=result.segment_tops[i],
                        centroid=[round(float(x), 6) for x in result.centers[i]])
                for i, name in enumerate(result.names)]
    db.session.add_all(segments)
    db.session.flush()
    segment_ids = np.array([s.id for s in segments] + [0], dtype=np.int64)
    slices = [slice(start, min(start + BATCH, ex.n_customers)) for start in range(0, ex.n_customers, BATCH)]
    conn = db.session.connection()
    if _pymysql(conn) and not bulk_loadable(conn):
        done = iter(slices)
        insert_streamed(Membership.__table__, MEMBERSHIP_COLUMNS,
                        (membership_rows(run.id, ex, result, segment_ids, rows) for rows in slices),
                        after_batch=lambda: say(next(done).stop / max(ex.n_customers, 1)))
        return
    for rows in slices:
        executemany(Membership.__table__, MEMBERSHIP_COLUMNS, membership_rows(run.id, ex, result, segment_ids, rows),
                    bulk=True)
        say(rows.stop / max(ex.n_customers, 1))


def store_figures(run: Run, ex: ShopExtract, result: MiningResult) -> dict:
    """Write the rules and insights (the model included); return the run's counts."""
    rule_rows = []
    for kind in RULE_KINDS:
        r = result.rules[kind]
        rule_rows.extend(zip([run.id] * len(r["count"]), [kind] * len(r["count"]), r["antecedent"].tolist(),
                             r["consequent"].tolist(), r["count"].tolist(), np.round(r["support"], 6).tolist(),
                             np.round(r["confidence"], 6).tolist(), np.round(r["lift"], 6).tolist()))
    executemany(Rule.__table__, RULE_COLUMNS, rule_rows)
    db.session.add_all(Insight(run_id=run.id, name=name, data=data) for name, data in result.insights.items())
    db.session.add(Insight(run_id=run.id, name="model", data=result.model))

    types, type_counts = np.unique(result.value_types, return_counts=True)
    actions, action_counts = np.unique(result.actions, return_counts=True)
    return {
        "customers": ex.n_customers,
        "with_interest": int((result.segment_of >= 0).sum()),
        "segments": len(result.names),
        "value_types": {str(t): int(c) for t, c in zip(types, type_counts)},
        "actions": {str(a): int(c) for a, c in zip(actions, action_counts)},
        "churn_risk": int(result.churn_risk.sum()),
        "rules": {kind: int(len(result.rules[kind]["count"])) for kind in RULE_KINDS},
        **ex.counts,
    }


def prune(engine: sa.Engine, keep_successful: int) -> int:
    """Delete runs older than the newest ``keep_successful`` successful ones, with everything
    they produced, in a transaction of their own; returns how many runs went.

    A run calls this as it starts, on another connection while it reads the shop, keeping
    ``history - 1`` runs: once it succeeds, ``history`` remain (if it fails, one fewer until
    the next success). Never touches queued runs, nor a running one (the caller, even when it
    is older than the kept runs: a queued run started late). Where the memberships are
    partitioned by run (:mod:`.partitions`), the old runs' partitions are dropped first, and
    the row-by-row delete finds little or nothing left there.
    """
    run = Run.__table__
    with engine.begin() as conn:
        kept = conn.execute(sa.select(run.c.id).where(run.c.status == "succeeded")
                            .order_by(run.c.id.desc()).limit(keep_successful)).scalars().all()
        if len(kept) < keep_successful:
            return 0
        unfinished = run.c.status.in_(("queued", "running"))
        old = conn.execute(sa.select(run.c.id).where(run.c.id < min(kept), ~unfinished)).scalars().all()
        # Only a running run (the caller) holds rows below the kept ones; a queued one has none
        # yet, and whatever its id, its rows will land in a partition that is there then.
        running = conn.execute(sa.select(sa.func.min(run.c.id)).where(run.c.status == "running")).scalar()
    if not old:
        return 0
    partitions.drop_below(engine, min(min(kept), running) if running is not None else min(kept))
    with engine.begin() as conn:
        for model in (Rule, Insight, Membership, Segment, Run):
            table = model.__table__
            column = table.c.id if model is Run else table.c.run_id
            conn.execute(table.delete().where(column.in_(old)))
    return len(old)


def mark_interrupted() -> None:
    """Runs left 'running' by a process that died: we hold the lock, so none is really running."""
    db.session.execute(
        sa.update(Run).where(Run.status == "running")
        .values(status="failed", finished_at=utcnow(), error="interrupted: the process stopped before finishing")
    )
