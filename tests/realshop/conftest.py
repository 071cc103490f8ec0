"""One real OpenCart with shopcrm beside it, per release, built once per test module.

Missing Apache/mod_wsgi/mod_php, PHP modules or the OpenCart archives make the tests skip with
the reason (and fail under ``SHOPCRM_REQUIRE_SERVICES=1``, as in CI).
"""
from __future__ import annotations

import glob
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from ..browser_helpers import ARTIFACTS, browser
from ..conftest import RecordingHandler, free_port, need_service
from ..deploy_helpers import Apache, Browser, Deployment, deploy_venv, flask_cli, make_deployment, missing_prerequisites
from . import harness, shoppers
from .harness import CRM_ADMIN_EMAIL, CRM_ADMIN_PASSWORD, PREFIX, RELEASES, Databases, OpenCart, Release, ShopAdmin

#: The PHP extensions OpenCart's installer insists on (php-gd, php-curl, php-zip, php-mbstring,
#: php-xml; mysqli comes with php-mysql).
PHP_EXTENSIONS = ("gd", "curl", "zip", "mbstring", "dom", "mysqli")
#: OpenCart's order statuses, as its installer creates them.
PENDING, COMPLETE, CANCELED = 1, 5, 7


@dataclass
class Site:
    release: Release
    shop: OpenCart
    deployment: Deployment
    apache: Apache
    dbs: Databases
    smtp: RecordingHandler
    settings: dict
    catalog: dict[str, int]  # product name -> product_id, from OpenCart's demo data
    shoppers: list[shoppers.Shopper]
    beacon_edit: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)  # order_id -> the status the admin gave it

    def shop_engine(self) -> sa.Engine:
        """Root's view of OpenCart's tables, for reading what OpenCart wrote (never for writing)."""
        return self.dbs.root_engine(self.dbs.shop)

    def crm_engine(self) -> sa.Engine:
        return self.dbs.root_engine(self.dbs.crm)

    def web(self) -> Browser:
        return Browser(self.apache.url)

    def flask(self, *args: str, timeout: float = 300) -> str:
        return flask_cli(self.deployment, *args, timeout=timeout)

    def customers(self) -> dict[str, int]:
        """email -> customer_id, as OpenCart stored them."""
        with self.shop_engine().connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT customer_id, email FROM {PREFIX}customer")
            return {email: cid for cid, email in rows}


def _missing_php_extensions() -> list[str]:
    loaded = {Path(p).stem.split("-", 1)[-1] for p in glob.glob("/etc/php/*/apache2/conf.d/*.ini")}
    return [name for name in PHP_EXTENSIONS if name not in loaded]


@pytest.fixture(scope="module", params=list(RELEASES), ids=lambda v: f"opencart-{v}")
def release(request) -> Release:
    return RELEASES[request.param]


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@contextmanager
def _timed(timings: dict, name: str):
    started = time.monotonic()
    try:
        yield
    finally:
        timings[name] = round(time.monotonic() - started, 2)


@pytest.fixture(autouse=True)
def _timed_test(request):
    """Each test's time goes into its site's timings (printed when the site is taken down)."""
    started = time.monotonic()
    yield
    if "site" in request.fixturenames:
        site = request.getfixturevalue("site")
        site.timings[f"test {request.node.originalname}"] = round(time.monotonic() - started, 2)


@pytest.fixture(scope="module")
def site(release, smtp, mariadb_server_url, request) -> Site:
    """OpenCart installed, shopcrm deployed beside it under one Apache, the shoppers' visits
    done and the shop admin's order statuses set."""
    missing = missing_prerequisites() + [f"PHP's {name} for Apache (Debian package php-{name})"
                                         for name in _missing_php_extensions()]
    if missing:
        need_service("Apache with mod_wsgi, mod_php and OpenCart's PHP extensions", "missing " + "; ".join(missing))
    vendor = harness.missing_vendor(release)
    if vendor:
        need_service(f"OpenCart {release.version}", vendor)

    timings: dict[str, float] = {}
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"shopcrm-oc{release.major}-", dir="/tmp"))
    dbs = deployment = apache = None
    try:
        with _timed(timings, "venv"):
            venv = deploy_venv()
        with _timed(timings, "databases"):
            dbs = harness.create_databases(mariadb_server_url)
        with _timed(timings, "opencart install"):
            shop = harness.unpack_and_install(release, workdir, dbs, free_port())
        with _timed(timings, "shopcrm deploy"):
            deployment = make_deployment(venv.path)
            beacon_secret = uuid.uuid4().hex + uuid.uuid4().hex
            beacon_edit = harness.install_beacon(shop, deployment, beacon_secret)
            harness.hand_to_web_server(shop)
            settings = harness.configure_shopcrm(deployment, shop, dbs, smtp.port, beacon_secret)
            flask_cli(deployment, "migrate")
            flask_cli(deployment, "create-user", "--email", CRM_ADMIN_EMAIL, "--role", "admin",
                      "--password", CRM_ADMIN_PASSWORD)
        with _timed(timings, "apache start"):
            apache = harness.start_apache(workdir / "apache", shop, deployment)
            Browser(apache.url).wait_for("/crm/admin/login", timeout=120)
            Browser(apache.url).wait_for("/index.php?route=common/home", timeout=60)
        with dbs.root_engine(dbs.shop).connect() as conn:
            catalog = {name: pid for pid, name in conn.exec_driver_sql(
                f"SELECT product_id, name FROM {PREFIX}product_description WHERE language_id = 1")}
        plan = shoppers.plan(catalog, dbs.tag)
        with _timed(timings, "shoppers"):
            ran = shoppers.run_all(shop, plan, browser, ARTIFACTS)
        timings["shoppers: http"] = round(ran["http_seconds"], 2)
        timings["shoppers: chromium (slowest)"] = round(ran["chromium_seconds"], 2)
        site = Site(release, shop, deployment, apache, dbs, smtp, settings, catalog, plan, beacon_edit, timings)
        with _timed(timings, "order statuses"):
            _set_statuses(site)
        timings["setup total"] = round(time.monotonic() - started, 2)
        yield site
        timings["all"] = round(time.monotonic() - started, 2)
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\n[realshop OpenCart {release.version}] timings (s): "
                  + ", ".join(f"{k} {v}" for k, v in timings.items()))
    finally:
        if apache is not None:
            apache.stop()
        left = harness.drop_databases(dbs) if dbs is not None else []
        if deployment is not None:
            shutil.rmtree(deployment.base, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
        assert not left, f"the real-shop test left databases or users behind: {left}"


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
