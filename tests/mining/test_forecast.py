"""What a run predicts and which rankings it trusts (mining.forecast), and how a ranking becomes a
churn score and flag (mining.churn.RankedChurn); on CDNOW and on hand-made cases."""
import json

import numpy as np
import pytest

from shopcrm.mining import forecast as fc
from shopcrm.mining.backtest import BASELINE, auc, history_at
from shopcrm.mining.churn import RankedChurn
from shopcrm.mining.occasions import future_activity, lifetime_inputs
from shopcrm.mining.rfm import RFMScorer
from tests.support import cdnow

NAN = float("nan")


@pytest.fixture(scope="module")
def cdnow_orders():
    return cdnow.purchases()


@pytest.fixture(scope="module")
def cdnow_forecast(cdnow_orders):
    customer, age, total = cdnow_orders
    return fc.forecast(customer, age, total, cdnow.CUSTOMERS, horizon_days=91)


# --- the forecast -------------------------------------------------------------------------------------

def test_every_buyer_gets_predictions_and_the_chosen_ranking(cdnow_forecast, cdnow_orders):
    f = cdnow_forecast
    customer, age, total = cdnow_orders
    buyers = np.bincount(customer, minlength=cdnow.CUSTOMERS) > 0
    assert f.models.status == "fitted" and f.models.repeat_buyers > 900
    for name in ("probability_alive", "expected_orders", "expected_value"):
        values = getattr(f, name)
        assert np.isfinite(values[buyers]).all() and np.isnan(values[~buyers]).all(), name
    assert ((f.probability_alive[buyers] >= 0) & (f.probability_alive[buyers] <= 1)).all()
    assert (f.expected_orders[buyers] >= 0).all() and (f.expected_value[buyers] >= 0).all()
    # The chosen ranking is the check's best, and never below days since the last purchase.
    past = f.past
    assert f.churn_ranking == past.chosen and past.aucs[f.churn_ranking] >= past.aucs[BASELINE]
    assert past.aucs["bgnbd_dropout"] < past.aucs[BASELINE]  # 1 − P(alive): never the churn score here
    assert np.isfinite(f.churn_raw[buyers]).all() and np.isnan(f.churn_raw[~buyers]).all()
    # Its figures now point the same way as days since the last purchase, overall.
    recency = history_at(customer, age, total, cdnow.CUSTOMERS).recency_days
    assert auc(f.churn_raw[buyers], recency[buyers] > np.median(recency[buyers])) > 0.6
    json.dumps(past.summary(), allow_nan=False)  # what a run stores is plain JSON, NaN-free


def test_the_check_scores_each_ranking_as_of_one_horizon_back(cdnow_forecast, cdnow_orders):
    customer, age, total = cdnow_orders
    past = cdnow_forecast.past
    count, revenue = future_activity(customer, age, total, cdnow.CUSTOMERS, cutoff_days=91, horizon_days=91)
    before = np.bincount(customer[age >= 91], minlength=cdnow.CUSTOMERS) > 0
    np.testing.assert_array_equal(past.buyers, before)
    np.testing.assert_array_equal(past.bought_again, count > 0)
    np.testing.assert_allclose(past.revenue, revenue)
    assert past.churned == int((before & (count == 0)).sum())
    for name, score in past.churn_scores.items():  # the AUCs are those of the stored scores
        assert past.aucs[name] == pytest.approx(auc(score[before], (count == 0)[before])), name
    # Value: the RFM sum of the history then, and BG/NBD × Gamma-Gamma fitted on the history then.
    then = lifetime_inputs(customer, age, total, cdnow.CUSTOMERS, cutoff_days=91)
    models = fc.fit_models(then)
    np.testing.assert_allclose(past.value_scores["expected_value"], models.predict(then, 91)[2])
    assert set(past.value_shares) == {"rfm", "expected_value"}
    for share in past.value_shares.values():
        assert 0.2 < share <= past.value_ceiling
    expected = "rfm" if past.value_shares["rfm"] > past.value_shares["expected_value"] else "expected_value"
    assert cdnow_forecast.value_ranking == expected


