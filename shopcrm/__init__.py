"""shopcrm: a CRM add-on for small web shops, as a Flask plugin.

Two ways to run it:

* standalone: ``create_app()`` (what ``wsgi.py`` does for mod_wsgi, gunicorn and ``flask``);
* inside another Flask app: ``ShopCRM().init_app(app, url_prefix="/crm")`` registers the
  blueprints, the CLI and the extensions and nothing else.
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

import sqlalchemy as sa
from flask import Flask, has_request_context, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface

from . import config as config_module
from . import request_guard
from .config import PROJECT_ROOT, TEMPLATE_DIR
from .delivery.sms import settings as _sms_settings  # its settings join config.SETTINGS below
from .errors import ConfigError
from .formatting import FILTERS
from .private_files import private_folder, private_sqlite
from .state import CRMState

config_module.register(_sms_settings.SMS_SETTINGS, _sms_settings.sms_problems)

__all__ = ["create_app", "ShopCRM", "PROJECT_ROOT"]



class ShopCRM:
    """The Flask extension. ``init_app`` only registers; it never creates an app."""

    def __init__(self, app: Flask | None = None, **kwargs):
        if app is not None:
            self.init_app(app, **kwargs)

    def init_app(self, app: Flask, url_prefix: str = "") -> None:
        from . import (
            admin,
            cli,
            models,  # noqa: F401  registers every crm_ table before migrations or queries run
            public,
        )
        from .dbutil import tune_sqlite
        from .extensions import csrf, db, login_manager, mail, migrate
        from .shop import install_shop_guard
        from .shop.mapping_file import apply_declared_timezone

        for key, value in config_module.defaults().items():
            app.config.setdefault(key, value)
        config_module.fill_paths(app.config, app.instance_path)
        config_module.validate(app.config)
        config_module.ensure_dev_secret(app.config)
        apply_declared_timezone(app.config)  # a mapping file may say the shop stores UTC ([shop] timezone)

        db.init_app(app)
        migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
        mail.init_app(app)
        request_guard.install(app)  # before CSRFProtect (body limits) and the blueprints (its <int:> converter)
        private_sqlite(app.config["SQLALCHEMY_DATABASE_URI"])  # 0600 before SQLite creates it
        csrf.init_app(app)
        login_manager.init_app(app)
        install_shop_guard(app)
        with app.app_context():
            tune_sqlite(db.engine)

        app.register_blueprint(admin.bp, url_prefix=f"{url_prefix}/admin")
        app.register_blueprint(public.bp, url_prefix=url_prefix or None)
        app.cli.add_command(cli.shopcrm_group)
        app.extensions["shopcrm"] = CRMState(extension=self)
        app.jinja_env.filters.update(FILTERS)  # money, number, percent, when, day: shopcrm.formatting
        app.after_request(_security_headers)
        app.register_error_handler(500, _internal_error)


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    if has_request_context() and request.blueprint == "crm_admin":
        # customer data stays out of shared caches and the back button of a shared computer
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _internal_error(error):
    from flask import render_template

    from .extensions import db

    db.session.rollback()
    return render_template("public/error.html", code=500, message="Something went wrong on our side."), 500


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie ``Secure`` whenever the request came over https.

    Shops often serve the admin over https and a test box over http; a fixed
    ``SESSION_COOKIE_SECURE`` would either leak the cookie or break logins on one of them.
    """

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (has_request_context() and request.is_secure)

    def get_cookie_path(self, app) -> str:
        """shopcrm's own path (``/crm``), not the whole site: the shop beside it at ``/`` must
        never receive the admin's session cookie (its PHP code, extensions and logs could read
        it). ``SESSION_COOKIE_PATH`` still wins when set."""
        configured = app.config.get("SESSION_COOKIE_PATH")
        if configured:
            return configured
        if has_request_context() and request.script_root:
            return request.script_root
        return super().get_cookie_path(app)


class PrefixMiddleware:
    """Serve the app under ``prefix`` when no front server has mounted it already.

    Under mod_wsgi ``WSGIScriptAlias /crm`` sets ``SCRIPT_NAME`` and this does nothing. With
    the development server or gunicorn (behind ``ProxyPass /crm http://127.0.0.1:8000/crm``)
    the prefix arrives in ``PATH_INFO``; it is moved to ``SCRIPT_NAME`` so every URL the app
    builds carries it, exactly as under Apache.
    """

    def __init__(self, wsgi_app, prefix: str):
        self.wsgi_app, self.prefix = wsgi_app, prefix.rstrip("/")

    def __call__(self, environ, start_response):
        if not self.prefix or environ.get("SCRIPT_NAME"):
            return self.wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            environ["SCRIPT_NAME"] = self.prefix
            environ["PATH_INFO"] = path[len(self.prefix):] or "/"
            return self.wsgi_app(environ, start_response)
        start_response("302 Found", [("Location", self.prefix + "/"), ("Content-Length", "0")])
        return [b""]


