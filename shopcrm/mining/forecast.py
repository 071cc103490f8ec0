"""Each customer's next horizon, and which ranking the shop's own past says to trust.

A run asks two questions of every buyer, over a horizon (90 days by default):

* **how much will they buy?** BG/NBD gives P(alive) and the expected purchases, Gamma-Gamma
  the expected order value; their product is the expected value (:mod:`.lifetime`);
* **have they left?** Several rankings can say (:func:`~.backtest.churn_rankings`).

Neither answer is taken on trust. :func:`check_past` goes back one horizon, computes every
candidate from what was known then, and compares with what happened since (the backtests of
:mod:`.backtest`): the AUC of each churn ranking against "did not buy again", and the revenue
share of the top buyers by expected value and by the RFM sum. :func:`forecast` then computes
the chosen churn ranking as of now (:func:`choose_ranking`: the best AUC, never one below days
since the last purchase) and the value ranking that caught more (expected value unless the
RFM sum caught more revenue, or the models could not be fitted).

**Small shops.** Below ``min_repeat_buyers`` repeat buyers (200 by default, see
:data:`.lifetime.MIN_REPEAT_BUYERS`) the lifetime models are not fitted: P(alive), expected
purchases and expected value stay NaN, the value ranking is the RFM sum, and the churn
candidates are those that need no model. Order values too heavy-tailed for Gamma-Gamma
(q ≤ 1) leave the expected value NaN the same way.

**The classifier** learns "bought again within the horizon" from features one horizon
earlier (:mod:`.backtest`). It is trained on at most ``classifier_rows`` customers (a seeded
sample: on the 100,000-customer benchmark shop 20,000 of its 50,000 gave the same AUC, 0.852
against 0.851, in half the training time). It is trained once for the check (features two
horizons back, labels in the horizon after) and, only when it is chosen, once more to score
now (features one horizon back, labels in the last horizon). It is not stored with the run (a
pickled model in the database would be code that anyone able to write there could run):
customers placed between runs are scored by the best of the other rankings
(``newcomer_ranking``), which are all rebuilt from stored figures (:func:`ranking_now`).

**The RFM churn ranking** is minus the RFM sum, with equal sums ordered by days since the last
purchase (``recency / (recency + 365)``, below 1, so it never crosses a whole RFM point). The
sum alone has only 13 values: the tie at the cut of "at risk" flagged far more buyers than the
share asked (on the demo shop 48.6 % of them instead of 44.9 %). The check scores the ranking
with this order, so its AUC is that of what is used.

Everything here works on plain order arrays (customer row, age in days, total), the arrays a
run extracts once; nothing reads the shop again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import NotEnoughData
from .backtest import (
    BASELINE,
    auc,
    choose_ranking,
    churn_rankings,
    history_at,
    repurchase_features,
    repurchase_probability,
    repurchase_training_set,
    top_share,
    train_repurchase_classifier,
)
from .lifetime import MIN_REPEAT_BUYERS, BetaGeoModel, GammaGammaModel, TooFewRepeatBuyers
from .occasions import LifetimeInputs, future_activity, lifetime_inputs
from .rfm import RFMScorer
from .value_types import PurchaseHistory

#: The churn rankings, in the order :func:`~.backtest.churn_rankings` offers them.
RANKINGS = (BASELINE, "rfm", "bgnbd_dropout", "bgnbd_purchases", "classifier")
#: How the members of a value type (and the predicted best customers) are ranked.
VALUE_RANKINGS = ("expected_value", "rfm")
CLASSIFIER_ROWS = 20_000
VALUE_FRACTION = 0.2  # the value check compares the revenue of the top fifth of buyers


@dataclass
class Models:
    """BG/NBD and Gamma-Gamma fitted on one set of inputs, or why they could not be."""

    purchases: BetaGeoModel | None = None
    values: GammaGammaModel | None = None
    status: str = "fitted"  # fitted | too_few_repeat_buyers | heavy_tailed_values
    reason: str = ""
    repeat_buyers: int = 0
    needed: int = MIN_REPEAT_BUYERS

    def predict(self, inputs: LifetimeInputs, horizon_days: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(alive), expected purchases and expected value in the horizon (NaN where not known)."""
        n = len(inputs)
        alive, purchases, value = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        if self.purchases is not None:
            x, t_x, T = inputs.frequency, inputs.recency, inputs.T
            alive = self.purchases.probability_alive(x, t_x, T)
            purchases = self.purchases.conditional_expected_purchases(horizon_days / inputs.unit_days, x, t_x, T)
            if self.values is not None and self.status == "fitted":
                value = purchases * self.values.conditional_expected_value(x, inputs.monetary_value)
        return alive, purchases, value