def test_a_small_shop_gets_no_models_and_ranks_by_rfm(cdnow_orders):
    customer, age, total = cdnow_orders
    keep = customer < 300
    f = fc.forecast(customer[keep], age[keep], total[keep], 300, horizon_days=91)
    assert f.models.status == "too_few_repeat_buyers" and f.models.needed == 200
    assert "too few repeat buyers" in f.models.reason and f.models.repeat_buyers < 200
    assert np.isnan(f.probability_alive).all() and np.isnan(f.expected_value).all()
    assert f.value_ranking == "rfm" and "expected_value" in f.past.skipped
    assert f.churn_ranking in (BASELINE, "rfm", "classifier")
    assert {"bgnbd_dropout", "bgnbd_purchases"} <= set(f.past.skipped)
    # the minimum is a parameter
    assert fc.forecast(customer[keep], age[keep], total[keep], 300, horizon_days=91,
                       min_repeat_buyers=50).models.status == "fitted"


def test_order_values_too_heavy_tailed_give_purchases_but_no_value(cdnow_orders):
    customer, age, _ = cdnow_orders
    heavy = (np.random.default_rng(0).pareto(0.6, len(customer)) + 1) * 10  # no finite mean
    f = fc.forecast(customer, age, heavy, cdnow.CUSTOMERS, horizon_days=91)
    assert f.models.status == "heavy_tailed_values" and "q = " in f.models.reason
    buyers = ~np.isnan(f.probability_alive)
    assert buyers.sum() == cdnow.CUSTOMERS and np.isnan(f.expected_value).all()
    assert np.isfinite(f.expected_orders).all()
    assert f.value_ranking == "rfm"


def test_a_chosen_classifier_scores_now_and_newcomers_get_the_best_other(cdnow_orders, monkeypatch):
    """The classifier is never stored, so customers placed between runs are ranked by the best
    ranking that can be rebuilt from stored figures."""
    customer, age, total = cdnow_orders
    real = fc.choose_ranking
    monkeypatch.setattr(fc, "choose_ranking", lambda aucs: "classifier" if "classifier" in aucs else real(aucs))
    f = fc.forecast(customer, age, total, cdnow.CUSTOMERS, horizon_days=91)
    assert f.churn_ranking == "classifier"
    assert f.newcomer_ranking == real({k: v for k, v in f.past.aucs.items() if k != "classifier"})
    assert ((f.churn_raw >= 0) & (f.churn_raw <= 1)).all()  # 1 − P(buys again)
    count, _ = future_activity(customer, age, total, cdnow.CUSTOMERS, cutoff_days=0, horizon_days=91)
    assert not np.array_equal(f.churn_raw, f.newcomer_raw)
    rfm = RFMScorer().fit(history_at(customer, age, total, cdnow.CUSTOMERS)).scores_
    np.testing.assert_allclose(f.newcomer_raw, fc.ranking_now(f.newcomer_ranking,
                                                               history_at(customer, age, total, cdnow.CUSTOMERS), rfm,
                                                               f.probability_alive, f.expected_orders))


def test_rankings_are_rebuilt_from_stored_figures():
    history = history_at(np.array([0, 0, 1]), np.array([10.0, 50.0, 200.0]), np.array([5.0, 5.0, 9.0]), 3)
    rfm = np.array([[5, 4, 3], [1, 1, 2], [0, 0, 0]])
    alive, purchases = np.array([0.9, 0.2, NAN]), np.array([1.5, 0.1, NAN])
    assert fc.ranking_now(BASELINE, history, rfm, alive, purchases)[:2].tolist() == [10.0, 200.0]
    # minus the RFM sum; equal sums by days since the last purchase, never crossing a whole point
    np.testing.assert_allclose(fc.ranking_now("rfm", history, rfm, alive, purchases)[:2],
                               [-12 + 10 / 375, -4 + 200 / 565])
    np.testing.assert_allclose(fc.ranking_now("bgnbd_dropout", history, rfm, alive, purchases)[:2], [0.1, 0.8])
    assert fc.ranking_now("bgnbd_purchases", history, rfm, alive, purchases)[:2].tolist() == [-1.5, -0.1]
    for name in ("days_since_last", "rfm", "bgnbd_dropout", "bgnbd_purchases"):
        assert np.isnan(fc.ranking_now(name, history, rfm, alive, purchases)[2])  # never bought
    with pytest.raises(ValueError, match="classifier"):
        fc.ranking_now("classifier", history, rfm, alive, purchases)


