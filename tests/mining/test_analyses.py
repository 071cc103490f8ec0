"""Pure tests of the per-customer analyses, the groups, the chart figures and the quality measures."""
import json
from datetime import datetime

import numpy as np
import pytest

from shopcrm.mining import (
    ChurnScorer,
    InterestSegmenter,
    PurchaseHistory,
    RFMScorer,
    ValueTypeClassifier,
    clustering_scores,
    interest_features,
    location_source_groups,
    migration,
    recommend_actions,
    stability,
)
from shopcrm.mining import insights as charts
from shopcrm.vocab import ACTIONS

NAN = float("nan")


def history(rows):
    """rows: (account_age, orders_total, recency, first_order, frequency, monetary, recent_spend)"""
    return PurchaseHistory(*[np.array(c, dtype=float) for c in zip(*rows)])


def buyers(recency=None, frequency=None, monetary=None, n=10):
    recency = np.arange(1, n + 1) if recency is None else np.asarray(recency)
    frequency = np.ones(n) if frequency is None else np.asarray(frequency)
    monetary = np.full(n, 10.0) if monetary is None else np.asarray(monetary)
    return history([(500, max(f, 1), r, 400, f, m, 0) for r, f, m in zip(recency, frequency, monetary)])


# --- value types: more edges of seed 004's rules --------------------------------------------------------

class TestValueTypeEdges:
    def test_one_order_customers_are_typed_by_their_cluster_and_rules(self):
        rows = [(500, 1, 30, 30, 1, 50, 50),     # one order, 30 days ago: buying started recently
                (500, 1, 200, 200, 1, 50, 0),     # one order long ago: ranked, never "most growth"
                (500, 1, 400, 400, 0, 0, 0)]      # one order before the value window: still a buyer
        types = list(ValueTypeClassifier().fit_predict(history(rows)))
        assert types[0] == "most_growth"
        assert types[1] in ("high_value", "ordinary", "below_average")
        assert types[2] in ("ordinary", "below_average") and types[2] != "negative"

    def test_zero_spend_orders_are_buyers_not_negative(self):
        types = ValueTypeClassifier().fit_predict(history([(500, 2, 100, 300, 2, 0.0, 0.0)] * 3))
        assert set(types) == {"ordinary"}  # identical buyers form one cluster: the middle rank

    def test_every_threshold_is_a_parameter(self):
        rows = [(100, 1, 100, 100, 1, 40, 0), (120, 1, 110, 110, 1, 40, 0)]
        assert list(ValueTypeClassifier().fit_predict(history(rows))) != ["new", "new"]
        assert list(ValueTypeClassifier(new_days=121).fit_predict(history(rows))) == ["new", "new"]
        # the first order younger than growth_days: 110 days is not younger than 110, it is than 111
        assert list(ValueTypeClassifier(growth_days=110).fit_predict(history(rows))) == ["most_growth", "below_average"]
        assert list(ValueTypeClassifier(growth_days=111).fit_predict(history(rows))) == ["most_growth"] * 2
        # window and growth windows shape "spend sharply up" (for buyers below the top cluster):
        # 100 earlier over 275 days vs 60 recently
        top = [(700, 12, 2, 600, 12, 1500, 300)] * 3
        spend = ([(700, 3, 60, 300, 3, 160, 60)] + [(700, 3, 60, 300, 3, 160, 0)] * 3
                 + [(700, 1, 300, 300, 1, 10, 0)] * 3)
        assert ValueTypeClassifier(growth_ratio=1.5).fit_predict(history(spend + top))[0] == "most_growth"
        assert ValueTypeClassifier(growth_ratio=2.0).fit_predict(history(spend + top))[0] != "most_growth"

    def test_predict_places_newcomers_like_the_fit(self):
        rng = np.random.default_rng(3)
        rows = [(700, f, r, 600, f, m, 0) for f, r, m in zip(rng.integers(1, 15, 200), rng.uniform(1, 360, 200),
                                                             rng.lognormal(4, 1, 200))]
        model = ValueTypeClassifier().fit(history(rows))
        types, rank = model.predict(history(rows))
        assert list(types) == list(model.types_) and list(rank) == list(model.value_rank_)
        types, rank = model.predict(history([(10, 0, NAN, NAN, 0, 0, 0), (400, 0, NAN, NAN, 0, 0, 0)]))
        assert list(types) == ["new", "negative"] and list(rank) == [-1, -1]


