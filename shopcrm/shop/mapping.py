"""How shopcrm sees a shop: eight logical entities with canonical columns.

Each entity is read either from one table, with a map from canonical column names to the
shop's real column names and simple filters (``where``: equal, one of, not, not one of, empty,
not empty), or from a SELECT that already returns the canonical names (for data that needs
joins). Either way :meth:`ShopMapping.source`
gives a SQLAlchemy subquery with the canonical column names, and the aggregation queries in
``readers.py`` are written once against those names.

The ``view`` entity may also live in shopcrm's own database: ``store="crm"`` means the view
beacon's ``crm_view`` table, ``store="both"`` the shop's own table plus ``crm_view``. Such views
cannot be joined to shop tables (the two databases may differ), so they are aggregated apart
(``beacon.store``) and handed to the extraction as extra rows.

Identifiers are checked against a strict pattern here and against the live schema by
``schema.py`` (before every run, and by ``doctor``); values (filters, SELECT parameters) are
always bound parameters, never pasted into SQL.

It is one module, longer than most, because the mapping file's format is one thing: the entity
table, the parser with its error messages, the presets' builder and ``source`` all change together
when the format gains a word (``where`` operators, ``[shop]`` options).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import sqlalchemy as sa

from ..clock import zone_named
from ..errors import MappingError, ReadOnlyViolation
from .readonly import check_statement, several_statements

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$")
PREFIX = re.compile(r"^[A-Za-z0-9_]{0,32}$")
PARAM_NAME = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # the same rule as sqlalchemy.text()
STORES = ("shop", "crm", "both")
SCALARS = (str, int, float, bool)
#: The tests a ``where`` filter may make beside equality (a value) and IN (a list). TOML has no
#: null, so emptiness is asked as ``{ is_null = true }``; ``not`` and ``not_in`` keep the rows
#: where the column is empty (NULL is not "canceled"), ``not_null = true`` leaves those out.
WHERE_TESTS = ("not", "not_in", "is_null", "not_null")


class WholeNumber(sa.types.TypeDecorator):
    """A count a shop may store as a decimal (Magento: ``qty_ordered decimal(12,4)``): a whole
    value comes back as an ``int`` (``2``, not ``Decimal('2.0000')``); any other value as it is,
    for the doctor and the readers to name."""

    impl = sa.Integer
    cache_ok = True

    def process_result_value(self, value, dialect):
        if value is None or isinstance(value, int):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        return int(number) if number.is_integer() else value


@dataclass(frozen=True)
class EntitySpec:
    """The canonical shape of one logical entity."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    types: Mapping[str, sa.types.TypeEngine] = field(default_factory=dict)
    must_exist: bool = True  # False: the shop may lack this entity (e.g. browsing history)
    label: str = ""  # how a shop admin calls it

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


_INT, _TEXT, _TIME, _NUM, _COUNT = sa.BigInteger(), sa.String(), sa.DateTime(), sa.Float(), WholeNumber()

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "customer",
            ("id", "email", "first_name", "created_at"),
            ("last_name", "city", "region", "country", "source", "consent", "phone", "sms_consent"),
            {"id": _INT, "created_at": _TIME, "consent": sa.Integer(), "sms_consent": sa.Integer()},
            label="customers",
        ),
        EntitySpec(
            "product",
            ("id", "name", "price", "category_id"),
            ("brand_id", "url", "image_url", "active", "in_stock"),
            {"id": _INT, "price": _NUM, "category_id": _INT, "brand_id": _INT, "active": sa.Integer(),
             "in_stock": sa.Integer()},
            label="products",
        ),
        EntitySpec("category", ("id", "name"), ("parent_id",), {"id": _INT, "parent_id": _INT}, label="categories"),
        EntitySpec("brand", ("id", "name"), (), {"id": _INT}, must_exist=False, label="brands"),
        EntitySpec("view", ("customer_id", "product_id", "viewed_at"), (),
                   {"customer_id": _INT, "product_id": _INT, "viewed_at": _TIME}, must_exist=False,
                   label="product views"),
        EntitySpec("cart_item", ("customer_id", "product_id", "quantity", "added_at"), (),
                   {"customer_id": _INT, "product_id": _INT, "quantity": _COUNT, "added_at": _TIME},
                   must_exist=False, label="cart items"),
        EntitySpec("order", ("id", "customer_id", "placed_at", "total"), (),
                   {"id": _INT, "customer_id": _INT, "placed_at": _TIME, "total": _NUM}, label="orders"),
        EntitySpec("order_line", ("order_id", "product_id", "quantity", "unit_price"), (),
                   {"order_id": _INT, "product_id": _INT, "quantity": _COUNT, "unit_price": _NUM},
                   label="order lines"),
    )
}

