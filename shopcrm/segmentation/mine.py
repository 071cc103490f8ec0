"""The mining stage of a run: every analysis on one extract, no database involved.

The lifetime part (P(alive), expected purchases and value, the backtests that choose the churn
and value rankings: ``mining.forecast``) needs only the orders; ``order_work`` hands it to the
extraction, which runs it as soon as the orders are read, while the views still stream in.
``mine_customers`` then turns the chosen churn ranking into each buyer's churn score, flag and
recommended action, and says on the run what it could not do as asked (``notes``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from threadpoolctl import threadpool_limits

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
from ..mining.churn import RankedChurn
from ..mining.forecast import Forecast, forecast
from ..mining.naming import top_features
from ..shop.readers import Orders
from .extract import OrderWork, ShopExtract
from .memory import give_back
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
    p_alive: np.ndarray  # NaN never bought, or no lifetime model (too few repeat buyers)
    expected_orders: np.ndarray  # purchase occasions expected in the prediction horizon
    expected_value: np.ndarray  # revenue expected in the prediction horizon
    rules: dict[str, dict[str, np.ndarray]]
    insights: dict[str, object]
    quality: dict
    model: dict
    timings: dict[str, float] = field(default_factory=dict)
    params_ran: dict = field(default_factory=dict)  # the parameters that ran where they differ from those asked


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


def level_used(ex: ShopExtract, level: str) -> str:
    """The interest level that can run: brand and both need brands (``interest_features``
    falls back to categories without them)."""
    return level if level == "category" or len(ex.brand_ids) else "category"


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
    rules = {"product": PairRules(**thresholds).fit(lines.order, product_ids).rules_}
    give_back()
    rules["category"] = PairRules(**thresholds).fit(lines.order[with_category],
                                                    ex.catalog.category_ids[categories[with_category]]).rules_
    give_back()
    rules["sequence"] = SequenceRules(**thresholds).fit(ex.orders.customer[lines.order], product_ids,
                                                        -ex.orders.age_days[lines.order]).rules_
    give_back()
    return rules


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


def release_freed_memory() -> None:
    """Hand freed heap memory back to the system before the store stage, a run's peak.

    The lifetime work allocates thousands of small arrays (the classifier's histograms and
    trees) on the extraction's order thread; glibc keeps what a thread freed in that thread's
    own arena, so the process stayed ~25 MB larger through the store stage at 100k customers.
    ``malloc_trim`` returns it (all arenas). Only where the C library is glibc (Linux); a no-op
    elsewhere.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def time_of_day(as_of: datetime) -> float:
    """The as-of instant's time of day as a fraction of a day: purchase occasions are calendar days."""
    return (as_of.hour * 3600 + as_of.minute * 60 + as_of.second) / 86400.0


def forecast_orders(orders: Orders, n_customers: int, as_of: datetime, params: RunParams) -> Forecast:
    """The lifetime predictions and the backtests that choose the rankings, from the orders alone."""
    return forecast(orders.customer, orders.age_days, orders.total, n_customers,
                    horizon_days=params.prediction_horizon_days, as_of_time_of_day=time_of_day(as_of),
                    window_days=params.orders.window_days, growth_days=params.orders.growth_days,
                    min_repeat_buyers=params.min_repeat_buyers, random_state=params.random_state)


def order_work(params: RunParams, as_of: datetime) -> OrderWork:
    """:func:`forecast_orders` as the extraction's ``after_orders``: on the order side's thread,
    under the run's thread cap (OpenMP's cap is per calling thread; the classifier uses it)."""
    def work(orders: Orders, n_customers: int) -> Forecast:
        with threadpool_limits(limits=params.threads):
            return forecast_orders(orders, n_customers, as_of, params)
    return work


def _no_activity(ex: ShopExtract, params: RunParams, active: int) -> NotEnoughData:
    """Too few customers with activity; where the orders simply stop long before the as-of
    date, the newest order's date and the ``--as-of`` that would analyse the shop as it was."""
    horizon = params.interest.horizon_days
    text = (f"only {active} customer(s) have browsing, cart or order activity in the {horizon} days before "
            f"{ex.as_of:%Y-%m-%d} (SHOPCRM_INTEREST_HORIZON_DAYS); a segmentation needs at least "
            f"{params.min_customers}")
    if len(ex.orders) and float(ex.orders.age_days.min()) >= horizon:
        newest = ex.as_of - timedelta(days=float(ex.orders.age_days.min()))
        text += (f". The shop has {len(ex.orders):,} orders, but the newest was placed on {newest:%Y-%m-%d}: "
                 f"to analyse the shop as it was then, run `flask shopcrm segment --as-of "
                 f"{newest.date() + timedelta(days=1):%Y-%m-%d}`")
    return NotEnoughData(text)


