"""``doctor``: how well a mapping fits the live shop, in a shop admin's words.

:func:`examine` returns a :class:`DoctorReport` (plain data: the CLI prints it with
:meth:`DoctorReport.render`, the admin settings page can show :meth:`DoctorReport.to_dict`).
Per entity: found, row count, columns, a sample row parsed, the shop's data problems, what the
mapping cannot read, and the indexes that would make extraction fast, as ``CREATE INDEX``
advice (shopcrm itself never runs them: it never writes to the shop). Also whether the
configured database user could write, read from its grants (nothing is written to find out).

It also says which clock the shop's times are read on (``[shop] timezone`` of a mapping file,
``SHOPCRM_SHOP_DB_TIMEZONE``), whether every quantity is a whole number (a shop may store them
as decimals), and when the newest activity is older than the analysis window (a shop imported
from an old export: segment it ``--as-of`` its last day).

Only reads run here, through the same guarded connection as everything else.

The report's data and its rendering stay together in one module, longer than most: each finding
is written once as data and once in the owner's words, and the two must change together.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..clock import shop_now
from ..errors import MappingError, ShopCRMError
from .mapping import ENTITIES, ShopMapping
from .readers import missing_indexes, value_error
from .schema import EntityCheck, check_entity, describe, expected_class

BEACON_DOC = "docs/MAPPING.md#the-view-beacon"
MISSING_WORDS = {
    "view": "your shop keeps no per-customer product views: install the view beacon, see " + BEACON_DOC,
    "cart_item": "your shop's carts are not mapped: cart contents add nothing to interests and abandoned-cart "
                 "emails cannot be sent",
    "brand": "your shop's brands are not mapped: segments and offers are described by category only",
}
VIEWS_OFF_WORDS = ("browsing data is off by choice (the mapping says views = \"none\"): interests come from carts "
                   "and orders, and no view beacon is needed")
WINDOW_DAYS = 365  # the analysis window when the caller gives none (SHOPCRM_INTEREST_HORIZON_DAYS' default)
ACTIVITY = {"order": ("placed_at", "order"), "view": ("viewed_at", "product view"),
            "cart_item": ("added_at", "cart item")}
WRITE_PRIVILEGES = {
    "ALL", "ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "TRIGGER",
    "CREATE VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "EVENT", "FILE", "SUPER", "DELETE HISTORY", "LOCK TABLES",
}
_GRANT = re.compile(r"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE|PACKAGE)\s+)?"
                    r"(?P<target>\S+)\s+TO\s", re.I | re.S)


@dataclass
class IndexAdvice:
    table: str
    columns: list[str]
    statement: str


@dataclass
class EntityReport:
    entity: str
    label: str
    required: bool
    source: str  # where it is read from, in words
    mapped: bool = True
    off: bool = False  # not mapped on purpose (views = "none"): nothing to advise
    found: bool = False
    rows: int | None = None
    columns_ok: bool = False
    sample: dict[str, Any] | None = None
    sample_parsed: bool = False
    errors: list[str] = field(default_factory=list)  # shopcrm cannot run (or read this entity) until fixed
    warnings: list[str] = field(default_factory=list)  # the shop's data, in numbers; runs go on
    notes: list[str] = field(default_factory=list)  # what the mapping does not read (and why), how it reads
    indexes: list[IndexAdvice] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.errors:
            return "PROBLEM"
        if self.off:
            return "off"
        if not self.mapped:
            return "missing"
        return "ok" if not self.warnings else "warning"


@dataclass
class DoctorReport:
    mapping: str | None
    origin: str | None
    database: str
    prefix: str | None = None
    entities: list[EntityReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the mapping cannot be loaded, the shop cannot be reached
    suggestions: list[str] = field(default_factory=list)
    can_write: bool | None = None
    write_privileges: list[str] = field(default_factory=list)
    access: str = ""  # the database user's rights, in a sentence
    clock: str = ""  # which zone the shop's stored times are read in, and why

    @property
    def ok(self) -> bool:
        """False when something required is missing: shopcrm cannot run a segmentation."""
        return not self.errors and not any(e.errors for e in self.entities)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        for entity, report in zip(data["entities"], self.entities):
            entity["status"] = report.status
        return data

    def render(self) -> str:
        """The report as plain text for a terminal."""
        lines = [f"shopcrm doctor: shop database {self.database}"]
        if self.mapping:
            lines.append(f"mapping '{self.mapping}' ({self.origin}), table prefix '{self.prefix}'")
        if self.clock:
            lines.append(f"times: {self.clock}")
        lines.extend(f"PROBLEM: {e}" for e in self.errors)
        for e in self.entities:
            head = f"[{e.status}] {e.label} ({e.entity}) from {e.source}"
            if e.rows is not None:
                head += f": {e.rows:,} rows"
                head += ", columns ok" if e.columns_ok else ""
                head += ", sample row parsed" if e.sample_parsed else ""
            lines.append("")
            lines.append(head)
            lines.extend(f"    PROBLEM: {x}" for x in e.errors)
            lines.extend(f"    warning: {x}" for x in e.warnings)
            if e.sample:
                lines.append("    sample: " + ", ".join(f"{k}={v!r}" for k, v in e.sample.items()))
            lines.extend(f"    note: {x}" for x in e.notes)
        advice = [a for e in self.entities for a in e.indexes]
        if advice:
            lines += ["", "Indexes that would make extraction faster (advice: shopcrm never creates them; "
                          "a hosting admin may run these on the shop database):"]
            lines.extend(f"    {a.statement}" for a in advice)
        if self.access:
            lines += ["", f"{'warning' if self.can_write else 'access'}: {self.access}"]
        lines.extend(f"hint: {s}" for s in self.suggestions)
        problems = len(self.errors) + sum(len(e.errors) for e in self.entities)
        lines.append("")
        lines.append("Result: everything shopcrm needs is there." if self.ok else
                     f"Result: {problems} problem(s); shopcrm cannot segment this shop until they are fixed.")
        return "\n".join(lines)


# --- per entity ---------------------------------------------------------------------------------

def _count(conn: sa.Connection, src: sa.Subquery, *where) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(src).where(*where)).scalar_one())


def _mask(canonical: str, value: Any) -> Any:
    """Sample values as shown: e-mail addresses half hidden (the report may be pasted into a forum)."""
    if canonical == "email" and isinstance(value, str) and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value if isinstance(value, (int, float, str)) or value is None else str(value)


def _parse_problem(entity: str, canonical: str, value: Any) -> str | None:
    """Why a sample value cannot be read as its canonical kind, or None. A number that is not
    whole where a whole one belongs is left to :func:`_whole_numbers`, which counts them all."""
    if value is None:
        return None
    kind = expected_class(entity, canonical)
    try:
        if kind in ("int", "number"):
            float(value)
        elif kind == "datetime" and not isinstance(value, datetime):
            datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        wanted = {"int": "a whole number", "number": "a number", "datetime": "a date"}.get(kind, "text")
        return f"the sample {canonical} {value!r} cannot be read as {wanted}"
    return None


def _number_text(value: Any) -> str:
    """2.5000 → '2.5' (a decimal as the shop admin typed it)."""
    if isinstance(value, (Decimal, float)):
        text = f"{Decimal(str(value)):f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return repr(value)


#: The columns that say which row holds a value, per entity.
ROW_WORDS = {"order_line": (("order_id", "order"), ("product_id", "product")),
             "cart_item": (("customer_id", "customer"), ("product_id", "product")),
             "view": (("customer_id", "customer"), ("product_id", "product"))}


def _whole_numbers(conn: sa.Connection, mapping: ShopMapping, entity: str, check: EntityCheck,
                   report: "EntityReport") -> None:
    """Every value of a column that must be whole but whose type allows fractions (decimals, or
    a SELECT's column of unknown type) or anything (text): an error naming the entity, the
    column, a value and the fix when one is not whole; a note when all are (they are read as
    whole numbers)."""
    wanted = check.maybe_not_whole()
    if "quantity" in check.columns and "quantity" not in wanted:
        wanted.append("quantity")  # always: SQLite keeps 2.5 even in an INTEGER column
    texts = [c for c, kind in check.columns.items()
             if kind == "text" and c not in wanted and expected_class(entity, c) == "int"]
    for canonical in wanted + texts:
        src = mapping.source(entity)
        column = src.c[canonical]
        if canonical in texts:  # digits only, as the readers parse them
            not_whole = sa.and_(column.is_not(None), sa.not_(sa.cast(column, sa.String).regexp_match(r"^-?[0-9]+$")))
        else:
            not_whole = sa.and_(column.is_not(None), column != sa.func.round(column))
        count = _count(conn, src, not_whole)
        where = mapping.column_text(entity, canonical)
        if not count:
            if check.columns.get(canonical) == "number":
                report.notes.append(f"{where} is stored as decimals; every value is whole, so shopcrm reads them "
                                    "as whole numbers")
            continue
        keys = ROW_WORDS.get(entity, (("id", ENTITIES[entity].label.rstrip("s")),))
        keys = tuple((c, w) for c, w in keys if c in src.c and c != canonical)
        row = conn.execute(sa.select(column, *(src.c[c] for c, _ in keys)).where(not_whole).limit(1)).first()
        value = _number_text(row[0]) if row is not None else "?"
        at = ", ".join(f"{w} {v}" for (_, w), v in zip(keys, row[1:])) if row is not None else ""
        if canonical == "quantity":
            real = mapping.entities[entity].columns.get("quantity", "quantity")
            report.errors.append(
                f"{where} holds {value}{f' ({at})' if at else ''}; {count:,} row(s) in all have a quantity that is "
                f"not a whole number, but shopcrm counts whole items. Map '{entity}' with a SELECT that rounds it, "
                f"e.g. CEIL({real}) AS quantity (see docs/MAPPING.md), or correct those rows in the shop")
        else:
            report.errors.append(f"{value_error(mapping, entity, canonical, value, doctor_hint=False)} "
                                 f"({count:,} rows{f', e.g. {at}' if at else ''})")


def _data_warnings(conn: sa.Connection, mapping: ShopMapping, entity: str, now: datetime) -> list[str]:
    """The shop's dirty data in numbers, and what shopcrm does with it."""
    now_p = sa.bindparam("now", now, type_=sa.DateTime)
    found: list[str] = []

    def note(count: int, text: str) -> None:
        if count:
            found.append(text.format(n=f"{count:,}"))

    if entity == "customer":
        src = mapping.source("customer", ("id", "email", "created_at"))
        note(_count(conn, src, sa.or_(src.c.email.is_(None), sa.func.trim(src.c.email) == "")),
             "{n} customers have no e-mail address: they are segmented but never e-mailed")
        address = sa.func.lower(sa.func.trim(src.c.email))
        note(int(conn.execute(sa.select(sa.func.count(address) - sa.func.count(sa.distinct(address)))
                              .where(address != "")).scalar_one() or 0),
             "{n} customer rows repeat an e-mail address of another row: each address is e-mailed at most once")
        note(_count(conn, src, src.c.created_at > now_p), "{n} customers signed up in the future (clock or data "
                                                          "error): their account age counts as 0")
    elif entity == "product":
        src = mapping.source("product", ("id", "price", "category_id"))
        note(_count(conn, src, src.c.price <= 0), "{n} products have a price of 0 or less: they are never "
                                                  "recommended in e-mails")
        note(_count(conn, src, src.c.category_id.is_(None)), "{n} products have no category: views, carts and "
                                                             "purchases of them add to no interest")
    elif entity == "order":
        order = mapping.source("order", ("id", "customer_id", "placed_at"))
        customer = mapping.source("customer", ("id",))
        note(_count(conn, order, order.c.placed_at > now_p), "{n} orders are dated in the future: they are ignored "
                                                             "until their date")
        note(_count(conn, order, order.c.customer_id.is_(None)), "{n} orders belong to guests (no customer "
                                                                  "account): they count for products only")
        known = order.outerjoin(customer, customer.c.id == order.c.customer_id)
        orphans = (sa.select(sa.func.count()).select_from(known)
                   .where(order.c.customer_id.is_not(None), customer.c.id.is_(None)))
        note(int(conn.execute(orphans).scalar_one()), "{n} orders belong to customers the shop no longer has (or "
                                                      "who are inactive): they are left out")
    elif entity == "order_line":
        line = mapping.source("order_line", ("order_id", "product_id"))
        product = mapping.source("product", ("id",))
        orphans = (sa.select(sa.func.count()).select_from(line.outerjoin(product, product.c.id == line.c.product_id))
                   .where(product.c.id.is_(None)))
        note(int(conn.execute(orphans).scalar_one()), "{n} order lines name products the shop no longer has: they "
                                                      "add to no interest")
    elif entity in ("view", "cart_item"):
        time_column = "viewed_at" if entity == "view" else "added_at"
        src = mapping.source(entity, (time_column,))
        note(_count(conn, src, src.c[time_column] > now_p),
             "{n} of them are dated in the future: they are ignored until then")
    return found


def _index_advice(conn: sa.Connection, mapping: ShopMapping, entity: str) -> list[IndexAdvice]:
    """The indexes the extraction lacks (:func:`extract.missing_indexes`) as statements to run."""
    quote = conn.dialect.identifier_preparer.quote_identifier  # always quoted: `order` is a reserved word
    advice = []
    for item in missing_indexes(conn, mapping, [entity]):
        table, columns = item["table"], item["columns"]
        name = f"shopcrm_{table}_{columns[0]}"[:64]
        statement = f"CREATE INDEX {quote(name)} ON {quote(table)} ({', '.join(quote(c) for c in columns)});"
        advice.append(IndexAdvice(table, columns, statement))
    return advice


def _shop_entity(conn: sa.Connection, mapping: ShopMapping, entity: str, report: EntityReport,
                 now: datetime) -> None:
    check = check_entity(conn, mapping, entity)
    report.found = check.found
    report.errors.extend(check.errors)
    report.warnings.extend(check.warnings)
    if not check.ok:
        return
    report.columns_ok = True
    src = mapping.source(entity)
    report.rows = _count(conn, src)
    row = conn.execute(sa.select(src).limit(1)).mappings().first()
    if row is not None:
        problems = [p for p in (_parse_problem(entity, k, v) for k, v in row.items()) if p]
        report.sample = {k: _mask(k, v) for k, v in row.items()}
        report.sample_parsed = not problems
        report.errors.extend(problems)
    _whole_numbers(conn, mapping, entity, check, report)
    report.warnings.extend(_data_warnings(conn, mapping, entity, now))
    report.indexes.extend(_index_advice(conn, mapping, entity))


def _as_datetime(value: Any) -> datetime | None:
    """A MAX() of a time column: a datetime (SQLite may return text)."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _newest(conn: sa.Connection, mapping: ShopMapping, entity: str, now: datetime) -> datetime | None:
    """The newest time of an activity (orders, views, carts) up to ``now``."""
    column = ACTIVITY[entity][0]
    src = mapping.source(entity, (column,))
    now_p = sa.bindparam("now", now, type_=sa.DateTime)
    return _as_datetime(conn.execute(sa.select(sa.func.max(src.c[column])).where(src.c[column] <= now_p))
                        .scalar())


def _stale_activity(report: "DoctorReport", newest: dict[str, datetime], now: datetime, window_days: int) -> None:
    """Warn when even the newest activity is older than the analysis window: a segmentation as
    of today would find nothing recent (a shop loaded from an old export), so say which
    ``--as-of`` analyses the shop as of its last day."""
    if not newest:
        return
    entity, last = max(newest.items(), key=lambda item: item[1])
    if last >= now - timedelta(days=window_days):
        return
    words = ACTIVITY[entity][1]
    item = next((e for e in report.entities if e.entity == "order"), None) or report.entities[0]
    item.warnings.append(
        f"the newest {words} is from {last:%Y-%m-%d}, older than the {window_days}-day analysis window, so a "
        f"segmentation as of today finds no recent activity; use `flask --app wsgi shopcrm segment --as-of "
        f"{(last + timedelta(days=1)):%Y-%m-%d}` to analyse the shop as of its last day")


def _beacon_part(crm_conn: sa.Connection | None, beacon_on: bool, report: EntityReport) -> None:
    """The view beacon's side of ``view``: is it on, and has it recorded anything?"""
    if not beacon_on:
        report.warnings.append("the view beacon is off (SHOPCRM_BEACON_SECRET is not set), so shopcrm records no "
                               "product views: set a secret and add the snippet to the product page, see "
                               + BEACON_DOC)
    if crm_conn is None:
        return
    from ..models import ProductView

    try:
        views = int(crm_conn.execute(sa.select(sa.func.count()).select_from(ProductView.__table__)).scalar_one())
    except sa.exc.DBAPIError:
        report.errors.append("shopcrm's crm_view table is missing: run `flask --app wsgi shopcrm migrate`")
        return
    report.found = True
    report.rows = (report.rows or 0) + views
    if not views and beacon_on:
        report.warnings.append("the view beacon has recorded no views yet: check that the product page prints "
                               "shopcrm_beacon_tag(), see " + BEACON_DOC)


def examine(conn: sa.Connection, mapping: ShopMapping, crm_conn: sa.Connection | None = None,
            beacon_on: bool = False, database: str = "", now: datetime | None = None,
            window_days: int = WINDOW_DAYS, clock: str = "") -> DoctorReport:
    """The full report for ``mapping`` on the shop connection ``conn``. ``now`` is on the shop
    database's clock; ``window_days`` is the analysis window the newest activity is held against."""
    now = (now or shop_now()).replace(microsecond=0)
    report = DoctorReport(mapping.name, mapping.origin, database, prefix=mapping.prefix, clock=clock)
    newest: dict[str, datetime] = {}
    for entity, spec in ENTITIES.items():
        emap = mapping.entities.get(entity)
        item = EntityReport(entity, spec.label, spec.must_exist,
                            describe(mapping, entity) if emap else "nowhere (not mapped)")
        report.entities.append(item)
        if entity in mapping.notes:
            item.notes.append(mapping.notes[entity])
        if emap is None:
            item.mapped = False
            if entity == "view" and mapping.views_off:
                item.off, item.source = True, "nowhere (off by choice)"
                item.notes.append(VIEWS_OFF_WORDS)
                if beacon_on:
                    item.notes.append("the view beacon is on (SHOPCRM_BEACON_SECRET is set) but its views are not "
                                      "used: remove the secret, or map the views")
            else:
                item.notes.append(MISSING_WORDS.get(entity, "not mapped"))
            continue
        if emap.store == "both":
            item.source += " and shopcrm's crm_view table (the view beacon)"
        try:
            if mapping.has(entity):
                _shop_entity(conn, mapping, entity, item, now)
                if entity in ACTIVITY and not item.errors:
                    last = _newest(conn, mapping, entity, now)
                    if last is not None:
                        newest[entity] = last
            if mapping.reads_crm(entity):
                _beacon_part(crm_conn, beacon_on, item)
        except (ShopCRMError, sa.exc.DBAPIError) as exc:
            item.errors.append(str(getattr(exc, "orig", None) or exc))
    _stale_activity(report, newest, now, window_days)
    try:
        report.can_write, report.write_privileges, report.access = write_access(conn)
    except sa.exc.DBAPIError as exc:
        report.access = f"cannot tell whether the database user can write: {exc.orig}"
    if not report.ok:
        report.suggestions.extend(suggest_preset(conn, mapping))
    return report


# --- the database user's rights -------------------------------------------------------------------

def _split_privileges(text: str) -> list[str]:
    """'SELECT, INSERT (a, b), UPDATE' -> ['SELECT', 'INSERT', 'UPDATE'] (column lists dropped)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        elif depth == 0 and char != ")":
            current += char
    parts.append(current)
    return [" ".join(p.split()).upper() for p in parts if p.strip()]


def _covers(target: str, database: str) -> bool:
    """Whether a grant's ``db.table`` target includes the shop's database.

    In a grant's database name ``%`` and ``_`` are wildcards and ``\\_`` is a literal ``_``.
    """
    db_part = target.split(".", 1)[0].strip("`\"'")
    if db_part == "*":
        return True
    pattern, escaped = "", False
    for char in db_part:
        if escaped:
            pattern, escaped = pattern + re.escape(char), False
        elif char == "\\":
            escaped = True
        else:
            pattern += {"%": ".*", "_": "."}.get(char, re.escape(char))
    return re.fullmatch(pattern, database or "") is not None


def write_access(conn: sa.Connection) -> tuple[bool | None, list[str], str]:
    """(can write?, the write privileges found, a sentence), read from grants or file permissions."""
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        database = conn.exec_driver_sql("SELECT DATABASE()").scalar() or ""
        user = conn.exec_driver_sql("SELECT CURRENT_USER()").scalar() or "?"
        found = []
        for grant in conn.exec_driver_sql("SHOW GRANTS").scalars():
            match = _GRANT.match(str(grant))
            if match and _covers(match.group("target"), database):
                found += [p for p in _split_privileges(match.group("privs")) if p in WRITE_PRIVILEGES]
        found = sorted(set(found))
        if found:
            return True, found, (f"the database user {user} can write to the shop database ({', '.join(found)}). "
                                 "shopcrm never writes there (every statement is checked and the session is "
                                 "read-only), but a user with SELECT only is safer: see docs/CONFIGURATION.md, "
                                 "'The two databases'")
        return False, [], f"the database user {user} can only read the shop database"
    if dialect == "sqlite":
        path = conn.engine.url.database
        if path and path != ":memory:" and os.access(path, os.W_OK):
            return True, ["file"], (f"the shop database file {path} is writable by this process; shopcrm opens it "
                                    "read-only (PRAGMA query_only), but read-only file permissions are safer")
        return False, [], "the shop database file is read-only for this process"
    return None, [], f"cannot tell whether the database user can write ({dialect})"


# --- which preset fits? ---------------------------------------------------------------------------

def suggest_preset(conn: sa.Connection, mapping: ShopMapping) -> list[str]:
    """When the mapping does not fit: does the database look like a shop a preset knows?"""
    tables = {t.lower() for t in sa.inspect(conn).get_table_names()}
    hints = []
    for name in sorted(tables):
        if name.endswith("order_product") and name[:-len("order_product")] + "customer" in tables:
            prefix = name[:-len("order_product")]
            if prefix + "zone_description" in tables:
                version = "opencart"
            elif "address_id" in {c["name"].lower() for c in sa.inspect(conn).get_columns(prefix + "customer")}:
                version = "opencart3"
            else:
                version = "opencart40"
            hints.append((version, prefix, "OpenCart"))
        if name.endswith("order_detail") and name[:-len("order_detail")] + "orders" in tables:
            hints.append(("prestashop", name[:-len("order_detail")], "PrestaShop"))
        if name.endswith("order_lines") and name[:-len("order_lines")] + "customers" in tables:
            hints.append(("generic", name[:-len("order_lines")], "the generic (demo) shop"))
    return [f"the tables look like {shop} with table prefix '{prefix}': set SHOPCRM_SHOP_PRESET = '{preset}' and "
            f"SHOPCRM_SHOP_TABLE_PREFIX = '{prefix}'"
            for preset, prefix, shop in hints if (preset, prefix) != (mapping.name, mapping.prefix)]


# --- in the app -----------------------------------------------------------------------------------

def report_for_app() -> DoctorReport:
    """The report for the running app's configuration (CLI and admin settings page)."""
    from flask import current_app

    from ..extensions import db
    from . import connect_shop, load_mapping, shop_engine

    config = current_app.config
    database = shop_engine().url.render_as_string(hide_password=True)
    try:
        mapping = load_mapping(config)
    except MappingError as exc:
        return DoctorReport(None, None, database, errors=[str(exc)])
    window = min(config.get("SHOPCRM_INTEREST_HORIZON_DAYS") or WINDOW_DAYS,
                 config.get("SHOPCRM_VALUE_WINDOW_DAYS") or WINDOW_DAYS)
    try:
        with connect_shop() as conn, db.engine.connect() as crm_conn:
            return examine(conn, mapping, crm_conn=crm_conn, beacon_on=bool(config.get("SHOPCRM_BEACON_SECRET")),
                           database=database, window_days=window, clock=clock_text(config, mapping))
    except ShopCRMError as exc:
        return DoctorReport(mapping.name, mapping.origin, database, prefix=mapping.prefix, errors=[str(exc)])


def clock_text(config, mapping: ShopMapping) -> str:
    """Which zone the shop's stored times are read in, where that comes from, and the time now
    on that clock (to compare with the newest order the shop shows)."""
    setting, owner = config.get("SHOPCRM_SHOP_DB_TIMEZONE"), config.get("SHOPCRM_SHOP_TIMEZONE")
    if mapping.timezone and setting and setting != mapping.timezone:
        source = (f"SHOPCRM_SHOP_DB_TIMEZONE, which overrides the mapping file's [shop] timezone "
                  f"{mapping.timezone!r}")
    elif mapping.timezone:
        source = "[shop] timezone of the mapping file"
    elif setting:
        source = "SHOPCRM_SHOP_DB_TIMEZONE"
    elif owner:
        source = "the shop's zone, SHOPCRM_SHOP_TIMEZONE; set SHOPCRM_SHOP_DB_TIMEZONE if the shop stores another"
    else:
        source = ("this server's local zone; a shop that stores UTC (Magento) says so with [shop] timezone = \"UTC\" "
                  "in its mapping file or SHOPCRM_SHOP_DB_TIMEZONE")
    zone = setting or owner or "local time"
    return f"the shop's stored times are read as {zone} ({source}); now on that clock: {shop_now():%Y-%m-%d %H:%M}"
