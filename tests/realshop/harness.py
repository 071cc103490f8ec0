"""A real OpenCart beside a real shopcrm deployment, built the way docs/OPENCART.md says.

For one OpenCart release: the unmodified release tree (``<project>/../shared/vendor/``) is
unpacked into a temporary folder and installed with OpenCart's own CLI installer into a fresh
MariaDB database; shopcrm is deployed beside it (tests/deploy_helpers.py: the cached
virtualenv, a deployment copy, settings in instance/shopcrm.cfg) with a SELECT-only user for
the shop; one standalone Apache serves OpenCart with mod_php at ``/`` and shopcrm in mod_wsgi
daemon mode at ``/crm`` (deploy/apache/shopcrm.conf, included as shipped). The view beacon is
installed by applying the guide's edit to the copy's product page.

Nothing here writes into OpenCart's tables: the installer creates them, and everything after
that is written by OpenCart's own pages (the shoppers, and the shop admin's order pages).
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.support.apps import database_url
from tests.support.deploy import (
    APACHE_MODULES,
    PROJECT_ROOT,
    Apache,
    Browser,
    Deployment,
    run_as,
    user_ids,
    write_private,
)
from tests.support.smtp import free_port

from . import guide

VENDOR = Path(os.environ.get("SHOPCRM_TEST_VENDOR") or PROJECT_ROOT.parent / "shared" / "vendor")
ADMIN_USER, ADMIN_PASSWORD = "admin", "oc-" + uuid.uuid4().hex[:12]  # OpenCart allows 5 to 20 characters
CRM_ADMIN_EMAIL, CRM_ADMIN_PASSWORD = "owner@shop.test", "correct-horse-battery-staple"
PREFIX = "oc_"


@dataclass(frozen=True)
class Release:
    """What differs between the OpenCart releases, for installing and driving them."""

    version: str
    major: int

    @property
    def tarball(self) -> Path:
        return VENDOR / f"opencart-{self.version}.tar.gz"

    @property
    def preset(self) -> str:
        return guide.preset_for(self.version)

    @property
    def product_template(self) -> str:
        return ("catalog/view/template/product/product.twig" if self.major >= 4 else
                "catalog/view/theme/default/template/product/product.twig")

    def route(self, route: str) -> str:
        """OpenCart 4 names a controller method with a dot (``checkout/cart.add``), 3 with a
        slash (``checkout/cart/add``)."""
        return route if self.major >= 4 else route.replace(".", "/")


RELEASES = {r.version: r for r in (Release("4.1.0.4", 4), Release("3.0.5.0", 3))}


def missing_vendor(release: Release) -> str | None:
    if release.tarball.is_file():
        return None
    return (f"{release.tarball} is missing: put the unmodified OpenCart release archives "
            "(opencart-4.1.0.4.tar.gz and opencart-3.0.5.0.tar.gz: the upload/ tree and LICENSE.md of "
            f"OpenCart's tags 4.1.0.4 and 3.0.5.0) into {VENDOR}, or point SHOPCRM_TEST_VENDOR at their folder")


# --- the databases and their users ----------------------------------------------------------------

@dataclass
class Databases:
    """OpenCart's database (and the account OpenCart itself uses), shopcrm's own database, and
    the users of the guide's SQL block."""

    server_url: str
    tag: str
    local: bool
    socket: str | None
    shop: str
    crm: str
    shop_user: str
    shop_password: str
    reader: str
    reader_password: str
    owner: str
    owner_password: str
    users: list[str] = field(default_factory=list)

    @property
    def host_part(self) -> str:
        return "localhost" if self.local else "%"

    def url(self, user: str, password: str, database: str) -> str:
        if self.local:
            return (f"mysql+pymysql://{user}:{password}@localhost/{database}"
                    f"?unix_socket={self.socket}&charset=utf8mb4")
        url = sa.engine.make_url(self.server_url)
        return f"mysql+pymysql://{user}:{password}@{url.host}:{url.port or 3306}/{database}?charset=utf8mb4"

    def root_engine(self, database: str | None = None) -> sa.Engine:
        return sa.create_engine(database_url(self.server_url, database) if database else self.server_url)


