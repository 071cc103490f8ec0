"""Interest segments (seed 000): customers grouped by what they browse, cart and buy.

Input rows are per-customer interest scores per category and/or brand (already weighted and
decayed by the extraction). Rows are normalised to shares so that a heavy and a light shopper
with the same tastes land together: segments are about *what* people like, the value types
are about *how much* they buy.

Two algorithms:

* ``kmeans`` (seed 000): k-means, MiniBatchKMeans above a size threshold;
* ``agglomerative`` (seed 001): Ward agglomerative clustering on a bounded sample, every other
  customer joins the nearest resulting centre. Seed 001 merges points that are each other's
  nearest neighbours (a kd-tree finds them); SciPy's Ward linkage uses the nearest-neighbour
  chain algorithm, which merges exactly such reciprocal nearest-neighbour pairs and yields
  the same dendrogram, in O(n²) memory: hence the sample.

Either way k is fixed or chosen by the best silhouette on a bounded sample.
"""
from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances, silhouette_score

from ..errors import NotEnoughData
from ..vocab import ALGORITHMS, LEVELS


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows that sum to zero stay zero)."""
    X = np.asarray(X, dtype=np.float64)
    totals = X.sum(axis=1, keepdims=True)
    return np.divide(X, totals, out=np.zeros_like(X), where=totals > 0)


def interest_features(categories: np.ndarray, brands: np.ndarray | None, level: str = "category") -> np.ndarray:
    """The feature matrix segments are built on: category shares, brand shares, or both.

    With ``both`` each block is normalised on its own, so that categories and brands weigh
    the same whatever their numbers.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown interest level {level!r}; known: {', '.join(LEVELS)}")
    if level == "category" or brands is None or brands.shape[1] == 0:
        return normalize_rows(categories)
    if level == "brand":
        return normalize_rows(brands)
    return np.hstack([normalize_rows(categories), normalize_rows(brands)])


def sample_rows(n: int, size: int, random_state: int) -> np.ndarray:
    """Indices of a bounded random sample (all rows when there are few), sorted."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size, replace=False))


def nearest(X: np.ndarray, centers: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Index of the nearest centre per row (squared Euclidean), in bounded chunks."""
    out = np.empty(len(X), dtype=np.int64)
    c2 = (centers ** 2).sum(axis=1)
    for start in range(0, len(X), chunk):
        part = X[start:start + chunk]
        out[start:start + chunk] = (c2[None, :] - 2.0 * part @ centers.T).argmin(axis=1)
    return out


