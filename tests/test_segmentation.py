"""A segmentation run end to end: planted personas recovered, stored atomically, never two at once."""
from collections import Counter

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.metrics import adjusted_rand_score

from shopcrm import pipeline
from shopcrm.errors import NotEnoughData, RunLocked
from shopcrm.extensions import db
from shopcrm.locks import job_lock
from shopcrm.models import VALUE_TYPES, Membership, Run, Segment
from shopcrm.shop import demo

from .conftest import DEMO_NOW, base_config, dispose, migrate


def memberships(run_id):
    return db.session.execute(
        sa.select(Membership.customer_id, Membership.segment_id, Membership.value_type)
        .where(Membership.run_id == run_id).order_by(Membership.customer_id)).all()


def persona_ari(run, shop):
    rows = memberships(run.id)
    segment_label = {s.id: s.label for s in run.segments}
    ids = shop.tables["customers"]["customer_id"]
    pos = np.searchsorted(ids, [r.customer_id for r in rows])
    truth = shop.persona[pos]
    found = np.array([segment_label.get(r.segment_id, -1) for r in rows])
    has = found >= 0
    return adjusted_rand_score(truth[has], found[has]), truth, found


def test_demo_shop_segments_recover_the_planted_personas(segmented_app, demo_shop):
    with segmented_app.app_context():
        run = Run.current()
        assert run.status == "succeeded"
        ari, truth, found = persona_ari(run, demo_shop)
        assert ari >= 0.8, ari
        # Customers with no activity at all get no segment; everyone with activity gets one.
        assert ((truth == -1) == (found == -1)).mean() > 0.99
        assert len(run.segments) == len(demo.PERSONAS)


def test_every_active_customer_is_stored_with_a_value_type(segmented_app, demo_shop):
    with segmented_app.app_context():
        run = Run.current()
        rows = memberships(run.id)
        cust = demo_shop.tables["customers"]
        active_ids = sorted(int(c) for c, a in zip(cust["customer_id"], cust["active"]) if a == 1)
        assert [r.customer_id for r in rows] == active_ids
        types = Counter(r.value_type for r in rows)
        assert set(types) == set(VALUE_TYPES)  # the demo shop has all six of seed 004's types
        sizes = db.session.execute(sa.select(Segment.id, Segment.size).where(Segment.run_id == run.id)).all()
        counted = Counter(r.segment_id for r in rows if r.segment_id is not None)
        assert {sid: size for sid, size in sizes} == dict(counted)
        assert run.counts["view_orphan_rows"] >= 1 and run.counts["order_orphan_customers"] >= 1
        assert set(run.timings) == {"extract", "mine", "store"}


def test_a_failed_run_leaves_the_previous_one_current(segmented_app, monkeypatch):
    with segmented_app.app_context():
        good = Run.current()

        def broken(ex, params):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(pipeline, "mine", broken)
        with pytest.raises(RuntimeError):
            pipeline.run_segmentation(as_of=DEMO_NOW)
        failed = db.session.scalars(sa.select(Run).order_by(Run.id.desc())).first()
        assert failed.status == "failed" and "disk on fire" in failed.error
        assert Run.current().id == good.id


def test_a_crash_half_way_through_storing_commits_nothing(segmented_app, monkeypatch):
    real_store = pipeline._store

    def store_then_crash(run, ex, result):
        real_store(run, ex, result)  # every membership is written ...
        raise KeyboardInterrupt  # ... and then the process is interrupted before commit

    with segmented_app.app_context():
        good = Run.current()
        monkeypatch.setattr(pipeline, "_store", store_then_crash)
        with pytest.raises(KeyboardInterrupt):
            pipeline.run_segmentation(as_of=DEMO_NOW)
        failed = db.session.scalars(sa.select(Run).order_by(Run.id.desc())).first()
        assert failed.id != good.id and failed.status == "failed"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                                 .where(Membership.run_id == failed.id)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Segment)
                                 .where(Segment.run_id == failed.id)) == 0
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
        assert db.session.scalar(sa.select(sa.func.count(sa.distinct(Membership.run_id)))) == 2


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


def test_segment_command(make_app):
    app = make_app()
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment", "--as-of", "2026-11-01", "--k", "5"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    with app.app_context():
        assert len(Run.current().segments) == 5


def test_segment_command_reports_an_unreachable_shop(make_app, tmp_path):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI="mysql+pymysql://nobody:wrong@127.0.0.1:1/shop")
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment"])
    assert result.exit_code != 0
    assert "cannot reach the shop database" in result.output
    assert "Traceback" not in result.output and "wrong" not in result.output  # no password in the message


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
            assert ari >= 0.8
            with job_lock(pipeline.LOCK_NAME, ttl=60):
                with pytest.raises(RunLocked):
                    pipeline.run_segmentation(as_of=DEMO_NOW)
    finally:
        dispose(app)
