"""A mapping against the live database: do its tables, columns and SELECTs exist and fit?

The pattern check in ``mapping.py`` keeps identifiers harmless; this module checks that they
are *right*: the table exists, every mapped column exists with a type shopcrm can read, and a
SELECT runs and returns the canonical columns. ``verify`` runs before every extraction (so a
wrong mapping is a clear :class:`MappingError`, never a driver traceback or silently empty
data), and ``doctor`` builds its report on :func:`check_entity`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from ..errors import MappingError
from .mapping import COLUMN_WORDS, ENTITIES, LATE_COLUMNS, ShopMapping

# pymysql/MySQLdb FIELD_TYPE codes of a result's columns, by the kind of value they hold.
_FIELD_CLASSES = {
    "int": {1, 2, 3, 8, 9, 13, 16},
    "number": {0, 4, 5, 246},
    "datetime": {7, 10, 12, 14},
    "text": {15, 247, 248, 249, 250, 251, 252, 253, 254, 245},
    "null": {6},
}


def expected_class(entity: str, column: str) -> str:
    """What kind of value a canonical column holds: int, number, datetime or text."""
    type_ = ENTITIES[entity].types.get(column)
    if isinstance(type_, sa.Integer):
        return "int"
    if isinstance(type_, (sa.Float, sa.Numeric)):
        return "number"
    if isinstance(type_, (sa.DateTime, sa.Date)):
        return "datetime"
    return "text"


def reflected_class(type_: sa.types.TypeEngine) -> str:
    if isinstance(type_, (sa.Integer, sa.Boolean)):
        return "int"
    if isinstance(type_, (sa.Numeric, sa.Float)):
        return "number"
    if isinstance(type_, (sa.DateTime, sa.Date, sa.TIMESTAMP)):
        return "datetime"
    if isinstance(type_, (sa.String, sa.Text, sa.Enum)):
        return "text"
    return "other"


def field_class(type_code: object) -> str | None:
    """The kind of a result column from the driver's type code (MySQL drivers only)."""
    if not isinstance(type_code, int):
        return None
    return next((kind for kind, codes in _FIELD_CLASSES.items() if type_code in codes), "other")


def type_problem(entity: str, canonical: str, found: str, where: str) -> tuple[str, str] | None:
    """("error" | "warning", message) when a column's type does not fit its meaning."""
    wanted = expected_class(entity, canonical)
    words = COLUMN_WORDS.get(canonical, canonical)
    if found in (wanted, "null") or wanted == "text":
        return None
    if wanted == "datetime" and found in ("int", "number"):
        return ("error", f"{where} holds numbers, but the {words} must be a date and time; if it holds unix "
                         f"timestamps, map '{entity}' with a SELECT and FROM_UNIXTIME(…) AS {canonical}")
    if found == "datetime" or found == "other":
        return ("error", f"{where} holds {'dates' if found == 'datetime' else 'values of an unusual type'}, "
                         f"but the {words} must be a {'whole number' if wanted == 'int' else 'number'}")
    if found == "text":
        kind = {"int": "whole numbers", "number": "numbers", "datetime": "dates and times"}[wanted]
        return ("warning", f"{where} is stored as text; shopcrm reads it as {kind}, and values that are not "
                           f"{kind} will fail or count as missing")
    # Whole numbers stored as decimals are fine (Magento's quantities); the doctor reads every
    # value of such a column (EntityCheck.maybe_not_whole) and names any that is not whole.
    return None


@dataclass
class EntityCheck:
    """How one mapped entity fits the live shop database."""

    entity: str
    where: str  # in a shop admin's words: "the table `oc_order`", "the SELECT of 'order'"
    found: bool = False
    columns: dict[str, str] = field(default_factory=dict)  # canonical column -> kind of value found
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.found and not self.errors

    def maybe_not_whole(self) -> list[str]:
        """Canonical columns that must hold whole numbers but whose type allows others (decimals,
        or a SELECT's column of unknown type): the doctor reads them to find values that are not whole."""
        return [c for c, kind in self.columns.items()
                if expected_class(self.entity, c) == "int" and kind in ("number", "?")]


def _add(check: EntityCheck, problem: tuple[str, str] | None) -> None:
    if problem is not None:
        (check.errors if problem[0] == "error" else check.warnings).append(problem[1])


def _check_table(conn: sa.Connection, mapping: ShopMapping, entity: str, check: EntityCheck) -> None:
    emap = mapping.entities[entity]
    name = mapping.prefix + emap.table
    inspector = sa.inspect(conn)
    if not inspector.has_table(name):
        hint = f" (the table prefix is '{mapping.prefix}')" if mapping.prefix else ""
        check.errors.append(f"the table `{name}` does not exist in the shop database{hint}")
        return
    check.found = True
    live = {c["name"].lower(): c for c in inspector.get_columns(name)}
    late = _absent_late_columns(mapping, entity, live)
    for canonical, real in emap.columns.items():
        column = live.get(real.lower())
        if canonical in late:
            check.warnings.append(f"the table `{name}` has no column `{real}` (the "
                                  f"{COLUMN_WORDS.get(canonical, canonical)}): read as empty, so no text "
                                  "messages can reach these customers")
            continue
        if column is None:
            check.errors.append(f"the table `{name}` has no column `{real}` "
                                f"(mapped as the {COLUMN_WORDS.get(canonical, canonical)})")
            continue
        kind = reflected_class(column["type"])
        check.columns[canonical] = kind
        _add(check, type_problem(entity, canonical, kind, f"the column `{name}`.`{real}`"))
    for real in emap.where:
        if real.lower() not in live:
            check.errors.append(f"the table `{name}` has no column `{real}` (used as a filter)")


