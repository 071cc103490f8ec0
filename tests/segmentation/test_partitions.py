"""crm_membership partitioned by run on MariaDB: each run gets its partition, pruning drops old
ones, and a busy table or a queued run started late still leaves exactly the kept runs' rows."""
import logging

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from shopcrm import create_app, demo
from shopcrm.extensions import db
from shopcrm.models import Membership, Run
from shopcrm.segmentation import partitions
from shopcrm.segmentation import run as pipeline
from tests.support.apps import DEMO_NOW, base_config, dispose, migrate

pytestmark = pytest.mark.slow  # several full runs on MariaDB
EVERYONE = 400  # the small shop's customers: every one of them gets a membership in every run


@pytest.fixture(scope="module")
def small_shop(tmp_path_factory):
    """A demo shop of 400 customers: the partitions care how many runs, not how many rows."""
    path = tmp_path_factory.mktemp("small_shop") / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    demo.write(engine, demo.generate(seed=7, customers=EVERYONE, now=DEMO_NOW, dirty=False))
    engine.dispose()
    return path


@pytest.fixture
def maria_app(mariadb_database, tmp_path, small_shop):
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=mariadb_database("crm"),
                                 SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{small_shop}", SHOPCRM_RUN_HISTORY=2))
    migrate(app)
    yield app
    dispose(app)


def partition_names() -> list[str]:
    with db.engine.connect() as conn:
        return [name for name, _ in partitions.bounds(conn)]


def members_per_run() -> dict[int, int]:
    db.session.commit()  # a read view older than partition DDL meets "table definition has changed"
    rows = db.session.execute(sa.select(Membership.run_id, sa.func.count()).group_by(Membership.run_id)).all()
    db.session.commit()
    return dict(rows)


def run() -> int:
    done = pipeline.run_segmentation(as_of=DEMO_NOW)
    assert done.counts["customers"] == EVERYONE
    return done.id


def test_each_run_gets_a_partition_and_pruning_drops_the_old_ones(maria_app):
    with maria_app.app_context():
        assert partition_names() == []  # only p_future after the migration
        first, second, third = run(), run(), run()
        assert partition_names() == [f"r{second}", f"r{third}"]
        assert members_per_run() == {second: EVERYONE, third: EVERYONE}
        assert db.session.get(Run, first) is None
        assert db.session.get(Run, third).counts["pruned_runs"] == 1


def test_a_busy_table_leaves_the_partitions_alone_and_the_rows_right(maria_app, monkeypatch, caplog):
    """A reader holding the table makes the partition DDL give up after its short wait: the run
    goes on with its rows in p_future, and later runs still keep exactly the newest two."""
    monkeypatch.setattr(partitions, "ATTEMPTS", 2)  # 1 s, a short pause, 1 s: then it gives up
    monkeypatch.setattr(partitions, "PAUSE_SECONDS", 0.1)
    with maria_app.app_context():
        first = run()
        reader = db.engine.connect()
        reader.begin()
        reader.execute(sa.select(sa.func.count()).select_from(Membership.__table__)).scalar()
        with caplog.at_level(logging.WARNING, logger=partitions.__name__):
            second = run()
        reader.rollback()
        reader.close()
        assert "partitions left as they are" in caplog.text
        assert partition_names() == [f"r{first}"]  # the second run's rows went into p_future
        assert members_per_run() == {first: EVERYONE, second: EVERYONE}
        third = run()  # p_future (with the second run's rows) is split again; the first run is dropped
        assert partition_names() == [f"r{third}"]
        assert members_per_run() == {second: EVERYONE, third: EVERYONE}


def test_a_queued_run_started_late_keeps_its_rows(maria_app):
    """A run queued before two later runs has a lower id than the runs pruning keeps: neither
    its partition nor its row may go while it runs."""
    with maria_app.app_context():
        first = run()
        queued = Run(kind="segmentation", requested_by="panel", status="queued")
        db.session.add(queued)
        db.session.commit()
        second, third = run(), run()
        assert members_per_run() == {second: EVERYONE, third: EVERYONE}
        assert first not in members_per_run()
        late = pipeline.run_segmentation(as_of=DEMO_NOW, run_id=queued.id)
        assert late.status == "succeeded" and late.id == queued.id < second
        assert members_per_run() == {third: EVERYONE, late.id: EVERYONE}
        assert {r for r in db.session.scalars(sa.select(Run.id))} == {third, late.id}


def test_the_migration_goes_down_and_up_with_the_rows(maria_app):
    with maria_app.app_context():
        kept = run()
        directory = maria_app.extensions["migrate"].directory
        downgrade(directory=directory, revision="0015")
        with db.engine.connect() as conn:
            assert partitions.bounds(conn) is None
            keys = {k["referred_table"] for k in sa.inspect(conn).get_foreign_keys("crm_membership")}
        assert keys == {"crm_run", "crm_segment"}
        assert members_per_run() == {kept: EVERYONE}
        upgrade(directory=directory)
        assert partition_names() == [f"r{kept}"] and members_per_run() == {kept: EVERYONE}  # rows there stay put
        newer = run()
        assert partition_names() == [f"r{kept}", f"r{newer}"]
        assert members_per_run() == {kept: EVERYONE, newer: EVERYONE}


def test_a_profile_read_across_a_split_is_asked_again(maria_app):
    """A request whose read view began before a run split off its partition reads every run's
    memberships for the customer's history: MariaDB refuses that once, the profile asks again."""
    from shopcrm.customers.profile import _runs_of

    with maria_app.app_context():
        kept = run()
        customer = db.session.scalar(sa.select(Membership.customer_id).where(Membership.run_id == kept).limit(1))
        db.session.commit()
        db.session.execute(sa.select(Run.id)).all()  # the request's read view starts here
        assert partitions.open_run(db.engine, kept + 5)
        with pytest.raises(sa.exc.OperationalError, match="1412"):  # what the page met before
            db.session.execute(sa.select(Membership.run_id).where(Membership.customer_id == customer)).all()
        db.session.rollback()
        db.session.execute(sa.select(Run.id)).all()
        assert partitions.open_run(db.engine, kept + 6)
        assert [r.id for r in _runs_of(customer)] == [kept]
