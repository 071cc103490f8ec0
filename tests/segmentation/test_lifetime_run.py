"""Predicted value and churn in every run: stored per customer, chosen by the shop's own past, used
by the actions, the value ranking and the "predicted best customers" target; newcomers scored
with the stored models; small shops told so."""
import threading
from datetime import datetime

import numpy as np
import pytest
import sqlalchemy as sa

from shopcrm import demo
from shopcrm.campaigns import targets
from shopcrm.errors import CampaignError
from shopcrm.extensions import db
from shopcrm.mining.forecast import ranking_now
from shopcrm.models import Insight, Membership, Run
from shopcrm.segmentation import mine
from shopcrm.segmentation import run as pipeline
from shopcrm.segmentation.backtest import run_backtest
from shopcrm.segmentation.backtest_report import last_backtest
from shopcrm.segmentation.export import EXPORT_COLUMNS, customer_rows
from shopcrm.segmentation.mine import history_of
from shopcrm.segmentation.model import RunModel
from shopcrm.segmentation.params import RunParams
from shopcrm.segmentation.ranking import member_order, predicted_top, value_ranking
from tests.support.apps import DEMO_NOW, base_config, dispose, migrate

ANALYSES = ("value_type", "rfm_r", "rfm_f", "rfm_m", "churn_score", "churn_risk", "action", "p_alive",
            "expected_orders", "expected_value")


def memberships(run_id):
    return db.session.scalars(sa.select(Membership).where(Membership.run_id == run_id)
                              .order_by(Membership.customer_id)).all()


def test_every_run_stores_predictions_and_the_rankings_it_chose(segmented_app):
    with segmented_app.app_context():
        run = Run.current()
        rows = memberships(run.id)
        q = run.quality
    buyers = [r for r in rows if r.recency_days is not None]
    never = [r for r in rows if r.recency_days is None]
    assert q["lifetime"]["status"] == "fitted" and q["lifetime"]["repeat_buyers"] >= 200
    assert q["lifetime"]["horizon_days"] == 90 and q["lifetime"]["bgnbd"]["r"] > 0
    for r in buyers:
        assert 0 <= r.p_alive <= 1 and r.expected_orders >= 0 and r.expected_value >= 0
        assert 0 <= r.churn_score <= 1
    for r in never:
        assert r.p_alive is None and r.expected_orders is None and r.expected_value is None
        assert r.churn_score is None and not r.churn_risk
    # The churn ranking the run chose, with its backtest AUC, never below days since the last purchase.
    churn = q["churn_ranking"]
    assert churn["chosen"] in churn["aucs"] and churn["auc"] == churn["aucs"][churn["chosen"]]
    assert churn["auc"] >= churn["baseline_auc"] > 0.5
    assert churn["aucs"]["bgnbd_dropout"] < 0.5  # 1 − P(alive) calls one-time buyers alive: never chosen here
    assert churn["customers"] > 1000 and 0 < churn["churned"] < churn["customers"]
    # The score is the buyer's place in the chosen ranking: rebuilt from the stored figures, same order.
    with segmented_app.app_context():
        model = RunModel.from_dict(Insight.of(run.id, "model"), RunParams())
    assert model.ranked_churn.ranking == churn["newcomers_by"]
    if churn["chosen"] == "rfm":  # the lowest RFM sum first, equal sums by the longest silence
        rfm_sum = np.array([r.rfm_r + r.rfm_f + r.rfm_m for r in buyers])
        score = np.array([r.churn_score for r in buyers])
        order = np.lexsort(([r.recency_days for r in buyers], -rfm_sum))
        assert (np.diff(score[order]) >= 0).all()
        assert score[rfm_sum == 15].max() < score[rfm_sum == 14].min()
    # At risk: the top share of buyers by the ranking, as many as the gap rule flags; actions follow.
    at_risk = [r for r in buyers if r.churn_risk]
    assert len(at_risk) == churn["at_risk"] == run.counts["churn_risk"]
    assert min(r.churn_score for r in at_risk) > max(r.churn_score for r in buyers if not r.churn_risk and
                                                    r.recency_days >= 30)
    for r in buyers:
        if r.value_type not in ("new", "negative"):
            assert (r.action == "reactivation") == r.churn_risk
    assert q["value_ranking"]["chosen"] in ("expected_value", "rfm") and q["notes"] == []


