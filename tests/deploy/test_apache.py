"""The deployment, for real: one Apache serves a PHP shop at / and shopcrm at /crm.

Nothing is simulated. A copy of the project is deployed the way docs/DEPLOY.md describes
(a virtualenv from Debian's python3, the settings file in instance/, the shipped Apache
configuration included unchanged, the shipped cron file's lines run as www-data), next to the
demo PHP shop reading MariaDB through mysqli with a SELECT-only user. Apache runs from a
standalone configuration on a free loopback port (never the system's), and is stopped through
its own PID file; databases, users and folders are removed afterwards.
"""
from __future__ import annotations

import html
import re
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from markupsafe import escape

from tests.support.apps import database_url, need_service
from tests.support.deploy import (
    APACHE_BIN,
    APACHE_MODULES,
    SYSTEM_PYTHON,
    Apache,
    Browser,
    Deployment,
    alive,
    deploy_venv,
    flask_cli,
    make_deployment,
    missing_prerequisites,
    php_string,
    process_uid,
    processes,
    read_cron_file,
    run_as,
    run_cron_job,
    user_env,
    user_ids,
    wait_for_port,
    write_private,
)
from tests.support.smtp import free_port

pytestmark = pytest.mark.slow

SHOP_CUSTOMERS = 300
ADMIN_EMAIL = "owner@shop.test"
ADMIN_PASSWORD = "correct-horse-battery-staple"
#: The documented defaults that a deployment under another folder replaces.
DOC_ROOT, DOC_VENV, DOC_LOGS = "/srv/shopcrm/app", "/srv/shopcrm/venv", "/var/log/shopcrm"
FLASK_HEADER = "Content-Security-Policy"  # shopcrm's after_request adds it to every response it makes


# --- the deployment, shared by the tests of this module ------------------------------------------------

@dataclass
class Site:
    deployment: Deployment
    crm_location: str
    shop_database: str
    crm_database: str
    product: dict
    customer_id: int
    venv_seconds: float
    venv_built: bool


@pytest.fixture(scope="module")
def prerequisites():
    missing = missing_prerequisites()
    if missing:
        need_service("Apache with mod_wsgi and PHP", "missing " + "; ".join(missing))


