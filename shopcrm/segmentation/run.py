"""One segmentation run: extract from the shop, mine, store — atomically.

The run row is committed as ``running`` first (so the admin sees it), then every result of
the run (segments, one membership per customer, rules, insights, quality) is written in one
transaction together with the switch to ``succeeded``. If anything fails, or the process
dies half-way, that transaction never commits: the previous successful run stays current. A
lease in ``crm_lock`` keeps two runs from overlapping, across processes and machines.

The stages are the modules beside this one: ``extract`` (the shop's rows as arrays),
``mine`` (every analysis, no database), ``store`` (the ``crm_`` tables) and ``assign`` (new
customers between runs). After a run, ``run_and_index`` rebuilds the customer search's index.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from threadpoolctl import threadpool_limits

from ..beacon.store import beacon_view_scores
from ..clock import shop_now, utcnow
from ..errors import ConfigError, NotEnoughData, ShopCRMError
from ..extensions import db
from ..locks import job_lock
from ..models import Run
from ..shop import connect_shop, current_mapping, shop_reads
from ..shop import queries as shopq
from ..shop.schema import verify
from . import partitions, search_index
from .assign import AssignReport, assign_new_customers
from .extract import ShopExtract, extract
from .memory import give_back
from .mine import MiningResult, combine, mine_customers, mine_orders, mine_quality, order_work
from .params import RunParams
from .store import mark_interrupted, previous_segments, prune, store_figures, store_memberships

LOCK_NAME = "segmentation"
#: Where each stage starts on a run's progress scale (0..1).
STAGES = {"extract": 0.0, "mine": 0.5, "store": 0.75, "done": 1.0}
Progress = Callable[[str, float], None]

__all__ = ["LOCK_NAME", "STAGES", "RunParams", "assign_new", "run_and_index", "run_segmentation"]

log = logging.getLogger(__name__)


def _reporter(progress: Progress | None) -> Callable[[str, float], None]:
    """``report(stage, fraction_of_stage)`` → ``progress(stage, fraction_of_run)``."""
    names = list(STAGES)

    def report(stage: str, fraction: float = 0.0) -> None:
        if progress is None:
            return
        start = STAGES[stage]
        following = names.index(stage) + 1
        end = STAGES[names[following]] if following < len(names) else 1.0
        progress(stage, start + (end - start) * min(max(fraction, 0.0), 1.0))

    return report


def _in_thread(threads: int, work: Callable, *args):
    """Run ``work`` in a worker thread under the run's thread cap (OpenMP's cap is per
    calling thread, so the worker must set its own)."""
    with threadpool_limits(limits=threads):
        return work(*args)


def _figures(ex: ShopExtract, params: RunParams, result: MiningResult, X, segmenter, previous):
    orders = mine_orders(ex, params)
    quality = mine_quality(ex, params, result, X, segmenter, previous)
    give_back()
    return orders, quality


def _prepare_history(engine: sa.Engine, run_id: int, keep: int) -> int:
    """As a run starts, in a worker thread: the run's own partition of the memberships (where
    they are partitioned), then the runs beyond the newest ``keep`` pruned (none for 0)."""
    try:
        partitions.open_run(engine, run_id)
    except sa.exc.SQLAlchemyError as exc:  # the run's rows go into an existing partition: still pruned later
        log.warning("run %s: no partition of its own: %s", run_id, exc)
    return prune(engine, keep) if keep > 0 else 0


def _pruned(future) -> int | str:
    """How many old runs the history pruning removed, or why it could not (the run goes on:
    the next run prunes again)."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a failed clean-up must not fail the run
        return f"not pruned: {exc}"


def _names(ex: ShopExtract, result: MiningResult) -> dict:
    """Names for the ids the stored figures and rules mention, so pages need no shop lookup."""
    wanted = {p["product_id"] for key in ("customers_per_product", "top_products") for p in result.insights[key]}
    for kind in ("product", "sequence"):
        rules = result.rules[kind]
        wanted.update(rules["antecedent"][:200].tolist())
        wanted.update(rules["consequent"][:200].tolist())
    products = {}
    if wanted:
        try:
            with shop_reads(), connect_shop() as conn:
                found = shopq.products_by_ids(conn, current_mapping(), sorted(wanted))
            products = {str(pid): row.get("name") for pid, row in found.items()}
        except ShopCRMError:
            products = {}
    return {"products": products,
            "categories": {str(int(c)): n for c, n in zip(ex.category_ids, ex.category_names)},
            "brands": {str(int(b)): n for b, n in zip(ex.brand_ids, ex.brand_names)}}


