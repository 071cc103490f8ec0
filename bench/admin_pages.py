"""Admin panel benchmark: p50/p95 and throughput of the main pages on a segmented 100k shop.

    .venv/bin/python bench/admin_pages.py                  # 100k customers, 3 repetitions of 8 s per page
    .venv/bin/python bench/admin_pages.py --size 10k --seconds 3 --repeat 1   # a quick look

Needs MariaDB (``--server``, default root on 127.0.0.1). The shop is the segmentation
benchmark's (``bench/shops.py``: built once, reused); shopcrm's own tables live in
``shopcrm_bench_admin_<size>``, prepared once: two segmentation runs (so the run page has a
migration matrix), an admin user, a draft campaign for the largest segment and a campaign for
the potential profitable customers whose messages were rendered and partly written to the file
outbox (so the campaign page has results to count).

The app is served as in production: gunicorn, gthread workers (``--workers`` × ``--threads``,
default 2 × 4) on loopback, ``SHOPCRM_ENV=production``. One login (with its CSRF token) gives a
session cookie; then, page by page, ``--clients`` client processes (default 8) request the page
over keep-alive connections for ``--seconds``, after one second of warm-up that is not counted.
Pages with a parameter (a customer profile, a search) rotate over real values taken from the
data. Every answer must be a 200: a redirect or an error counts as a failure, not a timing.

Printed per page: requests, p50, p95, p99 and max latency (ms, as the client saw them) and
requests per second; with ``--repeat`` > 1, the median of each figure over the repetitions.
The target is p95 < 150 ms for every page. The machine's load is printed before and after.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import shops  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from segmentation import DEFAULT_SERVER, load, machine  # noqa: E402

ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-password-" + "x" * 12
SECRET_KEY = "bench-admin-3f9c1e7a52d84b06a9e1c47d2b58f0e36d1a94c7"  # looks random: passes the production check
TARGET_P95_MS = 150.0
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
MOUNT = "/crm"
SENT_TO_OUTBOX = 5000


# --- the data: shop, runs, user, campaigns ----------------------------------------------------------------

def settings(shop_url: str, crm_url: str, instance: Path) -> dict[str, str]:
    """The app's settings, as the environment of the gunicorn workers (and of the set-up)."""
    return {"SHOPCRM_ENV": "production", "SHOPCRM_SECRET_KEY": SECRET_KEY, "SHOPCRM_DATABASE_URI": crm_url,
            "SHOPCRM_SHOP_DATABASE_URI": shop_url, "SHOPCRM_RUN_HISTORY": "3",
            "SHOPCRM_OUTBOX_DIR": str(instance / "outbox"), "SHOPCRM_PUBLIC_URL": "http://127.0.0.1/crm/",
            "SHOPCRM_SHOP_BASE_URL": "http://127.0.0.1/"}


def app_for(env: dict[str, str], instance: Path):
    """The app as the workers build it: from the same ``SHOPCRM_*`` variables."""
    from shopcrm import create_app

    os.environ.update(env)
    return create_app({"INSTANCE_PATH": str(instance)})


def prepare(server: str, size: shops.ShopSize, instance: Path, say,
            search_index: bool = True) -> tuple[dict[str, str], dict]:
    """Everything the pages show, made once; returns the settings and the values pages rotate over."""
    from flask_migrate import upgrade

    shops.ensure_shop(server, size, say=say)
    name = f"{shops.DB_PREFIX}admin_{size.name}"
    admin = sa.create_engine(shops.server_url(server))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    admin.dispose()
    instance.mkdir(parents=True, exist_ok=True)
    env = settings(shops.server_url(server, size.database), shops.server_url(server, name), instance)
    app = app_for(env, instance)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        _ensure_runs(say)
        _ensure_admin()
        _ensure_campaigns(say)
        _ensure_search_index(say) if search_index else _drop_search_index(say)
        values = _page_values()
        from shopcrm.extensions import db

        for engine in db.engines.values():
            engine.dispose()
    return env, values