@pytest.fixture(scope="module")
def site(prerequisites, mariadb_server_url):
    """Two fresh databases (the shop, shopcrm's own), a SELECT-only user for the shop and an
    owner for shopcrm's schema, a deployment copy configured for them, migrated, with an admin."""
    venv = deploy_venv()
    admin = sa.create_engine(mariadb_server_url)
    url = sa.engine.make_url(mariadb_server_url)
    with admin.connect() as conn:
        socket_path = conn.exec_driver_sql("SELECT @@socket").scalar()
    # As docs/DEPLOY.md: on the same machine, through the socket, as user@'localhost' (TCP to
    # 127.0.0.1 would be user@'127.0.0.1' on a server with skip-name-resolve).
    local = url.host in (None, "localhost", "127.0.0.1", "::1") and socket_path and Path(socket_path).exists()
    host_part = "localhost" if local else "%"
    tag = uuid.uuid4().hex[:10]
    shop_db, crm_db = f"deployshop_{tag}", f"deploycrm_{tag}"
    reader, owner = f"shoprd_{tag}", f"crmapp_{tag}"
    reader_pw, owner_pw = uuid.uuid4().hex, uuid.uuid4().hex
    deployment = None
    try:
        with admin.begin() as conn:
            for name in (shop_db, crm_db):
                conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            conn.exec_driver_sql(f"CREATE USER '{reader}'@'{host_part}' IDENTIFIED BY '{reader_pw}'")
            conn.exec_driver_sql(f"GRANT SELECT ON `{shop_db}`.* TO '{reader}'@'{host_part}'")
            conn.exec_driver_sql(f"CREATE USER '{owner}'@'{host_part}' IDENTIFIED BY '{owner_pw}'")
            conn.exec_driver_sql(f"GRANT ALL ON `{crm_db}`.* TO '{owner}'@'{host_part}'")

        deployment = make_deployment(venv.path)
        if local:
            server, query = "localhost", f"?unix_socket={socket_path}&charset=utf8mb4"
        else:
            server, query = f"{url.host}:{url.port or 3306}", "?charset=utf8mb4"
        shop_url = f"mysql+pymysql://{reader}:{reader_pw}@{server}/{shop_db}{query}"
        crm_url = f"mysql+pymysql://{owner}:{owner_pw}@{server}/{crm_db}{query}"
        # The shipped example with its values replaced, as docs/DEPLOY.md step 5 has the admin do.
        example = (deployment.app / "deploy" / "shopcrm.cfg.example").read_text()
        beacon_secret = uuid.uuid4().hex + uuid.uuid4().hex
        write_private(deployment.instance / "shopcrm.cfg", example + (
            "\n# --- this deployment ---\n"
            f"SECRET_KEY = {uuid.uuid4().hex + uuid.uuid4().hex!r}\n"
            f"SHOPCRM_BEACON_SECRET = {beacon_secret!r}\n"
            f"SQLALCHEMY_DATABASE_URI = {crm_url!r}\n"
            f"SHOPCRM_SHOP_DATABASE_URI = {shop_url!r}\n"
            "MAIL_SERVER = None\n"))
        write_private(deployment.shop / "config.php", "<?php\nreturn [\n" + "".join(
            f"    {php_string(k)} => {php_string(v)},\n" for k, v in {
                "host": "localhost" if local else url.host, "port": url.port or 3306,
                "socket": socket_path if local else None, "user": reader, "password": reader_pw,
                "database": shop_db, "shop_name": "Deploy Test Shop"}.items()) + "];\n")
        # The beacon's configuration, as docs/DEPLOY.md has the admin write it: the shared secret
        # and shopcrm's address (the same Apache, so a path is enough).
        write_private(deployment.shop / "shopcrm_beacon_config.php",
                      f"<?php\ndefine('SHOPCRM_BEACON_SECRET', {php_string(beacon_secret)});\n"
                      "define('SHOPCRM_BEACON_URL', '/crm/beacon');\n")

        # The shop's data comes from the demo generator (the shop's own account writes it).
        flask_cli(deployment, "demo-shop", "--customers", str(SHOP_CUSTOMERS),
                  "--url", database_url(mariadb_server_url, shop_db))
        flask_cli(deployment, "migrate")
        flask_cli(deployment, "create-user", "--email", ADMIN_EMAIL, "--role", "admin", "--password", ADMIN_PASSWORD)
        with admin.connect() as conn:
            product = dict(conn.execute(sa.text(
                f"SELECT product_id, name, price FROM `{shop_db}`.products WHERE active = 1 "
                "AND name NOT LIKE :lt AND name NOT LIKE :amp ORDER BY product_id LIMIT 1"),
                {"lt": "%<%", "amp": "%&%"}).mappings().one())
            customer_id = conn.exec_driver_sql(f"SELECT MIN(customer_id) FROM `{shop_db}`.customers").scalar()
        yield Site(deployment, f"{server}/{crm_db}{query}", shop_db, crm_db, product, customer_id, venv.seconds,
                   venv.built)
    finally:
        with admin.begin() as conn:
            for name in (shop_db, crm_db):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            for user in (reader, owner):
                conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'{host_part}'")
        with admin.connect() as conn:
            left = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM mysql.user WHERE User IN (%s, %s)", (reader, owner)).scalar()
            left += conn.exec_driver_sql(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN (%s, %s)",
                (shop_db, crm_db)).scalar()
        admin.dispose()
        if deployment is not None:
            shutil.rmtree(deployment.base)
            assert not deployment.base.exists()
        assert left == 0, "databases or users of the deployment test were left in MariaDB"


# --- Apache -----------------------------------------------------------------------------------------

