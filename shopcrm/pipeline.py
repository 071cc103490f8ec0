"""One segmentation run: extract from the shop, mine, store — atomically.

The run row is committed as ``running`` first (so the admin sees it), then every result of
the run (segments, one membership per customer) is written in one transaction together with
the switch to ``succeeded``. If anything fails, or the process dies half-way, that transaction
never commits: the previous successful run stays current. A lease in ``crm_lock`` keeps two
runs from overlapping, across processes and machines.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Callable

import numpy as np
import sqlalchemy as sa
from flask import current_app

from .errors import NotEnoughData
from .extensions import db
from .locks import job_lock
from .mining import InterestSegmenter, PurchaseHistory, ValueTypeClassifier, normalize_rows, segment_names
from .mining.naming import top_features
from .models import Membership, Rule, Run, Segment, utcnow
from .shop import connect_shop, current_mapping
from .shop.crm_views import beacon_view_scores
from .shop.schema import verify
from .shop.extract import InterestParams, OrderParams, ShopExtract, extract

LOCK_NAME = "segmentation"
MIN_CUSTOMERS = 10
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunParams:
    """Every knob of a run; stored with the run so results can be explained later."""

    interest: InterestParams = field(default_factory=InterestParams)
    orders: OrderParams = field(default_factory=OrderParams)
    n_clusters: int | None = None
    k_min: int = 2
    k_max: int = 12
    silhouette_sample: int = 4000
    random_state: int = 0
    new_days: int = 90
    growth_ratio: float = 3.0

    @classmethod
    def from_config(cls, config, **overrides) -> "RunParams":
        c = config
        values = dict(
            interest=InterestParams(
                weight_view=c["SHOPCRM_WEIGHT_VIEW"], weight_cart=c["SHOPCRM_WEIGHT_CART"],
                weight_purchase=c["SHOPCRM_WEIGHT_PURCHASE"], half_life_days=c["SHOPCRM_HALF_LIFE_DAYS"],
                horizon_days=c["SHOPCRM_INTEREST_HORIZON_DAYS"]),
            orders=OrderParams(window_days=c["SHOPCRM_VALUE_WINDOW_DAYS"], growth_days=c["SHOPCRM_GROWTH_DAYS"]),
            n_clusters=c["SHOPCRM_N_CLUSTERS"], k_min=c["SHOPCRM_K_MIN"], k_max=c["SHOPCRM_K_MAX"],
            silhouette_sample=c["SHOPCRM_SILHOUETTE_SAMPLE"], random_state=c["SHOPCRM_RANDOM_STATE"],
            new_days=c["SHOPCRM_NEW_DAYS"], growth_ratio=c["SHOPCRM_GROWTH_RATIO"],
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MiningResult:
    """What the mining stage hands to the store stage."""

    segment_of: np.ndarray  # per customer: segment label, -1 without interest data
    centers: np.ndarray
    names: list[str]
    value_types: np.ndarray
    top_categories: list[str]
    k_scores: dict
    segment_tops: list[list[dict]]


def mine(ex: ShopExtract, params: RunParams) -> MiningResult:
    """Pure computation on the extract (no database): segments and value types."""
    if ex.n_customers < MIN_CUSTOMERS:
        raise NotEnoughData(f"the shop has {ex.n_customers} customer(s); a segmentation needs at least {MIN_CUSTOMERS}")
    active = ex.interest.sum(axis=1) > 0
    if active.sum() < MIN_CUSTOMERS:
        raise NotEnoughData(f"only {int(active.sum())} customer(s) have browsing, cart or order activity; "
                            f"a segmentation needs at least {MIN_CUSTOMERS}")
    shares = normalize_rows(ex.interest)
    segmenter = InterestSegmenter(n_clusters=params.n_clusters, k_range=(params.k_min, params.k_max),
                                  sample_size=params.silhouette_sample, random_state=params.random_state)
    segmenter.fit(shares[active])
    segment_of = np.full(ex.n_customers, -1, dtype=np.int64)
    segment_of[active] = segmenter.labels_
    names = segment_names(segmenter.cluster_centers_, ex.category_names)

    history = PurchaseHistory(ex.account_age_days, ex.orders_total, ex.recency_days, ex.first_order_days,
                              ex.frequency, ex.monetary, ex.recent_spend)
    classifier = ValueTypeClassifier(new_days=params.new_days, growth_days=params.orders.growth_days,
                                     growth_ratio=params.growth_ratio, window_days=params.orders.window_days,
                                     random_state=params.random_state)
    value_types = classifier.fit_predict(history)

    order = np.argsort(-shares, axis=1, kind="stable")[:, :3]
    top_categories = [
        ",".join(str(int(ex.category_ids[j])) for j in row_order if shares[i, j] > 0)
        for i, row_order in enumerate(order)
    ]
    segment_tops = [
        [{"id": int(ex.category_ids[j]), "name": name, "share": round(share, 4)}
         for j, name, share in top_features(center, ex.category_names, top=5, min_share=0.02)]
        for center in segmenter.cluster_centers_
    ]
    return MiningResult(segment_of, segmenter.cluster_centers_, names, value_types, top_categories,
                        segmenter.k_scores_, segment_tops)


def _store(run: Run, ex: ShopExtract, result: MiningResult) -> dict:
    """Write segments and memberships in the caller's transaction; return the counts."""
    sizes = np.bincount(result.segment_of[result.segment_of >= 0], minlength=len(result.names))
    segments = [Segment(run_id=run.id, label=i, name=name, size=int(sizes[i]), top=result.segment_tops[i],
                        centroid=[round(float(x), 6) for x in result.centers[i]])
                for i, name in enumerate(result.names)]
    db.session.add_all(segments)
    db.session.flush()
    segment_ids = np.array([s.id for s in segments] + [0])
    table = Membership.__table__
    batch = []
    for i in range(ex.n_customers):
        label = int(result.segment_of[i])
        recency = ex.recency_days[i]
        batch.append({
            "run_id": run.id, "customer_id": int(ex.customer_ids[i]),
            "segment_id": int(segment_ids[label]) if label >= 0 else None,
            "value_type": str(result.value_types[i]),
            "recency_days": None if np.isnan(recency) else round(float(recency), 3),
            "frequency": int(ex.frequency[i]), "monetary": round(float(ex.monetary[i]), 2),
            "top_categories": result.top_categories[i] or None,
        })
        if len(batch) >= 5000:
            db.session.execute(table.insert(), batch)
            batch = []
    if batch:
        db.session.execute(table.insert(), batch)
    types, type_counts = np.unique(result.value_types, return_counts=True)
    return {
        "customers": ex.n_customers,
        "with_interest": int((result.segment_of >= 0).sum()),
        "segments": len(result.names),
        "value_types": {str(t): int(c) for t, c in zip(types, type_counts)},
        **ex.counts,
    }


