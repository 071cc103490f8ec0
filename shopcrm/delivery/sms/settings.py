"""The SMS settings: their defaults, how they are checked, and the one object the SMS code reads.

They are declared as :class:`shopcrm.config.Setting` entries so the app's configuration
(defaults, instance file, ``SHOPCRM_*`` variables) handles them like every other setting once
``SMS_SETTINGS`` is added to ``shopcrm.config.SETTINGS`` and :func:`sms_problems` to its
``validate``. Credentials come from these settings only: the Twilio client is never left to
read ``TWILIO_*`` environment variables on its own.

SMS is on exactly when ``SHOPCRM_TWILIO_ACCOUNT_SID`` is set; then the token, a sender (a
phone number or alphanumeric sender ID, or a Messaging Service), the default region and the
time zone are required.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ...config import Setting
from ...errors import ConfigError
from .keywords import KeywordClassifier
from .phones import check_region
from .quiet_hours import QuietHours, zone


def _optional_words(raw: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in raw.split(",") if word.strip())


SMS_SETTINGS: tuple[Setting, ...] = (
    Setting("SHOPCRM_TWILIO_ACCOUNT_SID", None, str,
            help="Twilio account SID (AC...); set, it turns SMS on"),
    Setting("SHOPCRM_TWILIO_AUTH_TOKEN", None, str,
            help="Twilio auth token: authenticates API calls and checks the signature of Twilio's webhooks"),
    Setting("SHOPCRM_TWILIO_FROM", None, str,
            help="sender: a Twilio phone number in E.164 (+4915...) or an alphanumeric sender ID"),
    Setting("SHOPCRM_TWILIO_MESSAGING_SERVICE_SID", None, str,
            help="a Messaging Service (MG...) to send through, instead of or beside SHOPCRM_TWILIO_FROM"),
    Setting("SHOPCRM_TWILIO_API_URL", None, str,
            help="another address for Twilio's API (tests: a local fake on 127.0.0.1, plain http allowed only "
                 "there); unset: Twilio's own"),
    Setting("SHOPCRM_SMS_TIMEOUT", 30.0, float,
            help="seconds to wait for Twilio's answer; no answer leaves a message in doubt"),
    Setting("SHOPCRM_SMS_DEFAULT_REGION", None, str,
            help="country whose national format the shop's phone numbers are in, e.g. DE"),
    Setting("SHOPCRM_SMS_TIME_ZONE", None, str,
            help="the shop's IANA time zone for quiet hours, e.g. Europe/Berlin"),
    Setting("SHOPCRM_SMS_QUIET_HOURS", "21:00-08:00", str,
            help="no marketing SMS in this local window (may cross midnight); empty: none"),
    Setting("SHOPCRM_SMS_OPT_OUT_KEYWORDS", (), _optional_words,
            help="extra one-word replies that unsubscribe (comma-separated), e.g. STOPP,ABMELDEN"),
    Setting("SHOPCRM_SMS_OPT_IN_KEYWORDS", (), _optional_words,
            help="extra one-word replies that subscribe again, e.g. ANMELDEN"),
    Setting("SHOPCRM_SMS_HELP_KEYWORDS", (), _optional_words,
            help="extra one-word replies that ask for help, e.g. HILFE"),
    Setting("SHOPCRM_SMS_SEND_RATE", 1.0, float,
            help="SMS per second per sender (Twilio takes about 1/s from one long code, more through a "
                 "Messaging Service); 0 = as fast as Twilio answers"),
    Setting("SHOPCRM_SMS_PRICE_PER_SEGMENT", 0.08, float,
            help="what one SMS segment costs the shop, in SHOPCRM_CURRENCY (for the estimate on a campaign)"),
    Setting("SHOPCRM_SMS_HELP_TEXT", None, str,
            help="the answer to HELP; default: the shop's name, its address and how to stop"),
)

_ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# An alphanumeric sender ID: up to 11 letters, digits and spaces, with at least one letter.
_ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")


@dataclass(frozen=True)
class SmsSettings:
    """Checked SMS settings, with the objects built from them."""

    account_sid: str
    auth_token: str
    sender: str | None
    messaging_service_sid: str | None
    api_url: str | None
    timeout: float
    default_region: str
    time_zone: ZoneInfo
    quiet_hours: QuietHours
    keywords: KeywordClassifier
    send_rate: float = 1.0


def _with_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """The SMS settings of ``config``, defaults filled in for those it lacks."""
    values = {setting.key: setting.default for setting in SMS_SETTINGS}
    values.update({key: config[key] for key in values if key in config})
    return values


def _words(value: Any) -> tuple[str, ...]:
    """Keywords from a list, or from a comma-separated string (as an instance file may hold them)."""
    if isinstance(value, str):
        return _optional_words(value)
    return tuple(value or ())


def _classifier(config: Mapping[str, Any]) -> KeywordClassifier:
    return KeywordClassifier(_words(config["SHOPCRM_SMS_OPT_OUT_KEYWORDS"]),
                             _words(config["SHOPCRM_SMS_OPT_IN_KEYWORDS"]),
                             _words(config["SHOPCRM_SMS_HELP_KEYWORDS"]))


def sms_enabled(config: Mapping[str, Any]) -> bool:
    return bool(config.get("SHOPCRM_TWILIO_ACCOUNT_SID"))


def check_api_url(url: str) -> str:
    """An http(s) URL without path; plain http only to this machine (it carries the auth token)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise ValueError(f"{url!r} must be a base address like https://api.example or http://127.0.0.1:8080")
    if parts.scheme == "http":
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if not loopback:
            raise ValueError(f"{url!r}: plain http would send the auth token unencrypted; "
                             "use https, or http only to 127.0.0.1 (a local fake)")
    return f"{parts.scheme}://{parts.netloc}"


