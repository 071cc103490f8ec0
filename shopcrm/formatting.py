"""Numbers, money, rates and dates the way the shop owner writes them, through Babel.

One currency and one locale per shop (``SHOPCRM_CURRENCY``, ``SHOPCRM_LOCALE``), dates in
the shop's zone with the zone shown (``clock.to_display``). Pages use these as Jinja filters
(``money``, ``number``, ``percent``, ``when``, ``day``); e-mails get values already formatted.
Nothing here writes its own thousands separators or currency signs.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_compact_decimal, format_currency, format_decimal, format_percent

from .clock import to_display

DEFAULT_CURRENCY = "EUR"
DEFAULT_LOCALE = "en_GB"


def _setting(key: str, default: str) -> str:
    from flask import current_app, has_app_context

    return (current_app.config.get(key) if has_app_context() else None) or default


def currency() -> str:
    return _setting("SHOPCRM_CURRENCY", DEFAULT_CURRENCY)


def locale() -> str:
    return _setting("SHOPCRM_LOCALE", DEFAULT_LOCALE)


@lru_cache(maxsize=32)
def _parsed(name: str) -> Locale:
    """Babel parses a locale name on every call it is given as text: a page formats hundreds."""
    return Locale.parse(name)


def babel_locale() -> Locale:
    """The shop's locale, parsed once per name."""
    return _parsed(locale())


def money(amount: float | Decimal | None, cents: bool = True) -> str:
    """``€1,174.00`` (or ``1.174,00 €`` in German); without ``cents``: ``€1,174``; empty for None."""
    if amount is None:
        return ""
    fmt = None if cents else "¤#,##0"
    return format_currency(amount, currency(), format=fmt, locale=babel_locale(),
                           currency_digits=cents, format_type="standard")


def number(value: float | int | None, digits: int = 0) -> str:
    """``1,174`` with the locale's separators; ``digits`` decimals."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=babel_locale())


def compact(value: float | int | None) -> str:
    """``12K`` for chart axes."""
    if value is None:
        return ""
    return format_compact_decimal(value, locale=babel_locale(), fraction_digits=1)


def percent(rate: float | None, digits: int = 1) -> str:
    """A rate (0.123) as ``12.3%``."""
    if rate is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(rate, format=pattern, locale=babel_locale())


def when(utc: datetime | None) -> str:
    """A naive UTC time as ``5 Dec 2026, 20:00 CET`` in the shop's zone (the locale's order and clock)."""
    if utc is None:
        return ""
    local = to_display(utc)
    return f"{format_date(local, 'medium', locale=babel_locale())}, {format_time(local, 'short', locale=babel_locale())} {local.tzname()}"


def day(value: date | datetime | None) -> str:
    """A date as ``5 Dec 2026``."""
    if value is None:
        return ""
    return format_date(value, "medium", locale=babel_locale())


def time_of_day(utc: datetime | None) -> str:
    """A naive UTC time as ``20:00`` in the shop's zone (beside a day shown elsewhere)."""
    if utc is None:
        return ""
    return format_time(to_display(utc), "short", locale=babel_locale())


def zone_name(utc: datetime | None = None) -> str:
    """The shop zone's abbreviation (``CET``) at that time, or now."""
    from .clock import utcnow

    return to_display(utc or utcnow()).tzname() or ""


FILTERS = {"money": money, "number": number, "compact": compact, "percent": percent, "when": when, "day": day,
           "time_of_day": time_of_day}