def _ensure_runs(say) -> None:
    from shopcrm.extensions import db
    from shopcrm.models import Run
    from shopcrm.segmentation.run import run_segmentation

    done = db.session.scalar(sa.select(sa.func.count()).select_from(Run).where(Run.status == "succeeded"))
    for _ in range(max(0, 2 - done)):
        say("segmenting the shop (once; later invocations reuse the run) ...")
        started = time.perf_counter()
        run_segmentation(as_of=shops.BENCH_NOW, requested_by="bench")
        say(f"  run stored in {time.perf_counter() - started:.1f} s")


def _ensure_search_index(say) -> None:
    """The customer search's word index, built as the segment command builds it after a run."""
    from shopcrm.segmentation import search_index as search

    if search.current_state() is None:
        say("building the customer search's word index (once) ...")
        state = search.refresh()
        say(f"  {state.customers} customers, {state.words} words in {state.seconds} s")


def _drop_search_index(say) -> None:
    """Forget the word index (``--no-search-index``): searches then scan the shop, as before it."""
    from shopcrm.extensions import db
    from shopcrm.models import SearchWord, State
    from shopcrm.segmentation import search_index as search

    db.session.execute(sa.delete(SearchWord))
    db.session.execute(sa.delete(State).where(State.name == search.STATE_NAME))
    db.session.commit()
    say("no customer search word index: name searches scan the shop")


def _ensure_admin() -> None:
    from shopcrm.extensions import db
    from shopcrm.models import User

    user = db.session.scalar(sa.select(User).where(User.email == ADMIN_EMAIL)) or User(email=ADMIN_EMAIL)
    user.role, user.active = "admin", True
    user.set_password(ADMIN_PASSWORD)
    db.session.add(user)
    db.session.commit()


def _ensure_campaigns(say) -> None:
    from shopcrm.campaigns.service import create_campaign, enqueue
    from shopcrm.campaigns.targets import default_offer_target
    from shopcrm.delivery.sender import send_due
    from shopcrm.extensions import db
    from shopcrm.models import Campaign, Run

    names = set(db.session.scalars(sa.select(Campaign.name)))
    if "bench draft" not in names:
        largest = max(Run.current().segments, key=lambda s: s.size)
        create_campaign("bench draft", {"segment_ids": [largest.id]}, created_by="bench")
        db.session.commit()
    if "bench sent" not in names:
        campaign = create_campaign("bench sent", default_offer_target(), created_by="bench")
        db.session.commit()
        say("rendering the campaign's messages and writing some to the file outbox (once) ...")
        started = time.perf_counter()
        report = enqueue(campaign, as_of=shops.BENCH_NOW)
        sent = send_due(max_messages=SENT_TO_OUTBOX)
        say(f"  {report.queued} queued, {sent.sent} written in {time.perf_counter() - started:.1f} s")


