"""Backtests: would a ranking have picked the right customers on the shop's own past?

A model earns its place only by beating the simple baseline on the shop's history. A backtest
goes back a *horizon* (say half a year), computes every candidate score from what was known
then, and compares with what happened in the horizon since:

* **value** — the share of the horizon's revenue bought by the top N % of customers under a
  ranking (:func:`top_share`), next to the ceiling reached by ranking on the future itself;
* **churn** — the ROC AUC (:func:`auc`) of a churn score against "did not buy again in the
  horizon", for the candidates of :func:`churn_rankings`; :func:`choose_ranking` keeps the
  best, but never one worse than days since the last purchase alone.

The candidate built from the shop's own past, a gradient-boosted classifier, needs a second step
back: it learns "bought again in the following horizon" from features as of an earlier date
(:func:`repurchase_training_set`, :func:`train_repurchase_classifier`) and then scores
customers from the features as of the later date (:func:`repurchase_probability`).
:func:`churn_backtest` and :func:`value_backtest` run all of it on plain order arrays.

Everything here works on arrays: customers are rows, times are days before the as-of date.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import roc_auc_score

from ..errors import NotEnoughData

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier
from .lifetime import (
    MIN_REPEAT_BUYERS,
    BetaGeoModel,
    GammaGammaModel,
    TooFewRepeatBuyers,
    expected_value,
)
from .occasions import future_activity, lifetime_inputs
from .rfm import RFMScorer
from .value_types import PurchaseHistory

BASELINE = "days_since_last"
FEATURES = ("days_since_last", "days_since_first", "occasions", "spend", "mean_value", "occasions_recent",
            "spend_recent")


# --- metrics -------------------------------------------------------------------------------------

def top_share(score, revenue, fraction: float = 0.2, *, count: int | None = None) -> float:
    """Share of the total ``revenue`` bought by the top ``fraction`` of customers by ``score``.

    The top is ``round(fraction · n)`` customers (or exactly ``count``, to compare with a group of
    a given size), highest score first; NaN scores rank last. A group of equal scores that
    straddles the cut counts with the share of its members that fit (places left / group size)
    of its revenue: the result is what a random order among equals gives on average, so it
    depends neither on row order nor on luck, and a ranking that scores everyone alike captures
    exactly ``fraction`` of the revenue. NaN when the total revenue is 0.
    """
    score = np.asarray(score, dtype=np.float64)
    revenue = np.asarray(revenue, dtype=np.float64)
    if score.shape != revenue.shape:
        raise ValueError(f"score and revenue must have one entry per customer ({score.shape} vs {revenue.shape})")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    if count is not None and not 0 <= count <= len(score):
        raise ValueError(f"count must be between 0 and the {len(score)} customers, got {count}")
    total = revenue.sum()
    if len(score) == 0 or total == 0:
        return float("nan")
    slots = int(np.floor(fraction * len(score) + 0.5)) if count is None else int(count)
    key = np.where(np.isnan(score), -np.inf, score)
    order = np.argsort(-key, kind="stable")
    key, revenue = key[order], revenue[order]
    # Groups of equal scores: [start, end) in the sorted order.
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    group_revenue = np.add.reduceat(revenue, starts)
    taken = np.clip(slots - starts, 0, ends - starts) / (ends - starts)
    return float((taken * group_revenue).sum() / total)


@dataclass
class Capture:
    """Revenue share of the top customers under a ranking and under the future itself."""

    share: float
    ceiling: float

    @property
    def of_ceiling(self) -> float:
        return self.share / self.ceiling if self.ceiling > 0 else float("nan")


def capture(score, revenue, fraction: float = 0.2, *, count: int | None = None) -> Capture:
    """:func:`top_share` of a ranking and of the perfect ranking (by the future revenue itself)."""
    return Capture(top_share(score, revenue, fraction, count=count), top_share(revenue, revenue, fraction, count=count))


def auc(score, label) -> float:
    """ROC AUC of ``score`` (higher = more likely positive) against a binary ``label``.

    Rows where either is NaN are left out; NaN when fewer than one positive and one negative
    remain (the AUC is undefined there, and a backtest must not crash on a quiet shop).
    """
    score = np.asarray(score, dtype=np.float64)
    label = np.asarray(label, dtype=np.float64)
    if score.shape != label.shape:
        raise ValueError(f"score and label must have one entry per customer ({score.shape} vs {label.shape})")
    keep = ~(np.isnan(score) | np.isnan(label))
    y = label[keep] > 0
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, score[keep]))


def choose_ranking(aucs: dict[str, float], baseline: str = BASELINE, margin: float = 0.0) -> str:
    """The ranking with the best backtest AUC, but never one worse than ``baseline``.

    A candidate replaces the baseline only if it beats it by more than ``margin``; among equal
    candidates the first in ``aucs`` wins. NaN AUCs never win, and the baseline is kept when its
    own AUC is NaN (no evidence that anything beats it).
    """
    base = aucs.get(baseline, float("nan"))
    if np.isnan(base):
        return baseline
    best, best_auc = baseline, base + margin
    for name, value in aucs.items():
        if not np.isnan(value) and value > best_auc:
            best, best_auc = name, value
    return best


# --- candidate scores ----------------------------------------------------------------------------

def history_at(customer, age_days, total, n_customers: int, cutoff_days: float = 0.0, window_days: float = 365.0,
               growth_days: float = 90.0) -> PurchaseHistory:
    """The purchase figures a run would have computed ``cutoff_days`` before the as-of date.

    Counts orders, as the run's extraction does for RFM (not purchase occasions); the account
    age is unknown here (NaN), which RFM does not use.
    """
    customer = np.asarray(customer, dtype=np.int64)
    age = np.asarray(age_days, dtype=np.float64) - cutoff_days
    total = np.asarray(total, dtype=np.float64)
    before = age >= 0
    c, age, total = customer[before], age[before], total[before]
    recency = np.full(n_customers, np.inf)
    first = np.full(n_customers, -np.inf)
    np.minimum.at(recency, c, age)
    np.maximum.at(first, c, age)
    window, growth = age < window_days, age < growth_days  # as order_features: younger than the window
    return PurchaseHistory(
        account_age_days=np.full(n_customers, np.nan),
        orders_total=np.bincount(c, minlength=n_customers),
        recency_days=np.where(np.isfinite(recency), recency, np.nan),
        first_order_days=np.where(np.isfinite(first), first, np.nan),
        frequency=np.bincount(c, weights=window, minlength=n_customers),
        monetary=np.bincount(c, weights=total * window, minlength=n_customers),
        recent_spend=np.bincount(c, weights=total * growth, minlength=n_customers))


def rfm_sum(history: PurchaseHistory) -> np.ndarray:
    """R + F + M quintile scores (3 to 15; higher is better); NaN for customers who never bought."""
    scores = RFMScorer().fit(history).scores_.sum(axis=1).astype(np.float64)
    return np.where(history.orders_total > 0, scores, np.nan)


def churn_rankings(history: PurchaseHistory, *, probability_alive=None, expected_purchases=None,
                   repurchase=None) -> dict[str, np.ndarray]:
    """Candidate churn scores, higher = more likely to have left; NaN for customers who never bought.

    Always ``days_since_last`` (the baseline) and ``rfm`` (minus the RFM sum); the others when
    their input is given: ``bgnbd_dropout`` (1 − P(alive)), ``bgnbd_purchases`` (minus the expected
    purchases in the horizon) and ``classifier`` (1 − the classifier's repurchase probability).
    """
    buyers = history.orders_total > 0
    rankings = {BASELINE: np.where(buyers, history.recency_days, np.nan), "rfm": -rfm_sum(history)}
    if probability_alive is not None:
        rankings["bgnbd_dropout"] = 1.0 - np.asarray(probability_alive, dtype=np.float64)
    if expected_purchases is not None:
        rankings["bgnbd_purchases"] = -np.asarray(expected_purchases, dtype=np.float64)
    if repurchase is not None:
        rankings["classifier"] = 1.0 - np.asarray(repurchase, dtype=np.float64)
    return rankings


# --- the classifier trained on the shop's own past ------------------------------------------------

def repurchase_features(customer, age_days, total, n_customers: int, *, cutoff_days: float = 0.0,
                        recent_days: float = 90.0, as_of_time_of_day: float = 0.0, inputs=None) -> np.ndarray:
    """Per customer, the :data:`FEATURES` as of ``cutoff_days`` before the as-of date.

    Counted in purchase occasions (see :mod:`.occasions`); NaN rows for customers who had not
    bought yet (the classifier takes NaN as missing, but callers keep only buyers). ``inputs``:
    the :func:`~.occasions.lifetime_inputs` of the same cutoff, when the caller has them.
    """
    if inputs is None:
        inputs = lifetime_inputs(customer, age_days, total, n_customers, cutoff_days=cutoff_days,
                                 as_of_time_of_day=as_of_time_of_day)
    recent_count, recent_spend = future_activity(customer, age_days, total, n_customers,
                                                 cutoff_days=cutoff_days + recent_days, horizon_days=recent_days,
                                                 as_of_time_of_day=as_of_time_of_day)
    occasions = inputs.frequency + 1
    buyers = inputs.buyers
    columns = [inputs.days_since_last, inputs.T, occasions, inputs.spend, inputs.spend / occasions,
               recent_count, recent_spend]
    return np.column_stack([np.where(buyers, col, np.nan) for col in columns])


def repurchase_training_set(customer, age_days, total, n_customers: int, *, cutoff_days: float,
                            horizon_days: float, as_of_time_of_day: float = 0.0):
    """Features as of ``cutoff_days + horizon_days`` and the label "bought in the next horizon".

    Only customers who had bought by then are returned: (rows, features, bought_again).
    """
    earlier = cutoff_days + horizon_days
    features = repurchase_features(customer, age_days, total, n_customers, cutoff_days=earlier,
                                   as_of_time_of_day=as_of_time_of_day)
    count, _ = future_activity(customer, age_days, total, n_customers, cutoff_days=earlier,
                               horizon_days=horizon_days, as_of_time_of_day=as_of_time_of_day)
    rows = np.flatnonzero(~np.isnan(features[:, 0]))
    return rows, features[rows], count[rows] > 0


def train_repurchase_classifier(features, bought_again, *, min_each: int = 20,
                                random_state: int = 0) -> HistGradientBoostingClassifier:
    """Gradient boosting on features as of an earlier date, labelled "bought again in the horizon".

    Refuses with :class:`~shopcrm.errors.NotEnoughData` when either class has fewer than
    ``min_each`` customers: it could not learn what separates them.
    """
    # imported here: sklearn.ensemble is the largest import of all, and every web worker and every
    # cron command imports this module without ever training (only a run or a backtest does)
    from sklearn.ensemble import HistGradientBoostingClassifier

    y = np.asarray(bought_again, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if min(positives, negatives) < min_each:
        raise NotEnoughData(f"the repurchase classifier needs at least {min_each} customers who bought again and "
                            f"{min_each} who did not; the history has {positives} and {negatives}")
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, early_stopping=True,
                                           random_state=random_state)
    return model.fit(np.asarray(features, dtype=np.float64), y)


def repurchase_probability(model: HistGradientBoostingClassifier, features) -> np.ndarray:
    """P(buys again within the horizon) from features as of now; NaN for rows without a purchase."""
    features = np.asarray(features, dtype=np.float64)
    out = np.full(len(features), np.nan)
    known = ~np.isnan(features[:, 0])
    if known.any():
        proba = model.predict_proba(features[known])
        out[known] = proba[:, list(model.classes_).index(True)]
    return out


# --- whole backtests -------------------------------------------------------------------------------

@dataclass
class ChurnBacktest:
    """AUC per churn ranking, computed at ``horizon_days`` before the as-of date."""

    aucs: dict[str, float]
    chosen: str
    customers: int  # buyers before the cutoff: the population scored
    churned: int  # of them, those who did not buy in the horizon
    skipped: dict[str, str] = field(default_factory=dict)  # candidate -> why it could not be built


@dataclass
class ValueBacktest:
    """Revenue capture of value rankings over the horizon after the cutoff."""

    fraction: float
    shares: dict[str, float]
    ceiling: float
    customers: int
    skipped: dict[str, str] = field(default_factory=dict)


def churn_backtest(customer, age_days, total, n_customers: int, *, horizon_days: float = 182.0,
                   as_of_time_of_day: float = 0.0, min_repeat_buyers: int = MIN_REPEAT_BUYERS,
                   random_state: int = 0) -> ChurnBacktest:
    """Every churn ranking scored ``horizon_days`` ago, against "no purchase since".

    The population is the customers who had bought by then. The classifier learns from one more
    horizon back (features at 2 × horizon, labels in the horizon after). Candidates that cannot be
    built (too few repeat buyers, a one-sided label) are listed in ``skipped`` with the reason;
    the baseline always exists.
    """
    kwargs = {"as_of_time_of_day": as_of_time_of_day}
    history = history_at(customer, age_days, total, n_customers, cutoff_days=horizon_days)
    count, _ = future_activity(customer, age_days, total, n_customers, cutoff_days=horizon_days,
                               horizon_days=horizon_days, **kwargs)
    buyers = history.orders_total > 0
    churned = np.where(buyers, (count == 0).astype(np.float64), np.nan)
    extra, skipped = {}, {}
    inputs = lifetime_inputs(customer, age_days, total, n_customers, cutoff_days=horizon_days, **kwargs)
    try:
        model = BetaGeoModel(min_repeat_buyers=min_repeat_buyers).fit(inputs.frequency, inputs.recency, inputs.T)
        extra["probability_alive"] = model.probability_alive(inputs.frequency, inputs.recency, inputs.T)
        extra["expected_purchases"] = model.conditional_expected_purchases(
            horizon_days, inputs.frequency, inputs.recency, inputs.T)
    except TooFewRepeatBuyers as error:
        skipped["bgnbd_dropout"] = skipped["bgnbd_purchases"] = str(error)
    try:
        _, X, y = repurchase_training_set(customer, age_days, total, n_customers, cutoff_days=horizon_days,
                                          horizon_days=horizon_days, **kwargs)
        classifier = train_repurchase_classifier(X, y, random_state=random_state)
        now = repurchase_features(customer, age_days, total, n_customers, cutoff_days=horizon_days, **kwargs)
        extra["repurchase"] = repurchase_probability(classifier, now)
    except NotEnoughData as error:
        skipped["classifier"] = str(error)
    rankings = churn_rankings(history, **extra)
    aucs = {name: auc(score, churned) for name, score in rankings.items()}
    return ChurnBacktest(aucs=aucs, chosen=choose_ranking(aucs), customers=int(buyers.sum()),
                         churned=int(np.nansum(churned)), skipped=skipped)


def value_backtest(customer, age_days, total, n_customers: int, *, horizon_days: float = 182.0,
                   fraction: float = 0.2, as_of_time_of_day: float = 0.0,
                   min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> ValueBacktest:
    """Revenue share of the top ``fraction`` of buyers ``horizon_days`` ago, per value ranking.

    The population is the customers who had bought by the cutoff, and the revenue is theirs in
    the horizon after it (newcomers' revenue no ranking could have found). Rankings: ``rfm``
    (the RFM sum), ``spend`` (money spent so far) and ``expected_value`` (BG/NBD × Gamma-Gamma
    over the horizon).
    """
    history = history_at(customer, age_days, total, n_customers, cutoff_days=horizon_days)
    _, revenue = future_activity(customer, age_days, total, n_customers, cutoff_days=horizon_days,
                                 horizon_days=horizon_days, as_of_time_of_day=as_of_time_of_day)
    inputs = lifetime_inputs(customer, age_days, total, n_customers, cutoff_days=horizon_days,
                             as_of_time_of_day=as_of_time_of_day)
    buyers = np.flatnonzero(history.orders_total > 0)
    rankings = {"rfm": rfm_sum(history), "spend": inputs.spend}
    skipped = {}
    try:
        model = BetaGeoModel(min_repeat_buyers=min_repeat_buyers).fit(inputs.frequency, inputs.recency, inputs.T)
        values = GammaGammaModel(min_repeat_buyers=min_repeat_buyers).fit(inputs.frequency, inputs.monetary_value)
    except TooFewRepeatBuyers as error:
        skipped["expected_value"] = str(error)
    else:
        if values.q_ > 1.0:
            rankings["expected_value"] = expected_value(model, values, inputs.frequency, inputs.recency, inputs.T,
                                                        inputs.monetary_value, horizon=horizon_days)
        else:
            skipped["expected_value"] = f"order values too heavy-tailed for Gamma-Gamma (q = {values.q_:.3g} ≤ 1)"
    future = revenue[buyers]
    shares = {name: top_share(score[buyers], future, fraction) for name, score in rankings.items()}
    return ValueBacktest(fraction=fraction, shares=shares, ceiling=top_share(future, future, fraction),
                         customers=len(buyers), skipped=skipped)
