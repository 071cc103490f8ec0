"""Configuration: defaults, the instance file, ``SHOPCRM_*`` variables, and validation.

Order of precedence (later wins): the defaults below, the instance file
(``instance/shopcrm.cfg`` or the file named by ``SHOPCRM_SETTINGS``), environment
variables, and finally the mapping passed to ``create_app`` (tests).

Environment variables are read from ``os.environ`` when the app is created. Under
mod_wsgi Apache's ``SetEnv`` does not reach ``os.environ`` at import time, which is why
the instance file is the recommended place for production settings.
"""
from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ConfigError

#: Secret keys that are obviously not secret; refused in production.
PLACEHOLDER_SECRETS = {"", "dev", "development", "secret", "change-me", "changeme", "please-change-me", "test"}
MIN_SECRET_LENGTH = 24

ENVIRONMENTS = ("production", "development", "testing")


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


def _parse_json(raw: str) -> Any:
    return json.loads(raw)


def _parse_optional_list(raw: str) -> tuple[str, ...] | None:
    """A comma-separated list (``2,3,5``); empty means "not set"."""
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    return items or None


#: Where a mapping's product views come from (``SHOPCRM_SHOP_VIEWS``).
VIEW_SOURCES = ("preset", "shop", "beacon", "both")


@dataclass(frozen=True)
class Setting:
    """One configuration key: its default, how an environment string is parsed, and the
    environment variable that sets it."""

    key: str
    default: Any
    parse: Callable[[str], Any] = str
    env: str | None = None
    help: str = ""

    @property
    def env_name(self) -> str:
        return self.env or (self.key if self.key.startswith("SHOPCRM_") else f"SHOPCRM_{self.key}")


