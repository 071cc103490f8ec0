"""A segmentation run end to end: planted truth recovered, every analysis stored, atomic, locked."""
from collections import Counter

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.metrics import adjusted_rand_score

from shopcrm import demo
from shopcrm.errors import NotEnoughData, RunLocked
from shopcrm.extensions import db
from shopcrm.locks import job_lock
from shopcrm.models import Insight, Membership, Rule, Run, Segment
from shopcrm.segmentation import run as pipeline
from shopcrm.segmentation import store
from shopcrm.vocab import ACTIONS, VALUE_TYPES
from tests.support.apps import DEMO_NOW, base_config, dispose, migrate


def memberships(run_id):
    return db.session.execute(
        sa.select(Membership).where(Membership.run_id == run_id).order_by(Membership.customer_id)).scalars().all()


def persona_ari(run, shop):
    rows = memberships(run.id)
    segment_label = {s.id: s.label for s in run.segments}
    ids = shop.tables["customers"]["customer_id"]
    pos = np.searchsorted(ids, [r.customer_id for r in rows])
    truth = shop.persona[pos]
    found = np.array([segment_label.get(r.segment_id, -1) for r in rows])
    has = found >= 0
    return adjusted_rand_score(truth[has], found[has]), truth, found


def test_default_settings_recover_the_planted_personas_stably(segmented_app, demo_shop):
    with segmented_app.app_context():
        run = Run.current()
        assert run.status == "succeeded"
        ari, truth, found = persona_ari(run, demo_shop)
        assert ari >= 0.9, ari
        # Customers with no activity at all get no segment; everyone with activity gets one.
        assert ((truth == -1) == (found == -1)).mean() > 0.99
        assert len(run.segments) == len(demo.generator.PERSONAS)
        assert run.quality["stability"]["mean_ari"] >= 0.9 and run.quality["stability"]["runs"] == 3
        # Names come from each segment's top categories: every persona's main category names a segment.
        names = " / ".join(s.name for s in run.segments)
        for _, main, _, _ in demo.generator.PERSONAS:
            assert main in names


def test_quality_of_the_run_is_stored(segmented_app):
    with segmented_app.app_context():
        run = Run.current()
        q = run.quality
        assert 0.3 < q["silhouette"] <= 1 and q["davies_bouldin"] > 0 and q["calinski_harabasz"] > 0
        assert sum(q["sizes"]) == run.counts["with_interest"] and len(q["sizes"]) == len(run.segments)
        assert set(q["k_scores"]) == {str(k) for k in range(2, 13)}
        assert max(q["k_scores"], key=q["k_scores"].get) == str(len(run.segments))
        assert "migration" not in q  # the first run has nothing to compare with
        again = pipeline.run_segmentation(as_of=DEMO_NOW)
        moved = again.quality["migration"]
        assert moved["previous_run"] == run.id
        assert moved["common"] == run.counts["with_interest"] and moved["moved"] == 0 and moved["ari"] == 1.0
        matrix = np.array(moved["matrix"])
        assert matrix.shape == (len(run.segments) + 1, len(again.segments) + 1)
        assert matrix.sum() == moved["common"]


def test_every_customer_is_stored_with_every_analysis(segmented_app, demo_shop):
    with segmented_app.app_context():
        run = Run.current()
        rows = memberships(run.id)
        cust = demo_shop.tables["customers"]
        active = {int(c): i for i, (c, a) in enumerate(zip(cust["customer_id"], cust["active"])) if a == 1}
        assert [r.customer_id for r in rows] == sorted(active)
        types = Counter(r.value_type for r in rows)
        assert set(types) == set(VALUE_TYPES)  # the demo shop has all six of seed 004's types
        sizes = db.session.execute(sa.select(Segment.id, Segment.size).where(Segment.run_id == run.id)).all()
        counted = Counter(r.segment_id for r in rows if r.segment_id is not None)
        assert {sid: size for sid, size in sizes} == dict(counted)
        assert run.counts["view_orphan_rows"] >= 1 and run.counts["order_orphan_customers"] >= 1
        assert {"extract", "mine", "store", "total"} <= set(run.timings)
        for r in rows:
            i = active[r.customer_id]
            assert (r.city, r.region, r.country, r.source) == (cust["city"][i], cust["region"][i], cust["country"][i],
                                                              cust["source"][i])
            assert r.action in ACTIONS
            if r.recency_days is None:  # never bought
                assert r.value_rank is None and r.rfm_r is None and r.rfm_f is None and r.rfm_m is None
                assert r.churn_score is None and not r.churn_risk
            else:
                assert r.value_rank in (0, 1, 2) and {r.rfm_r, r.rfm_f, r.rfm_m} <= {1, 2, 3, 4, 5}
                assert 0 <= r.churn_score <= 1
            if r.value_type == "negative":
                assert r.recency_days is None and r.action == "first_purchase_incentive"
            if r.value_type == "new":
                assert r.action == "welcome_offer"
            if r.segment_id is not None:
                assert r.top_categories and r.top_brands
        # RFM 5 is the best fifth: recency ranks the other way round from days since the last order.
        buyers = [r for r in rows if r.recency_days is not None]
        best, worst = [r.recency_days for r in buyers if r.rfm_r == 5], [r.recency_days for r in buyers if r.rfm_r == 1]
        assert max(best) <= min(worst)
        high = [r.monetary for r in buyers if r.value_rank == 0]
        low = [r.monetary for r in buyers if r.value_rank == 2]
        assert np.median(high) > np.median(low)


