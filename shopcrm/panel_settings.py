"""Settings a shop admin changes in the panel, laid over the instance file's.

The shop's name, currency, number format and time zone, the sender of the e-mails and the
tracking switches are the owner's business, not the hosting admin's: the settings page stores
them in ``crm_setting`` and every process lays them over its configuration. Secrets (keys,
passwords, database addresses) are never editable here: the instance file keeps them, and this
module does not know their names.

How the values reach the code: ``apply()`` runs at the start of every request (and of every
``flask shopcrm`` command). It copies the stored values into ``app.config``, so everything that
reads the configuration (``formatting``, ``clock``, the e-mail builder) sees them without
knowing this module. The stored values are reread at most every ``REREAD_SECONDS`` per process;
the process that saves them sees them at once. A key with no stored value has the value the
file (or the environment) gave it at start-up: removing a panel value restores it.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any

import sqlalchemy as sa
from flask import current_app

from .clock import utcnow
from .config import SETTINGS
from .delivery.addresses import normalize
from .errors import ConfigError
from .extensions import db
from .models import PanelSetting
from .state import app_state

REREAD_SECONDS = 5.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Number and date formats offered on the page (any other valid locale may be typed).
LOCALES = {"en_GB": "English (UK): 1,234.56 · 5 Dec 2026", "en_US": "English (US): 1,234.56 · Dec 5, 2026",
           "de_DE": "Deutsch: 1.234,56 · 05.12.2026", "de_AT": "Deutsch (Österreich)", "de_CH": "Deutsch (Schweiz)",
           "fr_FR": "Français: 1 234,56", "nl_NL": "Nederlands", "es_ES": "Español", "it_IT": "Italiano",
           "pl_PL": "Polski", "da_DK": "Dansk", "sv_SE": "Svenska"}
CURRENCIES = ("EUR", "GBP", "USD", "CHF", "PLN", "DKK", "SEK", "NOK", "CZK")


def zones() -> list[str]:
    """Time zone names to pick from (region/city names, not the legacy aliases)."""
    from zoneinfo import available_timezones

    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/")))


@dataclass(frozen=True)
class Editable:
    key: str  # the configuration key it sets
    label: str
    help: str
    kind: str = "text"  # text, bool, choice


EDITABLE: tuple[Editable, ...] = (
    Editable("SHOPCRM_SHOP_NAME", "Shop name", "Shown to shoppers on their pages and in the e-mails."),
    Editable("SHOPCRM_CURRENCY", "Currency", "Every amount in the panel and in e-mails is written in it.", "choice"),
    Editable("SHOPCRM_LOCALE", "Number and date format", "How 1,234.56 and dates are written.", "choice"),
    Editable("SHOPCRM_SHOP_TIMEZONE", "Time zone", "Dates and times are shown in it, e.g. Europe/Berlin."),
    Editable("MAIL_DEFAULT_SENDER", "E-mails come from", "The sender name and address shoppers see."),
    Editable("SHOPCRM_TRACK_CLICKS", "Count clicks in e-mails",
             "Links go through shopcrm first, so you see who clicked and what they bought after.", "bool"),
    Editable("SHOPCRM_TRACK_OPENS", "Count opened e-mails",
             "A tiny image tells when an e-mail is opened. Many mail apps open them automatically, so this "
             "count is rough.", "bool"),
    # Added by the e-mail settings when present in config.SETTINGS (the logo and postal address lines of e-mails).
    Editable("SHOPCRM_SHOP_LOGO_URL", "Logo address", "An https address of your logo, shown at the top of e-mails."),
    Editable("SHOPCRM_SHOP_ADDRESS", "Postal address", "The shop's address, shown at the foot of every e-mail."),
)
_BY_KEY = {s.key: s for s in SETTINGS}


def editable() -> tuple[Editable, ...]:
    """The settings this installation knows (an optional one appears once its setting exists)."""
    return tuple(e for e in EDITABLE if e.key in _BY_KEY)


def _editable(key: str) -> Editable:
    for item in editable():
        if item.key == key:
            return item
    raise ConfigError(f"{key} cannot be changed in the panel")


# --- checking a value -----------------------------------------------------------------------------------

def sender(name: str, address: str) -> str:
    """``Demo Shop <shop@example.com>`` from its two parts, each checked."""
    name = (name or "").strip()
    if _CONTROL.search(name) or len(name) > 100:
        raise ConfigError("the sender name must be one line of at most 100 characters")
    clean = normalize((address or "").strip())
    if clean is None:
        raise ConfigError(f"{address!r} is not an e-mail address; write it like shop@example.com")
    return formataddr((name, clean)) if name else clean


def sender_parts(value: str | None) -> tuple[str, str]:
    name, address = parseaddr(value or "")
    return name, address


def check(key: str, raw: Any) -> Any:
    """The value to store for ``key`` from what the form sent, or a :class:`ConfigError` that says
    what to write instead."""
    item = _editable(key)
    setting = _BY_KEY[key]
    if item.kind == "bool":
        return raw in (True, "y", "yes", "on", "1", 1)
    value = raw.strip() if isinstance(raw, str) else raw
    if key == "MAIL_DEFAULT_SENDER":
        return value  # composed and checked by sender()
    if key == "SHOPCRM_SHOP_NAME":
        if not value or _CONTROL.search(value) or len(value) > 100:
            raise ConfigError("the shop name must be one line of 1 to 100 characters")
        return value
    if key == "SHOPCRM_CURRENCY":
        value = (value or "").upper()
    if key == "SHOPCRM_SHOP_LOGO_URL" and value and not value.startswith("https://"):
        raise ConfigError("the logo address must start with https:// (mail apps block other images)")
    if value == "" and key in ("SHOPCRM_SHOP_TIMEZONE", "SHOPCRM_SHOP_LOGO_URL", "SHOPCRM_SHOP_ADDRESS"):
        value = None
    if isinstance(value, str) and len(value) > 500:
        raise ConfigError(f"{item.label}: at most 500 characters")
    if setting.check is not None:
        problem = setting.check(setting, value, current_app.config)
        if problem:
            raise ConfigError(problem.replace(key, item.label))
    return value


# --- storing and reading ----------------------------------------------------------------------------------

def stored() -> dict[str, Any]:
    """The values saved in the panel, by key (a database without the table yet: none)."""
    try:
        return {key: value for key, value in db.session.execute(sa.select(PanelSetting.key, PanelSetting.value))}
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return {}


def save(values: dict[str, Any], by: str | None = None) -> list[str]:
    """Check and store several settings at once (all or nothing); returns the keys that changed.
    Commits, and this process sees the new values at once."""
    checked = {key: check(key, value) for key, value in values.items()}
    current = {**file_values(), **stored()}
    changed = []
    for key, value in checked.items():
        if current.get(key) == value:
            continue
        row = db.session.get(PanelSetting, key) or PanelSetting(key=key)
        row.value, row.updated_at, row.updated_by = value, utcnow(), by
        db.session.add(row)
        changed.append(key)
    db.session.commit()
    overlay().forget()
    apply()
    return changed


def reset(key: str) -> None:
    """Forget the panel's value: the file's (or the default) applies again. Commits."""
    _editable(key)
    db.session.execute(sa.delete(PanelSetting).where(PanelSetting.key == key))
    db.session.commit()
    overlay().forget()
    apply()


class Overlay:
    """The stored values, reread every ``REREAD_SECONDS``, and the configuration's own values of
    the keys the panel has overridden (to put back when a panel value is removed). Keys the panel
    never set are left alone, whoever changes them."""

    def __init__(self):
        self.base: dict[str, Any] = {}  # key -> the configuration's value before the panel's
        self.values: dict[str, Any] = {}
        self.read_at: float | None = None
        self.lock = threading.Lock()

    def forget(self) -> None:
        with self.lock:
            self.read_at = None

    def current(self) -> dict[str, Any]:
        with self.lock:
            fresh = self.read_at is not None and time.monotonic() - self.read_at < REREAD_SECONDS
        if not fresh:
            values = stored()
            with self.lock:
                self.values, self.read_at = values, time.monotonic()
        return self.values

    def apply(self, config) -> None:
        values = self.current()
        with self.lock:
            for item in editable():
                key = item.key
                if key in values:
                    self.base.setdefault(key, config.get(key))
                    config[key] = values[key]
                elif key in self.base:
                    config[key] = self.base.pop(key)

    def file_value(self, config, key: str) -> Any:
        with self.lock:
            return self.base[key] if key in self.base else config.get(key)


def overlay() -> Overlay:
    state = app_state()
    if state.panel_settings is None:
        state.panel_settings = Overlay()
    return state.panel_settings


def file_values() -> dict[str, Any]:
    """What the instance file (or the environment, or the default) says, before the panel."""
    layer = overlay()
    return {item.key: layer.file_value(current_app.config, item.key) for item in editable()}


def apply() -> None:
    """Lay the panel's values over the app's configuration (start of a request or a command)."""
    overlay().apply(current_app.config)


def describe() -> list[dict]:
    """Each editable setting with its value now, the file's value, and whether the panel set it."""
    values = stored()
    base = file_values()
    return [{"item": item, "value": values.get(item.key, base.get(item.key)), "file": base.get(item.key),
             "from_panel": item.key in values} for item in editable()]
