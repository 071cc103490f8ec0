"""Plain helpers the tests share (no fixtures): configurations, migrations, users and logins,
and the rule that a missing real service fails CI instead of skipping."""
from __future__ import annotations

import os
import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("SHOPCRM_REQUIRE_SERVICES") == "1"
DEMO_NOW = datetime(2026, 11, 1, 0, 0, 0)
DEMO_CUSTOMERS = 3000
TEST_SECRET = "test-9c4e1f7a2b8d3605e1a9c7f24b6d8e03a5c1f9e7b2d4068a"  # random-looking: passes the production check
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def need_service(what: str, why: str):
    """Skip, or fail when services are required (CI)."""
    message = f"{what} is not available: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (SHOPCRM_REQUIRE_SERVICES=1: this must run in CI)")
    pytest.skip(message)


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


def database_url(server_url: str, database: str) -> str:
    base, _, query = server_url.partition("?")
    base = base.rstrip("/")
    return f"{base}/{database}" + (f"?{query}" if query else "")


def logged_in(app, role="admin", email=None):
    email, password = create_user(app, email=email or f"{role}@shop.test", role=role)
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    return client


def biggest(app):
    """The largest segment of the current data: (id, size, run id)."""
    import sqlalchemy as sa

    from shopcrm.extensions import db
    from shopcrm.models import Segment

    with app.app_context():
        seg = db.session.scalars(sa.select(Segment).order_by(Segment.size.desc())).first()
        return seg.id, seg.size, seg.run_id
