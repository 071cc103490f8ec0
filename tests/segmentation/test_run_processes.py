"""Runs in real processes: a run killed half-way through storing leaves the previous run current,
and two runs never overlap (one refuses, one waits) — on SQLite and on MariaDB."""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopcrm import PROJECT_ROOT, create_app, demo
from shopcrm.extensions import db
from shopcrm.models import Membership, Run, Segment
from shopcrm.segmentation import run as pipeline
from tests.support.apps import DEMO_NOW, TEST_SECRET, base_config, dispose, migrate

pytestmark = pytest.mark.slow

CHILD = Path(__file__).resolve().parents[1] / "support" / "run_child.py"


@dataclass
class Deployment:
    """shopcrm's database holding one good run, a shop, and a settings file for other processes."""

    backend: str
    tmp: Path
    crm_url: str
    shop_url: str

    def settings(self, ttl: int) -> Path:
        path = self.tmp / f"settings_{ttl}.cfg"
        path.write_text("\n".join(f"{k} = {v!r}" for k, v in {
            "SHOPCRM_ENV": "testing", "SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": self.crm_url,
            "SHOPCRM_SHOP_DATABASE_URI": self.shop_url, "SHOPCRM_LOCK_TTL_SECONDS": ttl,
            "SHOPCRM_OUTBOX_DIR": str(self.tmp / "outbox"), "SHOPCRM_STABILITY_RUNS": 1}.items()) + "\n")
        return path

    def env(self, ttl: int, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPCRM_")}
        env.update(SHOPCRM_SETTINGS=str(self.settings(ttl)), SHOPCRM_INSTANCE_PATH=str(self.tmp / "instance"),
                   PYTHONPATH=str(PROJECT_ROOT), **extra)
        return env

    def app(self, ttl: int = 900):
        return create_app(base_config(self.tmp, SQLALCHEMY_DATABASE_URI=self.crm_url,
                                      SHOPCRM_SHOP_DATABASE_URI=self.shop_url, SHOPCRM_LOCK_TTL_SECONDS=ttl,
                                      SHOPCRM_STABILITY_RUNS=1))


@pytest.fixture(params=["sqlite", "mariadb"])
def deployment(request, tmp_path, crm_template, demo_shop_file, demo_shop):
    if request.param == "sqlite":
        shutil.copy(crm_template, tmp_path / "crm.db")
        crm_url, shop_url = f"sqlite:///{tmp_path / 'crm.db'}", f"sqlite:///{demo_shop_file}"
    else:
        databases = request.getfixturevalue("mariadb_database")
        shop_url, crm_url = databases("shop"), databases("crm")
        writer = sa.create_engine(shop_url, connect_args={"local_infile": True})
        demo.write(writer, demo_shop)
        writer.dispose()
    deployment = Deployment(request.param, tmp_path, crm_url, shop_url)
    app = deployment.app()
    if request.param == "mariadb":
        migrate(app)
    with app.app_context():
        pipeline.run_segmentation(as_of=DEMO_NOW, requested_by="setup")
    dispose(app)
    return deployment


def start_child(deployment: Deployment, ttl: int, stage: str, at: float = 0.0, batch: int | None = None):
    marker, release = deployment.tmp / f"paused_{stage}", deployment.tmp / f"release_{stage}"
    extra = dict(RUN_CHILD_STAGE=stage, RUN_CHILD_AT=str(at), RUN_CHILD_MARKER=str(marker),
                 RUN_CHILD_RELEASE=str(release))
    if batch:
        extra["RUN_CHILD_BATCH"] = str(batch)
    child = subprocess.Popen([sys.executable, str(CHILD)], cwd=PROJECT_ROOT, env=deployment.env(ttl, **extra),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the child run never paused: {child.communicate()[0]}")
        time.sleep(0.05)
    return child, release


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", "shopcrm", "segment", "--quiet", "--as-of", "2026-11-01",
            *args]


def count(model, run_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.run_id == run_id))


def test_a_run_killed_half_way_through_storing_leaves_the_previous_run_current(deployment):
    ttl = 4
    app = deployment.app(ttl)
    with app.app_context():
        good = Run.current()
        customers = good.counts["customers"]
    child, _ = start_child(deployment, ttl, "store", at=0.5, batch=100)
    try:
        with app.app_context():
            killed = db.session.scalars(sa.select(Run.id).where(Run.status == "running")).one()
            assert count(Membership, killed) == 0  # what it wrote is not committed, so nobody sees it
            if deployment.backend == "mariadb":  # ... but it is there, in its open transaction
                written = db.session.execute(sa.text(
                    "SELECT MAX(t.trx_rows_modified) FROM information_schema.innodb_trx t "
                    "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                    "WHERE p.db = DATABASE()")).scalar()
                assert customers // 2 <= written < customers
            db.session.rollback()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    try:
        with app.app_context():
            assert Run.current().id == good.id
            assert count(Membership, killed) == 0 and count(Segment, killed) == 0
            # The dead process still holds the lease; the next run waits for it to expire, takes
            # over, marks the killed run as interrupted and becomes current.
            started = time.monotonic()
            run = pipeline.run_segmentation(as_of=DEMO_NOW, wait=60)
            assert run.status == "succeeded" and time.monotonic() - started < 60
            interrupted = db.session.get(Run, killed)
            assert interrupted.status == "failed" and "interrupted" in interrupted.error
            assert Run.current().id == run.id and count(Membership, run.id) == customers
    finally:
        dispose(app)


def first_line(process: subprocess.Popen, timeout: float) -> str:
    """The first line a child prints, read in a thread so that a silent child cannot hang the test."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return "(nothing within the timeout)"


def test_two_runs_in_two_processes_one_refuses_one_waits(deployment):
    ttl = 900
    first, release = start_child(deployment, ttl, "mine")
    waiting = subprocess.Popen(cli("--wait", "120"), cwd=PROJECT_ROOT, env=deployment.env(ttl),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        refused = subprocess.run(cli(), cwd=PROJECT_ROOT, env=deployment.env(ttl),
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0
        assert "another 'segmentation' job is running" in refused.stdout + refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr
        said = first_line(waiting, timeout=60)  # the waiting process says whom it waits for, then polls
        assert "another 'segmentation' job is running" in said and "waiting up to 120 s" in said, said
        assert waiting.poll() is None
    finally:
        release.write_text("go")
    first_output = first.communicate(timeout=120)[0]
    waited_output = said + waiting.communicate(timeout=180)[0]
    assert first.returncode == 0, first_output
    assert waiting.returncode == 0 and "succeeded" in waited_output, waited_output
    app = deployment.app(ttl)
    try:
        with app.app_context():
            runs = db.session.scalars(sa.select(Run).where(Run.status == "succeeded").order_by(Run.id)).all()
            child_run = next(r for r in runs if r.requested_by == "child")
            cli_runs = [r for r in runs if r.requested_by == "cli"]
            assert len(cli_runs) == 1  # the refused process created no run at all
            assert cli_runs[0].started_at >= child_run.finished_at  # it ran after the first one, never alongside
            assert Run.current().id == cli_runs[0].id
    finally:
        dispose(app)
