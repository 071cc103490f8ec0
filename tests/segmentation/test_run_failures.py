"""A failed run says what went wrong in one line (stored on the run, printed by ``segment``), a
run of one segment is refused before it starts, and a run whose own database fails while
recording the failure still reports the first error."""
import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.errors import ConfigError, ShopUnavailable
from shopcrm.extensions import db
from shopcrm.models import Run
from shopcrm.segmentation import run as pipeline
from tests.support.apps import DEMO_NOW, base_config


@pytest.mark.parametrize("k", ["1", "0"])
def test_segment_refuses_fewer_than_two_segments(make_app, k):
    app = make_app()
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment", "--k", k, "--quiet"])
    assert result.exit_code == 2, result.output
    assert "at least 2 segments" in result.output and "Leave --k out" in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Run)) == 0  # nothing became current


def test_a_run_of_one_segment_is_refused_by_the_service_and_the_setting(make_app, tmp_path):
    app = make_app()
    with app.app_context():
        params = pipeline.RunParams.from_config(app.config, n_clusters=1)
        with pytest.raises(ConfigError, match="at least 2 segments"):
            pipeline.run_segmentation(params=params, as_of=DEMO_NOW)
        assert Run.current() is None
    with pytest.raises(ConfigError, match="SHOPCRM_N_CLUSTERS"):
        create_app(base_config(tmp_path / "other", SHOPCRM_N_CLUSTERS=1))


def _driver_failure():
    import pymysql

    return sa.exc.OperationalError("SELECT customer_id, SUM(total) FROM orders GROUP BY customer_id", {},
                                   pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"))


def test_a_failed_run_stores_one_line_not_the_drivers_message(make_app, monkeypatch):
    app = make_app()

    def broken(*args, **kwargs):
        raise _driver_failure()

    monkeypatch.setattr(pipeline, "mine_customers", broken)  # after the shop was read
    with app.app_context():
        with pytest.raises(sa.exc.OperationalError):
            pipeline.run_segmentation(as_of=DEMO_NOW)
        run = db.session.scalars(sa.select(Run)).one()
        assert run.status == "failed"
        assert run.error == "a database stopped the run: (2013, 'Lost connection to MySQL server during query')"
    listed = app.test_cli_runner().invoke(args=["shopcrm", "runs"])
    assert "[SQL" not in listed.output and "sqlalche.me" not in listed.output


def test_a_dropped_shop_connection_is_a_shop_error_on_the_run(make_app, monkeypatch):
    """A shop read that loses its connection (here: in a table probe, which SQLAlchemy runs
    without error events) is worded as the shop being unavailable."""
    app = make_app()

    def broken(*args, **kwargs):
        raise _driver_failure()

    monkeypatch.setattr(pipeline, "extract", broken)
    with app.app_context():
        with pytest.raises(ShopUnavailable, match="lost the connection to the shop database"):
            pipeline.run_segmentation(as_of=DEMO_NOW)
        assert db.session.scalars(sa.select(Run)).one().error.startswith("lost the connection to the shop database")
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment", "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [result.output.strip().splitlines()[0]]  # one line
    assert result.output.startswith("Error: lost the connection to the shop database")


def test_when_recording_the_failure_fails_too_the_first_error_is_raised(make_app, monkeypatch):
    app = make_app()

    def broken(*args, **kwargs):
        raise ValueError("the first problem")

    monkeypatch.setattr(pipeline, "extract", broken)
    real_commit = db.session.commit
    with app.app_context():
        calls = []

        def failing_commit():
            calls.append(1)
            if len(calls) > 1:  # the run's own "running" commit passes, the failure record does not
                raise sa.exc.OperationalError("UPDATE crm_run", {}, Exception("server has gone away"))
            return real_commit()

        monkeypatch.setattr(db.session, "commit", failing_commit)
        with pytest.raises(ValueError, match="the first problem"):
            pipeline.run_segmentation(as_of=DEMO_NOW)


def test_runs_shows_a_run_whose_process_is_gone_as_stopped(make_app):
    app = make_app()
    with app.app_context():
        db.session.add(Run(kind="segmentation", status="running", requested_by="cron"))
        db.session.commit()
    listed = app.test_cli_runner().invoke(args=["shopcrm", "runs"])
    assert "stopped" in listed.output and "its process is gone" in listed.output, listed.output
    from shopcrm.locks import job_lock

    with app.app_context(), job_lock(pipeline.LOCK_NAME, ttl=60):  # a live run holds the lock
        listed = app.test_cli_runner().invoke(args=["shopcrm", "runs"])
    assert "running" in listed.output and "stopped" not in listed.output, listed.output