SETTINGS: tuple[Setting, ...] = (
    # --- the application ---------------------------------------------------------------
    Setting("SHOPCRM_ENV", "production", str, help="production, development or testing"),
    Setting("SECRET_KEY", None, str, help="signs sessions, CSRF tokens and links in emails"),
    Setting("SQLALCHEMY_DATABASE_URI", None, str, env="SHOPCRM_DATABASE_URI",
            help="shopcrm's own database (crm_ tables); default: SQLite in the instance folder"),
    Setting("SHOPCRM_SHOP_DATABASE_URI", None, str,
            help="the shop's database, read-only; default: the demo shop in the instance folder"),
    Setting("SHOPCRM_SHOP_PRESET", "generic", str, help="mapping preset: generic, opencart, prestashop"),
    Setting("SHOPCRM_SHOP_MAPPING_FILE", None, str, help="a TOML mapping file for a custom shop schema"),
    Setting("SHOPCRM_SHOP_TABLE_PREFIX", None, str,
            help="table prefix of the shop, e.g. oc_ or ps_; unset: the preset's (oc_, ps_, none for generic)"),
    Setting("SHOPCRM_SHOP_LANGUAGE_ID", None, _parse_optional_int,
            help="language of product and category names (OpenCart language_id, PrestaShop id_lang); unset: 1"),
    Setting("SHOPCRM_SHOP_STORE_ID", None, _parse_optional_int,
            help="PrestaShop: the shop (id_shop) whose product and category names are read; unset: 1"),
    Setting("SHOPCRM_SHOP_ORDER_STATUSES", None, _parse_optional_list,
            help="order statuses that count as sales (comma-separated); unset: the preset's "
                 "(generic complete,processing; OpenCart 1,2,3,5,12); PrestaShop uses orders.valid instead"),
    Setting("SHOPCRM_SHOP_VIEWS", "preset", str,
            help="where product views come from: preset (its default), shop (the shop's own table), "
                 "beacon (shopcrm's crm_view), both"),
    # --- the view beacon -------------------------------------------------------------------
    Setting("SHOPCRM_BEACON_SECRET", None, str,
            help="shared secret of the view beacon (HMAC-SHA256); unset or empty: the beacon is off"),
    Setting("SHOPCRM_BEACON_WINDOW_SECONDS", 300, int,
            help="a beacon older or further in the future than this is refused"),
    Setting("SHOPCRM_BEACON_RATE_PER_MINUTE", 120, int,
            help="beacon requests accepted per client address and minute, per process"),
    Setting("SHOPCRM_SHOP_BASE_URL", "http://127.0.0.1:5000/", str,
            help="the shop's public address; product links in emails are built from it"),
    Setting("SHOPCRM_SHOP_NAME", "Demo Shop", str),
    Setting("SHOPCRM_CURRENCY", "€", str, help="the symbol e-mails put before prices: the shop's currency, e.g. $"),
    Setting("SHOPCRM_MOUNT", "/crm", str,
            help="path prefix when shopcrm runs standalone (dev server, gunicorn); "
                 "under mod_wsgi the WSGIScriptAlias sets it"),
    Setting("SHOPCRM_PUBLIC_URL", "http://127.0.0.1:5000/crm/", str,
            help="shopcrm's public address, used for links in emails sent from the CLI"),
    # --- interest mining -----------------------------------------------------------------
    Setting("SHOPCRM_WEIGHT_VIEW", 1.0, float),
    Setting("SHOPCRM_WEIGHT_CART", 3.0, float),
    Setting("SHOPCRM_WEIGHT_PURCHASE", 5.0, float),
    Setting("SHOPCRM_HALF_LIFE_DAYS", 30.0, float),
    Setting("SHOPCRM_INTEREST_HORIZON_DAYS", 365, int,
            help="events older than this are ignored (their weight is negligible anyway)"),
    Setting("SHOPCRM_N_CLUSTERS", None, _parse_optional_int, help="fixed k, or empty for automatic"),
    Setting("SHOPCRM_K_MIN", 2, int),
    Setting("SHOPCRM_K_MAX", 12, int),
    Setting("SHOPCRM_SILHOUETTE_SAMPLE", 2000, int,
            help="customers sampled to choose k, score silhouettes and build the agglomerative tree"),
    Setting("SHOPCRM_RANDOM_STATE", 0, int),
    Setting("SHOPCRM_INTEREST_LEVEL", "category", str, help="segment on category, brand or both interests"),
    Setting("SHOPCRM_CLUSTER_ALGORITHM", "kmeans", str, help="kmeans or agglomerative"),
    Setting("SHOPCRM_MINIBATCH_THRESHOLD", 50_000, int, help="above this many customers k-means runs in mini-batches"),
    Setting("SHOPCRM_STABILITY_RUNS", 3, int, help="reseeded refits that measure a run's stability (0: skip)"),
    Setting("SHOPCRM_MINING_THREADS", 1, int,
            help="threads numpy/scikit-learn may use in a run (1 keeps a shared host responsive, and is "
                 "faster on a busy 2-core machine, where OpenMP threads spin)"),
    # --- value types (seed 004) ------------------------------------------------------------
    Setting("SHOPCRM_VALUE_WINDOW_DAYS", 365, int),
    Setting("SHOPCRM_NEW_DAYS", 90, int),
    Setting("SHOPCRM_GROWTH_DAYS", 90, int),
    Setting("SHOPCRM_GROWTH_RATIO", 3.0, float),
    # --- churn, actions, rules ---------------------------------------------------------
    Setting("SHOPCRM_CHURN_GAP_FACTOR", 3.0, float,
            help="silence of this many usual gaps between orders scores 0.5 (churn risk)"),
    Setting("SHOPCRM_CHURN_MIN_DAYS", 30, int, help="no churn risk before this many days without an order"),
    Setting("SHOPCRM_ORDER_HISTORY_DAYS", 730, int, help="order lines read for rules, sequences and product figures"),
    Setting("SHOPCRM_RULE_MIN_SUPPORT", 0.0, float),
    Setting("SHOPCRM_RULE_MIN_CONFIDENCE", 0.05, float),
    Setting("SHOPCRM_RULE_MIN_LIFT", 1.0, float),
    Setting("SHOPCRM_RULE_MIN_COUNT", 5, int, help="baskets (or customers) a rule needs at least"),
    Setting("SHOPCRM_RULE_MAX", 5000, int, help="rules kept per kind, strongest first"),
    # --- runs --------------------------------------------------------------------------
    Setting("SHOPCRM_RUN_HISTORY", 12, int, help="segmentation runs kept, the current one included"),
    Setting("SHOPCRM_LOCK_TTL_SECONDS", 900, int),
    # --- email -------------------------------------------------------------------------
    Setting("MAIL_SERVER", None, str, env="SHOPCRM_MAIL_SERVER",
            help="SMTP host; empty means write .eml files to the outbox folder"),
    Setting("MAIL_PORT", 25, int, env="SHOPCRM_MAIL_PORT"),
    Setting("MAIL_USE_TLS", False, _parse_bool, env="SHOPCRM_MAIL_USE_TLS"),
    Setting("MAIL_USE_SSL", False, _parse_bool, env="SHOPCRM_MAIL_USE_SSL"),
    Setting("MAIL_USERNAME", None, str, env="SHOPCRM_MAIL_USERNAME"),
    Setting("MAIL_PASSWORD", None, str, env="SHOPCRM_MAIL_PASSWORD"),
    Setting("MAIL_MAX_EMAILS", None, _parse_optional_int, env="SHOPCRM_MAIL_MAX_EMAILS",
            help="a new SMTP session after this many messages (relays that limit sessions); empty = one per batch"),
    Setting("MAIL_DEFAULT_SENDER", "Demo Shop <shop@example.com>", str, env="SHOPCRM_MAIL_DEFAULT_SENDER"),
    Setting("SHOPCRM_OUTBOX_DIR", None, str, help="where .eml files go without SMTP; default instance/outbox"),
    Setting("SHOPCRM_SEND_BATCH_SIZE", 500, int,
            help="outbox rows a sender claims at a time; one SMTP session, unless MAIL_MAX_EMAILS says fewer"),
    Setting("SHOPCRM_RECOMMENDATIONS", 4, int, help="products recommended per email"),
    Setting("SHOPCRM_SEND_RATE", 0.0, float, help="messages per second per sender; 0 = as fast as the server takes them"),
    Setting("SHOPCRM_SEND_LEASE_SECONDS", 300, int,
            help="how long a sender's claim on outbox rows (and its cron lock) lasts without renewal"),
    Setting("SHOPCRM_SMTP_TIMEOUT", 60.0, float, help="seconds to wait for the mail server before giving up"),
    Setting("SHOPCRM_SEND_CHECKS_MAX_AGE", 60.0, float,
            help="seconds a batch's checks before sending (consent, address, bought meanwhile, cap) stay valid; "
                 "a batch that takes longer gives its rest back to be claimed and checked anew"),
    Setting("SHOPCRM_UNSUBSCRIBE_MAILTO", None, str,
            help="address for the mailto: part of List-Unsubscribe; default: the sender address"),
    Setting("SHOPCRM_FREQUENCY_CAP", 3, int,
            help="marketing emails per address within SHOPCRM_FREQUENCY_CAP_DAYS; 0 = no cap"),
    Setting("SHOPCRM_FREQUENCY_CAP_DAYS", 7, int),
    Setting("SHOPCRM_CAP_EXEMPT_REMINDERS", False, _parse_bool,
            help="abandoned-cart and browse reminders ignore the frequency cap"),
    Setting("SHOPCRM_SOFT_BOUNCE_LIMIT", 7, int, help="consecutive temporary refusals before an address is suppressed"),
    Setting("SHOPCRM_TRACK_CLICKS", True, _parse_bool, help="rewrite shop links through a signed redirect"),
    Setting("SHOPCRM_TRACK_OPENS", False, _parse_bool, help="add an open-tracking image (off by default)"),
    Setting("SHOPCRM_ATTRIBUTION_DAYS", 5, int, help="orders within this many days after a click count for the email"),
    # --- admin -------------------------------------------------------------------------
    Setting("SHOPCRM_PAGE_SIZE", 50, int),
    Setting("SHOPCRM_RESULTS_MAX_AGE", 15, int,
            help="seconds a large campaign's results page may reuse figures counted before (per process); 0 = never"),
    Setting("SHOPCRM_RESULTS_CACHE_FROM", 10000, int,
            help="messages from which a campaign's figures are reused that way (smaller ones are counted every time)"),
)

SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}
INSTANCE_FILE = "shopcrm.cfg"


def defaults() -> dict[str, Any]:
    """The default configuration, before any file or environment variable is read."""
    values = {s.key: s.default for s in SETTINGS}
    values.update(
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_NAME="shopcrm_remember",
        WTF_CSRF_TIME_LIMIT=None,
        MAIL_SUPPRESS_SEND=False,
    )
    return values


def from_environ(environ: dict[str, str] | None = None) -> dict[str, Any]:
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
        except (ValueError, json.JSONDecodeError) as exc:
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
        config["SHOPCRM_EPHEMERAL_SECRET"] = True


def is_production(config: dict[str, Any]) -> bool:
    return config.get("SHOPCRM_ENV") == "production" and not config.get("TESTING") and not config.get("DEBUG")


def _mining_problems(config: dict[str, Any]) -> list[str]:
    """Settings of the analyses that are not plain positive whole numbers."""
    problems = []
    if config.get("SHOPCRM_INTEREST_LEVEL") not in ("category", "brand", "both"):
        problems.append("SHOPCRM_INTEREST_LEVEL must be category, brand or both")
    if config.get("SHOPCRM_CLUSTER_ALGORITHM") not in ("kmeans", "agglomerative"):
        problems.append("SHOPCRM_CLUSTER_ALGORITHM must be kmeans or agglomerative")
    if not isinstance(config.get("SHOPCRM_STABILITY_RUNS"), int) or not 0 <= config["SHOPCRM_STABILITY_RUNS"] <= 20:
        problems.append("SHOPCRM_STABILITY_RUNS must be a whole number from 0 to 20")
    if not isinstance(config.get("SHOPCRM_CHURN_MIN_DAYS"), int) or config["SHOPCRM_CHURN_MIN_DAYS"] < 0:
        problems.append("SHOPCRM_CHURN_MIN_DAYS must be a whole number ≥ 0")
    for key in ("SHOPCRM_CHURN_GAP_FACTOR", "SHOPCRM_GROWTH_RATIO"):
        if not isinstance(config.get(key), (int, float)) or config[key] <= 0:
            problems.append(f"{key} must be a number > 0")
    for key in ("SHOPCRM_RULE_MIN_SUPPORT", "SHOPCRM_RULE_MIN_CONFIDENCE"):
        if not isinstance(config.get(key), (int, float)) or not 0 <= config[key] <= 1:
            problems.append(f"{key} must be a number from 0 to 1")
    if not isinstance(config.get("SHOPCRM_RULE_MIN_LIFT"), (int, float)) or config["SHOPCRM_RULE_MIN_LIFT"] < 0:
        problems.append("SHOPCRM_RULE_MIN_LIFT must be a number ≥ 0")
    return problems