def fit_models(inputs: LifetimeInputs, min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> Models:
    """Both lifetime models on ``inputs``; below the minimum or with q ≤ 1, the reason instead."""
    repeat = int((inputs.frequency > 0).sum())
    models = Models(repeat_buyers=repeat, needed=int(min_repeat_buyers))
    try:
        models.purchases = BetaGeoModel(min_repeat_buyers=min_repeat_buyers).fit(
            inputs.frequency, inputs.recency, inputs.T)
        models.values = GammaGammaModel(min_repeat_buyers=min_repeat_buyers).fit(
            inputs.frequency, inputs.monetary_value)
    except TooFewRepeatBuyers as error:
        models.purchases = models.values = None
        models.status, models.reason = "too_few_repeat_buyers", str(error)
        return models
    if not models.values.q_ > 1.0:
        models.status = "heavy_tailed_values"
        models.reason = (f"order values too heavy-tailed for Gamma-Gamma (q = {models.values.q_:.3g} ≤ 1): "
                         "no expected order value")
    return models


def _sample(n: int, size: int, random_state: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size, replace=False))


def _classifier(features, bought_again, classifier_rows: int, random_state: int):
    rows = _sample(len(bought_again), classifier_rows, random_state)
    return train_repurchase_classifier(features[rows], bought_again[rows], random_state=random_state)


@dataclass
class PastCheck:
    """The backtest one horizon back: what each ranking said then against what happened since.

    Arrays are per customer; figures about buyers are about those who had bought by the
    cutoff (``buyers``).
    """

    horizon_days: float
    history: PurchaseHistory  # as of the cutoff (account ages unknown: NaN)
    buyers: np.ndarray  # bool: had bought by the cutoff
    bought_again: np.ndarray  # bool: bought in the horizon after the cutoff
    revenue: np.ndarray  # revenue in the horizon after the cutoff
    features: np.ndarray  # the classifier's features as of the cutoff
    churn_scores: dict[str, np.ndarray]
    aucs: dict[str, float]
    chosen: str
    value_scores: dict[str, np.ndarray]
    value_shares: dict[str, float]
    value_ceiling: float
    value_fraction: float
    skipped: dict[str, str] = field(default_factory=dict)
    models: Models | None = None

    @property
    def customers(self) -> int:
        return int(self.buyers.sum())

    @property
    def churned(self) -> int:
        return int((self.buyers & ~self.bought_again).sum())

    def summary(self) -> dict:
        """The figures a run stores (JSON-ready; NaN becomes None)."""
        def plain(value):
            return None if value is None or np.isnan(value) else round(float(value), 4)

        return {"horizon_days": self.horizon_days, "customers": self.customers, "churned": self.churned,
                "aucs": {k: plain(v) for k, v in self.aucs.items()}, "chosen": self.chosen,
                "value_shares": {k: plain(v) for k, v in self.value_shares.items()},
                "value_ceiling": plain(self.value_ceiling), "value_fraction": self.value_fraction,
                "skipped": dict(self.skipped)}


