"""Shared fixtures: apps on SQLite and on real MariaDB, a demo shop, an SMTP server.

With ``SHOPCRM_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a test that needs MariaDB fails when
the server is missing instead of being skipped, so CI can never pass without running them.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import threading
import uuid
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.demo import generator as demo

REQUIRE_SERVICES = os.environ.get("SHOPCRM_REQUIRE_SERVICES") == "1"
DEMO_NOW = datetime(2026, 11, 1, 0, 0, 0)
DEMO_CUSTOMERS = 3000
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under SHOPCRM_REQUIRE_SERVICES=1 (CI) a skip is a failure: nothing may silently not run."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but SHOPCRM_REQUIRE_SERVICES=1 forbids skips: {reason}"


def need_service(what: str, why: str):
    """Skip, or fail when services are required (CI)."""
    message = f"{what} is not available: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (SHOPCRM_REQUIRE_SERVICES=1: this must run in CI)")
    pytest.skip(message)


# --- configuration -----------------------------------------------------------------------------------

def base_config(tmp_path: Path, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SHOPCRM_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "crm.db"),
        "SHOPCRM_SHOP_DATABASE_URI": "sqlite:///" + str(tmp_path / "shop.db"),
        "SHOPCRM_PUBLIC_URL": "http://crm.test/crm/",
        "SHOPCRM_SHOP_BASE_URL": "https://shop.test/",
        "SHOPCRM_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_SERVER": None,
        "MAIL_DEFAULT_SENDER": "Test Shop <shop@shop.test>",
        "WTF_CSRF_ENABLED": True,
    }
    config.update(overrides)
    return config


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)


def dispose(app) -> None:
    from shopcrm.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def checkpoint(path: Path) -> None:
    """Fold a SQLite WAL into the main file so that copying the file copies everything."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


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

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str) -> str:
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def create_user(app, email="admin@shop.test", password="correct-horse-battery", role="admin"):
    from shopcrm.extensions import db
    from shopcrm.models import User

    with app.app_context():
        user = User(email=email, role=role)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
    return email, password


def login(client, email, password, prefix="/crm"):
    token = csrf_token(client, f"{prefix}/admin/login")
    return client.post(f"{prefix}/admin/login", data={"email": email, "password": password, "csrf_token": token})


# --- MariaDB ------------------------------------------------------------------------------------------

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


def database_url(server_url: str, database: str) -> str:
    base, _, query = server_url.partition("?")
    base = base.rstrip("/")
    return f"{base}/{database}" + (f"?{query}" if query else "")


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

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    """An aiosmtpd handler that keeps every message, and can be told to refuse some."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.reject = {}  # address -> SMTP reply, e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.reject.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message})
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def body_of(message, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Settings of the shell running the tests must not leak into them."""
    for name in list(os.environ):
        if name.startswith("SHOPCRM_") and not name.startswith(("SHOPCRM_TEST_", "SHOPCRM_REQUIRE_")):
            monkeypatch.delenv(name)
