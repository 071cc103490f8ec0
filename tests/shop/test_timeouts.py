"""A database server that accepts TCP and never answers, or stops answering mid-query: shopcrm
gives a clear error within the configured time instead of hanging, pages get the page-level
read timeout and commands the job-level one, and pages that need no shop still answer."""
import threading
import time
from contextlib import nullcontext

import pytest
import sqlalchemy as sa

from shopcrm.errors import ShopUnavailable
from shopcrm.extensions import db
from shopcrm.shop import connect_shop
from tests.support.apps import create_user, login
from tests.support.faults import Proxy, SilentServer


def bounded(work, seconds: float):
    """Run ``work`` in a thread; (result or exception, elapsed). A hang fails the test instead of hanging it."""
    box = {}

    def target():
        started = time.monotonic()
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["value"] = exc
        box["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return box["value"], box["elapsed"]


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


def test_a_silent_shop_database_is_a_clear_error_within_the_connect_timeout(make_app, silent):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"mysql+pymysql://reader@127.0.0.1:{silent.port}/shop",
                   SHOPCRM_DB_CONNECT_TIMEOUT=1)

    def connect():
        with app.app_context():
            return connect_shop()

    error, elapsed = bounded(connect, 10)
    assert isinstance(error, ShopUnavailable), error
    assert elapsed < 3
    assert "did not answer within 1 s. Check that its server runs" in str(error)
    assert "(SHOPCRM_DB_CONNECT_TIMEOUT;" in str(error)
    assert f"127.0.0.1:{silent.port}" in str(error)


@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_pages_get_the_page_timeout_and_commands_the_job_timeout(make_app, mariadb_server_url):
    """Measured on a live connection to MariaDB through a proxy that then goes silent."""
    url = sa.engine.make_url(mariadb_server_url)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 3306))
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"mysql+pymysql://{url.username}@127.0.0.1:{proxy.port}/?charset=utf8mb4",
                   SHOPCRM_DB_READ_TIMEOUT=1, SHOPCRM_DB_JOB_READ_TIMEOUT=2.5)
    try:
        for page, limit, setting in ((True, 1, "SHOPCRM_DB_READ_TIMEOUT"), (False, 2.5, "SHOPCRM_DB_JOB_READ_TIMEOUT")):
            proxy.resume()

            def query():
                with app.app_context():
                    context = app.test_request_context("/crm/admin/customers") if page else nullcontext()
                    with context, connect_shop() as conn:
                        assert conn.connection.dbapi_connection._read_timeout == limit, conn.connection.dbapi_connection._read_timeout
                        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
                        proxy.silence()  # the server stops answering in the middle of the work
                        return conn.execute(sa.text("SELECT 2")).scalar()

            error, elapsed = bounded(query, 15)
            assert isinstance(error, ShopUnavailable), error
            assert limit - 0.2 < elapsed < limit + 1.5, (page, elapsed)
            assert f"did not answer within {limit:g} s." in str(error) and f"({setting};" in str(error)
    finally:
        proxy.close()


def test_shopcrms_own_database_is_bounded_too(make_app, mariadb_server_url):
    silent = SilentServer()
    try:
        url = sa.engine.make_url(mariadb_server_url)
        app = make_app(SQLALCHEMY_DATABASE_URI=f"mysql+pymysql://{url.username}@127.0.0.1:{silent.port}/crm",
                       SHOPCRM_DB_CONNECT_TIMEOUT=1)

        def read():
            with app.app_context():
                return db.session.execute(sa.text("SELECT 1")).scalar()

        error, elapsed = bounded(read, 10)
        assert isinstance(error, sa.exc.OperationalError) and elapsed < 3, (error, elapsed)
    finally:
        silent.close()


@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_a_page_that_needs_the_silent_shop_gives_up_and_the_dashboard_answers_fast(make_app, silent):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"mysql+pymysql://reader@127.0.0.1:{silent.port}/shop",
                   SHOPCRM_DB_CONNECT_TIMEOUT=1)
    email, password = create_user(app)
    client = app.test_client()
    assert login(client, email, password).status_code == 302

    response, elapsed = bounded(lambda: client.get("/crm/admin/customers?q=smith"), 10)
    assert not isinstance(response, BaseException), response
    assert elapsed < 3, elapsed
    page = response.get_data(as_text=True)
    assert "did not answer within 1 s." in page and "(SHOPCRM_DB_CONNECT_TIMEOUT;" in page
    started = time.monotonic()
    dashboard = client.get("/crm/admin/")
    assert dashboard.status_code == 200 and time.monotonic() - started < 1.5

    # The next page does not wait for the same silent server again (a web worker is held once)...
    again, elapsed = bounded(lambda: client.get("/crm/admin/customers?q=jones"), 10)
    assert elapsed < 0.5 and "Next try in" in again.get_data(as_text=True)
    # ... while a command, outside any request, always tries.

    def command():
        with app.app_context():
            return connect_shop()

    error, elapsed = bounded(command, 10)
    assert isinstance(error, ShopUnavailable) and 0.8 < elapsed < 3, (error, elapsed)
