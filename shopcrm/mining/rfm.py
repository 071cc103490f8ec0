"""Classic RFM scores, 1 to 5, for admins who think in RFM (alongside seed 004's types).

Scores are store-relative fifths among the customers who bought: 5 is the best fifth (most
recent, most frequent, highest spend), 1 the worst. Customers who never bought get no score
(0 here, NULL when stored).

**Ties.** Ties decide a lot in RFM: in most shops more than half the buyers ordered exactly
once, so plain quintile edges all fall on 1. Cutting at those edges leaves levels empty, and
the first rule this scorer had (the *mid-rank* of a value against the edges) gave every
one-order buyer F = 2, so F = 1 was never used and 55–72 % of customers shared F = 2. The rule
now (``ties="levels"``) keeps equal values together and still uses every level it can:

* the buyers' distinct values are taken lowest first; each level, from 1 up, takes whole
  groups of equal values until it holds as close as it can get to an equal share of the
  buyers *not yet placed* (the remaining buyers over the remaining levels), keeping at least
  one distinct value for each level still to fill;
* so a tie that covers more than a fifth fills its level alone and the other buyers are
  shared out among the remaining levels: with 60 % one-order buyers F = 1 is those 60 %, and
  F = 2 … 5 split the other 40 % as evenly as their values allow;
* with five or more distinct values every level is used; with fewer, the values are spread
  over the scale (two values: 1 and 5; three: 1, 3, 5; one: everybody 3);
* without ties it is plain quintiles (each level a fifth of the buyers, to one customer).

The fitted ``edges_`` are each level's lowest value (a value scores 1 + the number of edges at
or below it), so customers who arrive between runs are scored against the same stored edges
exactly as the run scored its own: equal values, equal scores. Runs stored before this rule
kept quantile edges and the mid-rank rule (``ties="mid_rank"``); their stored scorers are read
with that rule, so their newcomers are still scored as those runs scored.
"""
from __future__ import annotations

import numpy as np

from .stored import StoredEstimator
from .value_types import PurchaseHistory

TIE_RULES = ("levels", "mid_rank")


def _mid_rank_scores(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    below = np.searchsorted(edges, values, side="left")
    at_or_below = np.searchsorted(edges, values, side="right")
    return 1 + (below + at_or_below) // 2


def _level_scores(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return 1 + np.searchsorted(edges, values, side="right")


def level_edges(values: np.ndarray, n_levels: int) -> np.ndarray:
    """The lowest value of levels 2 … ``n_levels`` under the tie rule of the module docstring.

    ``values`` are one column of the buyers' figures (higher is better). Edges never decrease;
    a level that gets no value of its own shares its edge with the next one.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return np.zeros(n_levels - 1)
    distinct, counts = np.unique(values, return_counts=True)
    d = len(distinct)
    if d < n_levels:
        # Too few values to fill every level: spread them over the scale (1 … n_levels).
        spread = np.rint(1 + np.arange(d) * (n_levels - 1) / max(d - 1, 1)).astype(int)
        level = spread if d > 1 else np.array([(n_levels + 1) // 2])
    else:
        level = np.empty(d, dtype=int)
        cumulative = np.cumsum(counts).astype(np.float64)  # buyers up to and including each value
        start, placed = 0, 0.0
        for current in range(1, n_levels + 1):
            levels_left = n_levels - current  # levels still to fill after this one
            if levels_left == 0:
                level[start:] = current
                break
            target = (cumulative[-1] - placed) / (levels_left + 1)
            # The level ends after the value that brings it closest to its share (on a tie, the
            # earlier one), holding at least one value and leaving one for each level to fill.
            at = int(np.searchsorted(cumulative, placed + target))  # first end at or over the share
            ends = [e for e in (at, at + 1) if start + 1 <= e <= d - levels_left] or [
                min(max(at + 1, start + 1), d - levels_left)]
            end = min(ends, key=lambda e: (abs(cumulative[e - 1] - placed - target), e))
            level[start:end] = current
            placed = cumulative[end - 1]
            start = end
    edges = np.empty(n_levels - 1)
    for j, lvl in enumerate(range(2, n_levels + 1)):
        at_or_above = np.flatnonzero(level >= lvl)
        # no value reaches this level: its edge lies just above the highest value
        edges[j] = distinct[at_or_above[0]] if len(at_or_above) else np.nextafter(distinct[-1], np.inf)
    return edges


class RFMScorer(StoredEstimator):
    """RFM scores with the tie rule of the module docstring.

    Parameters
    ----------
    n_scores : int
        Scores run from 1 to ``n_scores`` (fifths by default).
    ties : "levels" (the rule of the module docstring) or "mid_rank" (quantile edges, the
        mid-rank of a value against them: the rule of runs stored before; kept to score their
        newcomers as they were scored)

    Attributes
    ----------
    edges_ : (3, n_scores - 1) edges of (−recency, frequency, spend) among buyers
    scores_ : (n, 3) int scores R, F, M; 0 for customers who never bought
    """

    fitted_state = ("edges_",)

    def __init__(self, n_scores: int = 5, ties: str = "levels"):
        self.n_scores = n_scores
        self.ties = ties

    @staticmethod
    def _columns(history: PurchaseHistory) -> np.ndarray:
        # Higher is better in every column: recency is negated.
        return np.column_stack([-history.recency_days, history.frequency, history.monetary])

    def fit(self, history: PurchaseHistory, y=None) -> "RFMScorer":
        if self.ties not in TIE_RULES:
            raise ValueError(f"unknown tie rule {self.ties!r}; known: {', '.join(TIE_RULES)}")
        buyers = history.orders_total > 0
        X = self._columns(history)
        if not buyers.any():
            self.edges_ = np.zeros((3, self.n_scores - 1))
        elif self.ties == "levels":
            self.edges_ = np.array([level_edges(X[buyers, j], self.n_scores) for j in range(3)])
        else:
            quantiles = np.arange(1, self.n_scores) / self.n_scores
            self.edges_ = np.quantile(X[buyers], quantiles, axis=0).T
        self.scores_ = self.predict(history)
        return self

    def predict(self, history: PurchaseHistory) -> np.ndarray:
        """Scores against the fitted edges (how customers who arrive between runs are scored)."""
        X = self._columns(history)
        buyers = history.orders_total > 0
        scores = np.zeros(X.shape, dtype=np.int64)
        score = _level_scores if self.ties == "levels" else _mid_rank_scores
        for j in range(3):
            scores[buyers, j] = score(X[buyers, j], self.edges_[j])
        return scores

    @classmethod
    def from_dict(cls, data: dict):
        """A stored scorer; one stored before the tie rule was a parameter used the mid-rank rule."""
        params = dict(data.get("params", {}))
        params.setdefault("ties", "mid_rank")
        return super().from_dict({**data, "params": params})