def start_apache(workdir: Path, shop: Path, shopcrm_config, extra_modules=()) -> Apache:
    """Start a standalone Apache on a free port; ``shopcrm_config(run_dir)`` is the text after
    the shop's site. A port taken between choosing and binding it gets one more try."""
    for attempt in range(3):
        apache = Apache(workdir / f"try{attempt}", free_port(), shop, shopcrm_config(workdir / f"try{attempt}" / "run"),
                        extra_modules)
        try:
            apache.start()
            return apache
        except AssertionError as exc:
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def tell(capsys, *lines: str) -> None:
    """Lines for the test log even when the test passes (what CI shows of the deployment)."""
    with capsys.disabled():
        print()
        for line in lines:
            print(f"[deploy] {line}")


def handler_of(apache: Apache, path: str, timeout: float = 10) -> str:
    """The handler Apache logged for the last GET of ``path`` (the line is written just after
    the response, so it may take a moment to appear)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in apache.access_log.read_text().splitlines() if f'"GET {path} ' in line]
        if lines:
            return lines[-1].rsplit("handler=", 1)[1]
        assert time.monotonic() < deadline, f"no access log line for {path}"
        time.sleep(0.05)


def served_lines(apache: Apache) -> list[str]:
    """The access log's first line for each kind of page: the shop, shopcrm's pages, static."""
    seen, lines = set(), []
    for line in apache.access_log.read_text().splitlines():
        request = re.search(r'"(GET|POST) (/[^ ?]*)[^"]*" (\d+)', line)
        key = request and request.group(1, 2, 3)
        if key and key not in seen:
            seen.add(key)
            lines.append(line.split("] ", 1)[-1])
    return lines


def php_escape(text: str) -> str:
    """What PHP's htmlspecialchars(ENT_QUOTES) makes of ``text``."""
    return html.escape(text, quote=True).replace("&#x27;", "&#039;")


def check_php_shop(browser: Browser, apache: Apache, site: Site) -> None:
    front = browser.get("/")
    assert front.status == 200, f"PHP front page: {front.status}\n{front.body[:2000]}{apache.logs()}"
    assert "Served by PHP" in front.body and "apache2handler" in front.body, front.body[:2000]
    assert php_escape(site.product["name"]) in front.body, "the front page does not list the shop's products"
    # The demo data has HTML in a product name: the shop page must show it, escaped.
    assert "&lt;script&gt;alert(&#039;xss&#039;)&lt;/script&gt; Trail shoe" in front.body
    assert "<script>" not in front.body
    assert handler_of(apache, "/") == "application/x-httpd-php"

    product = browser.get(f"/product.php?id={site.product['product_id']}&customer={site.customer_id}")
    assert product.status == 200, f"product page: {product.status}\n{product.body[:2000]}{apache.logs()}"
    assert f"<h1>{php_escape(site.product['name'])}</h1>" in product.body
    assert f"{float(site.product['price']):,.2f} €" in product.body
    assert f"Signed in as customer #{site.customer_id}" in product.body
    assert browser.get("/product.php?id=999999999").status == 404