def test_the_gap_rule_sets_how_many_are_at_risk(segmented_app):
    from shopcrm.mining import ChurnScorer
    from shopcrm.segmentation.extract import extract
    from shopcrm.shop import connect_shop, current_mapping

    with segmented_app.app_context():
        run = Run.current()
        params = RunParams.from_dict(run.params)
        model = RunModel.from_dict(Insight.of(run.id, "model"), params)
        rows = memberships(run.id)
        with connect_shop() as conn:
            history = history_of(extract(conn, current_mapping(), run.as_of))
    gap = ChurnScorer(gap_factor=params.churn_gap_factor, min_days=params.churn_min_days).fit(history).risk_
    buyers = [r for r in rows if r.recency_days is not None]
    assert model.ranked_churn.risk_share == pytest.approx(gap.sum() / len(buyers))
    share = run.quality["churn_ranking"]["at_risk_share"]
    assert share == pytest.approx(model.ranked_churn.risk_share, abs=0.01)  # ties are split: about that share
    assert 0.05 < share < 0.8 and abs(sum(r.churn_risk for r in buyers) / len(buyers) - share) < 1e-3


def test_newcomers_are_scored_with_the_stored_models_as_the_run_scored_them(segmented_app):
    """Customers the run does not hold are placed by assign-new with the stored BG/NBD, Gamma-Gamma,
    churn ranking, scale and threshold: exactly what the run gave the same customers."""
    with segmented_app.app_context():
        run_id = Run.current().id
        before = {r.customer_id: r for r in memberships(run_id)}
        picked = [cid for cid, r in before.items() if r.recency_days is not None][::7][:150]
        picked += [cid for cid, r in before.items() if r.recency_days is None][:10]
        expected = {cid: tuple(getattr(before[cid], c) for c in ANALYSES) for cid in picked}
        db.session.execute(sa.delete(Membership).where(Membership.run_id == run_id,
                                                       Membership.customer_id.in_(picked)))
        db.session.commit()
    result = segmented_app.test_cli_runner().invoke(args=["shopcrm", "assign-new"])
    assert result.exit_code == 0 and f"{len(picked)} new customer(s) placed" in result.output
    with segmented_app.app_context():
        after = {r.customer_id: r for r in memberships(run_id)}
    placed = {cid: tuple(getattr(after[cid], c) for c in ANALYSES) for cid in picked}
    assert placed == expected
    assert sum(v[ANALYSES.index("p_alive")] is not None for v in placed.values()) >= 140


def test_a_small_shop_says_so_and_ranks_by_rfm(make_app):
    app = make_app(SHOPCRM_MIN_REPEAT_BUYERS=100_000)
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment", "--as-of", "2026-11-01", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "note: Only 1,272 customers have bought more than once; predicting purchases and value needs at least " \
           "100,000" in result.output
    with app.app_context():
        run = Run.current()
        rows = memberships(run.id)
        assert run.quality["lifetime"]["status"] == "too_few_repeat_buyers"
        assert run.quality["value_ranking"]["chosen"] == "rfm" and value_ranking(run) == "rfm"
        assert run.quality["churn_ranking"]["chosen"] not in ("bgnbd_dropout", "bgnbd_purchases")
        assert {"bgnbd_dropout", "bgnbd_purchases", "expected_value"} <= set(run.quality["churn_ranking"]["skipped"])
        assert all(r.p_alive is None and r.expected_orders is None and r.expected_value is None for r in rows)
        assert sum(r.churn_risk for r in rows) > 0  # churn still works, by a ranking that needs no model
        first = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id)
                                   .order_by(*member_order(run)).limit(50)).all()
        sums = [r.rfm_r + r.rfm_f + r.rfm_m for r in first]
        assert sums == sorted(sums, reverse=True) and sums[0] == 15


def test_the_order_work_runs_on_the_extractions_order_thread(mariadb_database, tmp_path, demo_shop, monkeypatch):
    """On a server database the lifetime part runs while the views stream (no second pass over
    the shop): on the extraction's order thread, under the run's thread cap."""
    shop_url, crm_url = mariadb_database("shop"), mariadb_database("crm")
    writer = sa.create_engine(shop_url, connect_args={"local_infile": True})
    demo.write(writer, demo_shop)
    writer.dispose()
    from threadpoolctl import threadpool_info

    from shopcrm import create_app

    seen = []
    real = mine.forecast_orders

    def spy(*args):
        seen.append((threading.current_thread().name, max(i["num_threads"] for i in threadpool_info())))
        return real(*args)

    monkeypatch.setattr(mine, "forecast_orders", spy)
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=crm_url, SHOPCRM_SHOP_DATABASE_URI=shop_url))
    migrate(app)
    try:
        with app.app_context():
            run = pipeline.run_segmentation(as_of=DEMO_NOW)
            stored = db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                                       .where(Membership.run_id == run.id, Membership.p_alive.is_not(None)))
    finally:
        dispose(app)
    assert len(seen) == 1 and seen[0][0].startswith("shopcrm-extract") and seen[0][1] == 1
    assert stored > 2000


# --- the value ranking and the "predicted best customers" target, on SQLite and MariaDB ----------------

