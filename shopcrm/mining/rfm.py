"""Classic RFM scores, 1 to 5, for admins who think in RFM (alongside seed 004's types).

Scores are store-relative quintiles among the customers who bought: 5 is the best fifth
(most recent, most frequent, highest spend), 1 the worst. Customers who never bought get no
score (0 here, NULL when stored).

Ties decide a lot in RFM (half a shop has exactly one order), so a score is the *mid-rank*
of the value against the four quintile edges: ``1 + (edges below + edges at or below) // 2``.
Equal values always get equal scores, a shop where everyone is alike scores everyone 3, and
new customers between runs are scored against the same stored edges.
"""
from __future__ import annotations

import numpy as np

from .stored import StoredEstimator
from .value_types import PurchaseHistory


def _mid_rank_scores(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    below = np.searchsorted(edges, values, side="left")
    at_or_below = np.searchsorted(edges, values, side="right")
    return 1 + (below + at_or_below) // 2


class RFMScorer(StoredEstimator):
    """RFM quintile scores.

    Parameters
    ----------
    n_scores : int
        Scores run from 1 to ``n_scores`` (quintiles by default).

    Attributes
    ----------
    edges_ : (3, n_scores - 1) quantile edges of (−recency, frequency, spend) among buyers
    scores_ : (n, 3) int scores R, F, M; 0 for customers who never bought
    """

    fitted_state = ("edges_",)

    def __init__(self, n_scores: int = 5):
        self.n_scores = n_scores

    @staticmethod
    def _columns(history: PurchaseHistory) -> np.ndarray:
        # Higher is better in every column: recency is negated.
        return np.column_stack([-history.recency_days, history.frequency, history.monetary])

    def fit(self, history: PurchaseHistory, y=None) -> "RFMScorer":
        buyers = history.orders_total > 0
        X = self._columns(history)
        quantiles = np.arange(1, self.n_scores) / self.n_scores
        if buyers.any():
            self.edges_ = np.quantile(X[buyers], quantiles, axis=0).T
        else:
            self.edges_ = np.zeros((3, self.n_scores - 1))
        self.scores_ = self.predict(history)
        return self

    def predict(self, history: PurchaseHistory) -> np.ndarray:
        """Scores against the fitted edges (how customers who arrive between runs are scored)."""
        X = self._columns(history)
        buyers = history.orders_total > 0
        scores = np.zeros(X.shape, dtype=np.int64)
        for j in range(3):
            scores[buyers, j] = _mid_rank_scores(X[buyers, j], self.edges_[j])
        return scores
