"""A churn-risk score and one recommended action per customer (seed 003).

Seed 003 asks the mining process to end in "a score for a particular ... customer and a
recommended action based on the score", and names dissolution (the customer quietly leaving)
as the last stage of a relationship.

**The score a run stores** (:class:`RankedChurn`) comes from the churn ranking that did best
on the shop's own past (``mining.forecast``: days since the last purchase, the RFM sum,
BG/NBD's figures, a classifier trained on the shop's history — never one that did worse than
days since the last purchase alone). A ranking orders the buyers; the score puts that order
on a scale of 0 to 1:

* **churn score = the buyer's place among the run's buyers**: 0.9 means the ranking holds
  this customer more likely to have left than 90 % of the shop's buyers (equal rankings get
  the middle of their places; 0 the least likely, 1 the most). It is a rank, not a
  probability: the rankings' raw figures are in different units (days, RFM points,
  purchases), and the rank is what the backtest measured (the AUC depends only on it);
* **at risk = the top share of buyers by the ranking**, the share being the one the gap rule
  below flags in the same run (so the number of customers a win-back mails stays what the
  shop had, and *who* is flagged follows the better ranking); buyers tied with the last one
  flagged are flagged too; and, as before, never before ``min_days`` without an order.

The buyers' raw figures are kept as at most 1,001 quantiles, so a customer placed between
runs is scored against the same scale and the same threshold.

**The gap rule** (:class:`ChurnScorer`, the first score; it now sets how many are at risk). A
buyer's *expected gap* between orders is their own average gap when they ordered at least
twice (first order to last order, divided by the gaps between them), and the store's median
of those gaps otherwise. With ``r`` = days since the last order divided by the expected gap
and ``f`` = ``gap_factor``, the score is ``r² / (r² + f²)``: 0 right after an order, 0.5 when
the silence is ``gap_factor`` times the usual gap, towards 1 beyond. Customers who never bought
have no score. **At risk** is a score of at least 0.5 after at least ``min_days`` of silence
(a daily buyer missing three days is not at risk).
"""
from __future__ import annotations

import numpy as np

from .stored import StoredEstimator
from .value_types import PurchaseHistory


class ChurnScorer(StoredEstimator):
    """Churn score and flag, see the module docstring.

    Attributes
    ----------
    score_ : float per customer in [0, 1]; NaN for customers who never bought
    risk_ : bool per customer
    expected_gap_ : expected days between orders per customer; NaN for non-buyers
    store_gap_ : the store's median gap between orders of repeat buyers
    """

    fitted_state = ("store_gap_",)

    def __init__(self, gap_factor: float = 3.0, min_days: float = 30.0, default_gap_days: float = 90.0):
        self.gap_factor = gap_factor
        self.min_days = min_days
        self.default_gap_days = default_gap_days

    def fit(self, history: PurchaseHistory, y=None) -> "ChurnScorer":
        repeat = history.orders_total >= 2
        own_gap = np.full(len(history), np.nan)
        own_gap[repeat] = ((history.first_order_days[repeat] - history.recency_days[repeat])
                           / (history.orders_total[repeat] - 1))
        positive = own_gap[repeat & (own_gap > 0)]
        self.store_gap_ = float(np.median(positive)) if len(positive) else float(self.default_gap_days)
        self.score_, self.risk_, self.expected_gap_ = self._score(history, own_gap)
        return self

    def _score(self, history: PurchaseHistory, own_gap: np.ndarray):
        buyers = history.orders_total > 0
        gap = np.where(own_gap > 0, own_gap, self.store_gap_)
        gap = np.where(buyers, np.maximum(gap, 1.0), np.nan)
        ratio = history.recency_days / gap
        score = np.where(buyers, ratio ** 2 / (ratio ** 2 + self.gap_factor ** 2), np.nan)
        risk = buyers & (np.nan_to_num(score) >= 0.5) & (np.nan_to_num(history.recency_days) >= self.min_days)
        return score, risk, gap

    def predict(self, history: PurchaseHistory) -> tuple[np.ndarray, np.ndarray]:
        """Score and flag new customers with the fitted store gap."""
        repeat = history.orders_total >= 2
        own_gap = np.full(len(history), np.nan)
        own_gap[repeat] = ((history.first_order_days[repeat] - history.recency_days[repeat])
                           / (history.orders_total[repeat] - 1))
        score, risk, _ = self._score(history, own_gap)
        return score, risk


