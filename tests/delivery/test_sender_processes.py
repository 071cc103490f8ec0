"""The sender as real processes (``flask shopcrm send``) against a real SMTP server: killed with
SIGKILL in the middle of a campaign and restarted; and two senders at once on MariaDB."""
import os
import signal
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from shopcrm.clock import utcnow
from shopcrm.delivery.sender import Sender, SendReport
from shopcrm.extensions import db
from shopcrm.models import Message
from tests.support.apps import dispose
from tests.support.campaigns import (
    SlowHandler,
    consenting_customers,
    delivered_to,
    make_outbox_app,
    process_env,
    queue_campaign,
    run_cli,
    start_sender,
    start_smtp,
    states,
    wait_until,
    writable_shop,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def slow_smtp():
    controllers = []

    def start(delay: float, pipelining: bool) -> SlowHandler:
        handler, controller = start_smtp(SlowHandler(delay), pipelining=pipelining)
        controllers.append(controller)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def crm_database(kind: str, tmp_path, mariadb_database) -> str:
    return mariadb_database() if kind == "mariadb" else f"sqlite:///{tmp_path / 'crm_proc.db'}"


@pytest.mark.parametrize("kind,pipelining", [("mariadb", True), ("sqlite", False)])
def test_a_killed_sender_delivers_everything_once_except_at_most_one_in_doubt(kind, pipelining, tmp_path, demo_shop_file,
                                                                              mariadb_database, slow_smtp):
    shop = writable_shop(tmp_path, demo_shop_file)
    url = crm_database(kind, tmp_path, mariadb_database)
    app = make_outbox_app(tmp_path, url, shop)
    people = consenting_customers(shop, 40)
    queue_campaign(app, [c for c, _, _ in people])
    server = slow_smtp(0.04, pipelining)  # a busy relay: the kill lands while a message is being accepted
    env = process_env(tmp_path, url, shop, server.port, SHOPCRM_SEND_LEASE_SECONDS=3)

    sender = start_sender(env, "--batch-size", "10")
    try:
        assert wait_until(lambda: len(server.messages) >= 15, timeout=60), sender.poll()
        os.kill(sender.pid, signal.SIGKILL)  # mid-campaign, mid-batch
        sender.wait(timeout=10)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == -signal.SIGKILL
    before = states(app)
    assert before.get("queued", 0) > 0
    # The message in flight, and the batch's earlier ones whose 250 was read: those are written
    # at the batch's end (settle_accepted records them after the crash).
    assert before.get("sending", 0) <= 10, before
    with app.app_context():
        left_sending = db.session.scalars(sa.select(Message).where(Message.state == "sending")
                                          .order_by(Message.id)).all()
        accepted_unwritten = [r.email.lower() for r in left_sending[:-1]]

    # Cron starts it again, minute after minute, until nothing is left to send.
    outputs = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        result = run_cli(env, "send", "--batch-size", "10")
        outputs.append(result.stdout + result.stderr)
        if states(app).get("queued", 0) == 0:
            break
        time.sleep(0.5)  # the dead sender's lock and claims expire after 3 s
    after = states(app)
    doubt = after.get("sending", 0)
    assert set(after) <= {"sent", "sending"} and doubt <= 1, (after, outputs)
    assert after["sent"] + doubt == 40

    counts = Counter(delivered_to(server))
    assert max(counts.values()) == 1  # nobody got a message twice
    with app.app_context():
        rows = db.session.scalars(sa.select(Message)).all()
        sent = {r.email.lower() for r in rows if r.state == "sent"}
        doubtful = [r for r in rows if r.state == "sending"]
    assert sent <= set(counts) and len(sent) == after["sent"]  # every recorded "sent" really arrived
    assert set(counts) - sent <= {r.email.lower() for r in doubtful}  # only the one in doubt is unaccounted
    assert set(accepted_unwritten) <= sent & set(counts)  # settled as sent, and it had really arrived

    runner = app.test_cli_runner()  # what an admin sees afterwards (same database, in-process)
    status = runner.invoke(args=["shopcrm", "outbox", "status"])
    assert f"in doubt: {doubt}" in status.output, status.output
    if doubtful:
        assert f"#{doubtful[0].id}" in runner.invoke(args=["shopcrm", "outbox", "in-doubt"]).output
        settled = runner.invoke(args=["shopcrm", "outbox", "resolve", str(doubtful[0].id),
                                      "--sent" if doubtful[0].email.lower() in counts else "--requeue"])
        assert settled.exit_code == 0, settled.output
    dispose(app)


def test_two_senders_at_once_on_mariadb_send_nothing_twice(tmp_path, demo_shop_file, mariadb_database, slow_smtp):
    shop = writable_shop(tmp_path, demo_shop_file)
    url = mariadb_database()
    app = make_outbox_app(tmp_path, url, shop)
    queue_campaign(app, [c for c, _, _ in consenting_customers(shop, 150)])
    server = slow_smtp(0.005, pipelining=True)
    env = process_env(tmp_path, url, shop, server.port, SHOPCRM_SEND_RATE=50)
    senders = [start_sender(env, "--batch-size", "5", "--worker", name) for name in ("a", "b")]
    try:
        outputs = [s.communicate(timeout=120)[0] for s in senders]
    finally:
        for s in senders:
            if s.poll() is None:
                s.kill()
    assert [s.returncode for s in senders] == [0, 0], outputs
    assert states(app) == {"sent": 150}
    counts = Counter(delivered_to(server))
    assert len(counts) == 150 and set(counts.values()) == {1}
    with app.app_context():
        owners = Counter(r.split(":")[1] for r in db.session.scalars(sa.select(Message.claimed_by)))
    assert len(owners) == 2 and min(owners.values()) >= 10, owners  # both really worked, side by side
    dispose(app)


def test_claims_skip_rows_another_sender_is_claiming_on_mariadb(tmp_path, demo_shop_file, mariadb_database):
    """While one sender's claim transaction holds rows (FOR UPDATE), another takes other rows at
    once instead of waiting for it or taking the same ones."""
    shop = writable_shop(tmp_path, demo_shop_file)
    url = mariadb_database()
    app = make_outbox_app(tmp_path, url, shop)
    queue_campaign(app, [c for c, _, _ in consenting_customers(shop, 20)])
    engine = sa.create_engine(url)
    holder = engine.connect()
    try:
        first = holder.execute(sa.text("SELECT id FROM crm_message ORDER BY next_attempt_at, id LIMIT 5")).scalars().all()
        holder.commit()
        holder.begin()  # another sender in the middle of claiming the first five rows
        # One primary-key lookup per row: locks exactly that row (an IN list on a small table may
        # scan, and under REPEATABLE READ lock, every row).
        locked = [holder.execute(sa.text("SELECT id FROM crm_message WHERE id = :id FOR UPDATE"), {"id": i}).scalar()
                  for i in first]
        assert sorted(locked) == sorted(first)
        result = {}

        def claim():
            with app.app_context():
                from shopcrm.locks import try_acquire

                sender = Sender(try_acquire("send:test", 60), SendReport())
                started = time.monotonic()
                result["rows"] = sender.claim(5)
                result["seconds"] = time.monotonic() - started
                result["token"] = sender.token

        thread = threading.Thread(target=claim)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert result["seconds"] < 5  # did not wait for the other transaction (lock wait timeout is 50 s)
        claimed = [r["id"] for r in result["rows"]]
        assert len(claimed) == 5 and not set(claimed) & set(locked)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    with app.app_context():
        leased = db.session.scalars(sa.select(Message.id).where(Message.lease_until > utcnow())).all()
        assert sorted(leased) == sorted(claimed)
    dispose(app)