def test_value_types_follow_the_planted_tiers(segmented_app, demo_shop):
    with segmented_app.app_context():
        rows = memberships(Run.current().id)
    ids = demo_shop.tables["customers"]["customer_id"]
    tier = demo_shop.tier[np.searchsorted(ids, [r.customer_id for r in rows])]
    by_tier = {t: Counter(r.value_type for r, tt in zip(rows, tier) if tt == t) for t in set(tier)}
    assert by_tier["new"].most_common(1)[0][0] == "new"
    assert by_tier["never"].most_common(1)[0][0] == "negative"
    assert by_tier["recent"].most_common(1)[0][0] == "most_growth"
    assert by_tier["high"].most_common(1)[0][0] == "high_value"


def test_rules_find_the_planted_companions(segmented_app, demo_shop):
    with segmented_app.app_context():
        run = Run.current()
        rules = db.session.scalars(sa.select(Rule).where(Rule.run_id == run.id)).all()
    by_kind = Counter(r.kind for r in rules)
    assert set(by_kind) == {"product", "category", "sequence"}
    product = {(r.antecedent, r.consequent): r for r in rules if r.kind == "product"}
    companions = demo_shop.info["companions"]
    found = [product.get((a, b)) for a, b in companions.items()]
    assert sum(r is not None for r in found) >= 0.8 * len(companions)
    strong = [r for r in found if r is not None]
    assert np.median([r.lift for r in strong]) > 5 and np.median([r.confidence for r in strong]) > 0.3
    for r in rules:
        assert 0 < r.support <= 1 and 0 < r.confidence <= 1 and r.lift > 0 and r.count >= 5


def test_insights_are_stored_for_the_pages(segmented_app, demo_shop):
    with segmented_app.app_context():
        run = Run.current()
        stored = dict(db.session.execute(sa.select(Insight.name, Insight.data).where(Insight.run_id == run.id)).all())
    assert {"visitors_per_month", "sales_per_month", "best_month", "best_calendar_month", "transactions_per_customer",
            "customers_per_product", "top_products", "groups", "segments", "names", "model"} <= set(stored)
    visitors = stored["visitors_per_month"]
    assert [m["month"] for m in visitors][-1] == "2026-11" and len(visitors) == 13
    sales = stored["sales_per_month"]
    assert sales[-1]["month"] == "2026-11" and sum(m["orders"] for m in sales) > 0
    # Seasonality is planted: the demo shop's best month of the year is December.
    assert stored["best_calendar_month"]["name"] == "December"
    assert stored["best_month"]["month"] == "2025-12"
    groups = stored["groups"]
    assert {g["key"][0] for g in groups["country"]} == set(demo_shop.tables["customers"]["country"])
    assert sum(g["customers"] for g in groups["source"]) == run.counts["customers"]
    top = stored["top_products"]
    assert top and all(str(p["product_id"]) in stored["names"]["products"] for p in top)
    assert [p["revenue"] for p in top] == sorted((p["revenue"] for p in top), reverse=True)


def test_a_failed_run_leaves_the_previous_one_current(segmented_app, monkeypatch):
    with segmented_app.app_context():
        good = Run.current()

        def broken(ex, params):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(pipeline, "mine_customers", broken)
        with pytest.raises(RuntimeError):
            pipeline.run_segmentation(as_of=DEMO_NOW)
        failed = db.session.scalars(sa.select(Run).order_by(Run.id.desc())).first()
        assert failed.status == "failed" and "disk on fire" in failed.error
        assert Run.current().id == good.id


