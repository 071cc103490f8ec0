"""Time, in one place: shopcrm's own timestamps and the shop's clock.

shopcrm stores naive UTC (``utcnow``). A shop stores its own times (orders placed, carts,
views) in its server's local time, as PHP shops do, so every comparison with a shop
timestamp converts between the two here, and nowhere else.
"""
from __future__ import annotations

from datetime import datetime, timezone

DAY = 86400.0  # seconds


def utcnow() -> datetime:
    """Now, as naive UTC: how every ``crm_`` table stores time."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def shop_now() -> datetime:
    """Now on the shop's clock (naive)."""
    return datetime.now()


def to_shop(utc: datetime) -> datetime:
    """A naive UTC timestamp as the shop's naive local time."""
    return utc.replace(tzinfo=timezone.utc).astimezone().replace(tzinfo=None)


def to_utc(shop_time: datetime) -> datetime:
    """A naive shop-local timestamp as naive UTC (whole seconds, as stored)."""
    return shop_time.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def whole_seconds(value: datetime) -> datetime:
    """Shop timestamps have whole seconds; binding microseconds would skew comparisons with them."""
    return value.replace(microsecond=0)
