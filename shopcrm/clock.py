"""Time, in one place: shopcrm's own timestamps, the shop database's clock, the shop's zone.

* shopcrm stores naive UTC (``utcnow``).
* A shop stores its own times (orders placed, carts, views) naive, in the zone of its
  database's clock: for a PHP shop usually the server's local time, for Magento UTC
  (``SHOPCRM_SHOP_DB_TIMEZONE``; default: the shop's zone). Every comparison with a shop
  timestamp converts here (``to_shop``, ``to_utc``, ``shop_now``), and nowhere else.
* The shop owner reads times in the shop's zone (``SHOPCRM_SHOP_TIMEZONE``; default: this
  server's local zone): ``to_display``.

Flask is imported only inside the functions that read the app's settings, so the analyses may
use the constants here without importing it.
"""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = 86400.0  # seconds


def utcnow() -> datetime:
    """Now, as naive UTC: how every ``crm_`` table stores time."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def zone_named(name: str | None) -> tzinfo | None:
    """The zone called ``name`` (an IANA name like Europe/Berlin, or UTC); None for "this
    server's local zone". An unknown name is a ValueError naming it."""
    if not name:
        return None
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin, or UTC)") from exc


def _setting(key: str) -> str | None:
    from flask import current_app, has_app_context

    return current_app.config.get(key) if has_app_context() else None


def shop_zone() -> tzinfo | None:
    """The zone the shop owner lives in (None: this server's local zone)."""
    return zone_named(_setting("SHOPCRM_SHOP_TIMEZONE"))


def db_zone() -> tzinfo | None:
    """The zone of the naive timestamps in the shop's tables (None: this server's local zone)."""
    name = _setting("SHOPCRM_SHOP_DB_TIMEZONE")
    return zone_named(name) if name else shop_zone()


def shop_now() -> datetime:
    """Now on the shop database's clock (naive, whole seconds kept)."""
    return datetime.now(timezone.utc).astimezone(db_zone()).replace(tzinfo=None)


def to_shop(utc: datetime) -> datetime:
    """A naive UTC timestamp as the shop database's naive time."""
    return utc.replace(tzinfo=timezone.utc).astimezone(db_zone()).replace(tzinfo=None)


def to_utc(shop_time: datetime) -> datetime:
    """A naive timestamp on the shop database's clock as naive UTC (whole seconds, as stored)."""
    zone = db_zone()
    aware = shop_time.replace(tzinfo=zone) if zone is not None else shop_time.astimezone()
    return aware.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def to_display(utc: datetime) -> datetime:
    """A naive UTC timestamp as an aware time in the shop owner's zone (for pages and e-mails)."""
    return utc.replace(tzinfo=timezone.utc).astimezone(shop_zone())


def whole_seconds(value: datetime) -> datetime:
    """Shop timestamps have whole seconds; binding microseconds would skew comparisons with them."""
    return value.replace(microsecond=0)
