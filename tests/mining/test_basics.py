"""Pure tests of the mining classes on small arrays."""
import numpy as np
import pytest

from shopcrm.errors import NotEnoughData
from shopcrm.mining import InterestSegmenter, PurchaseHistory, ValueTypeClassifier, normalize_rows, segment_names

NAN = float("nan")


def history(rows):
    """rows: (account_age, orders_total, recency, first_order, frequency, monetary, recent_spend)"""
    cols = list(zip(*rows))
    return PurchaseHistory(*[np.array(c, dtype=float) for c in cols])


def test_normalize_rows_gives_shares_and_keeps_empty_rows_empty():
    shares = normalize_rows(np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 0.0]]))
    np.testing.assert_allclose(shares, [[0.25, 0.75], [0, 0], [1, 0]])


def test_segmenter_finds_planted_groups_and_chooses_k():
    rng = np.random.default_rng(1)
    centers = np.eye(4) * 0.8 + 0.05
    X = np.vstack([rng.dirichlet(c * 40, 120) for c in centers])
    truth = np.repeat(np.arange(4), 120)
    seg = InterestSegmenter(k_range=(2, 8), random_state=0).fit(X)
    assert seg.n_clusters_ == 4
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, seg.labels_) > 0.95
    assert set(seg.k_scores_) == set(range(2, 9))
    sizes = np.bincount(seg.labels_)
    assert list(sizes) == sorted(sizes, reverse=True)  # label 0 is the largest
    np.testing.assert_array_equal(seg.predict(X), seg.labels_)


def test_segmenter_is_reproducible():
    rng = np.random.default_rng(5)
    X = normalize_rows(rng.random((300, 6)) ** 4)
    a = InterestSegmenter(random_state=3).fit(X)
    b = InterestSegmenter(random_state=3).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_)


def test_segmenter_with_fixed_k_and_tiny_inputs():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert InterestSegmenter(n_clusters=2).fit(X).n_clusters_ == 2
    assert InterestSegmenter(n_clusters=5).fit(X).n_clusters_ == 2  # only two distinct rows
    assert InterestSegmenter().fit(np.array([[1.0, 0.0]])).n_clusters_ == 1
    with pytest.raises(NotEnoughData):
        InterestSegmenter().fit(np.empty((0, 3)))


def test_segment_names_are_readable_and_unique():
    names = segment_names(np.array([[0.9, 0.05, 0.05], [0.5, 0.4, 0.1], [0.88, 0.1, 0.02], [0.34, 0.33, 0.33]]),
                          ["Running", "Kitchen", "Books"])
    assert names[0] == "Running"
    assert names[1] == "Running & Kitchen"
    assert names[2] == "Running (2)"
    assert names[3] == "Running & Kitchen (2)"


class TestValueTypeRules:
    """Seed 004's six types, their order, and the edges."""

    def classify(self, rows, **params):
        return list(ValueTypeClassifier(**params).fit_predict(history(rows)))

    def test_new_beats_everything_and_exactly_90_days_is_not_new(self):
        types = self.classify([
            (89.9, 5, 1, 60, 5, 900, 900),  # young account, big buyer: still "new"
            (90.0, 0, NAN, NAN, 0, 0, 0),   # exactly 90 days: not new, never bought
            (10, 0, NAN, NAN, 0, 0, 0),     # young, never bought: new
        ])
        assert types == ["new", "negative", "new"]

    def test_never_bought_is_negative(self):
        assert self.classify([(400, 0, NAN, NAN, 0, 0, 0)] * 3) == ["negative"] * 3

    def test_buying_started_within_90_days_is_most_growth_with_edge(self):
        types = self.classify([
            (500, 1, 89.99, 89.99, 1, 30, 30),  # first order just under 90 days ago: within -> most growth
            (500, 1, 90, 90, 1, 30, 0),         # exactly 90 days: outside the window (one rule for every edge)
            (500, 1, 91, 91, 1, 30, 0),         # 91 days ago: not
            (500, 3, 5, 400, 2, 100, 20),
        ])
        assert types[0] == "most_growth" and types[1] != "most_growth" and types[2] != "most_growth"

    def test_spend_sharply_up_is_most_growth_below_the_top_cluster_only(self):
        """Seed 004's "most growth" is buying that started recently; "spend sharply up" is ours,
        and it promotes an ordinary buyer without ever demoting a top one."""
        rng = np.random.default_rng(5)
        top = [(700, 12, rng.uniform(2, 10), 600, 12, 1000, 700) for _ in range(10)]  # earlier 300, recently 700
        average = [(700, 4, rng.uniform(40, 80), 600, 4, 200, 0) for _ in range(10)]
        low = [(700, 1, rng.uniform(300, 360), 360, 1, 20, 0) for _ in range(10)]
        # Earlier: 50 over 275 days (≈ 16.4 per 90 days); last 90 days: 150 ≥ 3 × 16.4.
        jumper = [(700, 4, 60, 600, 4, 200, 150)]
        types = self.classify(top + average + low + jumper)
        assert types[-1] == "most_growth"
        assert types[:10] == ["high_value"] * 10  # their spend is sharply up too, but they are the top
        assert types[10:20] == ["ordinary"] * 10 and types[20:30] == ["below_average"] * 10
        assert self.classify(top + average + low + jumper, growth_ratio=10)[-1] == "ordinary"  # a parameter

    def test_clusters_are_ranked_by_centroid_not_label(self):
        rng = np.random.default_rng(0)
        rows = []
        for _ in range(30):  # high: recent, frequent, big spend
            rows.append((700, 12, rng.uniform(1, 10), 600, 12, rng.uniform(900, 1200), 0))
        for _ in range(30):  # average
            rows.append((700, 4, rng.uniform(40, 80), 600, 4, rng.uniform(150, 250), 0))
        for _ in range(30):  # low: long ago, once, little
            rows.append((700, 1, rng.uniform(300, 360), 360, 1, rng.uniform(10, 30), 0))
        for seed in range(4):  # whatever label numbers k-means picks, the ranking holds
            types = self.classify(rows, random_state=seed)
            assert types[:30] == ["high_value"] * 30
            assert types[30:60] == ["ordinary"] * 30
            assert types[60:] == ["below_average"] * 30

    def test_zero_amounts_and_a_single_buyer(self):
        assert self.classify([(400, 1, 100, 100, 1, 0.0, 0.0)]) == ["ordinary"]  # one buyer: the middle rank
        types = self.classify([(400, 2, 100, 200, 2, 0.0, 0.0), (400, 1, 300, 300, 1, 0.0, 0.0)])
        assert types == ["high_value", "below_average"]

    def test_missing_signup_date_is_not_new(self):
        assert self.classify([(NAN, 0, NAN, NAN, 0, 0, 0)]) == ["negative"]