class InterestSegmenter:
    """Segments on interest shares, with k chosen by silhouette when not fixed.

    Parameters
    ----------
    n_clusters : int or None
        Fixed k; ``None`` chooses k in ``k_range`` by the best silhouette on a sample.
    k_range : (int, int)
        Smallest and largest k tried when choosing.
    sample_size : int
        Rows used to choose k and to build the agglomerative tree (both are quadratic in
        rows, so they run on a bounded sample).
    algorithm : "kmeans" or "agglomerative"
    minibatch_threshold : int
        Above this many rows k-means uses MiniBatchKMeans.
    random_state : int
        Seeds sampling and k-means: the same data and seed give the same segments.

    Attributes
    ----------
    labels_ : segment per row, 0 = largest segment
    cluster_centers_ : (k, n_features) mean shares per segment
    n_clusters_ : the k used
    k_scores_ : {k: silhouette} for every k tried (empty when k was fixed)
    """

    def __init__(self, n_clusters: int | None = None, k_range: tuple[int, int] = (2, 12), sample_size: int = 2000,
                 algorithm: str = "kmeans", minibatch_threshold: int = 50_000, n_init: int = 4,
                 random_state: int = 0):
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.sample_size = sample_size
        self.algorithm = algorithm
        self.minibatch_threshold = minibatch_threshold
        self.n_init = n_init
        self.random_state = random_state

    # --- the two algorithms, each returning (labels, centers) for all rows -----------------------

    def _kmeans(self, X: np.ndarray, k: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
        if len(X) > self.minibatch_threshold:
            model = MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=self.n_init, max_no_improvement=20,
                                    random_state=random_state)
        else:
            model = KMeans(n_clusters=k, n_init=self.n_init, random_state=random_state)
        model.fit(X)
        return model.labels_, model.cluster_centers_

    def _tree(self, X: np.ndarray, random_state: int) -> tuple[np.ndarray, np.ndarray]:
        rows = sample_rows(len(X), self.sample_size, random_state)
        return rows, linkage(X[rows], method="ward")

    def _agglomerative(self, X: np.ndarray, k: int, random_state: int, tree=None) -> tuple[np.ndarray, np.ndarray]:
        rows, Z = tree if tree is not None else self._tree(X, random_state)
        sample_labels = fcluster(Z, t=k, criterion="maxclust") - 1
        centers = np.array([X[rows[sample_labels == j]].mean(axis=0) for j in np.unique(sample_labels)])
        labels = nearest(X, centers)
        used = np.unique(labels)
        if len(used) < len(centers):  # a centre nobody is nearest to: drop it
            centers = centers[used]
            labels = nearest(X, centers)
        return labels, centers

    def cluster(self, X: np.ndarray, k: int, random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Labels and centres for a fixed k (used by the fit and by stability checks)."""
        seed = self.random_state if random_state is None else random_state
        if self.algorithm == "agglomerative":
            return self._agglomerative(X, k, seed)
        return self._kmeans(X, k, seed)

    # --- choosing k -------------------------------------------------------------------------------------

    def _choose_k(self, X: np.ndarray, n_distinct: int) -> int:
        rows = sample_rows(len(X), self.sample_size, self.random_state)
        sample = X[rows]
        low, high = self.k_range
        high = min(high, n_distinct, len(sample) - 1)
        tree = (np.arange(len(sample)), linkage(sample, method="ward")) if self.algorithm == "agglomerative" else None
        distances = pairwise_distances(sample)  # once for every k tried
        self.k_scores_ = {}
        for k in range(max(2, low), high + 1):
            if tree is not None:
                labels = fcluster(tree[1], t=k, criterion="maxclust") - 1
            else:
                labels = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit_predict(sample)
            if len(np.unique(labels)) < 2:
                continue
            self.k_scores_[k] = float(silhouette_score(distances, labels, metric="precomputed"))
        if not self.k_scores_:
            return min(n_distinct, 2)
        return max(self.k_scores_, key=lambda k: (round(self.k_scores_[k], 6), -k))

    def fit(self, X: np.ndarray, y=None) -> "InterestSegmenter":
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; known: {', '.join(ALGORITHMS)}")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0 or X.shape[1] == 0:
            raise NotEnoughData("no customer has any browsing, cart or order activity to build interests from")
        n_distinct = len(np.unique(X[sample_rows(len(X), 50_000, self.random_state)].round(9), axis=0))
        self.k_scores_ = {}
        if self.n_clusters is not None:
            k = min(self.n_clusters, n_distinct)
        elif len(X) < 3 or n_distinct < 2:
            k = 1
        else:
            k = self._choose_k(X, n_distinct)
        labels, centers = self.cluster(X, k)
        k = len(centers)
        # Stable, meaningful label numbers: 0 is the largest segment (ties by centre).
        sizes = np.bincount(labels, minlength=k)
        order = sorted(range(k), key=lambda j: (-sizes[j], tuple(-centers[j])))
        remap = np.empty(k, dtype=np.int64)
        remap[order] = np.arange(k)
        self.labels_ = remap[labels]
        self.cluster_centers_ = centers[order]
        self.n_clusters_ = k
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Nearest current centre: how new customers join segments between runs."""
        return nearest(np.asarray(X, dtype=np.float64), self.cluster_centers_)