def check_view_beacon(browser: Browser, apache: Apache, site: Site, server_url: str) -> None:
    """Viewing a product page through Apache records the view in shopcrm: the page carries the
    signed beacon image; fetching it (what the shopper's browser does) stores one crm_view row."""
    engine = sa.create_engine(database_url(server_url, site.crm_database))
    count = sa.text("SELECT COUNT(*) FROM crm_view WHERE customer_id = :c AND product_id = :p")
    ids = {"c": site.customer_id, "p": site.product["product_id"]}
    try:
        with engine.connect() as conn:
            before = conn.execute(count, ids).scalar()
        page = browser.get(f"/product.php?id={site.product['product_id']}&customer={site.customer_id}")
        tag = re.search(r'<img[^>]+src="(/crm/beacon\?[^"]+)"', page.body)
        assert tag, f"the product page has no beacon tag:\n{page.body[:2000]}{apache.logs()}"
        beacon = html.unescape(tag.group(1))
        answer = browser.get(beacon)
        assert answer.status == 204, f"beacon: {answer.status} {answer.body[:300]}{apache.logs()}"
        assert browser.get(beacon).status == 409  # the same signed request again is a replay
        signature = beacon.rsplit("&s=", 1)[1]
        forged = beacon[: -len(signature)] + ("1" if signature[0] != "1" else "2") + signature[1:]
        assert browser.get(forged).status == 403  # a forged signature
        with engine.connect() as conn:
            assert conn.execute(count, ids).scalar() == before + 1
        guest = browser.get(f"/product.php?id={site.product['product_id']}")
        assert "/crm/beacon" not in guest.body  # guests are not tracked
    finally:
        engine.dispose()


