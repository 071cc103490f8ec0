"""Configuration: every setting with its default, its environment variable and its check.

Order of precedence (later wins): the defaults below, the instance file
(``instance/shopcrm.cfg`` or the file named by ``SHOPCRM_SETTINGS``), environment
variables, and finally the mapping passed to ``create_app`` (tests).

Environment variables are read from ``os.environ`` when the app is created. Under
mod_wsgi Apache's ``SetEnv`` does not reach ``os.environ`` at import time, which is why
the instance file is the recommended place for production settings.

Each setting carries the check of its value (``check=``), written next to it; ``validate``
runs them all and reports every problem at once.

It is the longest module on purpose: one table of every setting with its check beside it (a check
written far from its setting is the one forgotten when the setting changes).
"""
from __future__ import annotations

import math
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ConfigError
from .vocab import ALGORITHMS, LEVELS

#: Secret keys that are obviously not secret; refused in production.
PLACEHOLDER_SECRETS = {"", "dev", "development", "secret", "change-me", "changeme", "please-change-me", "test"}
MIN_SECRET_LENGTH = 24
#: A secret must be worth this much guessing (zxcvbn's estimate): 64 random hex digits are worth
#: 210, a 24-letter repeat or a sentence of common words far less.
MIN_SECRET_BITS = 128
ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters carry the estimate
ENVIRONMENTS = ("production", "development", "testing")
#: Where a mapping's product views come from (``SHOPCRM_SHOP_VIEWS``).
VIEW_SOURCES = ("preset", "shop", "beacon", "both", "none")
INSTANCE_FILE = "shopcrm.cfg"
#: The project's folders (templates and static files live beside the package, per the design card).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"
GENERATE_SECRET = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


# --- parsing an environment variable ------------------------------------------------------------------

def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a yes/no value, got {raw!r}")


def _parse_optional_int(raw: str) -> int | None:
    raw = raw.strip()
    if raw.lower() in {"", "none", "auto"}:
        return None
    return int(raw)


def _parse_optional_list(raw: str) -> tuple[str, ...] | None:
    """A comma-separated list (``2,3,5``); empty means "not set"."""
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    return items or None


# --- checks: each returns what is wrong with the setting's value, or None ------------------------------

Check = Callable[["Setting", Any, Mapping[str, Any]], "str | None"]


def whole(minimum: int, maximum: int | None = None, empty: bool = False, empty_means: str = "",
          zero_means: str = "", unit: str = "") -> Check:
    """A whole number in a range (``empty``: or None)."""
    def check(setting, value, config):
        if value is None and empty:
            return None
        if not isinstance(value, bool) and isinstance(value, int) and value >= minimum and (
                maximum is None or value <= maximum):
            return None
        kind = f"a whole number of {unit}" if unit else "a whole number"
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"≥ {minimum}"
        text = f"{setting.key} must be {kind} {bounds}"
        if empty:
            text = f"{setting.key} must be empty{f' ({empty_means})' if empty_means else ''} or {kind} {bounds}"
        return text + (f" (0 = {zero_means})" if zero_means else "")
    return check


def number(minimum: float, maximum: float | None = None, strict: bool = False) -> Check:
    """A number (whole or not) above ``minimum`` (``strict``: and not equal), at most ``maximum``."""
    def check(setting, value, config):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and (
                value > minimum if strict else value >= minimum) and (maximum is None or value <= maximum):
            return None
        if maximum is not None:
            return f"{setting.key} must be a number from {minimum} to {maximum}"
        return f"{setting.key} must be a number {'>' if strict else '≥'} {minimum}"
    return check


def one_of(choices: tuple[str, ...]) -> Check:
    def check(setting, value, config):
        if value in choices:
            return None
        return f"{setting.key} must be one of {', '.join(choices)}, not {value!r}"
    return check


def is_production(config: Mapping[str, Any]) -> bool:
    """Production unless ``SHOPCRM_ENV`` says otherwise (or a test says so). ``FLASK_DEBUG`` does
    not count: a debug switch left on must not also switch the secret check off."""
    return config.get("SHOPCRM_ENV") == "production" and not config.get("TESTING")