def check_past(customer, age_days, total, n_customers: int, *, horizon_days: float = 90.0,
               as_of_time_of_day: float = 0.0, window_days: float = 365.0, growth_days: float = 90.0,
               min_repeat_buyers: int = MIN_REPEAT_BUYERS, classifier_rows: int = CLASSIFIER_ROWS,
               value_fraction: float = VALUE_FRACTION, random_state: int = 0,
               timings: dict | None = None) -> PastCheck:
    """Every churn and value ranking ``horizon_days`` ago, scored against the horizon since.

    Candidates that cannot be built (too few repeat buyers, a one-sided history for the
    classifier) are listed in ``skipped`` with the reason; days since the last purchase and
    the RFM sum always exist.
    """
    laps = _Laps(timings)
    h = float(horizon_days)
    kw = {"as_of_time_of_day": as_of_time_of_day}
    history = history_at(customer, age_days, total, n_customers, cutoff_days=h, window_days=window_days,
                         growth_days=growth_days)
    count, revenue = future_activity(customer, age_days, total, n_customers, cutoff_days=h, horizon_days=h, **kw)
    buyers = history.orders_total > 0
    bought_again = count > 0
    churned = np.where(buyers, (~bought_again).astype(np.float64), np.nan)
    inputs = lifetime_inputs(customer, age_days, total, n_customers, cutoff_days=h, **kw)
    models = fit_models(inputs, min_repeat_buyers)
    alive, purchases, value = models.predict(inputs, h)
    skipped = {}
    extra = {}
    if models.purchases is None:
        skipped["bgnbd_dropout"] = skipped["bgnbd_purchases"] = models.reason
    else:
        extra.update(probability_alive=alive, expected_purchases=purchases)
    laps("check.lifetime")
    features = repurchase_features(customer, age_days, total, n_customers, cutoff_days=h, inputs=inputs, **kw)
    try:
        _, X, y = repurchase_training_set(customer, age_days, total, n_customers, cutoff_days=h, horizon_days=h, **kw)
        model = _classifier(X, y, classifier_rows, random_state)
        extra["repurchase"] = repurchase_probability(model, features)
    except NotEnoughData as error:
        skipped["classifier"] = str(error)
    laps("check.classifier")
    churn_scores = churn_rankings(history, **extra)
    rfm = -churn_scores["rfm"]  # the RFM sum
    churn_scores["rfm"] = rfm_churn(rfm, history.recency_days)
    aucs = {name: auc(score, churned) for name, score in churn_scores.items()}
    value_scores = {"rfm": rfm}
    if models.status == "fitted":
        value_scores["expected_value"] = value
    else:
        skipped["expected_value"] = models.reason
    future = revenue[buyers]
    shares = {name: top_share(score[buyers], future, value_fraction) for name, score in value_scores.items()}
    laps("check.scores")
    return PastCheck(horizon_days=h, history=history, buyers=buyers, bought_again=bought_again, revenue=revenue,
                     features=features, churn_scores=churn_scores, aucs=aucs, chosen=choose_ranking(aucs),
                     value_scores=value_scores, value_shares=shares,
                     value_ceiling=top_share(future, future, value_fraction), value_fraction=value_fraction,
                     skipped=skipped, models=models)


def rfm_churn(rfm_sum: np.ndarray, recency_days: np.ndarray) -> np.ndarray:
    """The RFM churn ranking: minus the RFM sum, equal sums by days since the last purchase."""
    recency = np.clip(np.asarray(recency_days, dtype=np.float64), 0.0, None)
    return -np.asarray(rfm_sum, dtype=np.float64) + recency / (recency + 365.0)


def ranking_now(name: str, history: PurchaseHistory, rfm_scores: np.ndarray, probability_alive: np.ndarray,
                expected_purchases: np.ndarray) -> np.ndarray:
    """The raw figure of a churn ranking built from stored figures (higher = more likely gone;
    NaN for customers who never bought). The classifier is not one of them (see the module
    docstring)."""
    buyers = history.orders_total > 0
    if name == BASELINE:
        return np.where(buyers, history.recency_days, np.nan)
    if name == "rfm":
        return np.where(buyers, rfm_churn(np.asarray(rfm_scores).sum(axis=1), history.recency_days), np.nan)
    if name == "bgnbd_dropout":
        return np.where(buyers, 1.0 - np.asarray(probability_alive, dtype=np.float64), np.nan)
    if name == "bgnbd_purchases":
        return np.where(buyers, -np.asarray(expected_purchases, dtype=np.float64), np.nan)
    raise ValueError(f"the {name!r} ranking cannot be rebuilt from stored figures")