# --- RFM --------------------------------------------------------------------------------------------------

def test_rfm_quintiles_by_hand():
    # Ten buyers 1..10: quintile edges 2.8, 4.6, 6.4, 8.2 -> two buyers per score.
    scorer = RFMScorer().fit(buyers(recency=range(1, 11), frequency=range(1, 11), monetary=range(10, 110, 10)))
    assert scorer.scores_[:, 0].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]  # fewer days since the last order is better
    assert scorer.scores_[:, 1].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scorer.scores_[:, 2].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    np.testing.assert_allclose(scorer.edges_[1], [3, 5, 7, 9])  # each level's lowest value
    mid_rank = RFMScorer(ties="mid_rank").fit(buyers(recency=range(1, 11), frequency=range(1, 11)))
    np.testing.assert_allclose(mid_rank.edges_[1], [2.8, 4.6, 6.4, 8.2])  # the rule of older runs: quantile edges
    assert mid_rank.scores_[:, 1].tolist() == scorer.scores_[:, 1].tolist()  # without ties both are quintiles


def test_rfm_many_ties_keep_five_levels_and_f_reaches_1():
    """Most buyers ordered once: their tie fills F = 1 and the rest share F = 2..5 (the mid-rank
    rule gave every one-order buyer F = 2 and never used F = 1)."""
    rng = np.random.default_rng(7)
    orders = np.concatenate([np.ones(640), np.full(170, 2), np.full(80, 3), np.full(50, 4), rng.integers(5, 30, 60)])
    scorer = RFMScorer().fit(buyers(frequency=orders, n=len(orders)))
    f = scorer.scores_[:, 1]
    assert set(f[orders == 1]) == {1} and set(f) == {1, 2, 3, 4, 5}
    for value in np.unique(orders):  # equal values, equal scores; more orders never a lower score
        assert len(set(f[orders == value])) == 1
    assert all(np.diff([f[orders == v][0] for v in np.unique(orders)]) >= 0)
    sizes = np.bincount(f, minlength=6)[1:]
    assert sizes[0] == 640 and sizes[1:].min() >= 50  # every level is used by a real share of the buyers
    old = RFMScorer(ties="mid_rank").fit(buyers(frequency=orders, n=len(orders))).scores_[:, 1]
    assert 1 not in set(old) and (old == 2).mean() > 0.6  # what the issue saw
    # Newcomers are scored against the stored edges exactly as the run scored its own customers.
    stored = RFMScorer.from_dict(json.loads(json.dumps(scorer.to_dict())))
    newcomers = buyers(frequency=[1, 2, 3, 4, 17, 100, 0], n=7)
    expected = [f[orders == v][0] if v in orders else None for v in (1, 2, 3, 4, 17)]
    assert stored.predict(newcomers)[:5, 1].tolist() == expected
    assert stored.predict(newcomers)[5:, 1].tolist() == [5, 1]  # beyond the highest, below the lowest


def test_rfm_continuous_values_are_plain_quintiles():
    spend = np.random.default_rng(2).lognormal(4, 1, 1003)
    scores = RFMScorer().fit(buyers(monetary=spend, n=len(spend))).scores_[:, 2]
    assert set(np.bincount(scores)[1:].tolist()) <= {200, 201}  # a fifth each, to one customer
    assert all(np.diff(scores[np.argsort(spend)]) >= 0)