def create_databases(server_url: str) -> Databases:
    """The shop's database and OpenCart's own account; then the guide's SQL (the SELECT-only
    reader, shopcrm's database and its owner) with this run's names and passwords."""
    admin = sa.create_engine(server_url)
    try:
        with admin.connect() as conn:
            socket = conn.exec_driver_sql("SELECT @@socket").scalar()
        url = sa.engine.make_url(server_url)
        local = url.host in (None, "localhost", "127.0.0.1", "::1") and bool(socket) and Path(socket).exists()
        tag = uuid.uuid4().hex[:10]
        dbs = Databases(server_url, tag, local, socket, shop=f"rsshop_{tag}", crm=f"rscrm_{tag}",
                        shop_user=f"rsoc_{tag}", shop_password=uuid.uuid4().hex,
                        reader=f"rsread_{tag}", reader_password=uuid.uuid4().hex,
                        owner=f"rsapp_{tag}", owner_password=uuid.uuid4().hex)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{dbs.shop}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            conn.exec_driver_sql(f"CREATE USER '{dbs.shop_user}'@'{dbs.host_part}' IDENTIFIED BY '{dbs.shop_password}'")
            dbs.users.append(dbs.shop_user)
            conn.exec_driver_sql(f"GRANT ALL ON `{dbs.shop}`.* TO '{dbs.shop_user}'@'{dbs.host_part}'")
        run_guide_sql(admin, dbs)
        return dbs
    finally:
        admin.dispose()


def run_guide_sql(admin: sa.Engine, dbs: Databases) -> None:
    """docs/OPENCART.md's SQL block, statement by statement, as root would type it."""
    sql = guide.substituted("sql", {
        "'crm_reader'@'localhost'": f"'{dbs.reader}'@'{dbs.host_part}'",
        "'crm_app'@'localhost'": f"'{dbs.owner}'@'{dbs.host_part}'",
        "a-long-random-password": dbs.reader_password,
        "another-long-random-password": dbs.owner_password,
        "opencart.*": f"`{dbs.shop}`.*",
        "DATABASE shopcrm ": f"DATABASE `{dbs.crm}` ",
        "shopcrm.*": f"`{dbs.crm}`.*",
    })
    statements = [s.strip() for s in re.sub(r"--[^\n]*", "", sql).split(";") if s.strip()]
    with admin.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
            if statement.upper().startswith("CREATE USER"):
                dbs.users.append(re.search(r"'([^']+)'@", statement).group(1))


def drop_databases(dbs: Databases) -> list[str]:
    """Drop everything create_databases made; return what is still there (should be nothing)."""
    admin = sa.create_engine(dbs.server_url)
    try:
        with admin.begin() as conn:
            for name in (dbs.shop, dbs.crm):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            for user in dbs.users:
                conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'{dbs.host_part}'")
        with admin.connect() as conn:
            left = [r[0] for r in conn.exec_driver_sql(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN (%s, %s)",
                (dbs.shop, dbs.crm))]
            left += [r[0] for r in conn.exec_driver_sql(
                "SELECT User FROM mysql.user WHERE User LIKE %s", (f"%\\_{dbs.tag}",))]
        return left
    finally:
        admin.dispose()


# --- OpenCart --------------------------------------------------------------------------------------

@dataclass
class OpenCart:
    release: Release
    root: Path  # the upload/ folder: Apache's DocumentRoot
    url: str  # http://127.0.0.1:PORT/ (HTTP_SERVER in its config.php)
    install_seconds: float

    def config_files(self) -> list[Path]:
        return [self.root / "config.php", self.root / "admin" / "config.php"]


def unpack_and_install(release: Release, workdir: Path, dbs: Databases, port: int) -> OpenCart:
    """tar -xzf, the two config.php copies, ``php install/cli_install.php install …`` (the
    command of the vendor README), then the install folder removed as OpenCart asks."""
    started = time.monotonic()
    subprocess.run(["tar", "-xzf", str(release.tarball), "-C", str(workdir)], check=True, timeout=300)
    root = workdir / f"opencart-{release.version}" / "upload"
    shutil.copy(root / "config-dist.php", root / "config.php")
    shutil.copy(root / "admin" / "config-dist.php", root / "admin" / "config.php")
    url = f"http://127.0.0.1:{port}/"
    if dbs.local:
        host, db_port = "localhost", "3306"  # mysqli's "localhost" is the server's socket
    else:
        server = sa.engine.make_url(dbs.server_url)
        host, db_port = server.host, str(server.port or 3306)
    argv = ["php", "install/cli_install.php", "install", "--username", ADMIN_USER, "--email", "admin@shop.test",
            "--password", ADMIN_PASSWORD, "--http_server", url, "--language", "en-gb", "--db_driver", "mysqli",
            "--db_hostname", host, "--db_username", dbs.shop_user, "--db_password", dbs.shop_password,
            "--db_database", dbs.shop, "--db_port", db_port, "--db_prefix", PREFIX]
    result = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, \
        f"OpenCart {release.version}'s installer failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    shutil.rmtree(root / "install")
    return OpenCart(release, root, url, time.monotonic() - started)


