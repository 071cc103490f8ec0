"""The fault run: what goes wrong on a real host, done on purpose against real parts, with what
must hold afterwards written next to each scenario.

Each scenario starts the real commands (``flask --app wsgi shopcrm send`` / ``segment``) as
processes against real MariaDB and SQLite databases, real SMTP servers on loopback (aiosmtpd)
and the faults of :mod:`tests.support.faults`, and returns an :class:`Outcome`: the figures it
measured and the expectations that did not hold (``problems``). The test suite
(``tests/faults/``) asserts there are none; ``scripts/fault_run.py`` runs the same scenarios on
a hosting admin's machine and prints them. Everything is bounded (timeouts on every wait) and
stays on loopback, in throwaway databases and a temporary folder.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from shopcrm import PROJECT_ROOT, create_app, demo
from shopcrm.clock import utcnow
from shopcrm.extensions import db
from tests.support.apps import DEMO_NOW, TEST_SECRET, base_config, database_url, dispose, migrate
from tests.support.campaigns import (
    DroppingHandler,
    SlowHandler,
    consenting_customers,
    delivered_to,
    queue_campaign,
    start_smtp,
    wait_until,
    writable_shop,
)
from tests.support.faults import LateReplyHandler, LostReplyHandler, Proxy, SilentServer, message_ids
from tests.support.smtp import free_port

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi", "shopcrm"]


@dataclass
class Outcome:
    """What a scenario measured, and the expectations that failed (none: it passed)."""

    name: str
    figures: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    seconds: float = 0.0

    def expect(self, condition: bool, text: str) -> bool:
        if not condition:
            self.problems.append(text)
        return condition


class Rig:
    """Throwaway databases, a shop, servers and the environment of the child processes.

    ``server_url`` is a MariaDB URL without a database, with the right to create databases
    (``None``: shopcrm's database on SQLite, and the scenarios that need MariaDB are skipped).
    ``shop_file`` is a SQLite demo shop (copied; generated when missing).
    """

    def __init__(self, tmp: Path, server_url: str | None, shop_file: Path | None = None, customers: int = 3000):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.server_url = server_url
        self.databases: list[str] = []
        self.cleanups: list = []
        if shop_file is None:
            shop_file = self.tmp / "demo_shop.db"
            if not shop_file.exists():
                engine = sa.create_engine(f"sqlite:///{shop_file}")
                demo.write(engine, demo.generate(seed=42, customers=customers, now=DEMO_NOW))
                engine.dispose()
        self.shop_source = Path(shop_file)

    # --- databases ------------------------------------------------------------------------------

    def mariadb(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(self.server_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        admin.dispose()
        self.databases.append(name)
        return database_url(self.server_url, name)

    def crm_url(self, kind: str) -> str:
        if kind == "mariadb":
            return self.mariadb("fault_crm")
        return f"sqlite:///{self.tmp / f'crm_{uuid.uuid4().hex[:6]}.db'}"

    def shop_copy(self) -> Path:
        folder = self.tmp / uuid.uuid4().hex[:6]
        folder.mkdir()
        return writable_shop(folder, self.shop_source)

    def small_shop(self, url: str | None = None) -> str:
        """A demo shop of 600 customers (a segmentation of it takes a second): on MariaDB when
        ``url`` is given, else a new SQLite file."""
        url = url or f"sqlite:///{self.tmp / f'small_shop_{uuid.uuid4().hex[:6]}.db'}"
        writer = sa.create_engine(url, connect_args={"local_infile": True} if url.startswith("mysql") else {})
        demo.write(writer, demo.generate(seed=42, customers=600, now=DEMO_NOW))
        writer.dispose()
        return url

    def mariadb_shop(self) -> str:
        return self.small_shop(self.mariadb("fault_shop"))

    def app(self, crm_url: str, shop_url: str, **settings):
        app = create_app(base_config(self.tmp / uuid.uuid4().hex[:6], SQLALCHEMY_DATABASE_URI=crm_url,
                                     SHOPCRM_SHOP_DATABASE_URI=shop_url, **settings))
        migrate(app)
        self.cleanups.append(lambda: dispose(app))
        return app

    def env(self, crm_url: str, shop_url: str, smtp_port: int | None = None, **settings) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPCRM_") or k.startswith("SHOPCRM_TEST_")}
        env.update({
            "SHOPCRM_ENV": "testing", "SHOPCRM_SECRET_KEY": TEST_SECRET, "SHOPCRM_DATABASE_URI": crm_url,
            "SHOPCRM_SHOP_DATABASE_URI": shop_url, "SHOPCRM_INSTANCE_PATH": str(self.tmp / "instance"),
            "SHOPCRM_MAIL_DEFAULT_SENDER": "Test Shop <shop@shop.test>", "SHOPCRM_PUBLIC_URL": "http://crm.test/crm/",
            "SHOPCRM_SHOP_BASE_URL": "https://shop.test/", "SHOPCRM_STABILITY_RUNS": "1",
            "PYTHONPATH": str(PROJECT_ROOT),
        })
        if smtp_port is not None:
            env.update({"SHOPCRM_MAIL_SERVER": "127.0.0.1", "SHOPCRM_MAIL_PORT": str(smtp_port)})
        env.update({k: str(v) for k, v in settings.items()})
        return env

    def smtp(self, handler, pipelining: bool = True):
        handler, controller = start_smtp(handler, pipelining=pipelining)
        self.cleanups.append(controller.stop)
        return handler

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception:  # noqa: BLE001 - clean up what can be cleaned
                pass
        if self.databases:
            admin = sa.create_engine(self.server_url)
            with admin.begin() as conn:
                for name in self.databases:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            admin.dispose()


# --- helpers ----------------------------------------------------------------------------------------

def start(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*FLASK, *args], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*FLASK, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def cli(app, *args: str, smtp_port: int | None = None, **settings) -> subprocess.CompletedProcess:
    """The same command in this process (``flask shopcrm …`` through Click's runner): for the
    steps around a fault, where a process start would only cost time. This process runs on the
    same host as the killed ones, so it sees them gone exactly as cron would."""
    from tests.support.campaigns import use_smtp

    app.config.update(settings)
    if smtp_port is not None:
        use_smtp(app, smtp_port)
    result = app.test_cli_runner().invoke(args=["shopcrm", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def outbox(app) -> dict[str, int]:
    from shopcrm.models import Message

    with app.app_context():
        found = dict(db.session.execute(sa.select(Message.state, sa.func.count()).group_by(Message.state)).all())
        db.session.rollback()
        return found


def in_doubt_now(app) -> list:
    from shopcrm.delivery.sender import in_doubt

    with app.app_context():
        rows = [(r.id, r.email.lower(), r.message_id) for r in in_doubt(1000)]
        db.session.rollback()
        return rows


def due_now(app) -> None:
    """Rows a stopped run gave back wait a minute before they are due again; a scenario does not."""
    from shopcrm.models import Message

    with app.app_context():
        db.session.execute(sa.update(Message).where(Message.state == "queued").values(
            next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def one_line(outcome: Outcome, result, what: str) -> None:
    """A failed command says what happened in one line on stderr, never a traceback."""
    err = (result.stderr or "").strip().splitlines()
    outcome.expect("Traceback" not in (result.stderr or "") + (result.stdout or ""), f"{what}: a traceback")
    outcome.expect(len([line for line in err if line.startswith("Error:")]) == 1 and len(err) <= 3,
                   f"{what}: not one clear line: {err[-5:]}")


def check_delivery(outcome: Outcome, app, server, people: list[str], kills: int = 0, doubts_allowed: int = 0) -> None:
    """Every message delivered exactly once, except at most ``doubts_allowed`` in doubt; each
    row recorded ``sent`` really arrived; what arrived without a ``sent`` row is in doubt."""
    from shopcrm.models import Message

    counts = Counter(delivered_to(server))
    with app.app_context():
        rows = db.session.scalars(sa.select(Message)).all()
        sent = {r.email.lower() for r in rows if r.state == "sent"}
        doubtful = {r.email.lower() for r in rows if r.state == "sending"}
        other = Counter(r.state for r in rows if r.state not in ("sent", "sending"))
        db.session.rollback()
    duplicates = {a: n for a, n in counts.items() if n > 1}
    outcome.figures.update(delivered=sum(counts.values()), duplicates=len(duplicates), in_doubt=len(doubtful),
                           recorded_sent=len(sent))
    outcome.expect(not duplicates, f"delivered twice: {sorted(duplicates)[:5]}")
    outcome.expect(not other, f"rows left {dict(other)}")
    outcome.expect(len(doubtful) <= doubts_allowed, f"{len(doubtful)} in doubt, at most {doubts_allowed} allowed")
    outcome.expect(len(sent) + len(doubtful) == len(people), f"{len(sent)} sent + {len(doubtful)} in doubt "
                                                             f"!= {len(people)}")
    outcome.expect(sent <= set(counts), "a row recorded sent never arrived")
    outcome.expect(set(counts) - sent <= doubtful, "a message arrived that is neither sent nor in doubt")


def finish(outcome: Outcome, app, smtp_port: int, tries: int = 6) -> list:
    """Cron, run after run, until nothing is left to send (in this process, see :func:`cli`)."""
    results = []
    for _ in range(tries):
        if not outbox(app).get("queued"):
            break
        due_now(app)
        result = cli(app, "send", "--batch-size", "10", smtp_port=smtp_port)
        results.append(result)
        outcome.expect("another 'send' job" not in result.stderr, "a send was refused after a kill: "
                       + result.stderr.strip()[:300])
    outcome.expect(not outbox(app).get("queued"), f"still queued after {tries} runs: {outbox(app)}")
    return results


def _timed(scenario):
    def wrapper(rig: Rig, *args, **kwargs) -> Outcome:
        started = time.monotonic()
        outcome = scenario(rig, *args, **kwargs)
        outcome.seconds = round(time.monotonic() - started, 1)
        return outcome
    wrapper.__name__ = scenario.__name__
    wrapper.__doc__ = scenario.__doc__
    return wrapper


def _campaign(rig: Rig, crm: str, count: int, **settings):
    shop = rig.shop_copy()
    app = rig.app(crm, f"sqlite:///{shop}", **settings)
    people = consenting_customers(shop, count)
    queue_campaign(app, [c for c, _, _ in people])
    return app, shop, [e.lower() for _, e, _ in people]


# --- the scenarios ------------------------------------------------------------------------------------

@_timed
def kill_storm(rig: Rig, kills: int = 3, messages: int = 60) -> Outcome:
    """``send`` killed with SIGKILL several times in the middle of batches on MariaDB, each time
    started again at once (the lease is the default 300 s: a killed sender of this host is taken
    over at once), then cron finishes: every message delivered exactly once, except at most one
    in doubt per kill, and ``outbox in-doubt`` knows them at once."""
    outcome = Outcome("kill -9 storm")
    crm = rig.crm_url("mariadb")
    app, shop, people = _campaign(rig, crm, messages)
    server = rig.smtp(SlowHandler(0.02), pipelining=True)  # a busy relay: kills land mid-message
    env = rig.env(crm, f"sqlite:///{shop}", server.port)
    for k in range(kills):
        sender = start(env, "send", "--batch-size", "10")
        target = len(server.messages) + 5 + 4 * k
        wait_until(lambda: len(server.messages) >= target or sender.poll() is not None, timeout=60)
        if sender.poll() is None:
            os.kill(sender.pid, signal.SIGKILL)
        sender.communicate(timeout=30)
        outcome.expect(sender.returncode == -signal.SIGKILL, f"kill {k + 1}: the sender ended on its own "
                                                              f"({sender.returncode})")
        doubt = in_doubt_now(app)  # at once: not after the 300 s lease
        outcome.expect(len(doubt) <= k + 1, f"after kill {k + 1}: {len(doubt)} in doubt")
    outcome.figures["in_doubt_right_after_the_kills"] = len(in_doubt_now(app))
    finish(outcome, app, server.port)
    check_delivery(outcome, app, server, people, doubts_allowed=kills)
    return outcome


@_timed
def concurrent_senders(rig: Rig, workers: int = 2, messages: int = 120) -> Outcome:
    """``send`` and ``send --worker a|b|…`` all at once on MariaDB: 0 duplicates, all delivered,
    the work shared."""
    outcome = Outcome(f"{workers + 1} senders at once")
    crm = rig.crm_url("mariadb")
    app, shop, people = _campaign(rig, crm, messages)
    server = rig.smtp(SlowHandler(0.005), pipelining=True)
    env = rig.env(crm, f"sqlite:///{shop}", server.port, SHOPCRM_SEND_RATE=40)
    names = [None] + [chr(ord("a") + i) for i in range(workers)]
    senders = [start(env, "send", "--batch-size", "5", *(("--worker", n) if n else ())) for n in names]
    results = [s.communicate(timeout=180) for s in senders]
    outcome.expect([s.returncode for s in senders] == [0] * len(senders),
                   f"exit codes {[s.returncode for s in senders]}: {[r[1][-200:] for r in results]}")
    check_delivery(outcome, app, server, people)
    from shopcrm.models import Message

    with app.app_context():
        owners = Counter(t.split(":")[1] for t in db.session.scalars(sa.select(Message.claimed_by)) if t)
        db.session.rollback()
    outcome.figures["senders_that_sent"] = len(owners)
    outcome.expect(len(owners) >= 2, f"only {len(owners)} sender(s) did the work")
    return outcome


@_timed
def smtp_down(rig: Rig, messages: int = 20) -> Outcome:
    """The mail server is down: ``send`` exits 1 with a line naming MAIL_SERVER/MAIL_PORT and
    loses nothing. It drops the connection mid-batch (before a message's end): exit 0, the
    rest retried. Back up: everything delivered once."""
    outcome = Outcome("SMTP down")
    crm = rig.crm_url("sqlite")
    app, shop, people = _campaign(rig, crm, messages)
    port = free_port()
    env = rig.env(crm, f"sqlite:///{shop}", port)
    down = run(env, "send")
    outcome.figures["exit_code_when_down"] = down.returncode
    outcome.expect(down.returncode == 1, f"send exited {down.returncode} with the mail server down")
    outcome.expect(f"127.0.0.1:{port} (MAIL_SERVER, MAIL_PORT)" in down.stderr and "nothing was delivered" in
                   down.stderr, f"the failure does not name the settings: {down.stderr.strip()[-300:]}")
    outcome.expect(outbox(app) == {"queued": messages}, f"rows changed while down: {outbox(app)}")
    dropping = rig.smtp(DroppingHandler(accept=7), pipelining=False)
    due_now(app)
    partly = cli(app, "send", "--batch-size", "10", smtp_port=dropping.port)
    outcome.figures["exit_code_when_dropped_mid_batch"] = partly.returncode
    outcome.expect(partly.returncode == 0 and len(dropping.messages) == 7,
                   f"mid-batch drop: exit {partly.returncode}, {len(dropping.messages)} delivered")
    dropping.down, dropping.accept = False, 10_000  # back up
    finish(outcome, app, dropping.port)
    check_delivery(outcome, app, dropping, people)
    return outcome


@_timed
def lost_reply(rig: Rig, late: bool, messages: int = 12) -> Outcome:
    """The server stores a message and its 250 never arrives — the connection drops, or the
    answer comes after SHOPCRM_SMTP_DATA_TIMEOUT: that message is in doubt at once with its
    Message-ID kept, never sent again on its own; 0 duplicates."""
    outcome = Outcome("lost reply: " + ("answer too late" if late else "connection dropped"))
    crm = rig.crm_url("sqlite")
    app, shop, people = _campaign(rig, crm, messages)
    handler = LateReplyHandler(late=4, delay=3) if late else LostReplyHandler(lose=4)
    server = rig.smtp(handler, pipelining=True)
    first = cli(app, "send", "--batch-size", "20", smtp_port=server.port, SHOPCRM_SMTP_DATA_TIMEOUT=0.5)
    outcome.expect(first.returncode == 0, f"exit {first.returncode}: 3 were delivered")
    outcome.expect("in doubt" in first.stderr, "the run does not say a message is in doubt")
    doubt = in_doubt_now(app)
    outcome.expect(len(doubt) == 1 and doubt[0][1] == people[3], f"in doubt: {doubt}")
    if doubt:
        outcome.expect(message_ids(server).get(doubt[0][1]) == [doubt[0][2]], "the Message-ID was not kept")
    listing = cli(app, "outbox", "in-doubt")
    outcome.expect(bool(doubt) and f"#{doubt[0][0]}" in listing.stdout and doubt[0][2] in listing.stdout,
                   f"`outbox in-doubt` does not list it: {listing.stdout[-300:]}")
    finish(outcome, app, server.port)
    check_delivery(outcome, app, server, people, doubts_allowed=1)
    outcome.expect(outcome.figures["in_doubt"] == 1, "the message in doubt was resent or dropped")
    return outcome


@_timed
def database_goes_away(rig: Rig, messages: int = 40) -> Outcome:
    """shopcrm's MariaDB connection is cut in the middle of ``send``: one line, exit 1; once it
    is back the next run finishes at once: every message exactly once, at most one in doubt."""
    outcome = Outcome("shopcrm's database goes away mid-send")
    crm = rig.crm_url("mariadb")
    app, shop, people = _campaign(rig, crm, messages)
    server = rig.smtp(SlowHandler(0.03), pipelining=True)
    url = sa.engine.make_url(crm)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 3306))
    rig.cleanups.append(proxy.close)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    sender = start(rig.env(through, f"sqlite:///{shop}", server.port), "send", "--batch-size", "10")
    wait_until(lambda: len(server.messages) >= 12 or sender.poll() is not None, timeout=60)
    proxy.cut()
    out, err = sender.communicate(timeout=60)
    result = subprocess.CompletedProcess(sender.args, sender.returncode, out, err)
    outcome.figures["exit_code"] = sender.returncode
    outcome.expect(sender.returncode == 1, f"exit {sender.returncode}")
    one_line(outcome, result, "send")
    outcome.expect("SQLALCHEMY_DATABASE_URI" in err, f"the line does not name the setting: {err.strip()[-300:]}")
    finish(outcome, app, server.port)
    check_delivery(outcome, app, server, people, doubts_allowed=1)
    return outcome


@_timed
def shop_goes_away_mid_segment(rig: Rig) -> Outcome:
    """The shop's MariaDB connection drops while ``segment`` reads it, and then the shop hangs
    (accepts TCP, never answers): one line each, exit 1, the run stored failed with that line,
    bounded by SHOPCRM_DB_CONNECT_TIMEOUT; a later run succeeds."""
    outcome = Outcome("the shop goes away during segment")
    shop = rig.mariadb_shop()
    crm = rig.crm_url("sqlite")
    app = rig.app(crm, shop)
    url = sa.engine.make_url(shop)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 3306), cut_when=b"GROUP BY")
    rig.cleanups.append(proxy.close)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    args = ("segment", "--quiet", "--as-of", "2026-11-01")
    cut = run(rig.env(crm, through), *args)
    outcome.expect(cut.returncode == 1, f"dropped: exit {cut.returncode}")
    one_line(outcome, cut, "segment (shop dropped)")
    outcome.expect("lost the connection to the shop database" in cut.stderr, cut.stderr.strip()[-300:])
    silent = SilentServer()
    rig.cleanups.append(silent.close)
    hanging = rig.app(crm, f"mysql+pymysql://reader@127.0.0.1:{silent.port}/shop", SHOPCRM_DB_CONNECT_TIMEOUT=2)
    started = time.monotonic()
    hung = cli(hanging, *args)
    outcome.figures["seconds_against_a_silent_shop"] = round(time.monotonic() - started, 1)
    outcome.expect(hung.returncode == 1 and "did not answer within 2 s" in hung.stderr
                   and "(SHOPCRM_DB_CONNECT_TIMEOUT;" in hung.stderr,
                   f"silent shop: exit {hung.returncode}: {hung.stderr.strip()[-300:]}")
    one_line(outcome, hung, "segment (silent shop)")
    from shopcrm.models import Run

    with app.app_context():
        errors = [r.error or "" for r in db.session.scalars(sa.select(Run).order_by(Run.id))]
        db.session.rollback()
    outcome.expect(len(errors) >= 1 and all("\n" not in e and "[SQL" not in e for e in errors),
                   f"stored errors: {errors}")
    good = cli(app, *args)
    outcome.expect(good.returncode == 0 and "succeeded" in good.stdout, f"the next run: {good.stderr[-300:]}")
    return outcome


@_timed
def killed_segment(rig: Rig) -> Outcome:
    """``segment`` killed with SIGKILL in the middle of its run: the next ``segment`` starts at
    once (SHOPCRM_LOCK_TTL_SECONDS is 900: the lock of a process of this host that is gone is
    taken over), the killed run is marked interrupted."""
    outcome = Outcome("segment killed mid-run")
    crm = rig.crm_url("sqlite")
    shop = rig.small_shop()
    app = rig.app(crm, shop)
    env = rig.env(crm, shop, SHOPCRM_LOCK_TTL_SECONDS=900)
    from shopcrm.models import Lock, Run

    def running() -> bool:
        with app.app_context():
            found = db.session.scalar(sa.select(sa.func.count()).select_from(Run).where(Run.status == "running"))
            db.session.rollback()
            return bool(found)

    child = start(env, "segment", "--quiet", "--as-of", "2026-11-01")
    outcome.expect(wait_until(lambda: running() or child.poll() is not None, timeout=90, interval=0.05),
                   "the run never started")
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    outcome.expect(child.returncode == -signal.SIGKILL, f"the run ended before the kill ({child.returncode})")
    with app.app_context():
        held = db.session.get(Lock, "segmentation")
        outcome.figures["lease_left_seconds"] = round((held.expires_at - utcnow()).total_seconds()) if held else 0
        db.session.rollback()
    started = time.monotonic()
    again = cli(app, "segment", "--quiet", "--as-of", "2026-11-01", SHOPCRM_LOCK_TTL_SECONDS=900)
    outcome.figures["next_run_seconds"] = round(time.monotonic() - started, 1)
    outcome.expect(again.returncode == 0 and "succeeded" in again.stdout,
                   f"the next run: exit {again.returncode}: {again.stderr.strip()[-300:]}")
    with app.app_context():
        states = [(r.status, r.error) for r in db.session.scalars(sa.select(Run).order_by(Run.id))]
        db.session.rollback()
    outcome.expect(states[:1] and states[0][0] == "failed" and "interrupted" in (states[0][1] or ""),
                   f"the killed run: {states[:1]}")
    return outcome


@_timed
def silent_shop_pages(rig: Rig, requests: int = 4) -> Outcome:
    """The shop's database accepts TCP and never answers, under gunicorn with two workers:
    pages that need the shop say so within SHOPCRM_DB_CONNECT_TIMEOUT, and the dashboard,
    which needs no shop, answers within seconds (before: 29 s, both workers stuck until
    gunicorn's 30 s timeout)."""
    import http.cookiejar
    import re
    import threading
    import urllib.parse
    import urllib.request

    from tests.support.apps import create_user
    from tests.support.deploy import wait_for_port

    outcome = Outcome("silent shop database, admin pages under gunicorn")
    silent = SilentServer()
    rig.cleanups.append(silent.close)
    crm = rig.crm_url("sqlite")
    shop = f"mysql+pymysql://reader@127.0.0.1:{silent.port}/shop"
    app = rig.app(crm, shop)
    email, password = create_user(app)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                               "--timeout", "30", "wsgi:app"], cwd=PROJECT_ROOT,
                              env=rig.env(crm, shop, SHOPCRM_DB_CONNECT_TIMEOUT=2, SHOPCRM_MOUNT="/crm"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        server.terminate()
        server.wait(timeout=30)
    rig.cleanups.append(stop)
    wait_for_port(port, 90, "gunicorn", server)
    base = f"http://127.0.0.1:{port}/crm/admin"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(f"{base}/login", timeout=60).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
    opener.open(f"{base}/login", data=urllib.parse.urlencode(
        {"email": email, "password": password, "csrf_token": token}).encode(), timeout=60).read()
    timings: dict = {}

    def get(name: str, path: str) -> None:
        started = time.monotonic()
        try:
            body = opener.open(f"{base}{path}", timeout=60).read().decode()
        except Exception as exc:  # noqa: BLE001 - recorded
            body = f"failed: {exc}"
        timings[name] = (round(time.monotonic() - started, 2), body)

    threads = [threading.Thread(target=get, args=(f"customers {i}", f"/customers?q=a{i}")) for i in range(requests)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # the workers are busy with the shop pages
    get("dashboard", "/")
    for thread in threads:
        thread.join(90)
    outcome.figures.update({name: seconds for name, (seconds, _) in timings.items()})
    outcome.expect(timings["dashboard"][0] < 8 and "failed:" not in timings["dashboard"][1],
                   f"the dashboard took {timings['dashboard'][0]} s")
    for name, (seconds, body) in timings.items():
        if name.startswith("customers"):
            outcome.expect(seconds < 10 and "SHOPCRM_DB_CONNECT_TIMEOUT" in body,
                           f"{name}: {seconds} s, {body[:200] if body.startswith('failed') else 'no message'}")
    return outcome


SCENARIOS = {
    "kill_storm": (kill_storm, True),
    "concurrent_senders": (concurrent_senders, True),
    "smtp_down": (smtp_down, False),
    "lost_reply_dropped": (lambda rig: lost_reply(rig, late=False), False),
    "lost_reply_late": (lambda rig: lost_reply(rig, late=True), False),
    "database_goes_away": (database_goes_away, True),
    "shop_goes_away_mid_segment": (shop_goes_away_mid_segment, True),
    "killed_segment": (killed_segment, False),
    "silent_shop_pages": (silent_shop_pages, False),
}
"""name -> (scenario, needs MariaDB)"""