def test_rfm_ties_never_bought_and_newcomers():
    frequency = [1] * 6 + [2, 2, 3, 8]  # four distinct values for five levels: spread over 1, 2, 4, 5
    scorer = RFMScorer().fit(buyers(frequency=frequency))
    assert scorer.scores_[:, 1].tolist() == [1] * 6 + [2, 2, 4, 5]
    # the rule of older runs: 1 has no edge below, two at or below -> 1 + (0 + 2) // 2 = 2 ...
    assert RFMScorer(ties="mid_rank").fit(buyers(frequency=frequency)).scores_[:, 1].tolist() == [2] * 6 + [4, 4, 5, 5]
    assert RFMScorer().fit(buyers(frequency=[1] * 5 + [2] * 5)).scores_[:, 1].tolist() == [1] * 5 + [5] * 5
    alike = RFMScorer().fit(buyers(recency=[5] * 4, frequency=[2] * 4, monetary=[9.0] * 4, n=4))
    assert alike.scores_.tolist() == [[3, 3, 3]] * 4  # a shop where everyone is alike scores everyone 3
    mixed = history([(500, 0, NAN, NAN, 0, 0, 0), (500, 1, 10, 10, 1, 30, 30)])
    assert RFMScorer().fit(mixed).scores_[0].tolist() == [0, 0, 0]  # never bought: no score
    newcomer = buyers(recency=[0.5], frequency=[20], monetary=[1e6], n=1)
    assert scorer.predict(newcomer).tolist() == [[5, 5, 5]]


# --- churn and actions ---------------------------------------------------------------------------------------

def test_churn_score_and_flag():
    rows = [(900, 5, 300, 700, 3, 100, 0),   # usual gap (700-300)/4 = 100; silent 300 = 3 gaps -> 0.5, at risk
            (900, 5, 100, 500, 3, 100, 0),   # silent 1 gap -> 1/(1+9) = 0.1
            (900, 30, 5, 34, 30, 300, 0),    # daily buyer silent 5 days: high score, but under min_days
            (900, 1, 400, 400, 0, 0, 0),     # one order: compared with the store's median gap
            (900, 0, NAN, NAN, 0, 0, 0)]     # never bought
    churn = ChurnScorer(gap_factor=3, min_days=30).fit(history(rows))
    assert churn.store_gap_ == pytest.approx(100)  # median of the repeat buyers' gaps 100, 100, 1
    assert churn.score_[0] == pytest.approx(0.5) and churn.score_[1] == pytest.approx(0.1)
    assert churn.score_[2] > 0.5
    assert churn.score_[3] == pytest.approx(4 ** 2 / (4 ** 2 + 3 ** 2))
    assert np.isnan(churn.score_[4])
    assert churn.risk_.tolist() == [True, False, False, True, False]
    assert ChurnScorer(gap_factor=4).fit(history(rows)).risk_[0] == False  # noqa: E712  the factor is a parameter


def test_actions_follow_their_rule_order():
    rows = [(30, 1, 5, 5, 1, 20, 20),        # new (even at risk or high value): welcome
            (400, 0, NAN, NAN, 0, 0, 0),      # never bought: first purchase incentive
            (400, 3, 300, 700, 1, 500, 0),    # at churn risk, even if high value: reactivation
            (400, 8, 5, 300, 8, 2000, 500),   # high value: loyalty reward
            (400, 4, 20, 200, 4, 40, 10),     # average order 10, below the median: upsell
            (400, 2, 20, 200, 2, 400, 10)]    # average order 200: cross-sell
    types = np.array(["new", "negative", "high_value", "high_value", "ordinary", "ordinary"])
    risk = np.array([True, False, True, False, False, False])
    actions, median = recommend_actions(types, risk, history(rows))
    assert list(actions) == ["welcome_offer", "first_purchase_incentive", "reactivation", "loyalty_reward", "upsell",
                             "cross_sell"]
    assert set(actions) == set(ACTIONS) and median == pytest.approx(np.median([20, 500, 250, 10, 200]))


# --- groups --------------------------------------------------------------------------------------------------

