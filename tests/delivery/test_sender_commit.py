"""A message's body goes to the mail server while the commit that makes its row ``sending``
is still on the way; only the body's final "." waits for that commit. These tests make the
commit fail (at the driver, the way a dropped database connection or a full disk does) and
check that the server then delivers nothing of that message and that the next run sends it,
once — on SQLite (commit after the body) and MariaDB (commit in a helper thread)."""
import sqlite3
from datetime import timedelta

import pymysql
import pytest
import sqlalchemy as sa

from shopcrm.clock import utcnow
from shopcrm.delivery.sender import count_in_doubt, send_due
from shopcrm.delivery.sender.journal import Journal
from shopcrm.extensions import db
from shopcrm.models import Message
from tests.support.apps import dispose
from tests.support.campaigns import (
    consenting_customers,
    delivered_to,
    make_outbox_app,
    queue_campaign,
    start_smtp,
    states,
    use_smtp,
    writable_shop,
)
from tests.support.smtp import RecordingHandler

pytestmark = pytest.mark.slow

_driver = Journal.driver


class FailingDriver:
    """The driver's connection, whose ``fail_at``-th COMMIT fails; everything else passes through."""

    def __init__(self, inner, commits: list, fail_at: int, error: Exception):
        self.inner, self.commits, self.fail_at, self.error = inner, commits, fail_at, error

    def commit(self):
        self.commits.append(len(self.commits) + 1)
        if len(self.commits) == self.fail_at:
            raise self.error
        return self.inner.commit()

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("kind,pipelining", [("sqlite", False), ("sqlite", True), ("mariadb", False),
                                             ("mariadb", True)])
def test_a_failed_commit_leaves_the_body_undelivered_and_the_message_for_the_next_run(
        kind, pipelining, tmp_path, demo_shop_file, mariadb_database, monkeypatch):
    shop = writable_shop(tmp_path, demo_shop_file)
    url = mariadb_database() if kind == "mariadb" else f"sqlite:///{tmp_path / 'crm_commit.db'}"
    app = make_outbox_app(tmp_path, url, shop)
    people = consenting_customers(shop, 5)
    queue_campaign(app, [c for c, _, _ in people])
    handler, controller = start_smtp(RecordingHandler(), pipelining=pipelining)
    error = (pymysql.err.OperationalError(2013, "Lost connection to server during query") if kind == "mariadb"
             else sqlite3.OperationalError("disk I/O error"))
    commits: list = []
    monkeypatch.setattr(Journal, "driver", property(lambda self: FailingDriver(_driver.fget(self), commits, 3, error)))
    try:
        use_smtp(app, handler.port)
        with app.app_context():
            with pytest.raises(type(error)):
                send_due(batch_size=10)
            # The first two messages went out; the third's body reached the server, its end did not.
            assert delivered_to(handler) == [people[0][1].lower(), people[1][1].lower()]
            rows = db.session.scalars(sa.select(Message).order_by(Message.id)).all()
            assert [r.state for r in rows] == ["sent", "sent", "queued", "queued", "queued"]
            db.session.execute(sa.update(Message).values(lease_until=utcnow() - timedelta(seconds=1)))
            db.session.commit()  # the failed run's claims ran out
            assert count_in_doubt() == 0

            monkeypatch.setattr(Journal, "driver", _driver)
            report = send_due(batch_size=10)
            assert (report.sent, report.in_doubt) == (3, 0)
    finally:
        controller.stop()
    assert sorted(delivered_to(handler)) == sorted(email.lower() for _, email, _ in people)  # each once
    assert states(app) == {"sent": 5}
    dispose(app)