def test_the_classifier_learns_on_a_bounded_sample(cdnow_orders, monkeypatch):
    seen = []
    real = fc.train_repurchase_classifier
    monkeypatch.setattr(fc, "train_repurchase_classifier", lambda X, y, **kw: seen.append(len(y)) or real(X, y, **kw))
    customer, age, total = cdnow_orders
    fc.check_past(customer, age, total, cdnow.CUSTOMERS, horizon_days=91, classifier_rows=500)
    assert seen == [500]


# --- the churn score and flag from a ranking ------------------------------------------------------------

def test_the_score_is_the_buyers_place_in_the_ranking():
    raw = np.array([1.0, 2.0, 2.0, 3.0, NAN, 5.0])
    churn = RankedChurn(risk_share=0.4, min_days=0).fit(raw, np.full(6, 100.0))
    # places 0..4 over four steps; the two equal figures share the middle of places 1 and 2
    np.testing.assert_allclose(churn.score_, [0.0, 0.375, 0.375, 0.75, NAN, 1.0])
    # the top 40 % of the five buyers (two) are at risk; never bought: no score, not at risk
    assert churn.risk_.tolist() == [False, False, False, True, False, True]
    score, risk = churn.predict(np.array([0.0, 2.0, 2.5, 9.0, NAN]), np.full(5, 100.0))
    np.testing.assert_allclose(score, [0.0, 0.375, 0.625, 1.0, NAN])
    assert risk.tolist() == [False, False, False, True, False]


def test_ties_at_the_cut_are_flagged_together_and_min_days_still_holds():
    raw = np.array([1.0, 2.0, 3.0, 3.0, 3.0])
    recency = np.array([200.0, 200.0, 200.0, 200.0, 10.0])
    churn = RankedChurn(risk_share=0.2, min_days=30).fit(raw, recency)
    assert churn.risk_from_ == 3.0
    assert churn.risk_.tolist() == [False, False, True, True, False]  # the third 3.0 bought 10 days ago
    assert not RankedChurn(risk_share=0.0).fit(raw, recency).risk_.any()
    assert RankedChurn(risk_share=0.0).fit(raw, recency).risk_from_ is None
    assert RankedChurn(risk_share=1.0, min_days=0).fit(raw, recency).risk_.all()


def test_a_stored_ranked_churn_scores_newcomers_as_the_run_scored_its_own():
    rng = np.random.default_rng(4)
    raw = np.where(rng.random(5000) < 0.2, NAN, rng.exponential(60.0, 5000).round())  # many ties, some non-buyers
    recency = rng.uniform(0, 400, 5000)
    churn = RankedChurn(ranking="days_since_last", risk_share=0.3, min_days=30).fit(raw, recency)
    assert len(churn.grid_) == 1001  # the scale is kept as quantiles, not 4,000 figures
    stored = RankedChurn.from_dict(json.loads(json.dumps(churn.to_dict(), allow_nan=False)))
    score, risk = stored.predict(raw, recency)
    np.testing.assert_array_equal(score, churn.score_)
    np.testing.assert_array_equal(risk, churn.risk_)
    buyers = ~np.isnan(raw)
    assert abs(churn.risk_[buyers & (recency >= 30)].mean() - 0.3) < 0.05
    order = np.argsort(raw[buyers])
    assert (np.diff(churn.score_[buyers][order]) >= 0).all()  # a higher figure never scores lower
    lowest = raw[buyers] == raw[buyers].min()  # a tie: it scores the middle of its places, not 0
    assert churn.score_[buyers][lowest][0] == pytest.approx(lowest.mean() / 2, abs=0.002)
    assert 0.0 <= churn.score_[buyers].min() and churn.score_[buyers].max() == 1.0