def hand_to_web_server(shop: OpenCart) -> None:
    """The files belong to the web server's user, as on a shared host where OpenCart writes its
    cache, sessions, logs and image thumbnails itself."""
    uid, gid = user_ids()
    for folder in [shop.root.parent.parent, shop.root.parent]:
        os.chmod(folder, 0o755)
    for path in [shop.root, *shop.root.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def move_to_port(shop: OpenCart, port: int) -> None:
    """Point OpenCart's config files at another port (when the chosen one was taken meanwhile)."""
    new = f"http://127.0.0.1:{port}/"
    for path in shop.config_files():
        path.write_text(path.read_text().replace(shop.url, new))
    shop.url = new


# --- the view beacon, as the guide has the shop admin install it -----------------------------------

def install_beacon(shop: OpenCart, deployment: Deployment, secret: str) -> dict[str, str]:
    """Copy the snippet and its configuration where the guide says, and apply the guide's two
    edits (controller and template) to this copy of OpenCart. Returns what was changed."""
    folder = shop.root / "shopcrm"
    folder.mkdir(mode=0o755)
    shutil.copy(deployment.app / "deploy" / "php" / "shopcrm_beacon.php", folder)
    example = (deployment.app / "deploy" / "php" / "shopcrm_beacon_config.example.php").read_text()
    config = example.replace("paste-the-secret-from-shopcrm-here", secret) \
        .replace("https://shop.example.com/", shop.url)
    assert secret in config and f"{shop.url}crm/beacon" in config, "the example beacon configuration changed"
    write_private(folder / "shopcrm_beacon_config.php", config)
    changed = {}
    for target, anchor_block, insert_block in (
            ("catalog/controller/product/product.php", "controller-anchor", "controller"),
            (shop.release.product_template, "template-anchor", "template")):
        path = shop.root / target
        text = path.read_text(encoding="utf-8")
        anchor = guide.block(anchor_block).strip()
        lines = text.split("\n")
        hits = [i for i, line in enumerate(lines) if line.strip() == anchor]
        assert len(hits) == 1, (f"OpenCart {shop.release.version}: the guide's anchor {anchor!r} occurs "
                                f"{len(hits)} times in {target}")
        indent = re.match(r"\s*", lines[hits[0]]).group(0)
        inserted = [indent + line if line else line for line in guide.block(insert_block).split("\n")]
        lines[hits[0]:hits[0]] = inserted
        path.write_text("\n".join(lines), encoding="utf-8")
        changed[target] = "\n".join(inserted)
    lint = subprocess.run(["php", "-l", str(shop.root / "catalog/controller/product/product.php")],
                          capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, f"the edited product controller is not valid PHP:\n{lint.stdout}{lint.stderr}"
    return changed


# --- shopcrm beside it ----------------------------------------------------------------------------

def configure_shopcrm(deployment: Deployment, shop: OpenCart, dbs: Databases, smtp_port: int,
                      beacon_secret: str) -> dict[str, object]:
    """instance/shopcrm.cfg: the shipped example, then the guide's OpenCart block with this
    run's values for its placeholders."""
    documented = guide.settings()
    ours = {
        "SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "SQLALCHEMY_DATABASE_URI": dbs.url(dbs.owner, dbs.owner_password, dbs.crm),
        "SHOPCRM_SHOP_DATABASE_URI": dbs.url(dbs.reader, dbs.reader_password, dbs.shop),
        "SHOPCRM_SHOP_PRESET": shop.release.preset,
        "SHOPCRM_SHOP_BASE_URL": shop.url,
        "SHOPCRM_PUBLIC_URL": shop.url + "crm/",
        "SHOPCRM_BEACON_SECRET": beacon_secret,
    }
    missing = sorted(set(ours) - {"SECRET_KEY", "SQLALCHEMY_DATABASE_URI"} - set(documented))
    assert not missing, f"the guide's settings block no longer sets {missing}"
    settings = {**documented, **ours,
                "SHOPCRM_SHOP_NAME": f"OpenCart {shop.release.version}",
                "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port,
                "MAIL_DEFAULT_SENDER": "Your Store <shop@shop.test>",
                # Every test shopper comes from 127.0.0.1: the beacon's per-address limit would
                # count them all as one visitor.
                "SHOPCRM_BEACON_RATE_PER_MINUTE": 100_000}
    example = (deployment.app / "deploy" / "shopcrm.cfg.example").read_text()
    write_private(deployment.instance / "shopcrm.cfg", example + "\n# --- this deployment ---\n" + "".join(
        f"{key} = {value!r}\n" for key, value in settings.items()))
    return settings


def shopcrm_apache_config(deployment: Deployment, run_dir: Path) -> str:
    """What docs/DEPLOY.md 1.7 has the admin put into conf-available/shopcrm.conf (with this
    deployment's folders), plus the lines Debian's own apache2.conf would give."""
    return (f"LoadModule wsgi_module {APACHE_MODULES}/mod_wsgi.so\n"
            f"WSGISocketPrefix {run_dir}/wsgi\n"
            + guide.substituted("apache", {"/srv/shopcrm/app": str(deployment.app),
                                           "/srv/shopcrm/venv": str(deployment.venv)}) + "\n")


def start_apache(workdir: Path, shop: OpenCart, deployment: Deployment) -> Apache:
    """Apache on OpenCart's port; if the port was taken meanwhile, OpenCart moves to another."""
    for attempt in range(3):
        port = int(shop.url.rsplit(":", 1)[1].strip("/"))
        run_dir = workdir / f"try{attempt}" / "run"
        apache = Apache(workdir / f"try{attempt}", port, shop.root, shopcrm_apache_config(deployment, run_dir))
        try:
            apache.start()
            return apache
        except AssertionError as exc:
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
            move_to_port(shop, free_port())
    raise AssertionError("unreachable")


def flask(deployment: Deployment, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``flask --app wsgi shopcrm ARGS`` as www-data from the deployment (exit code not checked)."""
    return run_as([str(deployment.venv / "bin" / "flask"), "--app", "wsgi", "shopcrm", *args],
                  cwd=deployment.app, timeout=timeout)


# --- the shop admin: order statuses through OpenCart's own admin pages ------------------------------

class ShopAdmin:
    """OpenCart's admin panel, driven as the shop owner's browser would (login form, user_token)."""

    def __init__(self, shop: OpenCart):
        self.shop, self.release = shop, shop.release
        self.web = Browser(shop.url.rstrip("/"))
        self.token = ""

    def log_in(self) -> None:
        if self.release.major >= 4:
            page = self.web.get("/admin/index.php?route=common/login")
            action = re.search(r'id="form-login" action="([^"]+)"', page.body)
            assert action, f"OpenCart's admin login page has no login form:\n{page.body[:2000]}"
            answer = self.web.post(_local(html.unescape(action.group(1))),
                                   {"username": ADMIN_USER, "password": ADMIN_PASSWORD})
            redirect = json.loads(answer.body).get("redirect", "")
        else:
            answer = self.web.post("/admin/index.php?route=common/login",
                                   {"username": ADMIN_USER, "password": ADMIN_PASSWORD})
            redirect = answer.header("Location") or ""
        token = re.search(r"user_token=(\w+)", html.unescape(redirect))
        assert token, f"OpenCart's admin login failed: {answer.status} {answer.body[:1000]}"
        self.token = token.group(1)
        if self.release.major < 4:
            self._allow_api_address()

    def _allow_api_address(self) -> None:
        """OpenCart 3's order page talks to the shop through its API user, which answers only
        addresses listed under System > Users > API: the admin adds theirs there once."""
        form = self.web.get(f"/admin/index.php?route=user/api/edit&api_id=1&user_token={self.token}")
        username = re.search(r'name="username" value="([^"]*)"', form.body).group(1)
        key = re.search(r'<textarea name="key"[^>]*>([^<]*)</textarea>', form.body).group(1)
        saved = self.web.post(f"/admin/index.php?route=user/api/edit&api_id=1&user_token={self.token}",
                              {"username": html.unescape(username), "key": html.unescape(key), "status": "1",
                               "api_ip[]": "127.0.0.1"})
        assert saved.status == 302, f"saving the API user's address failed: {saved.status} {saved.body[:2000]}"

    def set_status(self, order_id: int, status_id: int, comment: str = "") -> None:
        """Add an order history entry with a new status, as the order page's history form does."""
        if self.release.major >= 4:
            answer = self.web.post(
                f"/admin/index.php?route=sale/order.call&user_token={self.token}&call=history_add&store_id=0"
                f"&language=en-gb&currency=USD&order_id={order_id}",
                {"order_status_id": str(status_id), "override": "0", "notify": "0", "comment": comment,
                 "order_id": str(order_id)})
        else:
            page = self.web.get(f"/admin/index.php?route=sale/order/info&order_id={order_id}&user_token={self.token}")
            api = re.search(r"route=api/order/history&api_token=(\w+)", page.body)
            assert api, f"OpenCart's order page gave no API token for order {order_id}"
            answer = self.web.post(
                f"/index.php?route=api/order/history&api_token={api.group(1)}&store_id=0&order_id={order_id}",
                {"order_status_id": str(status_id), "notify": "0", "override": "0", "append": "0",
                 "comment": comment})
        reply = json.loads(answer.body or "{}")
        assert answer.status == 200 and "success" in reply, \
            f"changing order {order_id} to status {status_id} failed: {answer.status} {answer.body[:1000]}"


def _local(url: str) -> str:
    """A full shop URL as the path Browser wants."""
    return re.sub(r"^https?://[^/]+", "", url)
