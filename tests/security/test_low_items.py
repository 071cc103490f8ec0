"""The smaller findings, each fixed: a weak SECRET_KEY is refused in production even under
FLASK_DEBUG; files shopcrm creates are private (0600/0700); the mail password never crosses the
network unencrypted unless allowed; the beacon's rate limit is one budget for every process."""
from __future__ import annotations

import os
import secrets
import shutil
import smtplib
import stat
import subprocess
import sys
import time

import pytest

from shopcrm import create_app
from shopcrm.errors import ConfigError
from tests.support.apps import base_config, dispose, migrate
from tests.support.beacon import SECRET, query, stored
from tests.support.security import ROOT


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- SECRET_KEY ----------------------------------------------------------------------------------------

def production(tmp_path, **overrides):
    return base_config(tmp_path, TESTING=False, SHOPCRM_ENV="production", **overrides)


@pytest.mark.parametrize("secret", [
    "dev",
    "aaaaaaaaaaaaaaaaaaaaaaaa",  # 24 characters, no entropy to speak of
    "correct horse battery staple for my little shop",  # a sentence of dictionary words
    "shopcrm-secret-key-for-the-production-server",
    "ThisIsMySecretKeyForShopcrm2026!",
    "0123456789abcdef0123456789abcdef",  # a sequence
    pytest.param(secrets.token_hex(16), id="random-128-bits"),  # 32 hex digits: zxcvbn credits ~102
])
def test_a_weak_secret_key_is_refused_in_production(tmp_path, secret):
    with pytest.raises(ConfigError, match="SECRET_KEY is missing or too weak"):
        create_app(production(tmp_path, SECRET_KEY=secret))


@pytest.mark.parametrize("secret", [secrets.token_hex(32), secrets.token_urlsafe(32), secrets.token_hex(24)],
                         ids=["hex-256-bits", "urlsafe-256-bits", "hex-192-bits"])  # the same ids in every process
def test_a_random_secret_key_starts(tmp_path, secret):
    app = create_app(production(tmp_path, SECRET_KEY=secret))
    assert app.secret_key == secret
    dispose(app)


@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_flask_debug_does_not_switch_the_secret_check_off(tmp_path):
    """The issue: SECRET_KEY=dev under FLASK_DEBUG=1 started in production and a forged cookie
    opened /admin/users. Run as a real start, with the environment variables."""
    env = {**os.environ, "FLASK_DEBUG": "1", "SHOPCRM_SECRET_KEY": "dev", "SHOPCRM_ENV": "production",
           "SHOPCRM_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT)}
    env.pop("SHOPCRM_SETTINGS", None)
    result = subprocess.run([sys.executable, "-c", "from shopcrm import create_app; create_app()"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "SECRET_KEY is missing or too weak" in result.stderr
    with pytest.raises(ConfigError):
        create_app(production(tmp_path, SECRET_KEY="dev", DEBUG=True))
    development = create_app(base_config(tmp_path, TESTING=False, SHOPCRM_ENV="development", SECRET_KEY="dev"))
    dispose(development)  # development says so explicitly, and may


# --- files shopcrm creates ------------------------------------------------------------------------------

def test_files_shopcrm_creates_are_private_whatever_the_umask(tmp_path, demo_shop_file):
    old = os.umask(0o022)
    try:
        instance = tmp_path / "instance"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        assert subprocess.run([sys.executable, "-m", "shopcrm", "init", str(instance)], cwd=ROOT, env=env,
                              capture_output=True, timeout=120).returncode == 0
        assert mode(instance) == 0o700 and mode(instance / "shopcrm.cfg") == 0o600
        config = base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{demo_shop_file}",
                             SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'shopcrm.db'}",
                             SHOPCRM_OUTBOX_DIR=str(instance / "outbox"))
        app = create_app(config)
        migrate(app)
        from shopcrm.delivery.transport import FileChannel

        channel = FileChannel(str(instance / "outbox"))
        channel.open()
        channel.send_content(b"Subject: hello\r\n\r\nbody\r\n", "<m1@shop.test>")
        dispose(app)
        from shopcrm import demo

        demo.build(f"sqlite:///{instance / 'demo_shop.db'}", customers=20)
        made = sorted(p.name for p in instance.iterdir())
        assert {"shopcrm.cfg", "shopcrm.db", "outbox", "demo_shop.db"} <= set(made)
        for path in instance.rglob("*"):
            expected = 0o700 if path.is_dir() else 0o600
            assert mode(path) == expected, f"{path.relative_to(tmp_path)}: {oct(mode(path))}"
        assert (instance / "outbox" / "m1_at_shop.test.eml").exists()
    finally:
        os.umask(old)


def test_an_existing_folder_keeps_the_modes_its_owner_gave_it(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o750)
    os.chmod(instance, 0o750)  # docs/DEPLOY.md: root:www-data 0750
    app = create_app(base_config(tmp_path, INSTANCE_PATH=str(instance)))
    assert mode(instance) == 0o750
    dispose(app)


# --- SMTP login without TLS -----------------------------------------------------------------------------

def test_smtp_auth_without_tls_is_refused_at_start_unless_allowed(tmp_path):
    mail = {"MAIL_SERVER": "smtp.example.net", "MAIL_PORT": 25, "MAIL_USERNAME": "shop", "MAIL_PASSWORD": "pw"}
    with pytest.raises(ConfigError, match="mail password would cross the network unencrypted"):
        create_app(base_config(tmp_path, **mail))
    for allowed in ({"MAIL_USE_TLS": True}, {"MAIL_USE_SSL": True, "MAIL_PORT": 465},
                    {"SHOPCRM_MAIL_ALLOW_PLAIN_AUTH": True}):
        dispose(create_app(base_config(tmp_path, **{**mail, **allowed})))
    dispose(create_app(base_config(tmp_path, MAIL_SERVER="smtp.example.net")))  # no login: nothing to protect


def test_the_transport_refuses_to_send_the_password_in_clear(app, smtp_server):
    """Settings changed after the start (a host app, a test) meet the same rule at the wire: the
    server never sees AUTH."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_USERNAME="shop",
                      MAIL_PASSWORD="secret-password")
    from shopcrm.delivery.transport import SmtpChannel
    from shopcrm.extensions import mail

    mail.init_app(app)  # Flask-Mail reads its settings at init
    with app.app_context():
        with pytest.raises(smtplib.SMTPException, match="without TLS"):
            SmtpChannel().open()


# --- the beacon's rate limit across processes -----------------------------------------------------------

def test_the_beacon_limit_is_one_budget_for_all_processes(tmp_path, crm_template, demo_shop_file):
    """Two apps on one database stand for two worker processes (each has its own memory, as
    two processes do); the old per-process limiter let each accept the full limit."""
    shutil.copy(crm_template, tmp_path / "crm.db")
    config = base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{demo_shop_file}",
                         SHOPCRM_BEACON_SECRET=SECRET, SHOPCRM_BEACON_RATE_PER_MINUTE=4)
    first, second = create_app(config), create_app(config)
    try:
        while int(time.time()) % 60 > 50:  # all requests within one minute
            time.sleep(1)
        codes = []
        for i in range(8):
            client = (first if i % 2 else second).test_client()
            codes.append(client.get("/crm/beacon", query_string=query(n=f"{i:016x}"),
                                    environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code)
        assert codes == [204] * 4 + [429] * 4
        assert len(stored(first)) == 4
    finally:
        dispose(first)
        dispose(second)
