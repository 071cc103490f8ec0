"""A churn-risk score and one recommended action per customer (seed 003).

Seed 003 asks the mining process to end in "a score for a particular ... customer and a
recommended action based on the score", and names dissolution (the customer quietly leaving)
as the last stage of a relationship.

**Churn score.** A buyer's *expected gap* between orders is their own average gap when they
ordered at least twice (first order to last order, divided by the gaps between them), and
the store's median of those gaps otherwise. With ``r`` = days since the last order divided
by the expected gap and ``f`` = ``gap_factor``, the score is ``r² / (r² + f²)``: 0 right
after an order, 0.5 when the silence is ``gap_factor`` times the usual gap, towards 1 beyond.
Customers who never bought have no score. **Churn risk** is a score of at least 0.5 after at
least ``min_days`` of silence (a daily buyer missing three days is not at risk).
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
