"""Backtest metrics on hand-checkable cases, the repurchase classifier, and whole backtests on CDNOW.

Run with ``-rA`` (or ``-s``) to see the CDNOW backtest figures.
"""
import numpy as np
import pytest

from shopcrm.errors import NotEnoughData
from shopcrm.mining.backtest import (
    BASELINE,
    FEATURES,
    auc,
    capture,
    choose_ranking,
    churn_backtest,
    churn_rankings,
    history_at,
    repurchase_features,
    repurchase_probability,
    repurchase_training_set,
    rfm_sum,
    top_share,
    train_repurchase_classifier,
    value_backtest,
)
from shopcrm.mining.features import order_features
from shopcrm.mining.value_types import PurchaseHistory
from shopcrm.segmentation.params import OrderParams
from tests.support import cdnow

NAN = float("nan")


# --- revenue capture --------------------------------------------------------------------------------

def test_top_share_counts_the_revenue_of_the_top_customers():
    revenue = [10.0, 0.0, 5.0, 5.0]
    assert top_share([3, 2, 1, 0], revenue, 0.5) == pytest.approx(10 / 20)
    assert top_share([0, 1, 2, 3], revenue, 0.5) == pytest.approx(10 / 20)  # 5 + 5
    assert top_share([0, 3, 2, 1], revenue, 0.25) == pytest.approx(0.0)
    assert top_share([3, 2, 1, 0], revenue, 1.0) == pytest.approx(1.0)
    assert top_share([3, 2, 1, 0], revenue, 0.0) == pytest.approx(0.0)
    assert top_share([3, 2, 1, 0], revenue, count=3) == pytest.approx(15 / 20)
    # round(0.3 · 4) = 1 customer
    assert top_share([3, 2, 1, 0], revenue, 0.3) == pytest.approx(10 / 20)


def test_ties_at_the_cut_share_the_remaining_places():
    # two places: the 4.0 customer, then one place for two customers scored 1 (revenue 2 and 6): half of 8
    assert top_share([2, 1, 1, 0], [4.0, 2.0, 6.0, 8.0], 0.5) == pytest.approx((4 + 4) / 20)
    # a ranking that says nothing captures exactly the fraction
    assert top_share([7, 7, 7, 7, 7], [1.0, 9.0, 0.0, 3.0, 2.0], 0.4) == pytest.approx(0.4)


def test_top_share_does_not_depend_on_row_order_and_ranks_nan_last():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 5, 200).astype(float)
    score[::17] = NAN
    revenue = rng.exponential(10.0, 200)
    share = top_share(score, revenue, 0.2)
    for _ in range(5):
        order = rng.permutation(200)
        assert top_share(score[order], revenue[order], 0.2) == pytest.approx(share, rel=1e-12)
    assert top_share([NAN, -1.0, -2.0], [100.0, 1.0, 1.0], count=1) == pytest.approx(1 / 102)


def test_capture_compares_with_the_ceiling():
    result = capture([1, 2, 3, 4], [8.0, 0.0, 1.0, 1.0], 0.25)
    assert result.share == pytest.approx(0.1)
    assert result.ceiling == pytest.approx(0.8)
    assert result.of_ceiling == pytest.approx(0.125)
    assert np.isnan(top_share([1, 2], [0.0, 0.0]))  # no revenue: nothing to capture
    with pytest.raises(ValueError, match="one entry per customer"):
        top_share([1, 2], [1.0])


# --- AUC and the choice -------------------------------------------------------------------------------

def test_auc_on_a_hand_checked_case_and_nan_safety():
    # positives 0.35, 0.8 against negatives 0.1, 0.4: 3 of 4 pairs ordered right
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auc([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0]) == pytest.approx(0.25)
    assert auc([1.0, 1.0, 1.0, 1.0], [0, 1, 0, 1]) == pytest.approx(0.5)  # ties count half
    # NaN rows are left out (here the pair that was wrong)
    assert auc([0.1, 0.4, 0.35, 0.8, NAN], [0, NAN, 1, 1, 0]) == pytest.approx(1.0)
    assert np.isnan(auc([0.1, 0.2], [1, 1]))  # one class only: undefined, not an error
    assert np.isnan(auc([], []))