class RankedChurn(StoredEstimator):
    """Churn score and flag from a ranking's raw figures (higher = more likely to have left).

    Parameters
    ----------
    ranking : the ranking's name (``mining.forecast.RANKINGS``), kept with the stored state
    risk_share : the share of buyers flagged at risk (0 to 1)
    min_days : no buyer is at risk before this many days without an order
    grid_size : quantiles of the raw figures kept to score customers (at most)

    Attributes
    ----------
    grid_ : sorted raw figures of the buyers (all of them, or ``grid_size`` quantiles)
    risk_from_ : a raw figure at or above this is at risk (None: nobody is)
    score_, risk_ : per customer of the fit; NaN and False for customers without a figure
    """

    fitted_state = ("grid_", "risk_from_")

    def __init__(self, ranking: str = "days_since_last", risk_share: float = 0.0, min_days: float = 30.0,
                 grid_size: int = 1001):
        self.ranking = ranking
        self.risk_share = risk_share
        self.min_days = min_days
        self.grid_size = grid_size

    def fit(self, raw, recency_days, y=None) -> "RankedChurn":
        raw = np.asarray(raw, dtype=np.float64)
        known = np.sort(raw[~np.isnan(raw)])
        if len(known) > self.grid_size:
            known = np.quantile(known, np.linspace(0.0, 1.0, self.grid_size), method="inverted_cdf")
        self.grid_ = known
        flagged = int(round(min(max(self.risk_share, 0.0), 1.0) * len(known)))
        self.risk_from_ = float(known[len(known) - flagged]) if flagged else None
        self.score_, self.risk_ = self.predict(raw, recency_days)
        return self

    def predict(self, raw, recency_days) -> tuple[np.ndarray, np.ndarray]:
        """Score and flag of customers by their raw figures (NaN: no score, not at risk)."""
        raw = np.asarray(raw, dtype=np.float64)
        grid = np.asarray(self.grid_, dtype=np.float64)
        known = ~np.isnan(raw)
        score = np.full(len(raw), np.nan)
        if len(grid):
            below = np.searchsorted(grid, raw[known], side="left")
            at_or_below = np.searchsorted(grid, raw[known], side="right")
            # the middle of the places of equal figures, over the len(grid) - 1 steps of the scale
            score[known] = np.clip((below + at_or_below - 1) / 2 / max(len(grid) - 1, 1), 0.0, 1.0)
        risk = np.zeros(len(raw), dtype=bool)
        if self.risk_from_ is not None:
            silent = np.nan_to_num(np.asarray(recency_days, dtype=np.float64), nan=-1.0) >= self.min_days
            risk[known] = (raw[known] >= self.risk_from_) & silent[known]
        return score, risk


def recommend_actions(value_types: np.ndarray, churn_risk: np.ndarray, history: PurchaseHistory,
                      median_order_value: float | None = None) -> tuple[np.ndarray, float]:
    """One action per customer by the rules of :data:`shopcrm.vocab.ACTIONS` (in that order), and
    the median order value used.

    The average order value is spend over orders inside the value window; the median is taken
    over buyers with orders in the window unless given (new customers between runs reuse the
    run's median).
    """
    types = np.asarray(value_types).astype(str)
    in_window = history.frequency > 0
    aov = np.divide(history.monetary, history.frequency, out=np.zeros(len(history)), where=in_window)
    if median_order_value is None:
        median_order_value = float(np.median(aov[in_window])) if in_window.any() else 0.0
    actions = np.full(len(types), "cross_sell", dtype=object)
    actions[in_window & (aov < median_order_value)] = "upsell"
    actions[types == "high_value"] = "loyalty_reward"
    actions[np.asarray(churn_risk, dtype=bool)] = "reactivation"
    actions[types == "negative"] = "first_purchase_incentive"
    actions[types == "new"] = "welcome_offer"
    return actions.astype(str), median_order_value