def log_in(browser: Browser, apache: Apache) -> str:
    """Log in through the form (CSRF token scraped from the page) and return the dashboard HTML."""
    root = browser.get("/crm/")
    assert root.status == 302 and root.header("Location").endswith("/crm/admin/"), (root.status, root.headers)
    login = browser.wait_for("/crm/admin/login")
    assert login.header(FLASK_HEADER), "the login page did not come from shopcrm"
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.body)
    assert token, f"no CSRF token on the login page:\n{login.body[:2000]}"
    check_prefixed_links(login.body)
    refused = browser.post("/crm/admin/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert refused.status == 400, f"a login without its CSRF token was not refused ({refused.status})"
    done = browser.post("/crm/admin/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                             "csrf_token": token.group(1)})
    assert done.status == 302, f"login failed: {done.status}\n{done.body[:2000]}{apache.logs()}"
    assert done.header("Location").endswith("/crm/admin/"), done.header("Location")
    dashboard = browser.get("/crm/admin/")
    assert dashboard.status == 200, f"dashboard: {dashboard.status}\n{dashboard.body[:2000]}{apache.logs()}"
    assert ADMIN_EMAIL in dashboard.body
    return dashboard.body


def check_prefixed_links(page: str) -> list[str]:
    """Every site-relative link, form and asset of a shopcrm page lives under /crm/."""
    links = re.findall(r'(?:href|action|src)="(/[^"]*)"', page)
    assert links, "the page has no links"
    unprefixed = [link for link in links if not link.startswith("/crm/")]
    assert not unprefixed, f"links without the /crm prefix: {unprefixed}"
    assert 'href="/crm/static/crm.css"' in page
    return links


def check_static_from_apache(browser: Browser, apache: Apache, site: Site, app_handler: str) -> None:
    css = browser.get("/crm/static/crm.css")
    assert css.status == 200, f"static CSS: {css.status}{apache.logs()}"
    assert css.body == (site.deployment.app / "static" / "crm.css").read_text()
    assert css.header("Content-Type").startswith("text/css")
    assert css.header(FLASK_HEADER) is None, "the CSS went through shopcrm instead of Apache"
    assert handler_of(apache, "/crm/static/crm.css") == "-", "the CSS was not served from disk by Apache"
    assert handler_of(apache, "/crm/admin/") == app_handler


# --- the tests ---------------------------------------------------------------------------------------

def test_mod_wsgi_daemon_and_php_shop_share_one_apache(site, mariadb_server_url, capsys):
    """LAMP: deploy/apache/shopcrm.conf included as shipped; shopcrm in mod_wsgi daemon mode as
    www-data, the PHP shop at /, the nightly segmentation from the shipped cron line."""
    d = site.deployment

    def shopcrm_config(run_dir: Path) -> str:
        return (f"LoadModule wsgi_module {APACHE_MODULES}/mod_wsgi.so\n"
                f"WSGISocketPrefix {run_dir}/wsgi\n"
                f"Define SHOPCRM_ROOT {d.app}\nDefine SHOPCRM_VENV {d.venv}\n"
                f"Include {d.app}/deploy/apache/shopcrm.conf\n")

    started = time.monotonic()
    apache = start_apache(d.base / "apache-wsgi", d.shop, shopcrm_config)
    family = []
    try:
        browser = Browser(apache.url)
        check_php_shop(browser, apache, site)
        check_view_beacon(browser, apache, site, mariadb_server_url)
        dashboard = log_in(browser, apache)
        check_prefixed_links(dashboard)
        check_static_from_apache(browser, apache, site, app_handler="wsgi-script")

        # Daemon mode: shopcrm runs in mod_wsgi's own processes, as www-data, under this Apache.
        daemons = [pid for pid, ppid, cmd in processes() if ppid == apache.pid and cmd.startswith("(wsgi:shopcrm)")]
        assert len(daemons) == 2, f"expected the two shopcrm daemon processes, found {daemons}{apache.logs()}"
        assert {process_uid(pid) for pid in daemons} == {user_ids()[0]}
        venv_python = subprocess.run([str(d.venv / "bin" / "python"), "-c",
                                      "import sys; print('%d.%d' % sys.version_info[:2])"],
                                     capture_output=True, text=True, check=True, timeout=30).stdout.strip()
        configured = re.search(r"mod_wsgi/(\S+) Python/(\S+) configured", apache.error_log.read_text())
        assert configured and configured.group(2) == venv_python, \
            f"mod_wsgi's Python is not the virtualenv's {venv_python}{apache.logs()}"

        # The segmentation, as cron runs it, against the same MariaDB; then its result is on the panel.
        cron = read_cron_file(d.app / "deploy" / "cron" / "shopcrm")
        overrides = {"SHOPCRM_ROOT": str(d.app), "SHOPCRM_VENV": str(d.venv), "SHOPCRM_LOG_DIR": str(d.logs)}
        segment = run_cron_job(cron, cron.job("segment"), overrides)
        log = (d.logs / "segment.log").read_text()
        assert segment.returncode == 0, f"{segment.stdout}{segment.stderr}\n{log}"
        succeeded = re.search(r"segment\[\d+\]: (run #\d+ succeeded: \d+ customers[^;]*)", log)
        assert succeeded, log
        dashboard = browser.get("/crm/admin/")
        links = check_prefixed_links(dashboard.body)
        segment_links = [link for link in links if re.fullmatch(r"/crm/admin/segments/\d+", link)]
        assert segment_links, f"the dashboard shows no segments after the run:\n{dashboard.body[:3000]}"
        page = browser.get(segment_links[0])
        assert page.status == 200 and "Customer details are unavailable" not in page.body, \
            f"segment page: {page.status}\n{page.body[:3000]}{apache.logs()}"
        check_prefixed_links(page.body)
        # The member list shows the shop's own customer rows, read through the SELECT-only user.
        member = re.search(r"#(\d+)(?:</a>)? [^<]*</td>\s*<td>([^<]*)</td>", page.body)
        assert member, page.body[:3000]
        engine = sa.create_engine(database_url(mariadb_server_url, site.shop_database))
        try:
            with engine.connect() as conn:
                email = conn.execute(sa.text("SELECT email FROM customers WHERE customer_id = :id"),
                                     {"id": int(member.group(1))}).scalar()
        finally:
            engine.dispose()
        assert member.group(2) == str(escape(email or "—"))
        family = apache.children() + [apache.pid]
        tell(capsys,
             f"virtualenv: {'built' if site.venv_built else 'reused'} in {site.venv_seconds:.1f} s ({d.venv})",
             f"Apache on {apache.url}: " + configured.group(0),
             *served_lines(apache),
             f"shopcrm daemons (wsgi:shopcrm) as uid {user_ids()[0]}: pids {daemons}",
             f"segment via the cron line: {succeeded.group(1)}",
             f"served and checked in {time.monotonic() - started:.1f} s")
    finally:
        stopped = apache.stop()
    assert not [pid for pid in stopped + family if alive(pid)], "Apache processes survived the stop"
    assert not (apache.run_dir / "httpd.pid").exists(), f"Apache did not remove its PID file{apache.logs()}"


def test_gunicorn_behind_apache_proxypass(site, capsys):
    """The alternative: deploy/apache/shopcrm-gunicorn.conf as shipped, gunicorn started with the
    command line of deploy/systemd/shopcrm-gunicorn.service, as its user, in its folder."""
    d = site.deployment
    unit = dict(line.split("=", 1) for line in (d.app / "deploy" / "systemd" / "shopcrm-gunicorn.service")
                .read_text().splitlines() if re.match(r"^(ExecStart|User|WorkingDirectory)=", line))
    port = free_port()
    argv = [arg.replace(DOC_VENV, str(d.venv)).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            for arg in shlex.split(unit["ExecStart"])]
    cwd = Path(unit["WorkingDirectory"].replace(DOC_ROOT, str(d.app)))
    uid, gid = user_ids(unit["User"])
    log_path = d.base / "gunicorn.log"
    with open(log_path, "w") as log:
        gunicorn = subprocess.Popen(argv, cwd=cwd, env=user_env(unit["User"]), user=uid, group=gid, extra_groups=[],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    apache, workers = None, []
    try:
        wait_for_port(port, 90, "gunicorn", gunicorn)

        def shopcrm_config(run_dir: Path) -> str:
            return (f"Define SHOPCRM_ROOT {d.app}\nDefine SHOPCRM_UPSTREAM 127.0.0.1:{port}\n"
                    f"Include {d.app}/deploy/apache/shopcrm-gunicorn.conf\n")

        apache = start_apache(d.base / "apache-proxy", d.shop, shopcrm_config,
                              extra_modules=[("proxy", "mod_proxy.so"), ("proxy_http", "mod_proxy_http.so"),
                                             ("headers", "mod_headers.so")])
        browser = Browser(apache.url)
        check_php_shop(browser, apache, site)
        dashboard = log_in(browser, apache)
        check_prefixed_links(dashboard)
        check_static_from_apache(browser, apache, site, app_handler="proxy-server")
        workers = [pid for pid, ppid, _ in processes() if ppid == gunicorn.pid]
        assert workers and {process_uid(pid) for pid in [gunicorn.pid, *workers]} == {uid}
        served = log_path.read_text()
        assert '"GET /crm/admin/ HTTP/1.1" 200' in served, f"gunicorn did not serve the dashboard:\n{served}"
        assert "/crm/static/" not in served, "gunicorn served a static file Apache should have served"
        tell(capsys, f"gunicorn on 127.0.0.1:{port} (uid {uid}) behind Apache on {apache.url}",
             *served_lines(apache))
    finally:
        stopped = apache.stop() if apache else []
        gunicorn.send_signal(signal.SIGTERM)
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            gunicorn.wait(timeout=10)
    assert not [pid for pid in stopped if alive(pid)], "Apache processes survived the stop"
    assert not [pid for pid in [gunicorn.pid, *workers] if alive(pid)], "gunicorn processes survived"


def test_cron_file_jobs_locks_and_log_rotation(site):
    """The shipped cron file as cron reads it: schedules, the send job run as its user writing
    its own log, a second run skipped while one holds the lock, and logrotate's rotation."""
    d = site.deployment
    cron = read_cron_file(d.app / "deploy" / "cron" / "shopcrm")
    assert cron.job("send").schedule.split() == ["*"] * 5
    assert cron.job("triggers").schedule.split() == ["*/5", "*", "*", "*", "*"]
    assert cron.job("run-queued").schedule.split() == ["*/5", "*", "*", "*", "*"]
    nightly = cron.job("segment").schedule.split()
    assert nightly[0].isdigit() and nightly[1].isdigit() and nightly[2:] == ["*"] * 3
    assert {job.user for job in cron.jobs} == {"www-data"}
    assert (cron.env["SHOPCRM_ROOT"], cron.env["SHOPCRM_VENV"], cron.env["SHOPCRM_LOG_DIR"]) == \
        (DOC_ROOT, DOC_VENV, DOC_LOGS)

    overrides = {"SHOPCRM_ROOT": str(d.app), "SHOPCRM_VENV": str(d.venv), "SHOPCRM_LOG_DIR": str(d.logs)}
    send = run_cron_job(cron, cron.job("send"), overrides)
    log = (d.logs / "send.log").read_text()
    assert send.returncode == 0, f"{send.stdout}{send.stderr}\n{log}"
    assert re.search(r"^\S+ send\[\d+\]: sent 0, retrying 0, failed 0", log, re.M), log
    assert re.search(r"send\[\d+\]: finished: exit 0 after \d+s$", log, re.M), log
    assert send.stdout == send.stderr == "", "cron would mail this output instead of it reaching the log"
    # The triggers and "Run now" lines run too (nothing enabled, nothing queued: they say so and stop).
    for word, says in (("triggers", "trigger is enabled"), ("run-queued", "nothing queued")):
        job = run_cron_job(cron, cron.job(word), overrides)
        log = (d.logs / f"{word}.log").read_text()
        assert job.returncode == 0 and says in log, f"{job.stdout}{job.stderr}\n{log}"

    # While one run holds the job's lock, the next cron tick leaves at once without starting Python.
    lock = d.logs / ".send.lock"
    holder = subprocess.Popen(["flock", str(lock), "sleep", "60"])
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["flock", "--nonblock", str(lock), "true"], timeout=10).returncode == 0:
            assert time.monotonic() < deadline and holder.poll() is None, "the stand-in run did not take the lock"
            time.sleep(0.05)
        skipped = run_cron_job(cron, cron.job("send"), overrides)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    log = (d.logs / "send.log").read_text()
    assert skipped.returncode == 0 and "skipped: the previous 'send' run is still going" in log, log
    assert log.count("started:") == 1, "the second run started flask although the first held the lock"

    # A job whose log folder is not writable says so where cron mails it.
    broken = run_cron_job(cron, cron.job("send"), {**overrides, "SHOPCRM_LOG_DIR": str(d.base / "nowhere")})
    assert broken.returncode == 1 and "cannot write" in broken.stderr

    # logrotate with the shipped rules (pointed at this log folder) rotates as the jobs' user.
    rules = (d.app / "deploy" / "cron" / "shopcrm.logrotate").read_text().replace(DOC_LOGS, str(d.logs))
    (d.base / "logrotate.conf").write_text(rules)
    rotated = subprocess.run(["logrotate", "--force", "--state", str(d.base / "logrotate.state"),
                              str(d.base / "logrotate.conf")], capture_output=True, text=True, timeout=60)
    assert rotated.returncode == 0, rotated.stderr
    assert (d.logs / "send.log.1").read_text() == log
    fresh = d.logs / "send.log"
    assert fresh.exists() and fresh.stat().st_size == 0 and fresh.stat().st_uid == user_ids()[0]


def apache_dump(conf: Path, *args: str, env: dict | None = None) -> str:
    """``apache2 -t`` with a dump of what it parsed (``-D DUMP_CONFIG`` needs mod_info)."""
    result = subprocess.run([APACHE_BIN, "-t", *args, "-f", str(conf)], capture_output=True, text=True, timeout=60,
                            env=env or {"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"})
    assert result.returncode == 0, f"apache2 -t {' '.join(args)} -f {conf}:\n{result.stderr}"
    return result.stdout


def test_shipped_configurations_parse_where_they_go(site):
    """What can be checked without those systems: the LAMP file enabled with ``a2enconf`` in a
    copy of Debian's own /etc/apache2 and the XAMPP for Linux file parse, with the values the
    guide gives; the Windows .wsgi wrapper finds the virtualenv by itself and loads the app with
    a Python that has none of its packages."""
    d = site.deployment
    # LAMP, exactly as docs/DEPLOY.md 1.7, in a copy of the system's configuration.
    confdir = d.base / "etc-apache2"
    shutil.copytree("/etc/apache2", confdir, symlinks=True)
    (confdir / "conf-available" / "shopcrm.conf").write_text(
        f"Define SHOPCRM_ROOT {d.app}\nDefine SHOPCRM_VENV {d.venv}\nInclude {d.app}/deploy/apache/shopcrm.conf\n")
    debian_env = {"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C", "APACHE_CONFDIR": str(confdir)}
    for argv in (["a2enmod", "-q", "wsgi", "info"], ["a2enconf", "-q", "shopcrm"]):
        enabled = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=debian_env)
        assert enabled.returncode == 0, enabled.stderr
    envvars = subprocess.run(["sh", "-c", ". /etc/apache2/envvars && env"], capture_output=True, text=True,
                             timeout=30, env=debian_env, check=True).stdout
    debian_env.update(line.split("=", 1) for line in envvars.splitlines() if line.startswith("APACHE_"))
    dumped = apache_dump(confdir / "apache2.conf", "-d", str(confdir), "-D", "DUMP_CONFIG", env=debian_env)
    assert f"WSGIScriptAlias /crm {d.app}/wsgi.py process-group=shopcrm" in dumped, dumped[-3000:]
    assert re.search(rf"WSGIDaemonProcess shopcrm\s+user=www-data group=www-data .*python-home={d.venv}", dumped)

    # XAMPP for Linux: its file loads the module it is given and runs shopcrm as daemon.
    workdir = d.base / "lampp-check"
    (workdir / "run").mkdir(parents=True)
    conf = workdir / "httpd.conf"
    conf.write_text(
        f'ServerRoot "/etc/apache2"\nDefaultRuntimeDir {workdir}/run\nPidFile {workdir}/run/httpd.pid\n'
        f"ErrorLog {workdir}/error.log\nListen 127.0.0.1:{free_port()}\nServerName 127.0.0.1\n"
        f"User daemon\nGroup daemon\n"
        + "".join(f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so\n"
                  for name in ("mpm_prefork", "authz_core", "alias", "info"))
        + f"Define SHOPCRM_ROOT {d.app}\nDefine SHOPCRM_VENV {d.venv}\n"
        f"Define SHOPCRM_WSGI_MODULE {APACHE_MODULES}/mod_wsgi.so\n"
        f"Include {d.app}/deploy/apache/shopcrm-lampp.conf\n")
    assert "wsgi_module (shared)" in apache_dump(conf, "-D", "DUMP_MODULES")
    dumped = apache_dump(conf, "-D", "DUMP_CONFIG")
    assert re.search(rf"WSGIDaemonProcess shopcrm\s+user=daemon group=daemon .*python-home={d.venv}", dumped), dumped

    # XAMPP for Windows: the wrapper, run by a Python that sees none of shopcrm's packages
    # (-S: not even the system's site-packages), loads the app with its settings.
    wrapper = d.app / "deploy" / "apache" / "shopcrm-windows.wsgi"
    bare = run_as([SYSTEM_PYTHON, "-S", "-c", "import flask"], cwd=Path("/"), timeout=60)
    assert bare.returncode != 0, "this Python finds flask without the wrapper: the check below would prove nothing"
    probe = ("import runpy, sys; app = runpy.run_path(sys.argv[1])['application']; uri = app.config"
             "['SQLALCHEMY_DATABASE_URI']; print(type(app).__name__, app.config['SHOPCRM_ENV'], uri.split('@')[-1])")
    result = run_as([SYSTEM_PYTHON, "-S", "-c", probe, str(wrapper)], cwd=Path("/"),
                    env=user_env(SHOPCRM_VENV=str(d.venv)), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["Flask", "production", site.crm_location], result.stdout