def interest_notes(ex: ShopExtract, params: RunParams, X: np.ndarray, k: int) -> tuple[list[str], dict]:
    """What the segmentation could not do as asked, in the owner's words, and the parameters
    that ran instead of the asked ones."""
    notes, ran = [], {}
    level = level_used(ex, params.level)
    if level != params.level:
        asked = "brand" if params.level == "brand" else "category and brand"
        notes.append(f"Segments by {asked} were asked for, but no product of the shop has a brand: the segments "
                     "are by category.")
        ran["level"] = level
    kind = "brand" if level == "brand" else "category"
    used = int((X > 0).any(axis=0).sum()) if X.size else 0
    if used == 1 and level != "both":
        column = int(np.flatnonzero((X > 0).any(axis=0))[0])
        name = (list(ex.brand_names) if kind == "brand" else list(ex.category_names))[column]
        notes.append(f"All the customers' activity is in one {kind} ({name}), so their interests cannot tell them "
                     f"apart: there is one interest segment. Interest segments need activity in at least two "
                     f"{'brands' if kind == 'brand' else 'categories'}.")
    if params.n_clusters is not None and k < params.n_clusters:
        notes.append(f"{params.n_clusters} segments were asked for, but the customers' interests form only {k} "
                     f"distinct group(s), so the run made {k}.")
    if ran or (params.n_clusters is not None and k != params.n_clusters):
        ran["asked"] = {"level": params.level, "n_clusters": params.n_clusters}
        if params.n_clusters is not None:
            ran["n_clusters"] = k
    return notes, ran


def lifetime_notes(fc: Forecast) -> list[str]:
    """Why a run has no predicted value, in the owner's words."""
    m = fc.models
    if m.status == "too_few_repeat_buyers":
        return [f"Only {m.repeat_buyers:,} customers have bought more than once; predicting purchases and value "
                f"needs at least {m.needed:,}, so this run has no predicted value or chance of still being a "
                "customer, and it ranks customers by their RFM score instead."]
    if m.status == "heavy_tailed_values":
        return ["A few orders are worth so much more than the rest that the value model cannot give an average "
                "order value: this run predicts purchases but no value, and ranks customers by their RFM score "
                "instead."]
    return []


def _round(value, digits: int = 4):
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _lifetime_quality(fc: Forecast, churn: RankedChurn, buyers: int) -> dict:
    m = fc.models
    lifetime = {"status": m.status, "repeat_buyers": m.repeat_buyers, "needed": m.needed,
                "horizon_days": fc.horizon_days, "reason": m.reason or None}
    if m.purchases is not None:
        p = m.purchases
        lifetime["bgnbd"] = {"r": _round(p.r_, 6), "alpha": _round(p.alpha_, 6), "a": _round(p.a_, 6),
                             "b": _round(p.b_, 6), "converged": p.converged_}
        v = m.values
        lifetime["gamma_gamma"] = {"p": _round(v.p_, 6), "q": _round(v.q_, 6), "v": _round(v.v_, 6),
                                   "frequency_value_correlation": _round(v.frequency_value_correlation_),
                                   "converged": v.converged_}
    past = fc.past.summary()
    at_risk = int(churn.risk_.sum())
    return {
        "lifetime": lifetime,
        "churn_ranking": {"chosen": fc.churn_ranking, "auc": past["aucs"].get(fc.churn_ranking),
                          "baseline_auc": past["aucs"].get("days_since_last"), "aucs": past["aucs"],
                          "customers": past["customers"], "churned": past["churned"],
                          "horizon_days": fc.horizon_days, "skipped": past["skipped"],
                          "newcomers_by": fc.newcomer_ranking, "at_risk": at_risk,
                          "at_risk_share": _round(at_risk / buyers if buyers else 0.0),
                          "score": "share of buyers the ranking puts below the customer (0 to 1)"},
        "value_ranking": {"chosen": fc.value_ranking, "shares": past["value_shares"],
                          "ceiling": past["value_ceiling"], "fraction": past["value_fraction"],
                          "customers": past["customers"], "horizon_days": fc.horizon_days},
    }