def _page_values() -> dict:
    """Real ids and search words for the pages, spread over the data (not all from its start)."""
    from shopcrm.extensions import db
    from shopcrm.models import Campaign, Membership, Rule, Run
    from shopcrm.shop import connect_shop, current_mapping
    from shopcrm.shop import queries as shopq

    run = Run.current()
    largest = max(run.segments, key=lambda s: s.size)
    page_size = 50
    members = db.session.scalars(sa.select(Membership.customer_id).where(Membership.run_id == run.id)
                                 .order_by(Membership.customer_id)).all()
    step = max(1, len(members) // 40)
    customer_ids = [int(c) for c in members[::step][:40]]
    with connect_shop() as conn:
        rows = shopq.customers_by_ids(conn, current_mapping(), customer_ids[::3]).values()
    names = [r["first_name"] for r in rows if r.get("first_name")][:6]
    emails = [r["email"] for r in rows if r.get("email") and "@" in r["email"][1:]][-6:]
    rules = db.session.scalar(sa.select(sa.func.count()).select_from(Rule)
                              .where(Rule.run_id == run.id, Rule.kind == "sequence"))
    campaigns = {c.name: c.id for c in db.session.scalars(sa.select(Campaign))}
    return {"run": run.id, "segment": largest.id, "segment_last_page": max(1, -(-largest.size // page_size)),
            "customers": customer_ids, "names": names, "emails": emails, "sequence_pages": max(1, -(-rules // 25)),
            "draft": campaigns["bench draft"], "sent": campaigns["bench sent"]}


def pages(values: dict) -> list[tuple[str, list[str]]]:
    """(name, paths): a page and the paths its clients rotate over."""
    admin = f"{MOUNT}/admin"
    quote = urllib.parse.quote
    return [
        ("dashboard", [f"{admin}/"]),
        ("segments", [f"{admin}/segments"]),
        ("segment, page 1", [f"{admin}/segments/{values['segment']}"]),
        ("segment, last page", [f"{admin}/segments/{values['segment']}?page={values['segment_last_page']}"]),
        ("segment, member by e-mail", [f"{admin}/segments/{values['segment']}?q={quote(w)}" for w in values["emails"]]),
        ("segment, member by name", [f"{admin}/segments/{values['segment']}?q={quote(w)}" for w in values["names"]]),
        ("customer search, e-mail", [f"{admin}/customers?q={quote(w)}" for w in values["emails"]]),
        ("customer search, name", [f"{admin}/customers?q={quote(w)}" for w in values["names"]]),
        ("customer profile", [f"{admin}/customers/{c}" for c in values["customers"]]),
        ("customers", [f"{admin}/customers"]),
        ("customers, last page", [f"{admin}/customers?page=100000"]),  # past the end: the last page
        ("customers, best customers", [f"{admin}/customers?type=high_value"]),
        ("customers, at risk, latest order first", [f"{admin}/customers?risk=yes&sort=recent"]),
        ("customers, Germany, ordered in 90 days", [f"{admin}/customers?country=DE&last=90"]),
        ("customer type group", [f"{admin}/segments/type/high_value"]),
        ("at-risk group, page 20", [f"{admin}/segments/risk/yes?page=20"]),
        ("action group", [f"{admin}/segments/action/cross_sell"]),
        ("insights", [f"{admin}/insights"]),
        ("insights, sequence rules p3",
         [f"{admin}/insights?kind=sequence&page={min(3, values['sequence_pages'])}"]),
        ("runs", [f"{admin}/runs"]),
        ("run detail", [f"{admin}/runs/{values['run']}"]),
        ("campaigns", [f"{admin}/campaigns"]),
        ("campaign (draft, audience)", [f"{admin}/campaigns/{values['draft']}"]),
        ("campaign (results)", [f"{admin}/campaigns/{values['sent']}"]),
        ("campaign preview", [f"{admin}/campaigns/{values['draft']}/preview.html"]),
        ("triggers", [f"{admin}/triggers"]),
        ("settings", [f"{admin}/settings"]),
        ("users", [f"{admin}/users"]),
        ("do not email", [f"{admin}/suppressions"]),
        ("own account", [f"{admin}/account"]),
    ]


# --- the server and the clients ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "--workers", str(workers),
         "--threads", str(threads), "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            status, _, _ = request("127.0.0.1", port, f"{MOUNT}/admin/login")
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    stop(process)
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def request(host: str, port: int, path: str, method: str = "GET", body: str | None = None,
            headers: dict | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


def log_in(port: int) -> str:
    """The session cookie of a logged-in admin (the login form's CSRF token included)."""
    status, headers, body = request("127.0.0.1", port, f"{MOUNT}/admin/login")
    cookie = headers["set-cookie"].split(";", 1)[0]
    token = CSRF_RE.search(body).group(1)
    form = urllib.parse.urlencode({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token})
    status, headers, body = request("127.0.0.1", port, f"{MOUNT}/admin/login", "POST", form,
                                    {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    if status != 302 or "set-cookie" not in headers:
        raise RuntimeError(f"login failed: {status} {body[:300]}")
    return headers["set-cookie"].split(";", 1)[0]


def client(port: int, cookie: str, paths: list[str], offset: int, warmup: float, seconds: float) -> dict:
    """One client: requests one after another on a keep-alive connection, for a bounded time."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, failures, statuses = [], 0, {}
    start = time.perf_counter()
    count_from, stop_at = start + warmup, start + warmup + seconds
    i = offset
    while True:
        began = time.perf_counter()
        if began >= stop_at:
            break
        path = paths[i % len(paths)]
        i += 1
        try:
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.getheader("connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        took = time.perf_counter() - began
        if began < count_from:
            continue
        if status == 200:
            latencies.append(took)
        else:
            failures += 1
            statuses[status] = statuses.get(status, 0) + 1
    conn.close()
    return {"latencies": latencies, "failures": failures, "statuses": statuses}


def _client_star(args):
    return client(*args)


def measure_page(pool, port: int, cookie: str, paths: list[str], clients: int, seconds: float) -> dict:
    results = pool.map(_client_star, [(port, cookie, paths, n, 1.0, seconds) for n in range(clients)])
    latencies = sorted(x for r in results for x in r["latencies"])
    failures = sum(r["failures"] for r in results)
    statuses: dict = {}
    for r in results:
        for status, n in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return 1000 * latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]

    return {"requests": len(latencies), "failures": failures, "statuses": statuses,
            "p50": pct(50), "p95": pct(95), "p99": pct(99), "max": 1000 * latencies[-1] if latencies else float("nan"),
            "rps": len(latencies) / seconds}


# --- the report -------------------------------------------------------------------------------------------

def combine(repeats: list[dict]) -> dict:
    """The median of each figure over the repetitions (failures summed)."""
    out = {}
    for page in repeats[0]:
        runs = [r[page] for r in repeats]
        out[page] = {key: statistics.median(run[key] for run in runs)
                     for key in ("requests", "p50", "p95", "p99", "max", "rps")}
        out[page]["failures"] = sum(run["failures"] for run in runs)
    return out


def report(figures: dict, args, info: dict) -> str:
    lines = [f"{'page':<30} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'req/s':>6}"
             f" {'fail':>4}  target"]
    for page, f in figures.items():
        verdict = "ok" if f["p95"] < TARGET_P95_MS and not f["failures"] else "MISSED"
        lines.append(f"{page:<30} {f['requests']:>8.0f} {f['p50']:>7.1f} {f['p95']:>7.1f} {f['p99']:>7.1f}"
                     f" {f['max']:>7.1f} {f['rps']:>6.1f} {f['failures']:>4}  {verdict}")
    worst = max(figures.items(), key=lambda kv: kv[1]["p95"])
    lines.append(f"worst p95: {worst[0]} {worst[1]['p95']:.1f} ms (target < {TARGET_P95_MS:.0f} ms); "
                 f"{sum(1 for f in figures.values() if f['p95'] < TARGET_P95_MS and not f['failures'])}"
                 f"/{len(figures)} pages within the target")
    lines.append(f"shop: {info['counts']}")
    lines.append(f"gunicorn gthread {args.workers} workers x {args.threads} threads; {args.clients} clients; "
                 f"{args.seconds:g} s per page after 1 s warm-up; median of {args.repeat} repetition(s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.environ.get("SHOPCRM_BENCH_SERVER", DEFAULT_SERVER),
                        help="MariaDB server URL without a database")
    parser.add_argument("--size", choices=sorted(shops.SIZES), default="100k")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per page")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", help="measure only pages whose name contains this text")
    parser.add_argument("--no-search-index", action="store_true",
                        help="drop the customer search's word index first (name searches scan the shop)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    size = shops.SIZES[args.size]
    info = machine(args.server)
    say(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; MariaDB {info['mariadb']}; "
        f"Python {info['python']}")
    instance = HERE / ".cache" / f"admin-{size.name}"
    env, values = prepare(args.server, size, instance, say, search_index=not args.no_search_index)
    shop_info = shops.ensure_shop(args.server, size, say=say)
    selected = [(name, paths) for name, paths in pages(values) if not args.only or args.only in name]
    port = free_port()
    say(f"load before: {load()}")
    server = serve(env, port, args.workers, args.threads)
    repeats = []
    try:
        cookie = log_in(port)
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            for repetition in range(args.repeat):
                figures = {}
                for name, paths in selected:
                    figures[name] = measure_page(pool, port, cookie, paths, args.clients, args.seconds)
                    f = figures[name]
                    say(f"  [{repetition + 1}/{args.repeat}] {name:<30} p50 {f['p50']:6.1f} ms  p95 {f['p95']:6.1f} ms"
                        f"  {f['rps']:5.1f} req/s" + (f"  FAILURES {f['statuses']}" if f["failures"] else ""))
                repeats.append(figures)
    finally:
        stop(server)
    say(f"load after: {load()}")
    combined = combine(repeats)
    say("")
    say(report(combined, args, shop_info))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "figures": combined, "repeats": repeats}, indent=1))
    return 0 if all(f["p95"] < TARGET_P95_MS and not f["failures"] for f in combined.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
