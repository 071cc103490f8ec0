"""Shared fixtures: apps on SQLite and on real MariaDB, a demo shop, an SMTP server.

With ``SHOPCRM_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a test that needs MariaDB fails when
the server is missing instead of being skipped, so CI can never pass without running them.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopcrm import create_app, demo
from tests.support.apps import (
    DEMO_CUSTOMERS,
    DEMO_NOW,
    REQUIRE_SERVICES,
    base_config,
    checkpoint,
    database_url,
    dispose,
    migrate,
    need_service,
)
from tests.support.campaigns import writable_shop
from tests.support.report import REPORT
from tests.support.smtp import RecordingHandler, free_port


def pytest_collection_modifyitems(items):
    """Markers from what a test uses: ``-m "not mariadb"`` runs without the server; a test that
    drives a browser or a real shop is slow, whether or not its module says so."""
    for item in items:
        if {"mariadb_server_url", "mariadb_database"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mariadb)
        if (item.get_closest_marker("browser") or item.get_closest_marker("realshop")) \
                and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


def pytest_sessionstart(session):
    """A new run's report of measured figures starts empty (in the controlling process only)."""
    if not hasattr(session.config, "workerinput"):
        REPORT.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    """What the tests measured (support.report), whichever process measured it."""
    if not hasattr(terminalreporter.config, "workerinput") and REPORT.exists():
        terminalreporter.section("measured by the tests")
        for line in REPORT.read_text().splitlines():
            terminalreporter.write_line(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under SHOPCRM_REQUIRE_SERVICES=1 (CI) a skip is a failure: nothing may silently not run."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but SHOPCRM_REQUIRE_SERVICES=1 forbids skips: {reason}"


# --- the demo shop, built once per session --------------------------------------------------------

@pytest.fixture(scope="session")
def demo_shop():
    return demo.generate(seed=42, customers=DEMO_CUSTOMERS, now=DEMO_NOW)


@pytest.fixture(scope="session")
def demo_shop_file(tmp_path_factory, demo_shop) -> Path:
    path = tmp_path_factory.mktemp("shop") / "demo_shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    demo.write(engine, demo_shop)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def crm_template(tmp_path_factory) -> Path:
    """An empty, migrated shopcrm database, copied for every test that needs one."""
    tmp = tmp_path_factory.mktemp("crm_template")
    app = create_app(base_config(tmp))
    migrate(app)
    dispose(app)
    checkpoint(tmp / "crm.db")
    return tmp / "crm.db"


@pytest.fixture
def make_app(tmp_path, crm_template, demo_shop_file):
    """Build an app on fresh copies of the migrated crm database and the demo shop."""

    def factory(**overrides):
        shutil.copy(crm_template, tmp_path / "crm.db")
        overrides.setdefault("SHOPCRM_SHOP_DATABASE_URI", f"sqlite:///{demo_shop_file}")
        return create_app(base_config(tmp_path, **overrides))

    apps = []

    def tracked(**overrides):
        app = factory(**overrides)
        apps.append(app)
        return app

    yield tracked
    for app in apps:
        dispose(app)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture(scope="session")
def segmented_template(tmp_path_factory, crm_template, demo_shop_file) -> Path:
    """A crm database holding one successful segmentation of the demo shop."""
    from shopcrm.segmentation.run import run_segmentation

    tmp = tmp_path_factory.mktemp("segmented")
    shutil.copy(crm_template, tmp / "crm.db")
    app = create_app(base_config(tmp, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{demo_shop_file}"))
    with app.app_context():
        run_segmentation(as_of=DEMO_NOW)
    dispose(app)
    checkpoint(tmp / "crm.db")
    return tmp / "crm.db"


@pytest.fixture
def segmented_app(tmp_path, segmented_template, demo_shop_file):
    shutil.copy(segmented_template, tmp_path / "crm.db")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{demo_shop_file}"))
    yield app
    dispose(app)


@pytest.fixture
def client(app):
    return app.test_client()


# --- logging in -------------------------------------------------------------------------------------

def _mariadb_candidates():
    configured = os.environ.get("SHOPCRM_TEST_MARIADB_URL")
    if configured:
        return [configured]
    return ["mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4",
            "mysql+pymysql://root@localhost/?unix_socket=/run/mysqld/mysqld.sock&charset=utf8mb4"]


@pytest.fixture(scope="session")
def mariadb_server_url():
    """A URL (no database) with rights to create databases and users, or skip/fail."""
    errors = []
    for url in _mariadb_candidates():
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return url
        except Exception as exc:  # noqa: BLE001 - every failure means "not this one"
            errors.append(f"{url.split('@')[-1]}: {exc.__class__.__name__}")
        finally:
            engine.dispose()
    need_service("MariaDB", "; ".join(errors))


@pytest.fixture
def mariadb_database(mariadb_server_url):
    """Factory: a fresh database on the MariaDB server, dropped after the test."""
    created = []
    admin = sa.create_engine(mariadb_server_url)

    def factory(prefix: str = "crmtest") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        created.append(name)
        return database_url(mariadb_server_url, name)

    yield factory
    with admin.begin() as conn:
        for name in created:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


# --- SMTP ---------------------------------------------------------------------------------------------

@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Settings of the shell running the tests must not leak into them."""
    for name in list(os.environ):
        if name.startswith("SHOPCRM_") and not name.startswith(("SHOPCRM_TEST_", "SHOPCRM_REQUIRE_")):
            monkeypatch.delenv(name)


# --- a shop the test may change, and an outbox app reading it -------------------------------------

@pytest.fixture
def shop_file(tmp_path, demo_shop_file):
    return writable_shop(tmp_path, demo_shop_file)


@pytest.fixture
def outbox_app(tmp_path, crm_template, shop_file):
    """An empty migrated crm database (SQLite) reading a writable shop copy."""
    shutil.copy(crm_template, tmp_path / "crm.db")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop_file}"))
    yield app
    dispose(app)


# --- SMS ---------------------------------------------------------------------------------------------

@pytest.fixture
def fake():
    """The loopback fake of Twilio's Messages API (tests.fakes.twilio_api), stopped after the test."""
    from tests.fakes.twilio_api import FakeTwilio

    with FakeTwilio() as server:
        yield server
