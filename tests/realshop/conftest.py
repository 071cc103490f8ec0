"""One real OpenCart with shopcrm beside it, per release, built once per test module.

The sites are built one after the other in a background thread: while the tests of one release
run (mostly single commands, one core), the next release's site is installed and shopped in,
so the two cores of a test machine both work.

Missing Apache/mod_wsgi/mod_php, PHP modules or the OpenCart archives make the tests skip with
the reason (and fail under ``SHOPCRM_REQUIRE_SERVICES=1``, as in CI).
"""
from __future__ import annotations

import glob
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.apps import need_service
from tests.support.browser import ARTIFACTS, browser
from tests.support.deploy import (
    Apache,
    Browser,
    alive,
    deploy_venv,
    flask_cli,
    make_deployment,
    missing_prerequisites,
)
from tests.support.report import report
from tests.support.smtp import RecordingHandler, free_port

from . import harness, shoppers
from .harness import CRM_ADMIN_EMAIL, CRM_ADMIN_PASSWORD, PREFIX, RELEASES, Release, ShopAdmin
from .site import CANCELED, COMPLETE, PENDING, Site

#: The PHP extensions OpenCart's installer insists on (php-gd, php-curl, php-zip, php-mbstring,
#: php-xml; mysqli comes with php-mysql).
PHP_EXTENSIONS = ("gd", "curl", "zip", "mbstring", "dom", "mysqli")
#: OpenCart's order statuses, as its installer creates them.


def _missing_php_extensions() -> list[str]:
    loaded = {Path(p).stem.split("-", 1)[-1] for p in glob.glob("/etc/php/*/apache2/conf.d/*.ini")}
    return [name for name in PHP_EXTENSIONS if name not in loaded]


def missing(release: Release) -> tuple[str, str] | None:
    """(what, why) this machine lacks to build the release's site, or None."""
    absent = missing_prerequisites() + [f"PHP's {name} for Apache (Debian package php-{name})"
                                        for name in _missing_php_extensions()]
    if absent:
        return "Apache with mod_wsgi, mod_php and OpenCart's PHP extensions", "missing " + "; ".join(absent)
    vendor = harness.missing_vendor(release)
    return (f"OpenCart {release.version}", vendor) if vendor else None


@contextmanager
def _timed(timings: dict, name: str):
    started = time.monotonic()
    try:
        yield
    finally:
        timings[name] = round(time.monotonic() - started, 2)


# --- building and taking down a site -----------------------------------------------------------

class Teardown:
    """What a build made, undone in reverse order (also after a build that failed half-way)."""

    def __init__(self):
        self.steps: list = []
        self.lock = threading.Lock()

    def add(self, step) -> None:
        self.steps.append(step)

    def run(self) -> list[str]:
        problems = []
        with self.lock:
            while self.steps:
                try:
                    left = self.steps.pop()()
                    if left:
                        problems.append(f"left behind: {left}")
                except Exception as exc:  # noqa: BLE001 - every step runs; the problems are reported together
                    problems.append(repr(exc))
        return problems


