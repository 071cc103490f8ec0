"""A sender of this host that was killed: its rows in ``sending`` are in doubt at once and its
lock and claims are taken over at once, not after the lease (SHOPCRM_SEND_LEASE_SECONDS)."""
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shopcrm.clock import utcnow
from shopcrm.delivery.sender import count_in_doubt, in_doubt, send_due
from shopcrm.extensions import db
from shopcrm.locks import this_host
from shopcrm.models import Lock, Message
from tests.support.campaigns import consenting_customers, queue_campaign, use_smtp


def _pid(kill: bool) -> tuple[int, subprocess.Popen]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    if kill:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    return child.pid, child


@pytest.fixture
def processes():
    started = []

    def start(kill: bool) -> int:
        pid, child = _pid(kill)
        started.append(child)
        return pid

    yield start
    for child in started:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)


def _leave(rows, owner: str, states: list[str], lease_seconds: float = 300) -> None:
    """What a sender leaves when it is killed mid-batch: its lock, its batch claimed, the first
    rows ``sending``."""
    now = utcnow()
    for row, state in zip(rows, states):
        row.state, row.claimed_by, row.claimed_at = state, f"{owner}:1", now
        row.lease_until = now + timedelta(seconds=lease_seconds)
    db.session.add(Lock(name="send", owner=owner, acquired_at=now, expires_at=now + timedelta(seconds=lease_seconds)))
    db.session.commit()


def test_rows_of_a_killed_sender_are_in_doubt_at_once_and_a_live_ones_are_not(outbox_app, shop_file, processes):
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 4)])
    dead, live = f"{this_host()}:{processes(True)}:deadbeef", f"{this_host()}:{processes(False)}:a11ve000"
    with outbox_app.app_context():
        rows = db.session.scalars(sa.select(Message).order_by(Message.id)).all()
        now = utcnow()
        for row, owner in zip(rows[:2], (dead, live)):
            row.state, row.claimed_by, row.claimed_at, row.lease_until = "sending", f"{owner}:1", now, now + \
                timedelta(seconds=300)
        db.session.commit()
        assert [r.id for r in in_doubt()] == [rows[0].id] and count_in_doubt() == 1
    status = outbox_app.test_cli_runner().invoke(args=["shopcrm", "outbox", "status"])
    assert "in doubt: 1" in status.output


def test_send_takes_over_a_killed_senders_lock_and_claims_at_once(outbox_app, shop_file, smtp_server, processes):
    use_smtp(outbox_app, smtp_server.port)
    people = consenting_customers(shop_file, 6)
    queue_campaign(outbox_app, [c for c, _, _ in people])
    dead = f"{this_host()}:{processes(True)}:deadbeef"
    with outbox_app.app_context():
        rows = db.session.scalars(sa.select(Message).order_by(Message.id)).all()
        # killed after the 250 of row 1 (not yet written) while row 2 was on its way; 3-4 claimed
        _leave(rows[:4], dead, ["sending", "sending", "queued", "queued"])
        report = send_due()
        assert (report.sent, report.in_doubt) == (4, 1)  # 3-6 now, not in five minutes
        by_id = {r.id: r for r in db.session.scalars(sa.select(Message))}
        assert by_id[rows[0].id].state == "sent"  # its 250 was read: a later row of the claim was sending
        assert [r.id for r in in_doubt()] == [rows[1].id]
        assert db.session.get(Lock, "send") is None  # released by the run that took it over
    assert sorted(a.lower() for m in smtp_server.messages for a in m["to"]) == sorted(
        e.lower() for _, e, _ in people[2:])


def test_a_live_senders_lock_still_refuses_with_who_and_until_when(outbox_app, shop_file, processes):
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 2)])
    pid = processes(False)
    with outbox_app.app_context():
        rows = db.session.scalars(sa.select(Message).order_by(Message.id)).all()
        _leave(rows[:1], f"{this_host()}:{pid}:a11ve000", ["queued"])
    result = outbox_app.test_cli_runner().invoke(args=["shopcrm", "send"])
    assert result.exit_code == 1
    assert f"process {pid} on {this_host()}" in result.output and "lease until" in result.output, result.output


def test_a_campaign_whose_rendering_was_killed_renders_at_the_next_send(outbox_app, shop_file, smtp_server, processes):
    """Before: the campaign's render lock (900 s, SHOPCRM_LOCK_TTL_SECONDS) blocked it for 15 minutes."""
    from shopcrm.campaigns.service import create_campaign, launch
    from tests.support.campaigns import seed_run

    use_smtp(outbox_app, smtp_server.port)
    ids = [c for c, _, _ in consenting_customers(shop_file, 3)]
    with outbox_app.app_context():
        _, segment = seed_run(ids)
        campaign = create_campaign("Now", {"segment_ids": [segment.id]})
        db.session.commit()
        launch(campaign)
        now = utcnow()
        db.session.add(Lock(name=f"enqueue:{campaign.id}", owner=f"{this_host()}:{processes(True)}:deadbeef",
                            acquired_at=now, expires_at=now + timedelta(seconds=900)))
        db.session.commit()
        campaign_id = campaign.id
    result = outbox_app.test_cli_runner().invoke(args=["shopcrm", "send"])
    assert result.exit_code == 0, result.output
    assert f"campaign #{campaign_id} rendered: queued 3" in result.output and "sent 3," in result.output