def test_an_interruption_after_storing_commits_nothing(segmented_app, monkeypatch):
    real_store = pipeline.store_figures

    def store_then_crash(run, ex, result):
        real_store(run, ex, result)  # every membership, rule and insight is written ...
        raise KeyboardInterrupt  # ... and then the process is interrupted before commit

    with segmented_app.app_context():
        good = Run.current()
        monkeypatch.setattr(pipeline, "store_figures", store_then_crash)
        with pytest.raises(KeyboardInterrupt):
            pipeline.run_segmentation(as_of=DEMO_NOW)
        failed = db.session.scalars(sa.select(Run).order_by(Run.id.desc())).first()
        assert failed.id != good.id and failed.status == "failed"
        for model in (Membership, Segment, Rule, Insight):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(model)
                                     .where(model.run_id == failed.id)) == 0
        assert Run.current().id == good.id


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted(segmented_app):
    with segmented_app.app_context():
        ghost = Run(status="running", requested_by="cron")
        db.session.add(ghost)
        db.session.commit()
        pipeline.run_segmentation(as_of=DEMO_NOW)
        db.session.refresh(ghost)
        assert ghost.status == "failed" and "interrupted" in ghost.error


def test_two_runs_never_overlap(segmented_app):
    with segmented_app.app_context():
        with job_lock(pipeline.LOCK_NAME, ttl=60):
            with pytest.raises(RunLocked, match="another 'segmentation' job is running"):
                pipeline.run_segmentation(as_of=DEMO_NOW)
            with pytest.raises(RunLocked):
                pipeline.run_segmentation(as_of=DEMO_NOW, wait=0.6)
        # Free again: the run goes through.
        assert pipeline.run_segmentation(as_of=DEMO_NOW).status == "succeeded"


def test_an_expired_lock_is_taken_over(segmented_app):
    from shopcrm.locks import try_acquire

    with segmented_app.app_context():
        stale = try_acquire("segmentation", ttl=-1)  # a holder that died long ago
        assert stale is not None
        assert pipeline.run_segmentation(as_of=DEMO_NOW).status == "succeeded"


def test_run_history_is_pruned(segmented_app):
    segmented_app.config["SHOPCRM_RUN_HISTORY"] = 2
    with segmented_app.app_context():
        for _ in range(3):
            pipeline.run_segmentation(as_of=DEMO_NOW)
        kept = db.session.scalars(sa.select(Run.id).where(Run.status == "succeeded")).all()
        assert len(kept) == 2
        for model in (Membership, Segment, Rule, Insight):
            assert set(db.session.scalars(sa.select(model.run_id).distinct())) == set(kept)


def test_too_little_data_is_a_clear_message(make_app, tmp_path):
    shop_url = f"sqlite:///{tmp_path / 'tiny.db'}"
    engine = sa.create_engine(shop_url)
    demo.write(engine, demo.generate(seed=1, customers=3, now=DEMO_NOW, dirty=False))
    engine.dispose()
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=shop_url)
    with app.app_context():
        with pytest.raises(NotEnoughData, match="at least 10"):
            pipeline.run_segmentation(as_of=DEMO_NOW)
        assert Run.current() is None
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment", "--as-of", "2026-11-01"])
    assert result.exit_code != 0 and "at least 10" in result.output and "Traceback" not in result.output


@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_agglomerative_and_brand_level_runs(segmented_app, demo_shop):
    with segmented_app.app_context():
        params = pipeline.RunParams.from_config(segmented_app.config, algorithm="agglomerative")
        run = pipeline.run_segmentation(params=params, as_of=DEMO_NOW)
        ari, _, _ = persona_ari(run, demo_shop)
        assert ari >= 0.9 and run.params["algorithm"] == "agglomerative"
        params = pipeline.RunParams.from_config(segmented_app.config, level="both", n_clusters=8)
        run = pipeline.run_segmentation(params=params, as_of=DEMO_NOW)
        model = Insight.of(run.id, "model")
        kinds = Counter(f["kind"] for f in model["features"])
        assert kinds == {"category": 12, "brand": 20} and len(run.segments[0].centroid) == 32
        assert persona_ari(run, demo_shop)[0] >= 0.8


def test_segment_command_shows_progress_and_quality(make_app):
    app = make_app()
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment", "--as-of", "2026-11-01", "--k", "5"])
    assert result.exit_code == 0, result.output
    assert "segmentation" in result.output and "succeeded" in result.output
    assert "silhouette" in result.output and "stability" in result.output
    with app.app_context():
        assert len(Run.current().segments) == 5
    listed = app.test_cli_runner().invoke(args=["shopcrm", "runs"])
    assert listed.exit_code == 0 and "succeeded" in listed.output and "silhouette" in listed.output


def test_segment_command_reports_an_unreachable_shop(make_app, tmp_path):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI="mysql+pymysql://nobody:wrong@127.0.0.1:1/shop")
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment"])
    assert result.exit_code != 0
    assert "cannot reach the shop database" in result.output
    assert "Traceback" not in result.output and "wrong" not in result.output  # no password in the message