def validate(config: dict[str, Any]) -> None:
    """Refuse a configuration that would misbehave later; all problems in one message."""
    problems: list[str] = []
    if config.get("SHOPCRM_ENV") not in ENVIRONMENTS:
        problems.append(f"SHOPCRM_ENV must be one of {', '.join(ENVIRONMENTS)}, not {config.get('SHOPCRM_ENV')!r}")
    if is_production(config):
        secret = config.get("SECRET_KEY") or ""
        if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                "SECRET_KEY is missing or too weak for production. Generate one with\n"
                "    python3 -c 'import secrets; print(secrets.token_hex(32))'\n"
                f"and put it in the instance file ({INSTANCE_FILE}) as SECRET_KEY = '...' "
                "or in the SHOPCRM_SECRET_KEY environment variable."
            )
    for key in ("SHOPCRM_WEIGHT_VIEW", "SHOPCRM_WEIGHT_CART", "SHOPCRM_WEIGHT_PURCHASE"):
        if not isinstance(config.get(key), (int, float)) or config[key] < 0:
            problems.append(f"{key} must be a number ≥ 0")
    if not isinstance(config.get("SHOPCRM_HALF_LIFE_DAYS"), (int, float)) or config["SHOPCRM_HALF_LIFE_DAYS"] <= 0:
        problems.append("SHOPCRM_HALF_LIFE_DAYS must be a number > 0")
    k_min, k_max, k = config.get("SHOPCRM_K_MIN"), config.get("SHOPCRM_K_MAX"), config.get("SHOPCRM_N_CLUSTERS")
    if not (isinstance(k_min, int) and isinstance(k_max, int) and 2 <= k_min <= k_max):
        problems.append("SHOPCRM_K_MIN and SHOPCRM_K_MAX must be whole numbers with 2 ≤ K_MIN ≤ K_MAX")
    if k is not None and (not isinstance(k, int) or k < 1):
        problems.append("SHOPCRM_N_CLUSTERS must be empty (automatic) or a whole number ≥ 1")
    for key in ("SHOPCRM_NEW_DAYS", "SHOPCRM_GROWTH_DAYS", "SHOPCRM_VALUE_WINDOW_DAYS", "SHOPCRM_PAGE_SIZE",
                "SHOPCRM_SEND_BATCH_SIZE", "SHOPCRM_RUN_HISTORY", "SHOPCRM_INTEREST_HORIZON_DAYS",
                "SHOPCRM_SILHOUETTE_SAMPLE", "SHOPCRM_MINIBATCH_THRESHOLD", "SHOPCRM_ORDER_HISTORY_DAYS",
                "SHOPCRM_RULE_MIN_COUNT", "SHOPCRM_RULE_MAX", "SHOPCRM_MINING_THREADS"):
        if not isinstance(config.get(key), int) or config[key] < 1:
            problems.append(f"{key} must be a whole number ≥ 1")
    problems.extend(_shop_problems(config))
    problems.extend(_beacon_problems(config))
    for key in ("SHOPCRM_FREQUENCY_CAP_DAYS", "SHOPCRM_SOFT_BOUNCE_LIMIT", "SHOPCRM_ATTRIBUTION_DAYS"):
        if not isinstance(config.get(key), int) or config[key] < 1:
            problems.append(f"{key} must be a whole number ≥ 1")
    for key in ("SHOPCRM_RESULTS_MAX_AGE", "SHOPCRM_RESULTS_CACHE_FROM"):
        if not isinstance(config.get(key), int) or config[key] < 0:
            problems.append(f"{key} must be a whole number ≥ 0")
    if not isinstance(config.get("SHOPCRM_FREQUENCY_CAP"), int) or config["SHOPCRM_FREQUENCY_CAP"] < 0:
        problems.append("SHOPCRM_FREQUENCY_CAP must be a whole number ≥ 0 (0 = no cap)")
    per_session = config.get("MAIL_MAX_EMAILS")
    if per_session is not None and (not isinstance(per_session, int) or isinstance(per_session, bool)
                                    or per_session < 1):
        problems.append("MAIL_MAX_EMAILS must be empty (one SMTP session per batch) or a whole number ≥ 1")
    if not isinstance(config.get("SHOPCRM_SEND_LEASE_SECONDS"), int) or config["SHOPCRM_SEND_LEASE_SECONDS"] < 2:
        problems.append("SHOPCRM_SEND_LEASE_SECONDS must be a whole number ≥ 2")
    for key in ("SHOPCRM_SEND_RATE", "SHOPCRM_SMTP_TIMEOUT", "SHOPCRM_SEND_CHECKS_MAX_AGE"):
        if not isinstance(config.get(key), (int, float)) or config[key] < 0:
            problems.append(f"{key} must be a number ≥ 0")
    problems.extend(_mining_problems(config))
    mount = config.get("SHOPCRM_MOUNT") or ""
    if mount and (not mount.startswith("/") or mount.endswith("/")):
        problems.append("SHOPCRM_MOUNT must start with '/' and not end with '/' (e.g. /crm), or be empty")
    if problems:
        raise ConfigError("shopcrm cannot start:\n- " + "\n- ".join(problems))


