"""New customers between runs: placed with the current run's model, without a full run.

A full run re-clusters everyone; between runs, customers who signed up since are missing
from the segments. This reads just those customers from the shop, builds their interest
vectors in the current run's feature order, and places them exactly as the run would have
placed a customer it had seen: the nearest segment centroid, the value cluster by the
stored centroids and z-score parameters, RFM against the stored edges, P(alive), expected
orders and value with the stored BG/NBD and Gamma-Gamma models over the run's horizon, churn
with the stored ranking, scale and threshold (older runs: the stored gap rule), actions
against the stored median order value. Their memberships join the current run; the run's
segment sizes and counts are updated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from ..beacon.store import beacon_view_scores
from ..errors import NotEnoughData
from ..extensions import db
from ..mining import interest_features, lifetime_inputs, recommend_actions
from ..mining.forecast import Models, ranking_now
from ..mining.interests import nearest
from ..models import Insight, Membership, Run, Segment
from ..shop.readers import CUSTOMER_BUCKET, fetch_packed, prepare_packing, read_customers
from ..shop.sqlfuncs import bucket
from .extract import ShopExtract, extract
from .mine import MiningResult, history_of, time_of_day, top_ids
from .model import RunModel
from .params import RunParams
from .store import MEMBERSHIP_COLUMNS, executemany, membership_rows


@dataclass
class AssignReport:
    run_id: int
    new_customers: int
    with_interest: int
    customer_ids: tuple[int, ...] = ()  # the customers placed


def members_of(run: Run) -> np.ndarray:
    """The customer ids a run holds memberships for."""
    member = Membership.__table__
    parts = []
    with db.engine.connect() as conn:
        prepare_packing(conn)
        key = bucket(member.c.customer_id, sa.literal_column(str(CUSTOMER_BUCKET)))
        for _, _, tuples in fetch_packed(conn, key, [member.c.customer_id], member, [member.c.run_id == run.id]):
            parts.append(tuples[:, 0])
    return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)


def _place(ex: ShopExtract, run: Run, model: RunModel, stored: dict) -> MiningResult:
    segments = db.session.scalars(sa.select(Segment).where(Segment.run_id == run.id).order_by(Segment.label)).all()
    features = model.features
    columns = {"category": {int(c): i for i, c in enumerate(ex.category_ids)},
               "brand": {int(b): i for i, b in enumerate(ex.brand_ids)}}
    # The run's feature order (features the shop no longer has stay zero), each kind's block
    # normalised to shares on its own, as the run did.
    X = np.zeros((ex.n_customers, len(features)))
    blocks = {"category": ex.interest, "brand": ex.brand_interest}
    for j, (kind, fid) in enumerate(features):
        i = columns[kind].get(fid)
        if i is not None:
            X[:, j] = blocks[kind][:, i]
    for kind in ("category", "brand"):
        cols = [j for j, (k, _) in enumerate(features) if k == kind]
        if cols:
            X[:, cols] = interest_features(X[:, cols], None)
    active = X.sum(axis=1) > 0
    centers = np.array([s.centroid for s in segments], dtype=np.float64)
    segment_of = np.full(ex.n_customers, -1, dtype=np.int64)
    if active.any() and len(centers):
        segment_of[active] = nearest(X[active], centers)

    history = history_of(ex)
    types, rank = model.value.predict(history)
    rfm = model.rfm.predict(history)
    alive, orders, value = _lifetime(ex, model)
    if model.ranked_churn is None:
        score, risk = model.churn.predict(history)
    else:
        raw = ranking_now(model.ranked_churn.ranking, history, rfm, alive, orders)
        score, risk = model.ranked_churn.predict(raw, history.recency_days)
    actions, _ = recommend_actions(types, risk, history, median_order_value=model.median_order_value)
    empty: dict = {}
    return MiningResult(segment_of=segment_of, centers=centers, names=[s.name for s in segments], segment_tops=[],
                        segment_brands=[], top_categories=top_ids(ex.interest, ex.category_ids),
                        top_brands=top_ids(ex.brand_interest, ex.brand_ids), value_types=types, value_rank=rank,
                        rfm=rfm, churn_score=score, churn_risk=risk, actions=actions, p_alive=alive,
                        expected_orders=orders, expected_value=value, rules=empty, insights=empty, quality=empty,
                        model=stored)


def _lifetime(ex: ShopExtract, model: RunModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(alive), expected orders and value of the newcomers by the run's stored models (NaN
    without them), from their orders as of the run's date (calendar days, as the run)."""
    inputs = lifetime_inputs(ex.orders.customer, ex.orders.age_days, ex.orders.total, ex.n_customers,
                             as_of_time_of_day=time_of_day(ex.as_of))
    status = "fitted" if model.values is not None else "no_value_model"
    return Models(purchases=model.purchases, values=model.values, status=status).predict(inputs, model.horizon_days)


def assign_new_customers(run: Run, shop_conn: sa.Connection, mapping) -> AssignReport:
    """Place the shop's customers the run does not know yet; writes in the caller's
    transaction (the caller holds the run lock and commits)."""
    stored = Insight.of(run.id, "model")
    if stored is None:
        raise NotEnoughData(f"run #{run.id} has no stored model (it predates this version); run a segmentation")
    params = RunParams.from_dict(run.params or {})
    model = RunModel.from_dict(stored, params)
    known = members_of(run)
    shop_ids = read_customers(shop_conn, mapping, run.as_of)["ids"]
    new_ids = np.setdiff1d(shop_ids, known)
    if not len(new_ids):
        return AssignReport(run.id, 0, 0)
    beacon_views = beacon_view_scores(shop_conn, mapping, run.as_of, params.interest.half_life_days,
                                      params.interest.horizon_days)
    ex = extract(shop_conn, mapping, run.as_of, params.interest, params.orders, extra_views=beacon_views,
                 only_customers=new_ids.tolist())
    result = _place(ex, run, model, stored)
    segment_ids = np.array(db.session.scalars(
        sa.select(Segment.id).where(Segment.run_id == run.id).order_by(Segment.label)).all() + [0], dtype=np.int64)
    executemany(Membership.__table__, MEMBERSHIP_COLUMNS, membership_rows(run.id, ex, result, segment_ids))
    sizes = np.bincount(result.segment_of[result.segment_of >= 0], minlength=len(segment_ids) - 1)
    for segment in db.session.scalars(sa.select(Segment).where(Segment.run_id == run.id)):
        segment.size += int(sizes[segment.label])
    counts = dict(run.counts or {})
    counts["assigned_new"] = counts.get("assigned_new", 0) + int(ex.n_customers)
    counts["customers"] = counts.get("customers", 0) + int(ex.n_customers)
    counts["with_interest"] = counts.get("with_interest", 0) + int((result.segment_of >= 0).sum())
    run.counts = counts
    return AssignReport(run.id, int(ex.n_customers), int((result.segment_of >= 0).sum()),
                        tuple(int(i) for i in ex.customer_ids))