def build_site(release: Release, server_url: str, teardown: Teardown) -> Site:
    """OpenCart installed, shopcrm deployed beside it under one Apache, the shoppers' visits
    done and the shop admin's order statuses set."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    from aiosmtpd.controller import Controller

    smtp = RecordingHandler()
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp.port = controller.port
    teardown.add(controller.stop)
    workdir = Path(tempfile.mkdtemp(prefix=f"shopcrm-oc{release.major}-", dir="/tmp"))
    teardown.add(lambda: shutil.rmtree(workdir, ignore_errors=True))
    with _timed(timings, "venv"):
        venv = deploy_venv()
    with _timed(timings, "databases"):
        dbs = harness.create_databases(server_url)
    teardown.add(lambda: harness.drop_databases(dbs))
    with _timed(timings, "opencart install"):
        shop = harness.unpack_and_install(release, workdir, dbs, free_port())
    with _timed(timings, "shopcrm deploy"):
        deployment = make_deployment(venv.path)
        teardown.add(lambda: shutil.rmtree(deployment.base, ignore_errors=True))
        beacon_secret = uuid.uuid4().hex + uuid.uuid4().hex
        beacon_edit = harness.install_beacon(shop, deployment, beacon_secret)
        harness.hand_to_web_server(shop)
        settings = harness.configure_shopcrm(deployment, shop, dbs, smtp.port, beacon_secret)
        flask_cli(deployment, "migrate")
        flask_cli(deployment, "create-user", "--email", CRM_ADMIN_EMAIL, "--role", "admin",
                  "--password", CRM_ADMIN_PASSWORD)
    with _timed(timings, "apache start"):
        apache = harness.start_apache(workdir / "apache", shop, deployment)
        teardown.add(lambda: _stop(apache))
        Browser(apache.url).wait_for("/crm/admin/login", timeout=120)
        Browser(apache.url).wait_for("/index.php?route=common/home", timeout=60)
    site = Site(release, shop, deployment, apache, dbs, smtp, settings, {}, [], beacon_edit, timings)
    teardown.add(lambda: _dispose(site))
    with site.shop_engine().connect() as conn:
        site.catalog = {name: pid for pid, name in conn.exec_driver_sql(
            f"SELECT product_id, name FROM {PREFIX}product_description WHERE language_id = 1")}
    site.shoppers = shoppers.plan(site.catalog, dbs.tag)
    with _timed(timings, "shoppers"):
        ran = shoppers.run_all(shop, site.shoppers, browser, ARTIFACTS)
    timings["shoppers: http"] = round(ran["http_seconds"], 2)
    timings["shoppers: chromium (slowest)"] = round(ran["chromium_seconds"], 2)
    with _timed(timings, "order statuses"):
        _set_statuses(site)
    timings["setup total"] = round(time.monotonic() - started, 2)
    return site


def _stop(apache: Apache) -> list[int]:
    """Stop Apache; the processes of it still alive afterwards (should be none)."""
    return [pid for pid in apache.stop() if alive(pid)]


def _dispose(site: Site) -> None:
    for engine in site.engines.values():
        engine.dispose()


def _set_statuses(site: Site) -> None:
    """The shop owner works through the orders in OpenCart's admin: the cancelled shoppers'
    orders to Canceled, every other second order to Complete (the rest stay Pending)."""
    wanted: dict[int, int] = {}
    with site.shop_engine().connect() as conn:
        orders = conn.exec_driver_sql(
            f"SELECT order_id, email, order_status_id FROM `{PREFIX}order` ORDER BY order_id").all()
    by_email = {s.email: s for s in site.shoppers}
    for i, (order_id, email, status) in enumerate(orders):
        assert status == PENDING, f"order {order_id} of {email} is in status {status}, not Pending"
        shopper = by_email[email]
        if shopper.behaviour == "cancel":
            wanted[order_id] = CANCELED
        elif i % 2 == 0:
            wanted[order_id] = COMPLETE
    assert CANCELED in wanted.values(), "no order of a cancelling shopper to cancel"
    admin = ShopAdmin(site.shop)
    admin.log_in()
    for order_id, status in wanted.items():
        admin.set_status(order_id, status, comment="changed by the shop owner")
    site.statuses = {order_id: wanted.get(order_id, PENDING) for order_id, _, _ in orders}


class Builds:
    """The sites this session's tests want, built one at a time in a background thread."""

    def __init__(self, wanted: list[str], server_url: str):
        self.wanted, self.server_url = wanted, server_url
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="realshop-build")
        self.futures: dict[str, Future] = {}
        self.teardowns: dict[str, Teardown] = {}

    def start(self, version: str) -> Future:
        if version not in self.futures:
            self.teardowns[version] = Teardown()
            self.futures[version] = self.pool.submit(build_site, RELEASES[version], self.server_url,
                                                     self.teardowns[version])
        return self.futures[version]

    def start_next(self, version: str) -> None:
        """Begin the next wanted release's site (when this machine can build it)."""
        later = self.wanted[self.wanted.index(version) + 1:] if version in self.wanted else []
        if later and missing(RELEASES[later[0]]) is None:
            self.start(later[0])

    def take_down(self, version: str) -> list[str]:
        teardown = self.teardowns.get(version)
        return teardown.run() if teardown else []

    def close(self) -> list[str]:
        for future in self.futures.values():
            future.cancel()
        self.pool.shutdown(wait=True)
        return [problem for version in list(self.teardowns) for problem in self.take_down(version)]


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=list(RELEASES), ids=lambda v: f"opencart-{v}")
def release(request) -> Release:
    return RELEASES[request.param]


@pytest.fixture(scope="session")
def builds(request, mariadb_server_url):
    wanted = [v for v in RELEASES if any(getattr(item, "callspec", None) and item.callspec.params.get("release") == v
                                         for item in request.session.items)]
    builds = Builds(wanted, mariadb_server_url)
    yield builds
    problems = builds.close()
    assert not problems, f"taking the real-shop sites down: {problems}"


@pytest.fixture(scope="module")
def site(release, builds, request) -> Site:
    lacking = missing(release)
    if lacking:
        need_service(*lacking)
    started = time.monotonic()
    try:
        site = builds.start(release.version).result()
    finally:
        builds.start_next(release.version)
    site.timings["waited for the site"] = round(time.monotonic() - started, 2)
    yield site
    problems = builds.take_down(release.version)
    report(f"[realshop OpenCart {release.version}] timings (s): "
           + ", ".join(f"{k} {v}" for k, v in site.timings.items()))
    assert not problems, f"taking the OpenCart {release.version} site down: {problems}"


@pytest.fixture(autouse=True)
def _timed_test(request):
    """Each test's time goes into its site's timings (printed when the site is taken down)."""
    started = time.monotonic()
    yield
    if "site" in request.fixturenames:
        site = request.getfixturevalue("site")
        site.timings[f"test {request.node.originalname}"] = round(time.monotonic() - started, 2)
