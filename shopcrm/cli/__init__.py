"""``flask shopcrm …``: the commands cron runs and the ones a hosting admin types, one module
per area (setup, shop, segmentation, campaigns, delivery, triggers, demo).

Commands only call services; domain errors become readable ``click.ClickException`` messages,
never tracebacks — and so does a database that goes away or stops answering in the middle of
a command (the one failure a cron job meets that is not a bug).
"""
from __future__ import annotations

import functools
from datetime import datetime

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..errors import ShopCRMError
from ..extensions import db


def with_panel_settings(command):
    """Run the command with the settings saved in the panel (shop name, sender, tracking) laid
    over the file's, as a web request has them (``panel_settings.apply``)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from .. import panel_settings

        panel_settings.apply()
        return command(*args, **kwargs)

    return wrapper


class ShopCRMGroup(AppGroup):
    """``AppGroup`` whose commands (and sub-groups' commands) see the panel's settings; a command
    made with ``panel_settings=False`` (setting up the tables) does not read them."""

    def command(self, *args, **kwargs):
        use_panel = kwargs.pop("panel_settings", True)
        wrap_for_ctx = kwargs.pop("with_appcontext", True)

        def decorator(f):
            if use_panel:
                f = with_panel_settings(f)
            if wrap_for_ctx:
                f = with_appcontext(f)
            return click.Group.command(self, *args, **kwargs)(f)

        return decorator

    def group(self, *args, **kwargs):
        kwargs.setdefault("cls", ShopCRMGroup)
        return super().group(*args, **kwargs)


shopcrm_group = ShopCRMGroup("shopcrm", help="shopcrm: segment the shop's customers and e-mail them.\n\n"
                             "Each command's --help says more. Cron runs segment (nightly), run-queued, send "
                             "and triggers run (every few minutes).")


def friendly_errors(command):
    """Turn domain errors, and a database that stopped answering, into one clear line and a
    non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ShopCRMError as exc:
            _rollback()
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:
            text = database_failure(exc)
            if text is None:
                raise  # a bug: keep its traceback
            _rollback()
            raise click.ClickException(text) from exc

    return wrapper


def in_words(counts: dict | int | None, empty: str = "none") -> str:
    """``{"no_consent": 12, "unsubscribed": 3}`` → ``12 no consent, 3 unsubscribed`` (a number as it is)."""
    if counts is None:
        return empty
    if not isinstance(counts, dict):
        return f"{counts:,}" if isinstance(counts, int) else str(counts)
    parts = [f"{n:,} {str(key).replace('_', ' ')}" for key, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]
    return ", ".join(parts) or empty


def _rollback() -> None:
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        pass  # the database is gone: there is nothing to undo on this side


def _driver_errors() -> tuple[type, ...]:
    """The operational error classes of the drivers in use (the sender runs some statements on
    the driver's own cursor, so its errors arrive unwrapped)."""
    found = []
    for engine in db.engines.values():
        dbapi = getattr(engine.dialect, "loaded_dbapi", None)
        for name in ("OperationalError", "InterfaceError"):
            if dbapi is not None and isinstance(getattr(dbapi, name, None), type):
                found.append(getattr(dbapi, name))
    return tuple(found)


#: MySQL/MariaDB errors of a server that went away, stopped answering, is shutting down or is
#: overloaded (client errors 20xx; 1040 too many connections, 1053 shutdown, 1205 lock wait
#: timeout, 1213 deadlock, 1927 connection killed).
SERVER_FAULTS = {2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053, 1205, 1213, 1927}
#: SQLite's equivalents: the file cannot be opened, written, or is held by another writer too long.
SQLITE_FAULTS = ("database is locked", "disk i/o error", "unable to open database file", "database or disk is full",
                 "attempt to write a readonly database")


def database_failure(exc: BaseException) -> str | None:
    """One line for a database that went away, stopped answering or could not be used in the
    middle of a command; ``None`` for anything else (a missing table, a bug: their traceback
    stays). The shop's own failures arrive as :class:`ShopUnavailable` already, so what is
    left is shopcrm's database."""
    if isinstance(exc, sa.exc.PendingRollbackError):
        detail: object = "the connection broke earlier in this command"
    elif isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        detail = getattr(exc, "orig", None) or exc
    elif isinstance(exc, _driver_errors()):
        detail = exc
    else:
        return None
    args = getattr(detail, "args", ())
    coded = len(args) > 1 and isinstance(args[0], int)
    text = (str(args[1]) if coded else (str(detail).splitlines() or [""])[0]) or "the connection was closed"
    interface = isinstance(exc, sa.exc.InterfaceError) or type(detail).__name__ == "InterfaceError"
    if not (isinstance(exc, sa.exc.PendingRollbackError) or interface or (coded and args[0] in SERVER_FAULTS)
            or "timed out" in text or text.lower().startswith(SQLITE_FAULTS)):
        return None
    where = db.engine.url.render_as_string(hide_password=True)
    if "timed out" in text:
        setting = "SHOPCRM_DB_CONNECT_TIMEOUT" if coded and args[0] in (2002, 2003) else "SHOPCRM_DB_JOB_READ_TIMEOUT"
        text = f"no answer within {current_app.config.get(setting):g} s ({setting}): {text}"
    return (f"shopcrm's database stopped the command: {text} (SQLALCHEMY_DATABASE_URI or SHOPCRM_DATABASE_URI: "
            f"{where}). Check that the database server runs; nothing committed is lost, and the next run goes on "
            "from there.")


def parse_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-01 or 2026-11-01T08:00") from exc


from . import backtest, campaigns, delivery, demo, export, segmentation, setup, shop, triggers  # noqa: E402,F401  (commands register on import)
