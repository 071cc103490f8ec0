"""The app factory, configuration sources, and the refused production start."""
import pytest
from flask import Flask

from shopcrm import ShopCRM, create_app
from shopcrm.config import from_environ
from shopcrm.errors import ConfigError
from tests.support.apps import TEST_SECRET, base_config


def test_factory_builds_a_testing_app(tmp_path):
    app = create_app(base_config(tmp_path))
    assert app.testing
    assert {"crm_admin", "crm_public"} <= set(app.blueprints)
    assert app.config["SQLALCHEMY_BINDS"]["shop"]["url"].endswith("shop.db")


@pytest.mark.parametrize("secret", [None, "", "dev", "change-me", "short-secret"])
def test_production_start_without_a_real_secret_is_refused(tmp_path, secret):
    config = base_config(tmp_path, TESTING=False, SHOPCRM_ENV="production", SECRET_KEY=secret)
    with pytest.raises(ConfigError) as info:
        create_app(config)
    assert "SECRET_KEY" in str(info.value)
    assert "secrets.token_hex" in str(info.value)  # it says how to fix it


def test_production_start_with_a_real_secret_works(tmp_path):
    app = create_app(base_config(tmp_path, TESTING=False, SHOPCRM_ENV="production", SECRET_KEY=TEST_SECRET))
    assert not app.testing and app.secret_key == TEST_SECRET


def test_development_without_secret_gets_a_random_one(tmp_path):
    first = create_app(base_config(tmp_path, TESTING=False, SHOPCRM_ENV="development", SECRET_KEY=None))
    second = create_app(base_config(tmp_path, TESTING=False, SHOPCRM_ENV="development", SECRET_KEY=None))
    assert len(first.secret_key) >= 32 and first.secret_key != second.secret_key


def test_environment_variables_are_parsed_and_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOPCRM_HALF_LIFE_DAYS", "12.5")
    monkeypatch.setenv("SHOPCRM_N_CLUSTERS", "auto")
    monkeypatch.setenv("SHOPCRM_DATABASE_URI", "sqlite:///" + str(tmp_path / "env.db"))
    monkeypatch.setenv("SHOPCRM_MAIL_USE_TLS", "yes")
    values = from_environ()
    assert values["SHOPCRM_HALF_LIFE_DAYS"] == 12.5
    assert values["SHOPCRM_N_CLUSTERS"] is None
    assert values["MAIL_USE_TLS"] is True
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")
    assert app.config["SHOPCRM_HALF_LIFE_DAYS"] == 12.5


def test_a_malformed_environment_variable_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("SHOPCRM_K_MAX", "twelve")
    with pytest.raises(ConfigError, match="SHOPCRM_K_MAX"):
        from_environ()


def test_invalid_values_are_refused_at_start(tmp_path):
    with pytest.raises(ConfigError) as info:
        create_app(base_config(tmp_path, SHOPCRM_HALF_LIFE_DAYS=0, SHOPCRM_K_MIN=5, SHOPCRM_K_MAX=3))
    assert "SHOPCRM_HALF_LIFE_DAYS" in str(info.value) and "SHOPCRM_K_MIN" in str(info.value)
    for bad in (0, -1, "three", "0"):
        with pytest.raises(ConfigError, match="MAIL_MAX_EMAILS"):
            create_app(base_config(tmp_path, MAIL_MAX_EMAILS=bad))
    # a settings file may write a number as the environment does
    assert create_app(base_config(tmp_path, MAIL_MAX_EMAILS="3")).config["MAIL_MAX_EMAILS"] == 3
    with pytest.raises(ConfigError, match="SHOPCRM_SEND_CHECKS_MAX_AGE"):
        create_app(base_config(tmp_path, SHOPCRM_SEND_CHECKS_MAX_AGE=-1))


def test_settings_file_from_shopcrm_settings(monkeypatch, tmp_path):
    settings = tmp_path / "custom.cfg"
    settings.write_text("SHOPCRM_SHOP_NAME = 'Corner Bikes'\nSHOPCRM_WEIGHT_CART = 4.0\n")
    monkeypatch.setenv("SHOPCRM_SETTINGS", str(settings))
    monkeypatch.setenv("SHOPCRM_WEIGHT_CART", "6")  # the environment wins over the file
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SHOPCRM_SHOP_NAME"] == "Corner Bikes"
    assert app.config["SHOPCRM_WEIGHT_CART"] == 6.0


def test_missing_settings_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOPCRM_SETTINGS", str(tmp_path / "nope.cfg"))
    with pytest.raises(ConfigError, match="nope.cfg"):
        create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET})


def test_instance_file_is_read(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "shopcrm.cfg").write_text("SHOPCRM_SHOP_NAME = 'From the instance file'\n")
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "INSTANCE_PATH": str(instance)})
    assert app.config["SHOPCRM_SHOP_NAME"] == "From the instance file"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(instance / "shopcrm.db")


def test_extension_mounts_into_another_flask_app(tmp_path):
    host = Flask("host_shop", instance_path=str(tmp_path))
    host.config.update(base_config(tmp_path))

    @host.route("/")
    def shop_home():
        return "the shop"

    ShopCRM().init_app(host, url_prefix="/crm")
    client = host.test_client()
    assert client.get("/").get_data(as_text=True) == "the shop"
    response = client.get("/crm/admin/")
    assert response.status_code == 302 and "/crm/admin/login" in response.headers["Location"]
    assert client.get("/crm/admin/login").status_code == 200
    assert "shopcrm" in host.cli.commands


def test_standalone_app_lives_under_the_mount_prefix(app):
    client = app.test_client()
    assert client.get("/").headers["Location"].endswith("/crm/")
    assert client.get("/crm/").headers["Location"].endswith("/crm/admin/")
    assert client.get("/crm/static/crm.css").status_code == 200


def test_script_name_from_the_front_server_is_respected(app):
    client = app.test_client()
    response = client.get("/admin/", base_url="http://localhost/shop-crm")  # as mod_wsgi passes it
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/shop-crm/admin/login")


def test_security_headers(client):
    response = client.get("/crm/admin/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_python_m_shopcrm_init_writes_a_secret_without_an_app(tmp_path):
    import subprocess
    import sys

    instance = tmp_path / "instance"
    result = subprocess.run([sys.executable, "-m", "shopcrm", "init", str(instance)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    settings = instance / "shopcrm.cfg"
    assert oct(settings.stat().st_mode & 0o777) == "0o600"
    namespace: dict = {}
    exec(settings.read_text(), namespace)
    assert len(namespace["SECRET_KEY"]) == 64
    again = subprocess.run([sys.executable, "-m", "shopcrm", "init", str(instance)], capture_output=True, text=True)
    assert "left as it is" in again.stdout
    app = create_app({"TESTING": False, "SHOPCRM_ENV": "production", "INSTANCE_PATH": str(instance)})
    assert app.secret_key == namespace["SECRET_KEY"]  # a production start now succeeds
