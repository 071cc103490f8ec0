"""The mining stage of a run: every analysis on one extract, no database involved."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import NotEnoughData
from ..mining import (
    ChurnScorer,
    InterestSegmenter,
    PairRules,
    PurchaseHistory,
    RFMScorer,
    SequenceRules,
    ValueTypeClassifier,
    clustering_scores,
    interest_features,
    location_source_groups,
    migration,
    normalize_rows,
    recommend_actions,
    segment_names,
    stability,
)
from ..mining import insights as charts
from ..mining.naming import top_features
from .extract import ShopExtract
from .model import RunModel
from .params import RunParams

STABILITY_SAMPLE = 10_000  # rows refitted per stability check


@dataclass
class Previous:
    """The segments of the run that is current before this one (for the migration matrix)."""

    run_id: int
    customer_ids: np.ndarray
    labels: np.ndarray
    n_segments: int


@dataclass
class MiningResult:
    """What the mining stage hands to the store stage."""

    segment_of: np.ndarray  # per customer: segment label, -1 without interest data
    centers: np.ndarray
    names: list[str]
    segment_tops: list[list[dict]]  # per segment: its top categories
    segment_brands: list[list[dict]]  # per segment: its top brands
    top_categories: np.ndarray  # object: per customer "id,id,id" or None
    top_brands: np.ndarray
    value_types: np.ndarray
    value_rank: np.ndarray  # -1 never bought
    rfm: np.ndarray  # (n, 3) scores 1..5, 0 never bought
    churn_score: np.ndarray  # NaN never bought
    churn_risk: np.ndarray
    actions: np.ndarray
    rules: dict[str, dict[str, np.ndarray]]
    insights: dict[str, object]
    quality: dict
    model: dict
    timings: dict[str, float] = field(default_factory=dict)


def history_of(ex: ShopExtract) -> PurchaseHistory:
    return PurchaseHistory(ex.account_age_days, ex.orders_total, ex.recency_days, ex.first_order_days,
                           ex.frequency, ex.monetary, ex.recent_spend)


def top_ids(matrix: np.ndarray, ids: np.ndarray, top: int = 3) -> np.ndarray:
    """Per row, the ids of its ``top`` largest positive columns, comma-separated (None if none)."""
    n, width = matrix.shape
    out = np.full(n, None, dtype=object)
    if width == 0 or n == 0:
        return out
    top = min(top, width)
    part = np.argpartition(-matrix, top - 1, axis=1)[:, :top] if width > top else np.tile(np.arange(width), (n, 1))
    values = np.take_along_axis(matrix, part, axis=1)
    order = np.lexsort((part, -values), axis=1)  # largest first, ties by column
    part, values = np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)
    names = np.array([str(int(i)) for i in ids], dtype=object)[part]  # object arrays: no fixed-width copies
    positive = values > 0
    text = names[:, 0].copy()
    for j in range(1, top):
        text = np.where(positive[:, j], text + "," + names[:, j], text)
    out[positive[:, 0]] = text[positive[:, 0]]
    return out


def _feature_names(ex: ShopExtract, level: str) -> tuple[list[str], list[tuple[str, int]]]:
    cats = [("category", int(c)) for c in ex.category_ids]
    brands = [("brand", int(b)) for b in ex.brand_ids]
    if level == "brand" and brands:
        return list(ex.brand_names), brands
    if level == "both" and brands:
        return list(ex.category_names) + list(ex.brand_names), cats + brands
    return list(ex.category_names), cats


def _segment_tops(matrix: np.ndarray, labels: np.ndarray, k: int, ids: np.ndarray, names: list[str]) -> list[list[dict]]:
    """Per segment, the categories (or brands) holding most of its members' interest."""
    shares = normalize_rows(matrix)
    tops = []
    for j in range(k):
        members = labels == j
        center = shares[members].mean(axis=0) if members.any() and shares.shape[1] else np.zeros(shares.shape[1])
        tops.append([{"id": int(ids[c]), "name": name, "share": round(share, 4)}
                     for c, name, share in top_features(center, names, top=5, min_share=0.02)])
    return tops