def _shop_problems(config: dict[str, Any]) -> list[str]:
    """The shop-mapping settings; the mapping itself is checked when it is loaded (``doctor``)."""
    problems = []
    prefix = config.get("SHOPCRM_SHOP_TABLE_PREFIX")
    if prefix is not None and (not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9_]{0,32}", prefix)):
        problems.append("SHOPCRM_SHOP_TABLE_PREFIX may hold only letters, digits and _ (at most 32), e.g. oc_")
    for key in ("SHOPCRM_SHOP_LANGUAGE_ID", "SHOPCRM_SHOP_STORE_ID"):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            problems.append(f"{key} must be empty or a whole number ≥ 0")
    statuses = config.get("SHOPCRM_SHOP_ORDER_STATUSES")
    if isinstance(statuses, str):  # the settings file may spell it as the environment does: '5,1,2'
        statuses = config["SHOPCRM_SHOP_ORDER_STATUSES"] = _parse_optional_list(statuses)
    if statuses is not None and (not isinstance(statuses, (list, tuple)) or not statuses
                                 or not all(isinstance(s, (str, int)) and not isinstance(s, bool) for s in statuses)):
        problems.append("SHOPCRM_SHOP_ORDER_STATUSES must be empty or a list of statuses, e.g. 2,3,5")
    if config.get("SHOPCRM_SHOP_VIEWS") not in VIEW_SOURCES:
        problems.append(f"SHOPCRM_SHOP_VIEWS must be one of {', '.join(VIEW_SOURCES)}, "
                        f"not {config.get('SHOPCRM_SHOP_VIEWS')!r}")
    return problems