def test_choose_ranking_never_picks_worse_than_days_since_last():
    assert choose_ranking({BASELINE: 0.80, "rfm": 0.79, "bgnbd_dropout": 0.70}) == BASELINE
    assert choose_ranking({BASELINE: 0.80, "rfm": 0.79, "classifier": 0.85}) == "classifier"
    assert choose_ranking({"classifier": 0.85, BASELINE: 0.80, "rfm": 0.86}) == "rfm"
    # a tie with the baseline keeps the baseline; a tie between better candidates goes to the first
    assert choose_ranking({BASELINE: 0.80, "rfm": 0.80}) == BASELINE
    assert choose_ranking({BASELINE: 0.80, "rfm": 0.82, "classifier": 0.82}) == "rfm"
    # a margin demands a real improvement
    assert choose_ranking({BASELINE: 0.80, "rfm": 0.805}, margin=0.01) == BASELINE
    assert choose_ranking({BASELINE: 0.80, "rfm": 0.82}, margin=0.01) == "rfm"
    # NaN never wins; without a baseline figure there is no evidence against it
    assert choose_ranking({BASELINE: 0.80, "rfm": NAN}) == BASELINE
    assert choose_ranking({BASELINE: NAN, "rfm": 0.9}) == BASELINE
    assert choose_ranking({"rfm": 0.9}) == BASELINE


# --- candidates ---------------------------------------------------------------------------------------

def history(rows):
    """rows: (orders_total, recency, first_order, frequency, monetary)"""
    orders, recency, first, frequency, monetary = (np.array(c, dtype=float) for c in zip(*rows))
    n = len(orders)
    return PurchaseHistory(np.full(n, NAN), orders, recency, first, frequency, monetary, np.zeros(n))


def test_churn_rankings_point_the_same_way():
    h = history([(5, 3.0, 300.0, 5, 500.0), (1, 200.0, 200.0, 1, 20.0), (0, NAN, NAN, 0, 0.0),
                 (2, 40.0, 90.0, 2, 80.0), (3, 10.0, 100.0, 3, 90.0)])
    ranks = churn_rankings(h, probability_alive=[0.9, 0.2, NAN, 0.6, 0.7], expected_purchases=[3.0, 0.1, NAN, 1.0, 1.5],
                           repurchase=[0.8, 0.1, NAN, 0.5, 0.6])
    assert list(ranks) == [BASELINE, "rfm", "bgnbd_dropout", "bgnbd_purchases", "classifier"]
    for name, score in ranks.items():
        assert np.isnan(score[2]), name  # never bought: no score
        assert score[1] > score[0], name  # the lapsed one-time buyer is more at risk than the loyal one
    assert rfm_sum(h)[0] > rfm_sum(h)[1]
    assert set(churn_rankings(h)) == {BASELINE, "rfm"}


def test_history_at_the_as_of_date_matches_the_runs_extraction():
    rng = np.random.default_rng(4)
    n, orders = 50, 600
    params = OrderParams()
    customer = rng.integers(0, n - 5, orders)
    age = rng.uniform(0, 800, orders)
    age[::3] = rng.integers(0, 800, len(age[::3]))  # whole days, and the window edges themselves
    age[:2] = (params.window_days, params.growth_days)
    total = rng.exponential(40.0, orders).round(2)
    expected = order_features(customer, age, total, n, params.window_days, params.growth_days)
    got = history_at(customer, age, total, n, window_days=params.window_days, growth_days=params.growth_days)
    for name in ("orders_total", "recency_days", "first_order_days", "frequency", "monetary", "recent_spend"):
        np.testing.assert_allclose(getattr(got, name), expected[name], err_msg=name)
    # 100 days earlier: orders since then are unknown and ages shrink by 100
    earlier = history_at(customer, age, total, n, cutoff_days=100.0)
    before = age >= 100
    np.testing.assert_allclose(earlier.orders_total, np.bincount(customer[before], minlength=n))
    np.testing.assert_allclose(np.nanmin(earlier.recency_days), (age[before] - 100).min())