def test_location_and_source_groups():
    country = np.array(["DE", "DE", "FR", None, "DE"], dtype=object)
    region = np.array(["Berlin", "Bavaria", "Île-de-France", None, "Berlin"], dtype=object)
    city = np.array(["Berlin", "Munich", "Paris", "  ", "Berlin"], dtype=object)
    source = np.array(["ads", "organic", "ads", "", "ads"], dtype=object)
    revenue = np.array([100.0, 50.0, 20.0, 0.0, 30.0])
    bought = np.array([True, True, True, False, True])
    groups = location_source_groups(country, region, city, source, revenue, bought)
    assert groups["country"][0] == {"key": ["DE"], "customers": 3, "buyers": 3, "revenue": 180.0}
    assert {tuple(g["key"]): g["customers"] for g in groups["city"]} == {
        ("DE", "Berlin", "Berlin"): 2, ("DE", "Bavaria", "Munich"): 1, ("FR", "Île-de-France", "Paris"): 1,
        ("(unknown)", "(unknown)", "(unknown)"): 1}
    assert groups["source"][0] == {"key": ["ads"], "customers": 3, "buyers": 3, "revenue": 150.0}
    top = location_source_groups(country, region, city, source, revenue, bought, top=1)["country"]
    assert top == [{"key": ["DE"], "customers": 3, "buyers": 3, "revenue": 180.0},
                   {"key": ["(other)"], "customers": 2, "buyers": 1, "revenue": 20.0}]


# --- chart figures --------------------------------------------------------------------------------------------

AS_OF = datetime(2026, 3, 15, 12, 0, 0)


def test_months_back_at_the_month_edges():
    # 12:00 on March 15 is 14.5 days after March 1; February 2026 has 28 days.
    ages = np.array([0, 14.5, 14.5 + 1e-6, 14.5 + 28, 14.5 + 28 + 1e-6, 400])
    assert charts.months_back(AS_OF, ages, 13).tolist() == [0, 0, 1, 1, 2, 13]


def test_visitors_and_sales_per_month():
    masks = np.array([0b1, 0b11, 0b100, 0], dtype=np.int64)  # this month; this and last; two months ago; never
    visitors = charts.visitors_per_month(AS_OF, masks, horizon_days=60)
    assert visitors == [{"month": "2026-01", "visitors": 1}, {"month": "2026-02", "visitors": 1},
                        {"month": "2026-03", "visitors": 2}]
    order_age = np.array([1.0, 2.0, 20.0, 20.0, 50.0])
    total = np.array([10.0, 5.0, 7.0, 3.0, 100.0])
    customer = np.array([0, 0, 1, 2, 1])
    line_order, quantity = np.array([0, 0, 2, 4]), np.array([1, 2, 5, 1])
    sales = charts.sales_per_month(AS_OF, order_age, total, customer, line_order, quantity, months=3)
    assert sales == [{"month": "2026-01", "orders": 1, "revenue": 100.0, "items": 1, "buyers": 1},
                     {"month": "2026-02", "orders": 2, "revenue": 10.0, "items": 5, "buyers": 2},
                     {"month": "2026-03", "orders": 2, "revenue": 15.0, "items": 3, "buyers": 1}]
    best = charts.best_months(sales)
    assert best["best_month"]["month"] == "2026-01" and best["best_calendar_month"]["name"] == "January"


def test_transactions_and_product_figures():
    rows = charts.transactions_per_customer(np.array([1, 1, 2, 7, 25]), np.array([10, 20, 30, 40, 50.0]))
    assert {r["orders"]: (r["customers"], r["revenue"]) for r in rows if r["customers"]} == {
        "1": (2, 30.0), "2": (1, 30.0), "6-10": (1, 40.0), "21+": (1, 50.0)}
    product_ids = np.array([100, 200, 300])
    order_age = np.array([10.0, 10.0, 400.0])  # the third order is older than a year
    order_customer = np.array([0, 1, 0])
    line_order, line_product = np.array([0, 0, 1, 2]), np.array([0, 1, 0, 2])
    quantity, price = np.array([2, 1, 1, 1]), np.array([5.0, 50.0, 5.0, 9.0])
    figures = charts.product_figures(product_ids, order_age, order_customer, line_order, line_product, quantity, price)
    assert figures["products_bought"] == 3
    assert figures["customers_per_product"][0] == {"product_id": 100, "customers": 2}
    assert figures["top_products"] == [
        {"product_id": 200, "revenue": 50.0, "units": 1, "orders": 1, "customers": 1},
        {"product_id": 100, "revenue": 15.0, "units": 3, "orders": 2, "customers": 2}]