#: What each canonical column means, in a shop admin's words (for error messages and doctor).
COLUMN_WORDS: dict[str, str] = {
    "id": "id", "email": "e-mail address", "first_name": "first name", "last_name": "last name",
    "created_at": "sign-up date", "city": "city", "region": "region", "country": "country",
    "source": "acquisition source", "consent": "newsletter consent",
    "phone": "phone number", "sms_consent": "SMS consent", "name": "name", "price": "price",
    "category_id": "category", "brand_id": "brand", "url": "page address", "image_url": "image address",
    "active": "active flag", "in_stock": "stock", "parent_id": "parent category", "customer_id": "customer",
    "product_id": "product", "viewed_at": "time of the view", "quantity": "quantity", "added_at": "time added",
    "placed_at": "order date", "total": "order total", "order_id": "order", "unit_price": "unit price",
}

#: Defaults for optional columns a mapping leaves out.
OPTIONAL_DEFAULTS: dict[tuple[str, str], Any] = {
    ("product", "active"): 1,
    ("product", "in_stock"): 1,
    ("customer", "consent"): 0,
    ("customer", "sms_consent"): 0,
}

#: Optional columns added after SELECT mappings existed (see ``EntityMap.canonical_columns``).
LATE_COLUMNS: dict[str, tuple[str, ...]] = {"customer": ("phone", "sms_consent")}

#: Columns the extraction filters, joins or groups on, per table-mapped entity: with an index
#: that starts with these, the database reads the index instead of the table.
EXTRACTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "order": ("customer_id", "placed_at", "total"),
    "order_line": ("order_id", "product_id"),
    "view": ("customer_id", "product_id", "viewed_at"),
    "cart_item": ("customer_id", "product_id", "added_at"),
}


