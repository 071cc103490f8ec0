"""How good is a segmentation? (seed 003: validate the model before acting on it.)

Accuracy has no ground truth in a shop, so a run records what can be measured:

* separation and compactness: silhouette (on a bounded sample, it is quadratic),
  Davies–Bouldin (lower is better) and Calinski–Harabasz (higher is better);
* reliability: stability, the adjusted Rand index between the run's segments and those of
  the same algorithm refitted with other seeds on other samples (1.0 = identical);
* usefulness for the marketer: segment sizes, and how many customers moved between
  segments since the previous run (the migration matrix).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score

from .interests import nearest, sample_rows

Clusterer = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


def clustering_scores(X: np.ndarray, labels: np.ndarray, sample_size: int = 4000, random_state: int = 0) -> dict:
    """Silhouette (sampled), Davies–Bouldin and Calinski–Harabasz, and the segment sizes.

    Scores that are undefined (fewer than two segments) are ``None``.
    """
    labels = np.asarray(labels)
    k = int(labels.max()) + 1 if len(labels) else 0
    scores: dict = {"sizes": np.bincount(labels, minlength=k).tolist() if k else [], "n": int(len(labels)),
                    "silhouette": None, "davies_bouldin": None, "calinski_harabasz": None}
    if len(np.unique(labels)) < 2 or len(labels) < 3:
        return scores
    rows = sample_rows(len(X), sample_size, random_state)
    if len(np.unique(labels[rows])) >= 2:
        scores["silhouette"] = float(silhouette_score(X[rows], labels[rows]))
    scores["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    scores["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
    return scores


def stability(X: np.ndarray, labels: np.ndarray, centers: np.ndarray, cluster: Clusterer, runs: int = 3,
              sample_size: int = 20000, random_state: int = 0) -> dict:
    """Adjusted Rand index between the fitted segments and reseeded refits.

    Each refit runs ``cluster(X_sample, k, seed)`` on a fresh bounded sample with another
    seed; all its centres then label one common evaluation sample, which is compared with
    the run's own labels there. Returns the mean and the minimum over ``runs`` refits.
    """
    k = len(centers)
    if runs < 1 or k < 2 or len(X) < 3:
        return {"mean_ari": None, "min_ari": None, "runs": 0}
    evaluation = sample_rows(len(X), sample_size, random_state + 10_000)
    scores = []
    for r in range(1, runs + 1):
        rows = sample_rows(len(X), sample_size, random_state + r)
        _, refit_centers = cluster(X[rows], k, random_state + r)
        refit_labels = nearest(X[evaluation], refit_centers)
        scores.append(float(adjusted_rand_score(labels[evaluation], refit_labels)))
    return {"mean_ari": float(np.mean(scores)), "min_ari": float(np.min(scores)), "runs": runs}


def _labels_of(ids: np.ndarray, labels: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The label of each ``wanted`` id in (``ids``, ``labels``); -1 where absent."""
    ids, labels, wanted = (np.asarray(a, dtype=np.int64) for a in (ids, labels, wanted))
    if len(ids) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    pos = np.minimum(np.searchsorted(ids[order], wanted), len(ids) - 1)
    return np.where(ids[order][pos] == wanted, labels[order][pos], -1)


def migration(previous_ids: np.ndarray, previous_labels: np.ndarray, n_previous: int, current_ids: np.ndarray,
              current_labels: np.ndarray, n_current: int) -> dict:
    """Who moved where since the previous run.

    ``matrix[i][j]`` counts customers in previous segment ``i`` and current segment ``j``;
    the extra last row holds customers new to segments, the extra last column those who
    left them (gone from the shop, or without interest data now). Segments of two runs are
    different clusters, so they are matched one-to-one by the largest overlap (Hungarian
    assignment); ``moved`` counts customers in both runs whose current segment is not the
    match of their previous one.
    """
    prev_of_current = _labels_of(previous_ids, previous_labels, current_ids)
    current_of_prev = _labels_of(current_ids, current_labels, previous_ids)
    cur, prev = np.asarray(current_labels, dtype=np.int64), np.asarray(previous_labels, dtype=np.int64)
    matrix = np.zeros((n_previous + 1, n_current + 1), dtype=np.int64)
    both = (prev_of_current >= 0) & (cur >= 0)
    np.add.at(matrix, (prev_of_current[both], cur[both]), 1)
    new = (prev_of_current < 0) & (cur >= 0)
    matrix[n_previous, :n_current] += np.bincount(cur[new], minlength=n_current)[:n_current]
    left = (prev >= 0) & (current_of_prev < 0)
    matrix[:n_previous, n_current] += np.bincount(prev[left], minlength=n_previous)[:n_previous]
    overlap = matrix[:n_previous, :n_current]
    match = {}
    if overlap.size:
        rows, cols = linear_sum_assignment(-overlap)
        match = dict(zip(rows.tolist(), cols.tolist()))
    stayed = sum(int(overlap[i, j]) for i, j in match.items())
    common = int(overlap.sum())
    return {
        "matrix": matrix.tolist(),
        "match": {str(i): j for i, j in match.items()},
        "common": common,
        "moved": common - stayed,
        "moved_share": (common - stayed) / common if common else None,
        "ari": float(adjusted_rand_score(prev_of_current[both], cur[both])) if both.sum() > 1 else None,
        "new": int(new.sum()),
        "left": int(left.sum()),
    }
