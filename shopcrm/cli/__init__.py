"""``flask shopcrm …``: the commands cron runs and the ones a hosting admin types, one module
per area (setup, shop, segmentation, campaigns, delivery, triggers, demo).

Commands only call services; domain errors become readable ``click.ClickException`` messages,
never tracebacks.
"""
from __future__ import annotations

import functools
from datetime import datetime

import click
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
    """Turn domain errors into one clear line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ShopCRMError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc

    return wrapper


def in_words(counts: dict | int | None, empty: str = "none") -> str:
    """``{"no_consent": 12, "unsubscribed": 3}`` → ``12 no consent, 3 unsubscribed`` (a number as it is)."""
    if counts is None:
        return empty
    if not isinstance(counts, dict):
        return f"{counts:,}" if isinstance(counts, int) else str(counts)
    parts = [f"{n:,} {str(key).replace('_', ' ')}" for key, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]
    return ", ".join(parts) or empty


def parse_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-01 or 2026-11-01T08:00") from exc


from . import backtest, campaigns, delivery, demo, export, segmentation, setup, shop, triggers  # noqa: E402,F401  (commands register on import)