def check_identifier(value: object, where: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise MappingError(f"{where}: {value!r} is not a valid table or column name "
                           "(letters, digits and _ only, not starting with a digit)")
    return value


def _plain_values(value: Any) -> bool:
    """A number, string or true/false, or a non-empty list of those."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return bool(items) and all(isinstance(v, SCALARS) for v in items)


def check_values(values: Mapping[str, Any], where: str) -> None:
    """Filter and SELECT parameter values: numbers, strings, yes/no, or non-empty lists of those."""
    for name, value in values.items():
        if not _plain_values(value):
            raise MappingError(f"{where} '{name}': the value must be a number, a string, true/false, "
                               f"or a non-empty list of those (got {value!r})")


def check_where(filters: Mapping[str, Any], where: str) -> None:
    """A table entity's filters: per column a value (equal), a list (one of), or a table of
    tests (``{ not = "canceled" }``, ``{ not_in = [...] }``, ``{ is_null = true }``,
    ``{ not_null = true }``; several tests in one table must all hold)."""
    for column, value in filters.items():
        check_identifier(column, f"{where}, field 'where'")
        here = f"{where}, field 'where', filter on '{column}'"
        if not isinstance(value, Mapping):
            if not _plain_values(value):
                raise MappingError(f"{here}: the value must be a number, a string, true/false, a non-empty list "
                                   f"of those, or a table of tests like {{ not = \"canceled\" }} (got {value!r})")
            continue
        if not value:
            raise MappingError(f"{here}: an empty table tests nothing; use one of {', '.join(WHERE_TESTS)}")
        for test, operand in value.items():
            if test not in WHERE_TESTS:
                raise MappingError(f"{here}: unknown test '{test}' (known: {', '.join(WHERE_TESTS)}; "
                                   "equality is column = value, one of several is column = [values])")
            if test in ("is_null", "not_null"):
                if not isinstance(operand, bool):
                    raise MappingError(f"{here}: '{test}' must be true or false (got {operand!r})")
            elif test == "not_in" and not (isinstance(operand, (list, tuple)) and _plain_values(operand)):
                raise MappingError(f"{here}: 'not_in' must be a non-empty list of numbers, strings or "
                                   f"true/false (got {operand!r})")
            elif not _plain_values(operand):
                raise MappingError(f"{here}: 'not' must be a number, a string, true/false or a non-empty list "
                                   f"of those (got {operand!r})")


def where_condition(column: sa.ColumnElement, value: Any) -> sa.ColumnElement:
    """One checked ``where`` filter as a condition; every value stays a bound parameter."""
    if not isinstance(value, Mapping):
        return column.in_(list(value)) if isinstance(value, (list, tuple)) else column == value
    parts = []
    for test, operand in value.items():
        if test in ("not", "not_in"):
            values = list(operand) if isinstance(operand, (list, tuple)) else [operand]
            differs = column.not_in(values) if len(values) > 1 else column != values[0]
            parts.append(sa.or_(differs, column.is_(None)))
        elif (test == "is_null") == bool(operand):
            parts.append(column.is_(None))
        else:
            parts.append(column.is_not(None))
    return sa.and_(*parts)


@dataclass(frozen=True)
class IndexHint:
    """An index that makes extraction fast: ``table`` without the prefix, columns in order."""

    table: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class EntityMap:
    """Where one entity lives."""

    entity: str
    table: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> real column
    where: Mapping[str, Any] = field(default_factory=dict)  # real column -> value, list, or table of tests
    select: str | None = None  # a SELECT returning canonical names; may use {prefix} and :name parameters
    params: Mapping[str, Any] = field(default_factory=dict)
    returns: tuple[str, ...] | None = None  # SELECT only: the canonical columns it returns (None: all)
    origin: str = "preset"  # where this definition came from, for error messages
    store: str = "shop"  # "shop": the shop's database; "crm": shopcrm's crm_view; "both"
    indexes: tuple[IndexHint, ...] = ()  # SELECT only: indexes worth having (doctor's advice)
    # LATE_COLUMNS a preset names but the live table lacks (a shop made before they were mapped),
    # found by schema.verify: read as their default or NULL instead of failing every run
    absent: set = field(default_factory=set, compare=False, repr=False)

    @property
    def where_text(self) -> str:
        return f"{self.origin}, entity '{self.entity}'"

    def validate(self) -> None:
        spec = ENTITIES.get(self.entity)
        where = self.where_text
        if spec is None:
            raise MappingError(f"{where}: unknown entity (known: {', '.join(ENTITIES)})")
        if self.store not in STORES:
            raise MappingError(f"{where}, field 'store': must be one of {', '.join(STORES)}, not {self.store!r}")
        if self.store != "shop" and self.entity != "view":
            raise MappingError(f"{where}, field 'store': only the 'view' entity can be kept by shopcrm "
                               "(the view beacon's crm_view table)")
        if self.store == "crm":
            if self.table is not None or self.select is not None:
                raise MappingError(f"{where}: with store = \"crm\" the views come from shopcrm's crm_view table; "
                                   "give neither 'table' nor 'select'")
            return
        if (self.table is None) == (self.select is None):
            raise MappingError(f"{where}: give either 'table' (with 'columns') or 'select', not both or neither")
        check_values(self.params, f"{where}, field 'params', parameter")
        if self.table is not None:
            self._validate_table(spec, where)
        else:
            self._validate_select(spec, where)

    def _validate_table(self, spec: EntitySpec, where: str) -> None:
        check_identifier(self.table, f"{where}, field 'table'")
        if self.returns is not None:
            raise MappingError(f"{where}, field 'returns': only a 'select' entity lists the columns it returns")
        unknown = sorted(set(self.columns) - set(spec.columns))
        if unknown:
            raise MappingError(f"{where}, field 'columns': unknown canonical column(s) {', '.join(unknown)}; "
                               f"known: {', '.join(spec.columns)}")
        for canonical, real in self.columns.items():
            check_identifier(real, f"{where}, field 'columns', column '{canonical}'")
        missing = [c for c in spec.required if c not in self.columns]
        if missing:
            raise MappingError(f"{where}, field 'columns': the required column(s) {', '.join(missing)} "
                               "are not mapped")
        check_where(self.where, where)

    def _validate_select(self, spec: EntitySpec, where: str) -> None:
        text = self.select
        if not isinstance(text, str) or not text.strip().lower().startswith(("select", "(", "with")):
            raise MappingError(f"{where}, field 'select': must be a SELECT statement")
        if several_statements(text):
            raise MappingError(f"{where}, field 'select': must be one statement (no ';')")
        try:
            check_statement(text)
        except ReadOnlyViolation as exc:
            raise MappingError(f"{where}, field 'select': only reads are allowed ({exc})") from None
        if self.columns or self.where:
            raise MappingError(f"{where}: 'columns' and 'where' belong to a 'table' entity; "
                               "a 'select' names its columns itself (… AS email)")
        if self.returns is not None:
            unknown = sorted(set(self.returns) - set(spec.columns))
            if unknown:
                raise MappingError(f"{where}, field 'returns': unknown canonical column(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(spec.columns)}")
            missing = [c for c in spec.required if c not in self.returns]
            if missing:
                raise MappingError(f"{where}, field 'returns': the required column(s) {', '.join(missing)} "
                                   "must be returned")

    def canonical_columns(self) -> tuple[str, ...]:
        """The canonical columns this definition provides (the rest default or are NULL)."""
        spec = ENTITIES[self.entity]
        if self.store == "crm":
            return spec.columns
        if self.table is not None:
            return tuple(c for c in spec.columns if c in self.columns and c not in self.absent)
        if self.returns is not None:
            return tuple(c for c in spec.columns if c in self.returns)
        # Columns added after SELECT mappings were written (a customer's phone and SMS consent):
        # a SELECT without 'returns' provides them only when it names them (``… AS phone``).
        late = {c for c in LATE_COLUMNS.get(self.entity, ())
                if not re.search(rf"\bAS\s+`?{c}`?\b", self.select or "", re.IGNORECASE)}
        return tuple(c for c in spec.columns if c not in late)

    def extraction_hints(self) -> tuple[IndexHint, ...]:
        """Indexes worth having: declared ones for a SELECT, derived ones for a table."""
        if self.table is None:
            return self.indexes
        wanted = EXTRACTION_COLUMNS.get(self.entity)
        if not wanted:
            return ()
        real = tuple(self.columns[c] for c in wanted if c in self.columns)
        return (IndexHint(self.table, real + tuple(c for c in self.where if c not in real)),)


@dataclass(frozen=True)
class ShopMapping:
    """A complete mapping of one shop. ``params`` are bound into every SELECT entity."""

    name: str
    entities: Mapping[str, EntityMap]
    prefix: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)  # per entity: what this mapping cannot read, and why
    origin: str = "preset"
    timezone: str | None = None  # the zone of the shop's stored times, as the mapping declares it (None: not said)
    views_off: bool = False  # the shop keeps no product views and wants no beacon: browsing data is off by choice
    # source() per (entity, columns): the constructs never change, and building one (and its
    # cache key) on every query costs more than the query's own Python work on a page
    _sources: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.prefix, str) or not PREFIX.match(self.prefix):
            raise MappingError(f"{self.origin}: table prefix {self.prefix!r} may hold only letters, digits and _")
        check_values(self.params, f"{self.origin}, parameter")
        for entity, emap in self.entities.items():
            if entity != emap.entity:
                raise MappingError(f"{self.origin}: entity key {entity!r} holds a map for {emap.entity!r}")
            emap.validate()
        for name, spec in ENTITIES.items():
            if spec.must_exist and name not in self.entities:
                raise MappingError(f"{self.origin}: the required entity '{name}' ({spec.label}) is not mapped")
        if self.views_off and "view" in self.entities:
            raise MappingError(f"{self.origin}: views = \"none\" says the shop keeps no product views, but the "
                               "entity 'view' is mapped too; remove one of them")
        if self.timezone is not None:
            try:
                zone_named(self.timezone)
            except ValueError as exc:
                raise MappingError(f"{self.origin}, [shop], field 'timezone': {exc}") from None

    def has(self, entity: str) -> bool:
        """Whether the shop's own database holds this entity (what the extraction reads there)."""
        emap = self.entities.get(entity)
        return emap is not None and emap.store in ("shop", "both")

    def reads_crm(self, entity: str) -> bool:
        """Whether this entity (only ``view``) is also read from shopcrm's own ``crm_view``."""
        emap = self.entities.get(entity)
        return emap is not None and emap.store in ("crm", "both")

    def table_name(self, entity: str) -> str | None:
        emap = self.entities.get(entity)
        return None if emap is None or emap.table is None else self.prefix + emap.table

    def with_views(self, source: str) -> "ShopMapping":
        """This mapping with its views read from ``source``: preset, shop, beacon, both, or none
        (browsing data off by choice: no views read, no beacon advised)."""
        if source == "preset":
            return self
        current = self.entities.get("view")
        if source == "none":
            entities = {name: emap for name, emap in self.entities.items() if name != "view"}
            notes = {name: text for name, text in self.notes.items() if name != "view"}
            return replace(self, entities=entities, notes=notes, views_off=True)
        if source == "beacon":
            view = EntityMap("view", store="crm", origin="SHOPCRM_SHOP_VIEWS")
        elif current is None or current.store == "crm":
            raise MappingError(f"SHOPCRM_SHOP_VIEWS = {source!r}, but the mapping '{self.name}' knows no table of "
                               "the shop's own that holds product views; use 'beacon' or 'preset'")
        else:
            view = replace(current, store="shop" if source == "shop" else "both")
        return replace(self, entities={**self.entities, "view": view}, views_off=False)

    def column_text(self, entity: str, canonical: str) -> str:
        """Where a canonical column is read, in the shop's own names: "the column `t`.`c`" for a
        table, "the column `quantity` of the SELECT of 'order_line'" for a select."""
        emap = self.entities.get(entity)
        if emap is not None and emap.table is not None and canonical in emap.columns:
            return f"the column `{self.prefix}{emap.table}`.`{emap.columns[canonical]}`"
        if emap is not None and emap.select is not None:
            return f"the column `{canonical}` of the SELECT of '{entity}'"
        return f"the {COLUMN_WORDS.get(canonical, canonical)} of '{entity}'"

    def select_text(self, entity: str) -> tuple[str, dict[str, Any]]:
        """A SELECT entity's SQL with the prefix filled in, and the parameters it uses."""
        emap = self.entities[entity]
        params = {**self.params, **emap.params}
        sql = emap.select.replace("{prefix}", self.prefix).rstrip().rstrip(";")
        used = set(PARAM_NAME.findall(sql))
        missing = sorted(used - set(params))
        if missing:
            raise MappingError(f"{emap.where_text}, field 'select': the parameter(s) {', '.join(missing)} "
                               "have no value (give them under 'params')")
        return sql, {name: params[name] for name in used}

    def select_statement(self, entity: str, around: str = "{}") -> sa.TextClause:
        """A SELECT entity as a statement with its parameters bound (lists expand into IN (...)).

        ``around`` wraps it, e.g. ``SELECT * FROM ({}) AS probe LIMIT 0`` to learn its columns.
        """
        sql, params = self.select_text(entity)
        bound = (sa.bindparam(n, v, expanding=isinstance(v, (list, tuple))) for n, v in params.items())
        return sa.text(around.replace("{}", sql)).bindparams(*bound)

    def forget_sources(self) -> None:
        """Build the subqueries again on next use (an entity's columns changed: ``EntityMap.absent``)."""
        self._sources.clear()

    def source(self, entity: str, columns: tuple[str, ...] | None = None) -> sa.Subquery:
        """A subquery for ``entity`` whose columns carry the canonical names.

        ``columns`` limits the SELECT to what a query needs (less to read and to send);
        optional columns the mapping lacks come back as their default or NULL.
        """
        key = (entity, tuple(columns) if columns else None)
        found = self._sources.get(key)
        if found is None:
            found = self._sources[key] = self._build_source(entity, columns)
        return found

    def _build_source(self, entity: str, columns: tuple[str, ...] | None) -> sa.Subquery:
        emap = self.entities.get(entity)
        if emap is None:
            raise MappingError(f"mapping '{self.name}': the entity '{entity}' is not mapped")
        if emap.store == "crm":
            raise MappingError(f"mapping '{self.name}': the entity '{entity}' is kept in shopcrm's own crm_view "
                               "table, not in the shop's database")
        spec = ENTITIES[entity]
        wanted = columns or spec.columns
        unknown = set(wanted) - set(spec.columns)
        if unknown:
            raise MappingError(f"entity '{entity}' has no canonical column(s) {sorted(unknown)}")
        provided = emap.canonical_columns()
        if emap.select is not None:
            text = self.select_statement(entity)
            typed = text.columns(*(sa.column(c, spec.types.get(c, sa.String())) for c in provided))
            sub = typed.subquery(f"{entity}_sel")
            return sa.select(*(sub.c[c] if c in provided else _missing(entity, c, spec) for c in wanted)
                             ).subquery(f"{entity}_src")
        table = sa.table(self.prefix + emap.table,
                         *(sa.column(real) for real in dict.fromkeys([*emap.columns.values(), *emap.where])))
        selected = []
        for canonical in wanted:
            if canonical in emap.columns and canonical not in emap.absent:
                type_ = spec.types.get(canonical, sa.String())
                selected.append(sa.type_coerce(table.c[emap.columns[canonical]], type_).label(canonical))
            else:
                selected.append(_missing(entity, canonical, spec))
        query = sa.select(*selected).select_from(table)
        for column, value in emap.where.items():
            query = query.where(where_condition(table.c[column], value))
        return query.subquery(f"{entity}_src")


def _missing(entity: str, canonical: str, spec: EntitySpec) -> sa.ColumnElement:
    """An optional column the mapping does not provide: its default, or NULL."""
    type_ = spec.types.get(canonical, sa.String())
    default = OPTIONAL_DEFAULTS.get((entity, canonical))
    return (sa.literal(default, type_) if default is not None else sa.null()).label(canonical)