def _beacon_problems(config: dict[str, Any]) -> list[str]:
    """The beacon is on exactly when it has a secret; in production that secret must be real,
    and it must differ from SECRET_KEY, because it is also written into the shop's PHP files."""
    problems = []
    window, rate = config.get("SHOPCRM_BEACON_WINDOW_SECONDS"), config.get("SHOPCRM_BEACON_RATE_PER_MINUTE")
    if not isinstance(window, int) or not 10 <= window <= 86400:
        problems.append("SHOPCRM_BEACON_WINDOW_SECONDS must be a whole number of seconds from 10 to 86400")
    if not isinstance(rate, int) or rate < 1:
        problems.append("SHOPCRM_BEACON_RATE_PER_MINUTE must be a whole number ≥ 1")
    secret = config.get("SHOPCRM_BEACON_SECRET")
    if secret is None or secret == "":
        return problems
    if not isinstance(secret, str):
        problems.append("SHOPCRM_BEACON_SECRET must be a string")
    elif is_production(config):
        if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                "SHOPCRM_BEACON_SECRET is too weak for production (the view beacon is on because it is set). "
                "Generate one with\n    python3 -c 'import secrets; print(secrets.token_hex(32))'\n"
                "and put the same value in the shop's shopcrm_beacon_config.php, or remove the setting "
                "to turn the beacon off.")
        elif secret == config.get("SECRET_KEY"):
            problems.append("SHOPCRM_BEACON_SECRET must differ from SECRET_KEY: the beacon secret is also "
                            "stored in the shop's PHP files")
    return problems


def write_instance_settings(instance_path: str) -> tuple[str, bool]:
    """Create ``<instance>/shopcrm.cfg`` with a fresh SECRET_KEY; never overwrite one.

    Returns the path and whether it was written. It needs no app (``python -m shopcrm init``):
    a production app refuses to start before this file exists.
    """
    path = os.path.join(instance_path, INSTANCE_FILE)
    os.makedirs(instance_path, exist_ok=True)
    if os.path.exists(path):
        return path, False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# shopcrm settings (Python syntax). See README.md and deploy/shopcrm.cfg.example.\n"
                 f"SECRET_KEY = {secrets.token_hex(32)!r}\n")
    return path, True