def check_predicted_top(run):
    buyers = db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                               .where(Membership.run_id == run.id, Membership.churn_score.is_not(None)))
    top = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id, predicted_top(run, 10))).all()
    assert int(np.ceil(buyers * 0.1)) <= len(top) <= int(np.ceil(buyers * 0.1)) + 3  # ties at the cut may join
    ordered = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id)
                                 .order_by(*member_order(run)).limit(len(top))).all()
    assert {r.customer_id for r in ordered} <= {r.customer_id for r in top}
    if value_ranking(run) == "expected_value":
        values = [r.expected_value for r in ordered]
        assert values == sorted(values, reverse=True)
        rest = db.session.scalar(sa.select(sa.func.max(Membership.expected_value)).where(
            Membership.run_id == run.id, Membership.customer_id.not_in([r.customer_id for r in top])))
        assert rest <= min(r.expected_value for r in top)
    # the campaign target counts exactly these customers
    target = targets.check_target({"predicted_top_percent": 10})
    assert targets.audience_count(target) == len(top)
    assert "predicted best 10 % of buyers" in targets.describe(target)
    assert targets.audience_count({"predicted_top_percent": 100}) == buyers
    for bad in (0, 101, "ten", -5):
        with pytest.raises(CampaignError, match="predicted_top_percent"):
            targets.check_target({"predicted_top_percent": bad})


def test_predicted_best_customers_on_sqlite(segmented_app):
    with segmented_app.app_context():
        run = Run.current()
        assert value_ranking(run) == run.quality["value_ranking"]["chosen"]
        check_predicted_top(run)


def test_predicted_best_customers_and_the_member_order_on_mariadb(mariadb_database, tmp_path, demo_shop_file):
    from shopcrm import create_app

    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=mariadb_database("crm"),
                                 SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{demo_shop_file}"))
    migrate(app)
    try:
        with app.app_context():
            run = pipeline.run_segmentation(as_of=DEMO_NOW)
            check_predicted_top(run)
            # the value order read backwards (the last pages of a group) is the same order on MariaDB,
            # whose NULLs (never bought) sort lowest: last forwards, first backwards
            ordered = [sa.select(Membership.customer_id).where(Membership.run_id == run.id)
                       .order_by(*member_order(run, reverse=back)) for back in (False, True)]
            forwards, backwards = (db.session.scalars(q).all() for q in ordered)
            assert len(forwards) > 1000 and forwards == backwards[::-1]
            # a run that ranks by RFM (as a small shop's does) orders by the RFM sum, then spend
            run.quality = {**run.quality, "value_ranking": {**run.quality["value_ranking"], "chosen": "rfm"}}
            db.session.commit()
            first = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id)
                                       .order_by(*member_order(run)).limit(300)).all()
            keys = [(r.rfm_r + r.rfm_f + r.rfm_m, r.monetary) for r in first]
            assert keys == sorted(keys, reverse=True)
            check_predicted_top(run)
            # the export's keyset chunks on MariaDB: every customer once, in order
            rows = list(customer_rows(run, lambda ids: {}, chunk=700))
            ids = [int(r[0]) for r in rows[1:]]
            assert rows[0] == list(EXPORT_COLUMNS) and ids == sorted(set(ids)) and len(ids) == run.counts["customers"]
            # the backtest's report kept in crm_state on MariaDB (its JSON column refuses NaN)
            report = run_backtest(datetime(2026, 8, 3))
            db.session.expire_all()
            assert last_backtest()["capture"] == report.capture and last_backtest()["chosen"] == report.chosen
    finally:
        dispose(app)


def test_the_ranking_figures_are_rebuilt_the_way_the_run_made_them(segmented_app):
    """``ranking_now`` on the run's own extract gives the figures the stored scale was fitted on."""
    from shopcrm.segmentation.extract import extract
    from shopcrm.shop import connect_shop, current_mapping

    with segmented_app.app_context():
        run = Run.current()
        model = RunModel.from_dict(Insight.of(run.id, "model"), RunParams())
        with connect_shop() as conn:
            ex = extract(conn, current_mapping(), run.as_of)
        rows = {r.customer_id: r for r in memberships(run.id)}
    history = history_of(ex)
    rfm = model.rfm.predict(history)
    alive = np.array([rows[c].p_alive if rows[c].p_alive is not None else np.nan for c in ex.customer_ids])
    orders = np.array([rows[c].expected_orders if rows[c].expected_orders is not None else np.nan
                       for c in ex.customer_ids])
    raw = ranking_now(model.ranked_churn.ranking, history, rfm, alive, orders)
    score, _ = model.ranked_churn.predict(raw, history.recency_days)
    stored = np.array([rows[c].churn_score if rows[c].churn_score is not None else np.nan for c in ex.customer_ids])
    np.testing.assert_allclose(score, stored, atol=5e-5)
