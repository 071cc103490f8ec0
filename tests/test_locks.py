"""Leases in crm_lock after a kill: a lease whose holder is a process of this host that is gone is
taken over at once (not after its time-to-live); a live holder, another host's, or one with the
setting off keeps it; a refusal says who holds the lock and until when."""
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shopcrm.clock import utcnow
from shopcrm.errors import RunLocked
from shopcrm.extensions import db
from shopcrm.locks import describe_holder, holder, holder_gone, job_lock, process_alive, this_host, try_acquire
from shopcrm.models import Lock


@pytest.fixture
def gone_pid():
    """The number of a process that ran on this host and was killed (and reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    return child.pid


@pytest.fixture
def live_pid():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child.pid
    child.kill()
    child.wait(timeout=10)


def _held_by(name: str, owner: str, seconds: float = 3600) -> None:
    now = utcnow()
    db.session.add(Lock(name=name, owner=owner, acquired_at=now, expires_at=now + timedelta(seconds=seconds)))
    db.session.commit()


def test_a_lease_of_a_killed_process_of_this_host_is_taken_over_at_once(app, gone_pid):
    dead = f"{this_host()}:{gone_pid}:0badc0de"
    with app.app_context():
        _held_by("segmentation", dead)  # an hour of lease left
        assert holder_gone(dead)
        lease = try_acquire("segmentation", ttl=60)
        assert lease is not None and lease.taken_from == dead
        assert holder("segmentation")["owner"] == lease.owner
        assert try_acquire("segmentation", ttl=60) is None  # ours now, and we are alive


@pytest.mark.parametrize("case", ["live", "other host", "setting off", "not ours"])
def test_other_holders_keep_their_lease(app, live_pid, gone_pid, case):
    owner = {"live": f"{this_host()}:{live_pid}:12345678", "other host": f"elsewhere-{this_host()}:{gone_pid}:1234abcd",
             "setting off": f"{this_host()}:{gone_pid}:1234abcd", "not ours": "cron-job"}[case]
    if case == "setting off":
        app.config["SHOPCRM_TAKE_OVER_DEAD_HOLDERS"] = False
    with app.app_context():
        _held_by("send", owner)
        assert not holder_gone(owner)
        assert try_acquire("send", ttl=60) is None
        with pytest.raises(RunLocked) as refused:
            with job_lock("send", ttl=60):
                pass
    text = str(refused.value)
    assert "lease until" in text and "UTC" in text
    if case in ("live", "setting off"):
        pid = live_pid if case == "live" else gone_pid
        assert f"process {pid} on {this_host()}, this machine" in text


def test_a_zombie_counts_as_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = 50
        while process_alive(child.pid) and deadline:  # exited, not reaped yet: a zombie
            subprocess.run(["sleep", "0.1"])
            deadline -= 1
        assert not process_alive(child.pid)
    finally:
        child.wait(timeout=10)


def test_describe_holder_names_process_host_and_times():
    acquired = utcnow().replace(microsecond=0)
    text = describe_holder("send", {"owner": "web1:4242:abcdef12", "acquired_at": acquired,
                                    "expires_at": acquired + timedelta(seconds=300)})
    assert "process 4242 on web1" in text
    assert f"since {acquired:%Y-%m-%d %H:%M:%S} UTC" in text
    assert f"lease until {acquired + timedelta(seconds=300):%Y-%m-%d %H:%M:%S} UTC" in text


def test_a_failed_job_reports_its_own_error_when_releasing_the_lock_fails_too(app, monkeypatch):
    from shopcrm.locks import Lease

    def broken(self):
        raise sa.exc.OperationalError("DELETE", {}, Exception("server has gone away"))

    monkeypatch.setattr(Lease, "release", broken)
    with app.app_context():
        with pytest.raises(ZeroDivisionError):
            with job_lock("x", ttl=60):
                1 / 0
        with pytest.raises(sa.exc.OperationalError):  # a job that succeeded still hears about it
            with job_lock("y", ttl=60):
                pass


def test_a_search_index_rebuild_killed_midway_does_not_block_the_next(segmented_app, gone_pid):
    """Before: a killed ``segment`` left the index's lock for SHOPCRM_LOCK_TTL_SECONDS (900 s)."""
    from shopcrm.segmentation import search_index

    with segmented_app.app_context():
        _held_by("search-index", f"{this_host()}:{gone_pid}:deadbeef", seconds=900)
        assert search_index.refresh(wait=0).customers > 0