def mine_customers(ex: ShopExtract, params: RunParams) -> tuple[MiningResult, np.ndarray, InterestSegmenter]:
    """What every membership needs: segments, value types, RFM, churn, actions, tops, and the
    lifetime predictions (``ex.order_analysis``, or computed here when the extraction did not).

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
        raise _no_activity(ex, params, int(active.sum()))
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

    notes, ran = interest_notes(ex, params, X, k)

    history = history_of(ex)
    classifier = ValueTypeClassifier(new_days=params.new_days, growth_days=params.orders.growth_days,
                                     growth_ratio=params.growth_ratio, window_days=params.orders.window_days,
                                     random_state=params.random_state).fit(history)
    rfm = RFMScorer().fit(history)
    lap("value_types")

    fc = ex.order_analysis
    if fc is None:
        fc = forecast_orders(ex.orders, ex.n_customers, ex.as_of, params)
        lap("lifetime")
    ex.order_analysis = None  # the backtest's arrays go now: the store stage, next, is a run's peak of memory
    gap_rule = ChurnScorer(gap_factor=params.churn_gap_factor, min_days=params.churn_min_days).fit(history)
    buyers = int((history.orders_total > 0).sum())
    share = float(gap_rule.risk_.sum()) / buyers if buyers else 0.0
    churn = RankedChurn(ranking=fc.churn_ranking, risk_share=share, min_days=params.churn_min_days).fit(
        fc.churn_raw, history.recency_days)
    newcomers = churn if fc.newcomer_ranking == fc.churn_ranking else RankedChurn(
        ranking=fc.newcomer_ranking, risk_share=share, min_days=params.churn_min_days).fit(
        fc.newcomer_raw, history.recency_days)
    actions, median_order = recommend_actions(classifier.types_, churn.risk_, history)
    notes += lifetime_notes(fc)
    lap("churn")

    tops = _segment_tops(ex.interest, segment_of, k, ex.category_ids, list(ex.category_names))
    brand_tops = _segment_tops(ex.brand_interest, segment_of, k, ex.brand_ids, list(ex.brand_names))
    model = RunModel(level=level_used(ex, params.level), features=feature_ids, value=classifier, rfm=rfm,
                     churn=gap_rule, median_order_value=median_order, ranked_churn=newcomers,
                     purchases=fc.models.purchases, values=fc.models.values if fc.models.status == "fitted" else None,
                     horizon_days=fc.horizon_days).to_dict()
    quality = {"value_clusters": {"centers": np.round(classifier.cluster_centers_, 4).tolist(),
                                  "scores": np.round(classifier.cluster_scores_, 4).tolist(),
                                  "rank_of_label": classifier.rank_of_label_.tolist()},
               **_lifetime_quality(fc, churn, buyers), "notes": notes,
               "ran": {"level": level_used(ex, params.level), "segments": k}}
    timings.update({f"lifetime.{name}": seconds for name, seconds in fc.timings.items()})
    result = MiningResult(
        segment_of=segment_of, centers=segmenter.cluster_centers_,
        names=segment_names(segmenter.cluster_centers_, names), segment_tops=tops, segment_brands=brand_tops,
        top_categories=top_ids(ex.interest, ex.category_ids), top_brands=top_ids(ex.brand_interest, ex.brand_ids),
        value_types=classifier.types_, value_rank=classifier.value_rank_, rfm=rfm.scores_,
        churn_score=churn.score_, churn_risk=churn.risk_, actions=actions, p_alive=fc.probability_alive,
        expected_orders=fc.expected_orders, expected_value=fc.expected_value, rules={}, insights={},
        quality=quality, model=model, timings=timings, params_ran=ran,
    )
    lap("labels")
    release_freed_memory()
    return result, X, segmenter


def mine_orders(ex: ShopExtract, params: RunParams) -> tuple[dict, dict, dict[str, float]]:
    """Rules and chart figures: they need the extract only, not the segments, so a run
    computes them while it segments."""
    timings: dict[str, float] = {}
    lap = _Laps(timings)
    rules = _rules(ex, params)
    lap("rules")
    insights = _insights(ex, params)
    give_back()
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
