"""Interest segments (seed 000): customers grouped by what they browse, cart and buy.

Input rows are per-customer interest scores per category (already weighted and decayed by
the extraction SQL). Rows are normalised to shares so that a heavy and a light shopper with
the same tastes land together: segments are about *what* people like, the value types are
about *how much* they buy.
"""
from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score

from ..errors import NotEnoughData


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows that sum to zero stay zero)."""
    X = np.asarray(X, dtype=np.float64)
    totals = X.sum(axis=1, keepdims=True)
    return np.divide(X, totals, out=np.zeros_like(X), where=totals > 0)


class InterestSegmenter:
    """k-means on interest shares, with k chosen by silhouette when not fixed.

    Parameters
    ----------
    n_clusters : int or None
        Fixed k; ``None`` chooses k in ``k_range`` by the best silhouette on a sample.
    k_range : (int, int)
        Smallest and largest k tried when choosing.
    sample_size : int
        Rows used to choose k (silhouette is quadratic in rows, so it runs on a bounded sample).
    minibatch_threshold : int
        Above this many rows the final fit uses MiniBatchKMeans.
    random_state : int
        Seeds sampling and k-means: the same data and seed give the same segments.

    Attributes
    ----------
    labels_ : segment per row, 0 = largest segment
    cluster_centers_ : (k, n_features) mean shares per segment
    n_clusters_ : the k used
    k_scores_ : {k: silhouette} for every k tried (empty when k was fixed)
    """

    def __init__(self, n_clusters: int | None = None, k_range: tuple[int, int] = (2, 12), sample_size: int = 4000,
                 minibatch_threshold: int = 50_000, n_init: int = 4, random_state: int = 0):
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.sample_size = sample_size
        self.minibatch_threshold = minibatch_threshold
        self.n_init = n_init
        self.random_state = random_state

    def _kmeans(self, k: int, n_rows: int):
        if n_rows > self.minibatch_threshold:
            return MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=self.n_init, max_no_improvement=20,
                                   random_state=self.random_state)
        return KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)

    def _choose_k(self, X: np.ndarray, n_distinct: int) -> int:
        rng = np.random.default_rng(self.random_state)
        sample = X if len(X) <= self.sample_size else X[rng.choice(len(X), self.sample_size, replace=False)]
        low, high = self.k_range
        high = min(high, n_distinct, len(sample) - 1)
        self.k_scores_ = {}
        for k in range(max(2, low), high + 1):
            labels = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit_predict(sample)
            if len(np.unique(labels)) < 2:
                continue
            self.k_scores_[k] = float(silhouette_score(sample, labels))
        if not self.k_scores_:
            return min(n_distinct, 1 if len(X) < 2 else 2)
        return max(self.k_scores_, key=lambda k: (round(self.k_scores_[k], 6), -k))

    def fit(self, X: np.ndarray, y=None) -> "InterestSegmenter":
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0 or X.shape[1] == 0:
            raise NotEnoughData("no customer has any browsing, cart or order activity to build interests from")
        n_distinct = len(np.unique(X.round(9), axis=0))
        self.k_scores_ = {}
        if self.n_clusters is not None:
            k = min(self.n_clusters, n_distinct)
        elif len(X) < 3 or n_distinct < 2:
            k = 1
        else:
            k = self._choose_k(X, n_distinct)
        model = self._kmeans(k, len(X)).fit(X)
        labels, centers = model.labels_, model.cluster_centers_
        # Stable, meaningful label numbers: 0 is the largest segment (ties by centre).
        sizes = np.bincount(labels, minlength=k)
        order = sorted(range(k), key=lambda j: (-sizes[j], tuple(-centers[j])))
        remap = np.empty(k, dtype=np.int64)
        remap[order] = np.arange(k)
        self.labels_ = remap[labels]
        self.cluster_centers_ = centers[order]
        self.n_clusters_ = k
        self.inertia_ = float(model.inertia_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Nearest current centre: how new customers join segments between runs."""
        X = np.asarray(X, dtype=np.float64)
        d = ((X[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2)
        return d.argmin(axis=1)