# --- the classifier trained on the past ------------------------------------------------------------------

def test_repurchase_classifier_learns_who_buys_again_and_scores_now():
    """A shop whose customers buy on a personal rhythm, some stopping for good; the classifier
    trained a horizon back must rank the next horizon's buyers well above chance."""
    rng = np.random.default_rng(8)
    n = 3000
    gap = rng.lognormal(np.log(60), 0.6, n)  # days between orders
    stops = rng.uniform(0, 900, n) * (rng.random(n) < 0.5) + 900 * (rng.random(n) >= 0.5)
    rows, ages = [], []
    for i in range(n):
        t = rng.uniform(0, 300)
        while t < min(stops[i], 900):
            rows.append(i)
            ages.append(900 - t)
            t += rng.exponential(gap[i])
    customer, age = np.array(rows), np.array(ages)
    total = rng.gamma(2.0, 20.0, len(customer))
    rows_, X, y = repurchase_training_set(customer, age, total, n, cutoff_days=90, horizon_days=90)
    assert X.shape[1] == len(FEATURES) and len(rows_) == len(y)
    model = train_repurchase_classifier(X, y)
    now = repurchase_features(customer, age, total, n, cutoff_days=90)
    proba = repurchase_probability(model, now)
    count = np.bincount(customer[age < 90], minlength=n)
    buyers = ~np.isnan(now[:, 0])
    assert np.isnan(proba[~buyers]).all() and np.isfinite(proba[buyers]).all()
    assert auc(proba[buyers], count[buyers] > 0) > 0.75


def test_repurchase_classifier_refuses_a_one_sided_history():
    X = np.random.default_rng(1).random((100, len(FEATURES)))
    with pytest.raises(NotEnoughData, match="at least 20 customers who bought again and 20 who did not; "
                                            "the history has 95 and 5"):
        train_repurchase_classifier(X, np.arange(100) >= 5)


# --- whole backtests on CDNOW -----------------------------------------------------------------------------

def test_churn_and_value_backtests_on_cdnow(record_property):
    customer, age, total = cdnow.purchases()
    churn = churn_backtest(customer, age, total, cdnow.CUSTOMERS, horizon_days=182)
    value = value_backtest(customer, age, total, cdnow.CUSTOMERS, horizon_days=182)
    line = ("CDNOW half-year backtest: churn AUC " + ", ".join(f"{k} {v:.3f}" for k, v in churn.aucs.items())
            + f"; chosen {churn.chosen}; {churn.churned} of {churn.customers} did not buy again"
            + "; top 20 % revenue share " + ", ".join(f"{k} {v:.3f}" for k, v in value.shares.items())
            + f", ceiling {value.ceiling:.3f}")
    print(line)
    record_property("cdnow backtest", line)
    assert churn.customers == cdnow.CUSTOMERS and not churn.skipped
    assert set(churn.aucs) == {BASELINE, "rfm", "bgnbd_dropout", "bgnbd_purchases", "classifier"}
    assert churn.aucs[churn.chosen] >= churn.aucs[BASELINE]
    assert churn.aucs[BASELINE] > 0.6  # recency tells who comes back, on real data
    assert set(value.shares) == {"rfm", "spend", "expected_value"} and not value.skipped
    for name, share in value.shares.items():
        assert 0.2 < share <= value.ceiling, name  # better than chance, never above the ceiling


def test_backtests_skip_what_a_small_shop_cannot_support():
    customer, age, total = cdnow.purchases()
    keep = customer < 300
    churn = churn_backtest(customer[keep], age[keep], total[keep], 300, horizon_days=182)
    assert "too few repeat buyers" in churn.skipped["bgnbd_dropout"]
    assert set(churn.aucs) >= {BASELINE, "rfm"}
    assert churn.aucs[churn.chosen] >= churn.aucs[BASELINE]
    value = value_backtest(customer[keep], age[keep], total[keep], 300, horizon_days=182)
    assert "too few repeat buyers" in value.skipped["expected_value"]
    assert set(value.shares) == {"rfm", "spend"}