def _absent_late_columns(mapping: ShopMapping, entity: str, live: dict) -> set[str]:
    """The late columns (``LATE_COLUMNS``) a preset maps to columns the live table lacks: a shop
    made before shopcrm mapped them. They are read as empty from now on (``EntityMap.absent``)
    rather than failing every query after an upgrade; a mapping file's own columns stay errors."""
    emap = mapping.entities[entity]
    if emap.origin != "preset" or emap.table is None:
        return set()
    late = {c for c in LATE_COLUMNS.get(entity, ()) if c in emap.columns and emap.columns[c].lower() not in live}
    if late - emap.absent:
        emap.absent.update(late)
        mapping.forget_sources()
    return late


def note_absent_columns(conn: sa.Connection, mapping: ShopMapping) -> None:
    """Ask the live shop once which late columns its tables lack (one reflection per such table),
    so that pages and jobs that never run :func:`verify` read them as empty too."""
    if conn.dialect.name != "sqlite" and not conn.dialect.default_schema_name:
        return  # no database chosen in the URL: nothing to reflect (queries name their own)
    for entity in LATE_COLUMNS:
        emap = mapping.entities.get(entity)
        if emap is None or emap.origin != "preset" or emap.table is None:
            continue
        name = mapping.prefix + emap.table
        inspector = sa.inspect(conn)
        if inspector.has_table(name):
            _absent_late_columns(mapping, entity, {c["name"].lower() for c in inspector.get_columns(name)})


def _check_select(conn: sa.Connection, mapping: ShopMapping, entity: str, check: EntityCheck) -> None:
    emap = mapping.entities[entity]
    probe = mapping.select_statement(entity, around="SELECT * FROM ({}) AS shopcrm_probe LIMIT 0")
    try:
        result = conn.execute(probe)
    except MappingError as exc:
        check.errors.append(f"{check.where} does not run: {_database_words(exc)}")
        return
    except sa.exc.DBAPIError as exc:
        check.errors.append(f"{check.where} does not run: {exc.orig}")
        return
    check.found = True
    description = (result.cursor.description if result.cursor is not None else None) or []
    result.close()
    returned = {d[0].lower(): field_class(d[1]) for d in description}
    for canonical in emap.canonical_columns():
        if canonical not in returned:
            optional = canonical not in ENTITIES[entity].required and emap.returns is None
            check.errors.append(f"{check.where} returns no column `{canonical}` "
                                f"(the {COLUMN_WORDS.get(canonical, canonical)}); add `… AS {canonical}`"
                                + (", or list the columns it does return under 'returns'" if optional else ""))
            continue
        kind = returned[canonical]
        check.columns[canonical] = kind or "?"
        if kind is not None:
            _add(check, type_problem(entity, canonical, kind, f"the column `{canonical}` of {check.where}"))


def _database_words(exc: MappingError) -> str:
    text = str(exc)
    prefix = "the shop database refused a query of the shop mapping: "
    return text[len(prefix):].split(". Check the mapping")[0] if text.startswith(prefix) else text


def describe(mapping: ShopMapping, entity: str) -> str:
    emap = mapping.entities[entity]
    if emap.store == "crm":
        return "shopcrm's crm_view table (the view beacon)"
    if emap.table is not None:
        return f"the table `{mapping.prefix}{emap.table}`"
    return f"the SELECT of '{entity}'"


def check_entity(conn: sa.Connection, mapping: ShopMapping, entity: str) -> EntityCheck:
    """Check the shop side of one mapped entity (``crm`` views are checked by ``doctor``)."""
    check = EntityCheck(entity, describe(mapping, entity))
    emap = mapping.entities[entity]
    if emap.store == "crm":
        check.found = True
        return check
    if emap.table is not None:
        _check_table(conn, mapping, entity, check)
    else:
        _check_select(conn, mapping, entity, check)
    return check


def verify(conn: sa.Connection, mapping: ShopMapping) -> list[EntityCheck]:
    """Check every mapped entity; raise one :class:`MappingError` listing all errors."""
    checks = [check_entity(conn, mapping, entity) for entity in mapping.entities]
    errors = [f"{ENTITIES[c.entity].label} ({c.entity}): {e}" for c in checks for e in c.errors]
    if errors:
        raise MappingError(f"the shop mapping '{mapping.name}' does not fit the shop database:\n- "
                           + "\n- ".join(errors) + "\nRun `flask --app wsgi shopcrm doctor` for the full report.")
    return checks