def _prune(keep: int) -> None:
    """Keep the newest ``keep`` successful runs (and any failed ones newer than the oldest kept)."""
    kept = db.session.scalars(
        sa.select(Run.id).where(Run.status == "succeeded").order_by(Run.id.desc()).limit(keep)).all()
    if len(kept) < keep:
        return
    oldest = min(kept)
    old = db.session.scalars(sa.select(Run.id).where(Run.id < oldest, Run.status != "queued")).all()
    if old:
        db.session.execute(sa.delete(Rule).where(Rule.run_id.in_(old)))
        db.session.execute(sa.delete(Membership).where(Membership.run_id.in_(old)))
        db.session.execute(sa.delete(Segment).where(Segment.run_id.in_(old)))
        db.session.execute(sa.delete(Run).where(Run.id.in_(old)))


def _mark_interrupted() -> None:
    """Runs left 'running' by a process that died: we hold the lock, so none is really running."""
    db.session.execute(
        sa.update(Run).where(Run.status == "running")
        .values(status="failed", finished_at=utcnow(), error="interrupted: the process stopped before finishing")
    )


def run_segmentation(params: RunParams | None = None, as_of: datetime | None = None, requested_by: str = "cli",
                     progress: Progress | None = None, run_id: int | None = None, wait: float = 0) -> Run:
    """Run a full segmentation and make it current. Raises on failure (the run is kept as failed)."""
    config = current_app.config
    params = params or RunParams.from_config(config)
    as_of = (as_of or datetime.now()).replace(microsecond=0)
    say = progress or (lambda stage: None)
    with job_lock(LOCK_NAME, ttl=config["SHOPCRM_LOCK_TTL_SECONDS"], wait=wait) as lease:
        _mark_interrupted()
        run = db.session.get(Run, run_id) if run_id else None
        if run is None:
            run = Run(kind="segmentation", requested_by=requested_by)
            db.session.add(run)
        run.status, run.started_at, run.as_of, run.params = "running", utcnow(), as_of, params.to_dict()
        db.session.commit()
        timings: dict[str, float] = {}
        try:
            say("extract")
            t0 = time.perf_counter()
            with connect_shop() as conn:
                mapping = current_mapping()
                verify(conn, mapping)  # a mapping that does not fit is a clear MappingError, not a traceback
                beacon_views = beacon_view_scores(conn, mapping, as_of, params.interest)
                ex = extract(conn, mapping, as_of, params.interest, params.orders, extra_views=beacon_views)
            timings["extract"] = round(time.perf_counter() - t0, 3)
            lease.renew()

            say("mine")
            t0 = time.perf_counter()
            result = mine(ex, params)
            timings["mine"] = round(time.perf_counter() - t0, 3)
            lease.renew()

            say("store")
            lease.renew(force=True)  # before our write transaction opens (SQLite: one writer at a time)
            t0 = time.perf_counter()
            counts = _store(run, ex, result)
            timings["store"] = round(time.perf_counter() - t0, 3)
            run.counts = counts
            run.quality = {"k_scores": {str(k): round(v, 4) for k, v in result.k_scores.items()}}
            run.timings = timings
            run.status, run.finished_at = "succeeded", utcnow()
            _prune(config["SHOPCRM_RUN_HISTORY"])
            lease.check()  # if the lease was lost, nothing of this run is committed
            db.session.commit()
        except BaseException as exc:
            db.session.rollback()
            failed = db.session.get(Run, run.id)
            failed.status, failed.finished_at = "failed", utcnow()
            failed.error = str(exc) or type(exc).__name__
            failed.timings = timings
            db.session.commit()
            raise
    return run