def secret_bits(value: str) -> float:
    """How many bits of guessing a secret is worth, by zxcvbn (dictionary words, keyboard
    patterns, repeats and sequences count as what they are; random characters count fully)."""
    from zxcvbn import zxcvbn

    return zxcvbn(value[:ZXCVBN_MAX_LENGTH])["guesses_log10"] * math.log2(10)


def weak_secret(value: Any) -> bool:
    return (not isinstance(value, str) or value.strip().lower() in PLACEHOLDER_SECRETS
            or len(value) < MIN_SECRET_LENGTH or secret_bits(value) < MIN_SECRET_BITS)


def strong_secret(setting, value, config):
    if is_production(config) and weak_secret(value):
        return (f"SECRET_KEY is missing or too weak for production (it must look random: at least "
                f"{MIN_SECRET_BITS} bits of guessing, not words or repeats). Generate one with\n    {GENERATE_SECRET}\n"
                f"and put it in the instance file ({INSTANCE_FILE}) as SECRET_KEY = '...' "
                "or in the SHOPCRM_SECRET_KEY environment variable.")
    return None


def beacon_secret(setting, value, config):
    """The beacon is on exactly when it has a secret; in production that secret must be real,
    and it must differ from SECRET_KEY, because it is also written into the shop's PHP files."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "SHOPCRM_BEACON_SECRET must be a string"
    if not is_production(config):
        return None
    if weak_secret(value):
        return ("SHOPCRM_BEACON_SECRET is too weak for production (the view beacon is on because it is set). "
                f"Generate one with\n    {GENERATE_SECRET}\nand put the same value in the shop's "
                "shopcrm_beacon_config.php, or remove the setting to turn the beacon off.")
    if value == config.get("SECRET_KEY"):
        return ("SHOPCRM_BEACON_SECRET must differ from SECRET_KEY: the beacon secret is also stored in the shop's "
                "PHP files")
    return None


def table_prefix(setting, value, config):
    if value is None or (isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_]{0,32}", value)):
        return None
    return "SHOPCRM_SHOP_TABLE_PREFIX may hold only letters, digits and _ (at most 32), e.g. oc_"


def order_statuses(setting, value, config):
    if value is None or (isinstance(value, (list, tuple)) and value and all(
            isinstance(s, (str, int)) and not isinstance(s, bool) for s in value)):
        return None
    return "SHOPCRM_SHOP_ORDER_STATUSES must be empty or a list of statuses, e.g. 2,3,5"


def time_zone(setting, value, config):
    from .clock import zone_named

    try:
        zone_named(value)
    except ValueError as exc:
        return f"{setting.key}: {exc}"
    return None


def currency(setting, value, config):
    from babel.numbers import get_currency_name

    if isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value) and get_currency_name(value) != value:
        return None
    return f"{setting.key} must be a three-letter currency code like EUR, GBP or USD, not {value!r}"


def locale_name(setting, value, config):
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError, TypeError):
        return f"{setting.key} must be a locale like en, en_GB, de_DE or fr_FR, not {value!r}"
    return None


def k_range(setting, value, config):
    k_min = config.get("SHOPCRM_K_MIN")
    if isinstance(k_min, int) and isinstance(value, int) and 2 <= k_min <= value:
        return None
    return "SHOPCRM_K_MIN and SHOPCRM_K_MAX must be whole numbers with 2 ≤ K_MIN ≤ K_MAX"


def mount_path(setting, value, config):
    if not value or (value.startswith("/") and not value.endswith("/")):
        return None
    return "SHOPCRM_MOUNT must start with '/' and not end with '/' (e.g. /crm), or be empty"


def plain_auth(setting, value, config):
    """A mail password goes only over an encrypted connection, unless allowed on purpose."""
    if value or not config.get("MAIL_SERVER") or not (config.get("MAIL_USERNAME") or config.get("MAIL_PASSWORD")):
        return None
    if config.get("MAIL_USE_TLS") or config.get("MAIL_USE_SSL"):
        return None
    return ("MAIL_USERNAME/MAIL_PASSWORD are set but neither MAIL_USE_TLS nor MAIL_USE_SSL: the mail password "
            "would cross the network unencrypted. Set SHOPCRM_MAIL_USE_TLS=1 (port 587) or SHOPCRM_MAIL_USE_SSL=1 "
            "(port 465); only for a server on this machine set SHOPCRM_MAIL_ALLOW_PLAIN_AUTH=1")


def optional_web_address(setting, value, config):
    """Empty, or an absolute http(s) address (an image a mail client loads, e.g. the shop's logo)."""
    from urllib.parse import urlsplit

    if value is None or value == "":
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is not None and parts.scheme in ("http", "https") and parts.netloc and len(value) <= 500:
        return None
    return f"{setting.key} must be empty or a web address like https://shop.example.com/logo.png, not {value!r}"


def postal_address(setting, value, config):
    if value is None or (isinstance(value, str) and len(value) <= 300):
        return None
    return f"{setting.key} must be the shop's postal address in at most 300 characters (lines separated by commas)"


@dataclass(frozen=True)
class Setting:
    """One configuration key: its default, how an environment string is parsed, the
    environment variable that sets it, and the check of its value."""

    key: str
    default: Any
    parse: Callable[[str], Any] = str
    env: str | None = None
    help: str = ""
    check: Check | None = None

    @property
    def env_name(self) -> str:
        return self.env or (self.key if self.key.startswith("SHOPCRM_") else f"SHOPCRM_{self.key}")


SETTINGS: tuple[Setting, ...] = (
    # --- the application ---------------------------------------------------------------
    Setting("SHOPCRM_ENV", "production", str, help="production, development or testing", check=one_of(ENVIRONMENTS)),
    Setting("SECRET_KEY", None, str, help="signs sessions, CSRF tokens and links in emails", check=strong_secret),
    Setting("SQLALCHEMY_DATABASE_URI", None, str, env="SHOPCRM_DATABASE_URI",
            help="shopcrm's own database (crm_ tables); default: SQLite in the instance folder"),
    Setting("SHOPCRM_SHOP_DATABASE_URI", None, str,
            help="the shop's database, read-only; default: the demo shop in the instance folder"),
    Setting("SHOPCRM_SHOP_PRESET", "generic", str,
            help="mapping preset: generic, opencart, opencart40, opencart3, prestashop"),
    Setting("SHOPCRM_SHOP_MAPPING_FILE", None, str, help="a TOML mapping file for a custom shop schema"),
    Setting("SHOPCRM_SHOP_TABLE_PREFIX", None, str,
            help="table prefix of the shop, e.g. oc_ or ps_; unset: the preset's (oc_, ps_, none for generic)",
            check=table_prefix),
    Setting("SHOPCRM_SHOP_LANGUAGE_ID", None, _parse_optional_int,
            help="language of product and category names (OpenCart language_id, PrestaShop id_lang); unset: 1",
            check=whole(0, empty=True)),
    Setting("SHOPCRM_SHOP_STORE_ID", None, _parse_optional_int,
            help="PrestaShop: the shop (id_shop) whose product and category names are read; unset: 1",
            check=whole(0, empty=True)),
    Setting("SHOPCRM_SHOP_ORDER_STATUSES", None, _parse_optional_list,
            help="order statuses that count as sales (comma-separated); unset: the preset's "
                 "(generic complete,processing; OpenCart 1,2,3,5,12); PrestaShop uses orders.valid instead",
            check=order_statuses),
    Setting("SHOPCRM_SHOP_VIEWS", "preset", str,
            help="where product views come from: preset (its default), shop (the shop's own table), "
                 "beacon (shopcrm's crm_view), both, none (no views, no beacon: browsing data off by choice)",
            check=one_of(VIEW_SOURCES)),
    # --- the view beacon -------------------------------------------------------------------
    Setting("SHOPCRM_BEACON_SECRET", None, str,
            help="shared secret of the view beacon (HMAC-SHA256); unset or empty: the beacon is off",
            check=beacon_secret),
    Setting("SHOPCRM_BEACON_WINDOW_SECONDS", 300, int,
            help="a beacon older or further in the future than this is refused",
            check=whole(10, 86400, unit='seconds')),
    Setting("SHOPCRM_BEACON_RATE_PER_MINUTE", 120, int,
            help="beacon requests accepted per client address and minute (all processes together)", check=whole(1)),
    Setting("SHOPCRM_SHOP_BASE_URL", "http://127.0.0.1:5000/", str,
            help="the shop's public address; product links in emails are built from it"),
    Setting("SHOPCRM_SHOP_NAME", "Demo Shop", str,
            help="the shop's name, shown to shoppers in e-mails and on their pages"),
    Setting("SHOPCRM_SHOP_TIMEZONE", None, str, check=time_zone,
            help="the shop's time zone, for dates on pages and in e-mails (IANA name like Europe/Berlin); "
                 "unset: this server's local zone"),
    Setting("SHOPCRM_SHOP_DB_TIMEZONE", None, str, check=time_zone,
            help="the zone of the times stored in the shop's tables: UTC for Magento; unset: the shop's zone"),
    Setting("SHOPCRM_CURRENCY", "EUR", str, check=currency, help="the shop's currency (ISO 4217 code, e.g. EUR, GBP)"),
    Setting("SHOPCRM_LOCALE", "en_GB", str, check=locale_name,
            help="how numbers, money and dates are written (e.g. en, en_GB, de_DE, fr_FR)"),
    Setting("SHOPCRM_MOUNT", "/crm", str,
            help="path prefix when shopcrm runs standalone (dev server, gunicorn); "
                 "under mod_wsgi the WSGIScriptAlias sets it", check=mount_path),
    Setting("SHOPCRM_PUBLIC_URL", "http://127.0.0.1:5000/crm/", str,
            help="shopcrm's public address, used for links in emails sent from the CLI"),
    # --- interest mining -----------------------------------------------------------------
    Setting("SHOPCRM_WEIGHT_VIEW", 1.0, float, check=number(0), help="interest a product view adds to its category"),
    Setting("SHOPCRM_WEIGHT_CART", 3.0, float, check=number(0), help="interest a product put in the cart adds"),
    Setting("SHOPCRM_WEIGHT_PURCHASE", 5.0, float, check=number(0), help="interest a product bought adds"),
    Setting("SHOPCRM_HALF_LIFE_DAYS", 30.0, float, check=number(0, strict=True),
            help="an action counts half as much after this many days (time decay of interests)"),
    Setting("SHOPCRM_INTEREST_HORIZON_DAYS", 365, int,
            help="events older than this are ignored (their weight is negligible anyway)", check=whole(1)),
    Setting("SHOPCRM_N_CLUSTERS", None, _parse_optional_int, help="fixed k, or empty for automatic",
            check=whole(2, empty=True, empty_means='automatic')),
    Setting("SHOPCRM_K_MIN", 2, int, check=whole(2), help="fewest interest segments tried when k is automatic"),
    Setting("SHOPCRM_K_MAX", 12, int, check=k_range, help="most interest segments tried when k is automatic"),
    Setting("SHOPCRM_SILHOUETTE_SAMPLE", 2000, int,
            help="customers sampled to choose k, score silhouettes and build the agglomerative tree", check=whole(1)),
    Setting("SHOPCRM_RANDOM_STATE", 0, int, check=whole(0),
            help="seed of the samples and of k-means: the same data gives the same segments"),
    Setting("SHOPCRM_INTEREST_LEVEL", "category", str, help="segment on category, brand or both interests",
            check=one_of(LEVELS)),
    Setting("SHOPCRM_CLUSTER_ALGORITHM", "kmeans", str, help="kmeans or agglomerative", check=one_of(ALGORITHMS)),
    Setting("SHOPCRM_MINIBATCH_THRESHOLD", 50_000, int, help="above this many customers k-means runs in mini-batches",
            check=whole(1)),
    Setting("SHOPCRM_STABILITY_RUNS", 3, int, help="reseeded refits that measure a run's stability (0: skip)",
            check=whole(0, 20)),
    Setting("SHOPCRM_MINING_THREADS", 1, int,
            help="threads numpy/scikit-learn may use in a run (1 keeps a shared host responsive, and is "
                 "faster on a busy 2-core machine, where OpenMP threads spin)", check=whole(1)),
    # --- value types (seed 004) ------------------------------------------------------------
    Setting("SHOPCRM_VALUE_WINDOW_DAYS", 365, int, check=whole(1),
            help="orders of this many days make up frequency and spend (value types, RFM, actions)"),
    Setting("SHOPCRM_NEW_DAYS", 90, int, check=whole(1), help="an account younger than this is of the type new"),
    Setting("SHOPCRM_GROWTH_DAYS", 90, int, check=whole(1),
            help="most growth: first order within this many days, or spend in them up sharply"),
    Setting("SHOPCRM_GROWTH_RATIO", 3.0, float, check=number(0, strict=True),
            help="sharply up: recent spend at least this many times the earlier spend per period"),
    # --- churn, actions, rules ---------------------------------------------------------
    Setting("SHOPCRM_CHURN_GAP_FACTOR", 3.0, float,
            help="silence of this many usual gaps between orders scores 0.5 (churn risk)",
            check=number(0, strict=True)),
    Setting("SHOPCRM_CHURN_MIN_DAYS", 30, int, help="no churn risk before this many days without an order",
            check=whole(0)),
    Setting("SHOPCRM_ORDER_HISTORY_DAYS", 730, int, help="order lines read for rules, sequences and product figures",
            check=whole(1)),
    Setting("SHOPCRM_RULE_MIN_SUPPORT", 0.0, float, check=number(0, 1), help="share of baskets a rule needs at least"),
    Setting("SHOPCRM_RULE_MIN_CONFIDENCE", 0.05, float, check=number(0, 1),
            help="share of baskets with A that hold B too, at least"),
    Setting("SHOPCRM_RULE_MIN_LIFT", 1.0, float, check=number(0),
            help="how much likelier B is with A than without, at least"),
    Setting("SHOPCRM_RULE_MIN_COUNT", 5, int, help="baskets (or customers) a rule needs at least", check=whole(1)),
    Setting("SHOPCRM_RULE_MAX", 5000, int, help="rules kept per kind, strongest first", check=whole(1)),
    # --- runs --------------------------------------------------------------------------
    Setting("SHOPCRM_RUN_HISTORY", 12, int, help="segmentation runs kept, the current one included", check=whole(1)),
    Setting("SHOPCRM_LOCK_TTL_SECONDS", 900, int, check=whole(1),
            help="a run's (or enqueue's) lock expires after this long without renewal, so a killed process "
                 "blocks the next one no longer"),
    # --- email -------------------------------------------------------------------------
    Setting("MAIL_SERVER", None, str, env="SHOPCRM_MAIL_SERVER",
            help="SMTP host; empty means write .eml files to the outbox folder"),
    Setting("MAIL_PORT", 25, int, env="SHOPCRM_MAIL_PORT", check=whole(1, 65535),
            help="SMTP port (587 with TLS, 465 with SSL)"),
    Setting("MAIL_USE_TLS", False, _parse_bool, env="SHOPCRM_MAIL_USE_TLS", help="STARTTLS after connecting"),
    Setting("MAIL_USE_SSL", False, _parse_bool, env="SHOPCRM_MAIL_USE_SSL", help="TLS from the first byte (port 465)"),
    Setting("MAIL_USERNAME", None, str, env="SHOPCRM_MAIL_USERNAME", help="SMTP login; unset: no login"),
    Setting("MAIL_PASSWORD", None, str, env="SHOPCRM_MAIL_PASSWORD", help="SMTP password"),
    Setting("MAIL_MAX_EMAILS", None, _parse_optional_int, env="SHOPCRM_MAIL_MAX_EMAILS",
            help="a new SMTP session after this many messages (relays that limit sessions); empty = one per batch",
            check=whole(1, empty=True, empty_means='one SMTP session per batch')),
    Setting("MAIL_DEFAULT_SENDER", "Demo Shop <shop@example.com>", str, env="SHOPCRM_MAIL_DEFAULT_SENDER",
            help="the From of every e-mail; use an address of the shop's own domain"),
    Setting("SHOPCRM_OUTBOX_DIR", None, str, help="where .eml files go without SMTP; default instance/outbox"),
    Setting("SHOPCRM_SEND_BATCH_SIZE", 500, int,
            help="outbox rows a sender claims at a time; one SMTP session, unless MAIL_MAX_EMAILS says fewer",
            check=whole(1)),
    Setting("SHOPCRM_RECOMMENDATIONS", 4, int, help="products recommended per email", check=whole(0)),
    Setting("SHOPCRM_SEND_RATE", 0.0, float, check=number(0),
            help="messages per second per sender; 0 = as fast as the server takes them"),
    Setting("SHOPCRM_SEND_LEASE_SECONDS", 300, int,
            help="how long a sender's claim on outbox rows (and its cron lock) lasts without renewal", check=whole(2)),
    Setting("SHOPCRM_SMTP_TIMEOUT", 60.0, float, help="seconds to wait for the mail server before giving up",
            check=number(0)),
    Setting("SHOPCRM_SEND_CHECKS_MAX_AGE", 60.0, float,
            help="seconds a batch's checks before sending (consent, address, bought meanwhile, cap) stay valid; "
                 "a batch that takes longer gives its rest back to be claimed and checked anew", check=number(0)),
    Setting("SHOPCRM_UNSUBSCRIBE_MAILTO", None, str,
            help="address for the mailto: part of List-Unsubscribe; default: the sender address"),
    Setting("SHOPCRM_FREQUENCY_CAP", 3, int,
            help="marketing emails per address within SHOPCRM_FREQUENCY_CAP_DAYS; 0 = no cap",
            check=whole(0, zero_means='no cap')),
    Setting("SHOPCRM_FREQUENCY_CAP_DAYS", 7, int, check=whole(1), help="the days SHOPCRM_FREQUENCY_CAP counts over"),
    Setting("SHOPCRM_CAP_EXEMPT_REMINDERS", False, _parse_bool,
            help="abandoned-cart and browse reminders ignore the frequency cap"),
    Setting("SHOPCRM_SOFT_BOUNCE_LIMIT", 7, int, help="consecutive temporary refusals before an address is suppressed",
            check=whole(1)),
    Setting("SHOPCRM_TRACK_CLICKS", True, _parse_bool, help="rewrite shop links through a signed redirect"),
    Setting("SHOPCRM_TRACK_OPENS", False, _parse_bool, help="add an open-tracking image (off by default)"),
    Setting("SHOPCRM_ATTRIBUTION_DAYS", 5, int, help="orders within this many days after a click count for the email",
            check=whole(1)),
    Setting("SHOPCRM_SHOP_LOGO_URL", None, str, check=optional_web_address,
            help="the shop's logo at the top of every e-mail (an https address of a PNG or JPEG about 400×100 px); "
                 "unset: the shop's name in large letters"),
    Setting("SHOPCRM_SHOP_ADDRESS", None, str, check=postal_address,
            help="the shop's postal address, shown in the footer of every marketing e-mail (required by law in the "
                 "EU and the US); lines separated by commas"),
    # --- admin -------------------------------------------------------------------------
    Setting("SHOPCRM_PAGE_SIZE", 50, int, check=whole(1), help="rows per page in the admin panel's lists"),
    Setting("SHOPCRM_RESULTS_MAX_AGE", 15, int,
            help="seconds a large campaign's results page may reuse figures counted before (per process); 0 = never",
            check=whole(0)),
    Setting("SHOPCRM_RESULTS_CACHE_FROM", 10000, int,
            help="messages from which a campaign's figures are reused that way (smaller ones are counted every time)",
            check=whole(0)),
    # --- request limits, proxies, mail login (shopcrm.request_guard, docs/SECURITY.md) ----------
    Setting("MAX_CONTENT_LENGTH", 2 * 1024 * 1024, int, env="SHOPCRM_MAX_CONTENT_LENGTH",
            help="largest request body in bytes (forms); larger ones are refused unread with 413",
            check=whole(1024, unit="bytes", empty=True, empty_means="the host app's, or 2 MB")),
    Setting("MAX_FORM_MEMORY_SIZE", 1024 * 1024, int, env="SHOPCRM_MAX_FORM_MEMORY_SIZE",
            help="largest single form field in bytes (an e-mail template, say)",
            check=whole(1024, unit="bytes", empty=True, empty_means="the host app's, or 1 MB")),
    Setting("SHOPCRM_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, int,
            help="largest request body for pages that take a file (a CSV import); keep Apache's "
                 "LimitRequestBody at least this large", check=whole(1024, unit="bytes")),
    Setting("SHOPCRM_TRUSTED_PROXIES", 0, int,
            help="proxies in front of shopcrm whose X-Forwarded-For/-Proto are believed: 0 under mod_wsgi, "
                 "1 behind Apache's ProxyPass to gunicorn", check=whole(0, 5)),
    Setting("SHOPCRM_MAIL_ALLOW_PLAIN_AUTH", False, _parse_bool,
            help="allow the SMTP login without TLS (only for a mail server on this machine)", check=plain_auth),
    # --- predicted value and churn (appended by the lifetime work) ---------------------------------
    Setting("SHOPCRM_PREDICTION_HORIZON_DAYS", 90, int,
            help="days ahead that each run predicts purchases and value for; also the horizon its backtest "
                 "of the churn and value rankings looks back and checks (and `backtest`'s default)",
            check=whole(7, 730, unit="days")),
    Setting("SHOPCRM_MIN_REPEAT_BUYERS", 200, int,
            help="below this many customers who bought more than once, no lifetime model is fitted: the run "
                 "says so and ranks by RFM (from 200 on the fits were reliable in the benchmark)",
            check=whole(1)),
    # --- faults: timeouts, messages in doubt, locks of dead processes ------------------------------
    Setting("SHOPCRM_SMTP_DATA_TIMEOUT", 180.0, float,
            help="seconds to wait for the mail server's answer after a message's end (RFC 5321 allows 600); "
                 "without an answer the message is in doubt, not resent; 0 = wait forever",
            check=number(0, 3600)),
    Setting("SHOPCRM_RESEND_IN_DOUBT", False, _parse_bool,
            help="send messages in doubt (handed over, no answer) again automatically, with the same Message-ID; "
                 "off: an admin decides with `flask shopcrm outbox resolve`"),
    Setting("SHOPCRM_TAKE_OVER_DEAD_HOLDERS", True, _parse_bool,
            help="a lock or outbox claim held by a process of this host that is gone is taken over at once; "
                 "turn off if machines or containers sharing one host name use the same database"),
    Setting("SHOPCRM_DB_CONNECT_TIMEOUT", 5.0, float,
            help="seconds to connect (and log in) to a MySQL/MariaDB database, shopcrm's own and the shop's",
            check=number(0, 600, strict=True)),
    Setting("SHOPCRM_DB_READ_TIMEOUT", 10.0, float,
            help="seconds an admin page waits for a MySQL/MariaDB database to answer before it says so",
            check=number(0, 3600, strict=True)),
    Setting("SHOPCRM_DB_JOB_READ_TIMEOUT", 600.0, float,
            help="the same for commands and cron jobs (segment, send, ...), whose long reads take longer",
            check=number(0, 86400, strict=True)),
)


#: Checks of a group of settings as a whole (e.g. SMS: required together), added by :func:`register`.
GROUP_CHECKS: list[Callable[[Mapping[str, Any]], list[str]]] = []


def register(settings: tuple[Setting, ...], group_check: Callable[[Mapping[str, Any]], list[str]] | None = None) -> None:
    """Add the settings a part of shopcrm declares beside its code (the SMS settings live with
    the SMS parts, which the core may not import). The app factory's module calls this when it
    is imported, before anything reads :data:`SETTINGS`; calling it twice adds nothing."""
    global SETTINGS
    known = {s.key for s in SETTINGS}
    SETTINGS = SETTINGS + tuple(s for s in settings if s.key not in known)
    if group_check is not None and group_check not in GROUP_CHECKS:
        GROUP_CHECKS.append(group_check)


def defaults() -> dict[str, Any]:
    """The default configuration, before any file or environment variable is read."""
    values = {s.key: s.default for s in SETTINGS}
    values.update(
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_NAME="shopcrm_remember",  # a name no shop beside it uses (Flask-Login's default is generic)
        WTF_CSRF_TIME_LIMIT=None,
        MAIL_SUPPRESS_SEND=False,
    )
    return values


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every known setting from ``SHOPCRM_*`` variables, parsed to its type.

    A value that does not parse is a :class:`ConfigError` naming the variable, rather than a
    surprise later in a request.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems = []
    for setting in SETTINGS:
        raw = environ.get(setting.env_name)
        if raw is None:
            continue
        try:
            values[setting.key] = setting.parse(raw)
        except ValueError as exc:
            problems.append(f"{setting.env_name}={raw!r}: {exc}")
    if problems:
        raise ConfigError("invalid environment variable(s): " + "; ".join(problems))
    return values


def fill_paths(config: dict[str, Any], instance_path: str) -> None:
    """Defaults that depend on the instance folder (SQLite files, the outbox)."""
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(instance_path, "shopcrm.db")
    if not config.get("SHOPCRM_SHOP_DATABASE_URI"):
        config["SHOPCRM_SHOP_DATABASE_URI"] = "sqlite:///" + os.path.join(instance_path, "demo_shop.db")
    if not config.get("SHOPCRM_OUTBOX_DIR"):
        config["SHOPCRM_OUTBOX_DIR"] = os.path.join(instance_path, "outbox")
    # MariaDB closes idle connections (wait_timeout); pre-ping and recycle hide that from users.
    engine_options = {"pool_pre_ping": True, "pool_recycle": 1800}
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", dict(engine_options))
    binds = dict(config.get("SQLALCHEMY_BINDS") or {})
    binds["shop"] = {"url": config["SHOPCRM_SHOP_DATABASE_URI"], **engine_options}
    config["SQLALCHEMY_BINDS"] = binds


def ensure_dev_secret(config: dict[str, Any]) -> None:
    """Outside production a missing SECRET_KEY is replaced by a random one for this process
    (sessions and links then last until a restart; ``flask shopcrm init`` writes a lasting one)."""
    if not config.get("SECRET_KEY") and not is_production(config):
        config["SECRET_KEY"] = secrets.token_hex(32)


def coerce_strings(config: dict[str, Any]) -> list[str]:
    """A settings file may write a typed value as the environment does (``'5,1,2'``, ``'587'``,
    ``'yes'``): such strings are parsed like the environment variable would be. Returns what
    could not be parsed, as problems."""
    found = []
    for setting in SETTINGS:
        value = config.get(setting.key)
        if isinstance(value, str) and setting.parse is not str:
            try:
                config[setting.key] = setting.parse(value)
            except ValueError as exc:
                found.append(f"{setting.key}={value!r}: {exc}")
    return found


def problems(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with the configuration, one line per problem (nothing: it is fine)."""
    found = []
    for setting in SETTINGS:
        if setting.check is not None:
            problem = setting.check(setting, config.get(setting.key), config)
            if problem:
                found.append(problem)
    for group_check in GROUP_CHECKS:
        found.extend(group_check(config))
    return found


def validate(config: dict[str, Any]) -> None:
    """Refuse a configuration that would misbehave later; all problems in one message."""
    found = coerce_strings(config) + problems(config)
    if found:
        raise ConfigError("shopcrm cannot start:\n- " + "\n- ".join(found))


def settings_file(instance_path: str) -> str:
    """The settings file the app reads: the one ``SHOPCRM_SETTINGS`` names, else the instance
    folder's ``shopcrm.cfg``."""
    return os.environ.get("SHOPCRM_SETTINGS") or os.path.join(instance_path, INSTANCE_FILE)


def write_instance_settings(instance_path: str, path: str | None = None) -> tuple[str, bool]:
    """Create the settings file (``path``, else :func:`settings_file`) with a fresh SECRET_KEY;
    never overwrite one.

    Returns the path and whether it was written. It needs no app (``python -m shopcrm init``):
    a production app refuses to start before this file exists.
    """
    from .private_files import private_folder

    path = path or settings_file(instance_path)
    private_folder(os.path.dirname(os.path.abspath(path)))
    if os.path.exists(path):
        return path, False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# shopcrm settings (Python syntax). See docs/CONFIGURATION.md and deploy/shopcrm.cfg.example.\n"
                 f"SECRET_KEY = {secrets.token_hex(32)!r}\n")
    return path, True


def instance_folder(config: Mapping[str, Any] | None = None) -> str:
    """The instance folder: ``SHOPCRM_INSTANCE_PATH``, else ``INSTANCE_PATH`` of ``config``
    (tests), else ``instance/`` beside ``wsgi.py`` (the app and its stand-in while the
    configuration is wrong, ``unconfigured.py``, agree on it)."""
    path = os.environ.get("SHOPCRM_INSTANCE_PATH") or (config or {}).get("INSTANCE_PATH")
    return str(Path(path).resolve()) if path else str(PROJECT_ROOT / "instance")