def _rules(ex: ShopExtract, params: RunParams) -> dict[str, dict[str, np.ndarray]]:
    thresholds = dict(min_support=params.rule_min_support, min_confidence=params.rule_min_confidence,
                      min_lift=params.rule_min_lift, min_count=params.rule_min_count, max_rules=params.rule_max)
    lines = ex.lines
    product_ids = ex.catalog.product_ids[lines.product]
    categories = ex.catalog.product_category[lines.product]
    with_category = categories >= 0
    return {
        "product": PairRules(**thresholds).fit(lines.order, product_ids).rules_,
        "category": PairRules(**thresholds).fit(lines.order[with_category],
                                                ex.catalog.category_ids[categories[with_category]]).rules_,
        "sequence": SequenceRules(**thresholds).fit(ex.orders.customer[lines.order], product_ids,
                                                    -ex.orders.age_days[lines.order]).rules_,
    }


def _insights(ex: ShopExtract, params: RunParams) -> dict[str, object]:
    orders, lines = ex.orders, ex.lines
    sales = charts.sales_per_month(ex.as_of, orders.age_days, orders.total, orders.customer, lines.order,
                                   lines.quantity, months=max(1, params.orders.history_days // 31 + 1))
    buyers = ex.frequency > 0
    return {
        "visitors_per_month": charts.visitors_per_month(ex.as_of, ex.visit_months, params.interest.horizon_days),
        "sales_per_month": sales,
        **charts.best_months(sales),
        "transactions_per_customer": charts.transactions_per_customer(ex.frequency[buyers], ex.monetary[buyers]),
        **charts.product_figures(ex.catalog.product_ids, orders.age_days, orders.customer, lines.order,
                                 lines.product, lines.quantity, lines.unit_price),
        "groups": location_source_groups(ex.country, ex.region, ex.city, ex.source, ex.monetary, buyers),
        "summary": {"customers": int(ex.n_customers), "buyers_in_window": int(buyers.sum()),
                    "revenue_in_window": round(float(ex.monetary.sum()), 2), "window_days": params.orders.window_days},
    }


class _Laps:
    """Seconds per step, in the order the steps ran."""

    def __init__(self, timings: dict[str, float]):
        self.timings, self.clock = timings, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.clock, 3)
        self.clock = now


def mine_customers(ex: ShopExtract, params: RunParams) -> tuple[MiningResult, np.ndarray, InterestSegmenter]:
    """What every membership needs: segments, value types, RFM, churn, actions, tops.

    Returns the result (rules, insights and quality still empty), and the feature rows and
    the fitted segmenter that :func:`mine_quality` measures.
    """
    timings: dict[str, float] = {}
    lap = _Laps(timings)
    minimum = params.min_customers
    if ex.n_customers < minimum:
        raise NotEnoughData(f"the shop has {ex.n_customers} customer(s); a segmentation needs at least {minimum}")
    features = interest_features(ex.interest, ex.brand_interest, params.level)
    active = features.sum(axis=1) > 0
    if active.sum() < minimum:
        raise NotEnoughData(f"only {int(active.sum())} customer(s) have browsing, cart or order activity; "
                            f"a segmentation needs at least {minimum}")
    X = features[active]
    segmenter = InterestSegmenter(n_clusters=params.n_clusters, k_range=(params.k_min, params.k_max),
                                  sample_size=params.silhouette_sample, algorithm=params.algorithm,
                                  minibatch_threshold=params.minibatch_threshold,
                                  random_state=params.random_state).fit(X)
    k = segmenter.n_clusters_
    segment_of = np.full(ex.n_customers, -1, dtype=np.int64)
    segment_of[active] = segmenter.labels_
    names, feature_ids = _feature_names(ex, params.level)
    lap("segments")

    history = history_of(ex)
    classifier = ValueTypeClassifier(new_days=params.new_days, growth_days=params.orders.growth_days,
                                     growth_ratio=params.growth_ratio, window_days=params.orders.window_days,
                                     random_state=params.random_state).fit(history)
    rfm = RFMScorer().fit(history)
    churn = ChurnScorer(gap_factor=params.churn_gap_factor, min_days=params.churn_min_days).fit(history)
    actions, median_order = recommend_actions(classifier.types_, churn.risk_, history)
    lap("value_types")

    tops = _segment_tops(ex.interest, segment_of, k, ex.category_ids, list(ex.category_names))
    brand_tops = _segment_tops(ex.brand_interest, segment_of, k, ex.brand_ids, list(ex.brand_names))
    model = RunModel(level=params.level, features=feature_ids, value=classifier, rfm=rfm, churn=churn,
                     median_order_value=median_order).to_dict()
    quality = {"value_clusters": {"centers": np.round(classifier.cluster_centers_, 4).tolist(),
                                  "scores": np.round(classifier.cluster_scores_, 4).tolist(),
                                  "rank_of_label": classifier.rank_of_label_.tolist()}}
    result = MiningResult(
        segment_of=segment_of, centers=segmenter.cluster_centers_, names=segment_names(segmenter.cluster_centers_, names),
        segment_tops=tops, segment_brands=brand_tops,
        top_categories=top_ids(ex.interest, ex.category_ids), top_brands=top_ids(ex.brand_interest, ex.brand_ids),
        value_types=classifier.types_, value_rank=classifier.value_rank_, rfm=rfm.scores_,
        churn_score=churn.score_, churn_risk=churn.risk_, actions=actions, rules={}, insights={},
        quality=quality, model=model, timings=timings,
    )
    lap("labels")
    return result, X, segmenter


def mine_orders(ex: ShopExtract, params: RunParams) -> tuple[dict, dict, dict[str, float]]:
    """Rules and chart figures: they need the extract only, not the segments, so a run
    computes them while it segments."""
    timings: dict[str, float] = {}
    lap = _Laps(timings)
    rules = _rules(ex, params)
    lap("rules")
    insights = _insights(ex, params)
    lap("insights")
    return rules, insights, timings


def mine_quality(ex: ShopExtract, params: RunParams, result: MiningResult, X: np.ndarray,
                 segmenter: InterestSegmenter, previous: Previous | None = None) -> dict:
    """Quality of the segments (and their move since the previous run)."""
    lap = _Laps(result.timings)
    quality = {"k_scores": {str(kk): round(v, 4) for kk, v in segmenter.k_scores_.items()},
               **clustering_scores(X, segmenter.labels_, params.silhouette_sample, params.random_state)}
    quality["stability"] = stability(X, segmenter.labels_, segmenter.cluster_centers_, segmenter.cluster,
                                     runs=params.stability_runs, sample_size=STABILITY_SAMPLE,
                                     random_state=params.random_state)
    if previous is not None:
        quality["migration"] = {"previous_run": previous.run_id,
                                **migration(previous.customer_ids, previous.labels, previous.n_segments,
                                            ex.customer_ids, result.segment_of, segmenter.n_clusters_)}
    lap("quality")
    return quality


def combine(result: MiningResult, orders_part: tuple[dict, dict, dict[str, float]], quality: dict) -> MiningResult:
    """The whole result: the customers' part, the rules and figures, the quality."""
    rules, insights, timings = orders_part
    result.rules.update(rules)
    result.insights.update(insights)
    result.insights["summary"]["with_interest"] = int((result.segment_of >= 0).sum())
    result.insights["segments"] = [{"label": j, "top_categories": top, "top_brands": brands}
                                   for j, (top, brands) in enumerate(zip(result.segment_tops, result.segment_brands))]
    result.quality.update(quality)
    result.timings.update(timings)
    return result