#: Database drivers a database address may name; a missing one is a configuration problem.
DRIVERS = {"pymysql", "MySQLdb", "mysql", "mariadb", "psycopg2", "psycopg", "pg8000", "asyncpg", "aiomysql",
           "cx_Oracle", "oracledb", "pyodbc"}


def _read_settings_file(app: Flask, path: str, silent: bool) -> None:
    """The settings file (Python syntax), any mistake in it a :class:`ConfigError` naming the
    file and the line, never a traceback."""
    import traceback

    try:
        app.config.from_pyfile(path, silent=silent)
    except SyntaxError as exc:
        raise ConfigError(f"the settings file {path} has a syntax error on line {exc.lineno}: {exc.msg} "
                          "(it is Python: KEY = 'value', one per line)") from None
    except OSError as exc:
        import getpass

        raise ConfigError(f"the settings file {path} cannot be read by the user {getpass.getuser()}: "
                          f"{exc.strerror or exc}; give that user read access (docs/DEPLOY.md)") from None
    except Exception as exc:  # noqa: BLE001 - whatever the file's code raises is the file's mistake
        lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__)
                 if os.path.abspath(frame.filename) == os.path.abspath(path)]
        where = f" on line {lines[-1]}" if lines else ""
        raise ConfigError(f"the settings file {path} fails{where}: {type(exc).__name__}: {exc} "
                          "(it is Python: KEY = 'value', strings in quotes)") from None


def _database_problem(app: Flask, exc: Exception) -> ConfigError:
    addresses = ", ".join(f"{key} = {str(app.config.get(key))!r}" for key in
                          ("SQLALCHEMY_DATABASE_URI", "SHOPCRM_SHOP_DATABASE_URI") if app.config.get(key))
    if isinstance(exc, ModuleNotFoundError):
        text = f"a database address needs the Python package {exc.name!r}, which is not installed"
    else:
        text = f"a database address cannot be used ({exc})"
    addresses = re.sub(r"://([^:/@']*):[^@/']*@", r"://\1:***@", addresses)  # no password in a log line
    return ConfigError(f"{text}: {addresses}; write MariaDB/MySQL as mysql+pymysql://user:password@host/database "
                       "and SQLite as sqlite:////absolute/path.db")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The standalone shopcrm app.

    Settings come from the defaults, then the instance file (``SHOPCRM_SETTINGS`` may name
    another file), then ``SHOPCRM_*`` environment variables, then ``config`` (tests). Every
    configuration shopcrm refuses raises :class:`ConfigError` with a message for the hosting
    admin: a production start without a real ``SECRET_KEY``, a setting that does not parse or
    fails its check, a settings file with a mistake, a database address that cannot work
    (``wsgi.py`` then serves ``unconfigured.unconfigured_app``).
    """
    app = Flask(
        __name__,
        instance_path=config_module.instance_folder(config),
        template_folder=str(TEMPLATE_DIR),
        static_folder=None,
    )
    app.config.from_mapping(config_module.defaults())
    settings_file = os.environ.get("SHOPCRM_SETTINGS")
    if settings_file:
        if not os.path.isfile(settings_file):
            raise ConfigError(f"SHOPCRM_SETTINGS points to {settings_file!r}, which does not exist; "
                              "`flask --app wsgi shopcrm init` creates it with a new SECRET_KEY")
        _read_settings_file(app, settings_file, silent=False)
    else:
        _read_settings_file(app, os.path.join(app.instance_path, config_module.INSTANCE_FILE), silent=True)
    app.config.update(config_module.from_environ())
    if config:
        app.config.update(config)
    try:
        private_folder(app.instance_path)
    except OSError:
        pass  # a read-only instance folder is fine until something needs to write there

    try:
        ShopCRM(app)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise _database_problem(app, exc) from None
    except ModuleNotFoundError as exc:
        if exc.name not in DRIVERS:
            raise
        raise _database_problem(app, exc) from None
    app.session_interface = HttpsAwareSessionInterface()
    # Flask-Login's cookie likewise stays under shopcrm's path, with a name no shop uses.
    app.config.setdefault("REMEMBER_COOKIE_PATH", (app.config.get("SHOPCRM_MOUNT") or "").rstrip("/") or "/")

    @app.route("/")
    def index():
        return redirect(url_for("crm_admin.dashboard"))

    app.wsgi_app = PrefixMiddleware(app.wsgi_app, app.config.get("SHOPCRM_MOUNT") or "")
    request_guard.behind_proxies(app)  # X-Forwarded-For only from SHOPCRM_TRUSTED_PROXIES proxies
    return app