# --- quality ---------------------------------------------------------------------------------------------------

def blobs(n=150, k=4, seed=1):
    rng = np.random.default_rng(seed)
    centers = np.eye(k) * 0.8 + 0.05
    return np.vstack([rng.dirichlet(c * 40, n) for c in centers]), np.repeat(np.arange(k), n)


def test_clustering_scores_and_stability():
    X, truth = blobs()
    scores = clustering_scores(X, truth)
    assert scores["silhouette"] > 0.5 and scores["davies_bouldin"] < 1 and scores["calinski_harabasz"] > 100
    assert scores["sizes"] == [150] * 4 and scores["n"] == 600
    single = clustering_scores(X, np.zeros(len(X), dtype=int))
    assert single["silhouette"] is None and single["davies_bouldin"] is None
    seg = InterestSegmenter(n_clusters=4).fit(X)
    assert stability(X, seg.labels_, seg.cluster_centers_, seg.cluster, runs=3)["min_ari"] > 0.95
    noise = np.random.default_rng(0).random((600, 4))
    shaky = InterestSegmenter(n_clusters=7).fit(noise)
    assert stability(noise, shaky.labels_, shaky.cluster_centers_, shaky.cluster, runs=3)["mean_ari"] < 0.9


def test_migration_matrix_by_hand():
    previous_ids, previous_labels = np.array([1, 2, 3, 4, 5]), np.array([0, 0, 1, 1, 1])
    current_ids, current_labels = np.array([1, 2, 3, 4, 6, 7]), np.array([1, 1, 0, 1, 0, -1])
    moved = migration(previous_ids, previous_labels, 2, current_ids, current_labels, 2)
    # rows: previous 0, 1, new; columns: current 0, 1, left
    assert moved["matrix"] == [[0, 2, 0], [1, 1, 1], [1, 0, 0]]
    # Segments are matched by overlap (previous 0 -> current 1, previous 1 -> current 0): customer 4 moved.
    assert moved["match"] == {"0": 1, "1": 0} and moved["moved"] == 1 and moved["common"] == 4
    assert moved["new"] == 1 and moved["left"] == 1


# --- interests ----------------------------------------------------------------------------------------------------

def test_agglomerative_recovers_planted_groups_on_a_sample():
    from sklearn.metrics import adjusted_rand_score

    X, truth = blobs(n=400)
    seg = InterestSegmenter(algorithm="agglomerative", sample_size=300, k_range=(2, 8)).fit(X)
    assert seg.n_clusters_ == 4 and adjusted_rand_score(truth, seg.labels_) > 0.95
    np.testing.assert_array_equal(seg.predict(X), seg.labels_)  # the rest joined the nearest centre


def test_interest_features_by_level():
    cats, brands = np.array([[2.0, 2.0], [0.0, 0.0]]), np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 5.0]])
    np.testing.assert_allclose(interest_features(cats, brands, "category"), [[0.5, 0.5], [0, 0]])
    np.testing.assert_allclose(interest_features(cats, brands, "brand"), [[0.25, 0.75, 0], [0, 0, 1]])
    np.testing.assert_allclose(interest_features(cats, brands, "both"), [[0.5, 0.5, 0.25, 0.75, 0], [0, 0, 0, 0, 1]])
    with pytest.raises(ValueError):
        interest_features(cats, brands, "colour")


def test_minibatch_above_the_threshold_finds_the_same_groups():
    from sklearn.metrics import adjusted_rand_score

    X, truth = blobs(n=400)
    seg = InterestSegmenter(n_clusters=4, minibatch_threshold=500).fit(X)  # 1600 rows: mini-batches
    assert adjusted_rand_score(truth, seg.labels_) > 0.95
    again = InterestSegmenter(n_clusters=4, minibatch_threshold=500).fit(X)
    np.testing.assert_array_equal(seg.labels_, again.labels_)  # seeded: reproducible


