"""``flask shopcrm …``: the commands cron runs and the ones a hosting admin types, one module
per area (setup, shop, segmentation, campaigns, delivery, triggers, demo).

Commands only call services; domain errors become readable ``click.ClickException`` messages,
never tracebacks.
"""
from __future__ import annotations

import functools
from datetime import datetime

import click
from flask.cli import AppGroup

from ..errors import ShopCRMError
from ..extensions import db

shopcrm_group = AppGroup("shopcrm", help="shopcrm: segment the shop's customers and email them.")


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


def parse_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-01 or 2026-11-01T08:00") from exc


from . import backtest, campaigns, delivery, demo, export, segmentation, setup, shop, triggers  # noqa: E402,F401  (commands register on import)