@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_segmentation_on_mariadb(mariadb_database, tmp_path, demo_shop):
    """Both databases on real MariaDB: the shop (read-only) and shopcrm's own tables."""
    shop_url, crm_url = mariadb_database("shop"), mariadb_database("crm")
    writer = sa.create_engine(shop_url, connect_args={"local_infile": True})
    demo.write(writer, demo_shop)
    writer.dispose()
    from shopcrm import create_app

    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=crm_url, SHOPCRM_SHOP_DATABASE_URI=shop_url))
    migrate(app)
    try:
        with app.app_context():
            run = pipeline.run_segmentation(as_of=DEMO_NOW)
            assert run.status == "succeeded"
            ari, _, _ = persona_ari(run, demo_shop)
            assert ari >= 0.9
            second = pipeline.run_segmentation(as_of=DEMO_NOW)
            assert second.quality["migration"]["moved"] == 0
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Rule).where(Rule.run_id == second.id)) > 0
            with job_lock(pipeline.LOCK_NAME, ttl=60):
                with pytest.raises(RunLocked):
                    pipeline.run_segmentation(as_of=DEMO_NOW)
    finally:
        dispose(app)


def test_store_batches_cover_every_customer(segmented_app):
    """Memberships are written in batches; a batch size that does not divide the customer
    count still writes each customer exactly once."""
    with segmented_app.app_context():
        before = Run.current().counts["customers"]
        original = store.BATCH
        store.BATCH = 7
        try:
            run = pipeline.run_segmentation(as_of=DEMO_NOW)
        finally:
            store.BATCH = original
        ids = db.session.scalars(sa.select(Membership.customer_id).where(Membership.run_id == run.id)).all()
        assert len(ids) == len(set(ids)) == before


@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_bulk_loaded_memberships_equal_inserted_ones(mariadb_database, tmp_path, demo_shop_file):
    """With ``local_infile=1`` on shopcrm's own MariaDB URL memberships go in through LOAD DATA;
    they must be the same rows executemany writes (NULLs, booleans, accents and all)."""
    from shopcrm import create_app

    crm_url = mariadb_database("crm")
    shop_url = f"sqlite:///{demo_shop_file}"
    stored = {}
    for bulk in (False, True):
        url = crm_url + ("&local_infile=1" if bulk else "")
        app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=url, SHOPCRM_SHOP_DATABASE_URI=shop_url))
        if not bulk:
            migrate(app)
        try:
            with app.app_context():
                assert store.bulk_loadable(db.session.connection()) is bulk
                run = pipeline.run_segmentation(as_of=DEMO_NOW)
                label = {s.id: s.label for s in run.segments}
                columns = [c for c in store.MEMBERSHIP_COLUMNS if c not in ("run_id", "segment_id")]
                rows = db.session.execute(sa.select(Membership).where(Membership.run_id == run.id)
                                          .order_by(Membership.customer_id)).scalars().all()
                stored[bulk] = [(label.get(r.segment_id),) + tuple(getattr(r, c) for c in columns) for r in rows]
        finally:
            dispose(app)
    assert len(stored[True]) == len(stored[False]) > 2000
    assert stored[True] == stored[False]
    region = 1 + columns.index("region")
    assert any(r[region] and not r[region].isascii() for r in stored[True])  # e.g. Île-de-France survived the file
    p_alive = 1 + columns.index("p_alive")
    assert any(r[p_alive] is None for r in stored[True]) and any(r[p_alive] for r in stored[True])


def test_last_order_codes_at_the_bucket_edges():
    days = np.array([np.nan, -1.0, 0.0, 30.0, 30.001, 90.0, 90.5, 365.0, 365.001, 4000.0])
    assert store.last_order_codes(days).tolist() == [0, 1, 1, 1, 2, 2, 3, 3, 4, 4]


def test_every_stored_last_order_bucket_is_the_panels(segmented_app):
    """The stored code (what the country filter reads) and the cube's bucket (what the other
    filters count) put every member in the same bucket."""
    from shopcrm.customers.figures import last_order_bucket
    from shopcrm.vocab import LAST_ORDER_CODES

    with segmented_app.app_context():
        run = Run.current()
        rows = db.session.execute(sa.select(Membership.last_order, last_order_bucket())
                                  .where(Membership.run_id == run.id)).all()
    assert len(rows) == run.counts["customers"]
    assert all(code == LAST_ORDER_CODES[bucket] for code, bucket in rows)
    assert {bucket for _, bucket in rows} == set(LAST_ORDER_CODES)