def run_segmentation(params: RunParams | None = None, as_of: datetime | None = None, requested_by: str = "cli",
                     progress: Progress | None = None, run_id: int | None = None, wait: float = 0,
                     on_wait: Callable[[str], None] | None = None) -> Run:
    """Run a full segmentation and make it current. Raises on failure (the run is kept as failed).

    ``progress(stage, fraction)`` is told the stage (extract, mine, store, done) and how much
    of the run is done (0..1); ``on_wait(who)``, when another run holds the lock and ``wait``
    allows waiting for it.
    """
    config = current_app.config
    params = params or RunParams.from_config(config)
    if params.n_clusters is not None and params.n_clusters < 2:
        raise ConfigError(f"a segmentation needs at least 2 segments, not {params.n_clusters}: one segment would hold "
                          "every customer (leave the number out to choose it automatically)")
    as_of = (as_of or shop_now()).replace(microsecond=0)
    report = _reporter(progress)
    with job_lock(LOCK_NAME, ttl=config["SHOPCRM_LOCK_TTL_SECONDS"], wait=wait, on_wait=on_wait) as lease, \
            threadpool_limits(limits=params.threads):
        mark_interrupted()
        previous_run = Run.current()
        run = db.session.get(Run, run_id) if run_id else None
        if run is None:
            run = Run(kind="segmentation", requested_by=requested_by)
            db.session.add(run)
        run.status, run.started_at, run.as_of, run.params = "running", utcnow(), as_of, params.to_dict()
        db.session.commit()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        keep = config["SHOPCRM_RUN_HISTORY"]
        history = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopcrm-prune")
        # This run's partition is made and old runs go while the shop is read (their own
        # connection and transaction); with a history of one, old runs go only once this run
        # has replaced the current one.
        pruned = history.submit(_prepare_history, db.engine, run.id, keep - 1 if keep > 1 else 0)
        try:
            report("extract")
            t0 = time.perf_counter()
            with shop_reads(), connect_shop() as conn:
                mapping = current_mapping()
                verify(conn, mapping)  # a mapping that does not fit is a clear MappingError, not a traceback
                beacon_views = beacon_view_scores(conn, mapping, as_of, params.interest.half_life_days,
                                                  params.interest.horizon_days)
                ex = extract(conn, mapping, as_of, params.interest, params.orders, extra_views=beacon_views,
                             after_orders=order_work(params, as_of))
            timings["extract"] = round(time.perf_counter() - t0, 3)
            lease.renew()

            report("mine")
            t0 = time.perf_counter()
            result, X, segmenter = mine_customers(ex, params)
            run.params = {**run.params, **result.params_ran}  # what ran, where it differs from what was asked
            previous = previous_segments(previous_run)
            timings["mine"] = round(time.perf_counter() - t0, 3)
            lease.renew()

            report("store")
            give_back()  # what extracting and mining freed, before the store and the figures make more
            pruned_runs = _pruned(pruned)  # done before the rows go in: partition DDL would wait for them
            lease.renew(force=True)  # before our write transaction opens (SQLite: one writer at a time)
            t0 = time.perf_counter()
            # Quality, rules and chart figures (numpy, no database) are computed in a worker
            # thread while the memberships are written: the database's share of the writing
            # is free time for them.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopcrm-figures") as worker:
                figures = worker.submit(_in_thread, params.threads, _figures, ex, params, result, X, segmenter,
                                        previous)
                store_memberships(run, ex, result, progress=lambda fraction: report("store", fraction))
                timings["store.memberships"] = round(time.perf_counter() - t0, 3)
                combine(result, *figures.result())
            t1 = time.perf_counter()
            timings["store.waited_for_figures"] = round(max(0.0, t1 - t0 - timings["store.memberships"]), 3)
            result.insights["names"] = _names(ex, result)
            counts = store_figures(run, ex, result)
            timings["store.figures"] = round(time.perf_counter() - t1, 3)
            timings.update({f"mine.{k}": v for k, v in result.timings.items()})
            run.counts = {**counts, "pruned_runs": pruned_runs}
            run.quality = result.quality
            run.status, run.finished_at = "succeeded", utcnow()
            timings["store"] = round(time.perf_counter() - t0, 3)
            timings["total"] = round(time.perf_counter() - started, 3)
            run.timings = timings
            lease.check()  # if the lease was lost, nothing of this run is committed
            db.session.commit()
            if keep <= 1:
                prune(db.engine, keep)
            report("done")
        except BaseException as exc:
            _record_failure(run.id, exc, timings)
            raise
        finally:
            history.shutdown(wait=True)
    return run


def failure_text(exc: BaseException) -> str:
    """What a failed run stores and the runs page shows: one line an admin can act on, never a
    driver's message with its SQL and a link."""
    if isinstance(exc, ShopCRMError):
        text = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        text = "interrupted (Ctrl-C or a stop signal)"
    elif isinstance(exc, sa.exc.DBAPIError):
        text = f"a database stopped the run: {exc.orig}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:500]


def _record_failure(run_id: int, exc: BaseException, timings: dict) -> None:
    """Mark the run failed with :func:`failure_text`. When shopcrm's own database is what
    failed, this cannot be written either: the run stays ``running`` until the next run marks it
    interrupted, and the caller reports the original error, not this one."""
    try:
        db.session.rollback()
        failed = db.session.get(Run, run_id)
        failed.status, failed.finished_at = "failed", utcnow()
        failed.error = failure_text(exc)
        failed.timings = timings
        db.session.commit()
    except sa.exc.SQLAlchemyError:
        try:
            db.session.rollback()
        except sa.exc.SQLAlchemyError:
            pass


def run_and_index(**kwargs) -> tuple[Run, search_index.IndexState]:
    """A run (``run_segmentation``'s arguments), then the customer search's word index rebuilt
    for it: what the scheduled job, the run queue and the demo do."""
    run = run_segmentation(**kwargs)
    return run, search_index.refresh()


def assign_new(wait: float = 0) -> AssignReport:
    """Place customers who signed up since the current run into its segments (no full run).

    Takes the segmentation lock, so it never overlaps a run.
    """
    config = current_app.config
    with job_lock(LOCK_NAME, ttl=config["SHOPCRM_LOCK_TTL_SECONDS"], wait=wait), threadpool_limits(limits=1):
        run = Run.current()
        if run is None:
            raise NotEnoughData("there is no segmentation run yet; run `flask shopcrm segment` first")
        with connect_shop() as conn:
            report = assign_new_customers(run, conn, current_mapping())
        search_index.place(run.id, list(report.customer_ids))
        db.session.commit()
    return report