@dataclass
class Forecast:
    """Per customer: P(alive), expected purchases and value over the horizon, and the churn
    ranking the check chose, as of now."""

    horizon_days: float
    models: Models
    probability_alive: np.ndarray
    expected_orders: np.ndarray
    expected_value: np.ndarray
    past: PastCheck
    churn_ranking: str
    churn_raw: np.ndarray
    newcomer_ranking: str  # the ranking customers placed between runs are scored by
    newcomer_raw: np.ndarray
    value_ranking: str
    timings: dict[str, float] = field(default_factory=dict)


def _value_ranking(models: Models, past: PastCheck) -> str:
    """Expected value, unless it cannot be computed now or the RFM sum caught more in the check."""
    if models.status != "fitted":
        return "rfm"
    ours, theirs = past.value_shares.get("expected_value", np.nan), past.value_shares.get("rfm", np.nan)
    return "rfm" if np.isfinite(ours) and np.isfinite(theirs) and theirs > ours else "expected_value"


def forecast(customer, age_days, total, n_customers: int, *, horizon_days: float = 90.0,
             as_of_time_of_day: float = 0.0, window_days: float = 365.0, growth_days: float = 90.0,
             rfm_scores: np.ndarray | None = None, min_repeat_buyers: int = MIN_REPEAT_BUYERS,
             classifier_rows: int = CLASSIFIER_ROWS, random_state: int = 0) -> Forecast:
    """The lifetime predictions as of now and the rankings :func:`check_past` chose.

    ``rfm_scores`` are the run's (n, 3) RFM scores when the caller has them; otherwise they
    are computed from the orders (the same figures).
    """
    timings: dict[str, float] = {}
    laps = _Laps(timings)
    h = float(horizon_days)
    inputs = lifetime_inputs(customer, age_days, total, n_customers, as_of_time_of_day=as_of_time_of_day)
    laps("inputs")
    models = fit_models(inputs, min_repeat_buyers)
    laps("fit")
    alive, purchases, value = models.predict(inputs, h)
    laps("predict")
    past = check_past(customer, age_days, total, n_customers, horizon_days=h, as_of_time_of_day=as_of_time_of_day,
                      window_days=window_days, growth_days=growth_days, min_repeat_buyers=min_repeat_buyers,
                      classifier_rows=classifier_rows, random_state=random_state, timings=timings)
    laps.clock = time.perf_counter()
    history = history_at(customer, age_days, total, n_customers, window_days=window_days, growth_days=growth_days)
    chosen = past.chosen
    if chosen == "classifier":
        raw = _classifier_now(customer, age_days, total, n_customers, past, as_of_time_of_day, classifier_rows,
                              random_state)
        newcomer = choose_ranking({k: v for k, v in past.aucs.items() if k != "classifier"})
    else:
        raw, newcomer = None, chosen
    if chosen in ("bgnbd_dropout", "bgnbd_purchases") and models.purchases is None:
        chosen = newcomer = BASELINE  # the check could fit the models and now cannot: not expected, but safe
    if rfm_scores is None and newcomer == "rfm":
        rfm_scores = RFMScorer().fit(history).scores_  # the run's own scores: the same figures, the same edges
    newcomer_raw = ranking_now(newcomer, history, rfm_scores, alive, purchases)
    laps("churn_ranking")
    return Forecast(horizon_days=h, models=models, probability_alive=alive, expected_orders=purchases,
                    expected_value=value, past=past, churn_ranking=chosen,
                    churn_raw=newcomer_raw if raw is None else raw, newcomer_ranking=newcomer,
                    newcomer_raw=newcomer_raw, value_ranking=_value_ranking(models, past), timings=timings)


def _classifier_now(customer, age_days, total, n_customers, past: PastCheck, as_of_time_of_day: float,
                    classifier_rows: int, random_state: int) -> np.ndarray:
    """1 − P(buys again in the horizon) as of now, from a classifier trained on the last horizon."""
    rows = np.flatnonzero(past.buyers)
    model = _classifier(past.features[rows], past.bought_again[rows], classifier_rows, random_state)
    now = repurchase_features(customer, age_days, total, n_customers, as_of_time_of_day=as_of_time_of_day)
    return 1.0 - repurchase_probability(model, now)


class _Laps:
    """Seconds per step into ``timings`` (when given)."""

    def __init__(self, timings: dict | None):
        self.timings, self.clock = timings, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = round(now - self.clock, 3)
        self.clock = now