def _random_history(n: int, seed: int) -> PurchaseHistory:
    rng = np.random.default_rng(seed)
    orders = rng.poisson(1.5, n).astype(float)
    recency = np.where(orders > 0, rng.uniform(0, 300, n), np.nan)
    first = np.where(orders > 0, recency + rng.uniform(0, 200, n), np.nan)
    monetary = orders * rng.gamma(2, 40, n)
    return PurchaseHistory(rng.uniform(10, 900, n), orders, recency, first, orders, monetary, monetary * 0.3)


def test_fitted_estimators_come_back_from_their_stored_state():
    fitted, newcomers = _random_history(400, 1), _random_history(60, 2)
    value = ValueTypeClassifier(new_days=60, growth_ratio=2.5, random_state=3).fit(fitted)
    rfm, churn = RFMScorer().fit(fitted), ChurnScorer(gap_factor=2.0).fit(fitted)
    for estimator in (value, rfm, churn):
        stored = json.loads(json.dumps(estimator.to_dict()))  # what a run writes and reads back
        again = type(estimator).from_dict(stored)
        assert again.get_params() == estimator.get_params()
        for a, b in zip(np.atleast_1d(again.predict(newcomers)), np.atleast_1d(estimator.predict(newcomers))):
            np.testing.assert_array_equal(a, b)
    no_buyers = _random_history(5, 4)
    no_buyers.orders_total[:] = 0
    empty = ValueTypeClassifier().fit(no_buyers)
    assert ValueTypeClassifier.from_dict(empty.to_dict()).cluster_centers_.shape == (0, 3)


def test_a_run_model_of_the_first_layout_is_read_too():
    from shopcrm.segmentation.model import RunModel
    from shopcrm.segmentation.params import RunParams

    fitted, newcomers = _random_history(300, 5), _random_history(40, 6)
    params = RunParams(new_days=60, churn_gap_factor=2.0)
    value = ValueTypeClassifier(new_days=params.new_days, growth_days=params.orders.growth_days,
                                growth_ratio=params.growth_ratio, window_days=params.orders.window_days).fit(fitted)
    # runs of the first layout had quantile edges scored by their mid-rank
    rfm, churn = RFMScorer(ties="mid_rank").fit(fitted), ChurnScorer(gap_factor=params.churn_gap_factor).fit(fitted)
    legacy = {"level": "category", "features": [{"kind": "category", "id": 3}],
              "value": {"z_mean": value.z_mean_.tolist(), "z_std": value.z_std_.tolist(),
                        "centers": value.cluster_centers_.tolist(), "rank_of_label": value.rank_of_label_.tolist()},
              "rfm_edges": rfm.edges_.tolist(), "churn_store_gap": churn.store_gap_, "median_order_value": 42.0}
    model = RunModel.from_dict(legacy, params)
    current = RunModel.from_dict(RunModel("category", [("category", 3)], value, rfm, churn, 42.0).to_dict(), params)
    for loaded in (model, current):
        np.testing.assert_array_equal(loaded.value.predict(newcomers)[0], value.predict(newcomers)[0])
        np.testing.assert_array_equal(loaded.rfm.predict(newcomers), rfm.predict(newcomers))
        np.testing.assert_array_equal(loaded.churn.predict(newcomers)[0], churn.predict(newcomers)[0])
        assert loaded.features == [("category", 3)] and loaded.median_order_value == 42.0
    # A scorer stored before the tie rule was a parameter ({"n_scores": 5} only) is read with the rule it had.
    before = {"params": {"n_scores": 5}, "fitted": rfm.to_dict()["fitted"]}
    assert RFMScorer.from_dict(before).ties == "mid_rank"
    np.testing.assert_array_equal(RFMScorer.from_dict(before).predict(newcomers), rfm.predict(newcomers))
