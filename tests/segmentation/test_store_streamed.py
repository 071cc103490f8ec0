"""Memberships streamed into MariaDB while the next statements are prepared in a second thread:
every row arrives, in the caller's transaction, and a failure on either side stops both."""
import threading

import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.extensions import db
from shopcrm.segmentation import store
from tests.support.apps import base_config, dispose, migrate

TABLE = sa.Table("crm_stream_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("note", sa.String(64)), sa.Column("score", sa.Float(precision=53)), sa.Column("flag", sa.Boolean))


@pytest.fixture
def maria_app(mariadb_database, tmp_path):
    url = mariadb_database("crm")
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=url))
    migrate(app)
    with app.app_context():
        TABLE.create(db.engine)
    yield app
    dispose(app)


def batches(n_batches, size, fail_at=None):
    for b in range(n_batches):
        if b == fail_at:
            raise ValueError("the mining result is broken")
        yield [(b * size + i, f"it's \\ \"{b}\" 'x' ü%s", None if i % 7 == 0 else i / 3, i % 2 == 0)
               for i in range(size)]


def test_every_row_arrives_in_the_callers_transaction(maria_app, monkeypatch):
    monkeypatch.setattr(store, "STATEMENT_BYTES", 2000)  # many statements per batch
    done = []
    with maria_app.app_context():
        store.insert_streamed(TABLE, ("id", "note", "score", "flag"), batches(5, 300), lambda: done.append(1))
        assert len(done) == 5
        with db.engine.connect() as other:  # not committed yet: another connection sees nothing
            assert other.execute(sa.select(sa.func.count()).select_from(TABLE)).scalar() == 0
        db.session.commit()
        rows = db.session.execute(sa.select(TABLE).order_by(TABLE.c.id)).all()
    assert len(rows) == 1500
    assert rows[8] == (8, "it's \\ \"0\" 'x' ü%s", 8 / 3, True) and rows[7].score is None


@pytest.mark.parametrize("failure", ["producer", "database"])
def test_a_failure_on_either_side_stops_both(maria_app, monkeypatch, failure):
    monkeypatch.setattr(store, "STATEMENT_BYTES", 2000)
    before = threading.active_count()
    with maria_app.app_context():
        if failure == "producer":
            with pytest.raises(ValueError, match="broken"):
                store.insert_streamed(TABLE, ("id", "note", "score", "flag"), batches(5, 300, fail_at=3))
        else:
            def duplicated():
                yield from batches(2, 300)
                yield from batches(1, 300)  # ids 0.. again: the server refuses them
                yield from batches(50, 300)
            with pytest.raises(sa.exc.IntegrityError):
                store.insert_streamed(TABLE, ("id", "note", "score", "flag"), duplicated())
        db.session.rollback()
        assert db.session.execute(sa.select(sa.func.count()).select_from(TABLE)).scalar() == 0
    assert threading.active_count() == before  # the preparing thread has ended