def sms_problems(config: Mapping[str, Any]) -> list[str]:
    """Everything wrong with the SMS settings, as sentences for ``config.validate``."""
    problems: list[str] = []
    config = _with_defaults(config)
    try:
        _classifier(config)
    except (ValueError, TypeError) as exc:
        problems.append(f"SHOPCRM_SMS_*_KEYWORDS: {exc}")
    try:
        QuietHours.parse(config.get("SHOPCRM_SMS_QUIET_HOURS"))
    except (ValueError, AttributeError) as exc:
        problems.append(f"SHOPCRM_SMS_QUIET_HOURS: {exc}")
    for key in ("SHOPCRM_SMS_SEND_RATE", "SHOPCRM_SMS_PRICE_PER_SEGMENT"):
        value = config.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            problems.append(f"{key} must be a number of at least 0")
    timeout = config.get("SHOPCRM_SMS_TIMEOUT")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 600:
        problems.append("SHOPCRM_SMS_TIMEOUT must be a number of seconds above 0 and at most 600")
    if config.get("SHOPCRM_TWILIO_API_URL"):
        try:
            check_api_url(config["SHOPCRM_TWILIO_API_URL"])
        except (ValueError, AttributeError) as exc:
            problems.append(f"SHOPCRM_TWILIO_API_URL: {exc}")
    if not sms_enabled(config):
        return problems
    if not _ACCOUNT_SID.fullmatch(str(config["SHOPCRM_TWILIO_ACCOUNT_SID"])):
        problems.append("SHOPCRM_TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits, as in Twilio's console")
    if not config.get("SHOPCRM_TWILIO_AUTH_TOKEN"):
        problems.append("SHOPCRM_TWILIO_AUTH_TOKEN is required when SMS is on (SHOPCRM_TWILIO_ACCOUNT_SID is set)")
    sender, service = config.get("SHOPCRM_TWILIO_FROM"), config.get("SHOPCRM_TWILIO_MESSAGING_SERVICE_SID")
    if not sender and not service:
        problems.append("SMS needs a sender: SHOPCRM_TWILIO_FROM (+4915... or an alphanumeric ID) "
                        "or SHOPCRM_TWILIO_MESSAGING_SERVICE_SID (MG...)")
    if sender and not (_E164.fullmatch(str(sender)) or _ALPHANUMERIC_SENDER.fullmatch(str(sender))):
        problems.append(f"SHOPCRM_TWILIO_FROM {sender!r} must be a number in E.164 (+4915123456789) "
                        "or an alphanumeric sender ID of at most 11 letters, digits and spaces")
    if service and not _SERVICE_SID.fullmatch(str(service)):
        problems.append("SHOPCRM_TWILIO_MESSAGING_SERVICE_SID must be MG followed by 32 hex digits")
    for key, check in (("SHOPCRM_SMS_DEFAULT_REGION", check_region), ("SHOPCRM_SMS_TIME_ZONE", zone)):
        if not config.get(key):
            problems.append(f"{key} is required when SMS is on")
            continue
        try:
            check(str(config[key]))
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
    return problems


def load(config: Mapping[str, Any]) -> SmsSettings:
    """The checked settings; :class:`ConfigError` listing every problem, or when SMS is off."""
    if not sms_enabled(config):
        raise ConfigError("SMS is off: set SHOPCRM_TWILIO_ACCOUNT_SID (and the token, a sender, "
                          "SHOPCRM_SMS_DEFAULT_REGION and SHOPCRM_SMS_TIME_ZONE) to send SMS")
    problems = sms_problems(config)
    config = _with_defaults(config)
    if problems:
        raise ConfigError("SMS settings are invalid:\n- " + "\n- ".join(problems))
    api_url = config.get("SHOPCRM_TWILIO_API_URL")
    return SmsSettings(
        account_sid=config["SHOPCRM_TWILIO_ACCOUNT_SID"],
        auth_token=config["SHOPCRM_TWILIO_AUTH_TOKEN"],
        sender=config.get("SHOPCRM_TWILIO_FROM") or None,
        messaging_service_sid=config.get("SHOPCRM_TWILIO_MESSAGING_SERVICE_SID") or None,
        api_url=check_api_url(api_url) if api_url else None,
        timeout=float(config["SHOPCRM_SMS_TIMEOUT"]),
        default_region=check_region(config["SHOPCRM_SMS_DEFAULT_REGION"]),
        time_zone=zone(config["SHOPCRM_SMS_TIME_ZONE"]),
        quiet_hours=QuietHours.parse(config.get("SHOPCRM_SMS_QUIET_HOURS")),
        keywords=_classifier(config),
        send_rate=float(config["SHOPCRM_SMS_SEND_RATE"]),
    )
