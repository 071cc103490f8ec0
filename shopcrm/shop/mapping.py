"""How shopcrm sees a shop: eight logical entities with canonical columns.

Each entity is read either from one table, with a map from canonical column names to the
shop's real column names and simple equality/IN filters, or from a SELECT that already
returns the canonical names (for data that needs joins). Either way :meth:`ShopMapping.source`
gives a SQLAlchemy subquery with the canonical column names, and the aggregation queries in
``extract.py`` are written once against those names.

Identifiers are checked against a strict pattern here; values (filters, SELECT parameters)
are always bound parameters, never pasted into SQL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import sqlalchemy as sa

from ..errors import MappingError

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$")
PREFIX = re.compile(r"^[A-Za-z0-9_]{0,32}$")


@dataclass(frozen=True)
class EntitySpec:
    """The canonical shape of one logical entity."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    types: Mapping[str, sa.types.TypeEngine] = field(default_factory=dict)
    must_exist: bool = True  # False: the shop may lack this entity (e.g. browsing history)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


_INT, _TEXT, _TIME, _NUM = sa.BigInteger(), sa.String(), sa.DateTime(), sa.Float()

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "customer",
            ("id", "email", "first_name", "created_at"),
            ("last_name", "city", "region", "country", "source", "consent"),
            {"id": _INT, "created_at": _TIME, "consent": sa.Integer()},
        ),
        EntitySpec(
            "product",
            ("id", "name", "price", "category_id"),
            ("brand_id", "url", "image_url", "active", "in_stock"),
            {"id": _INT, "price": _NUM, "category_id": _INT, "brand_id": _INT, "active": sa.Integer(),
             "in_stock": sa.Integer()},
        ),
        EntitySpec("category", ("id", "name"), ("parent_id",), {"id": _INT, "parent_id": _INT}),
        EntitySpec("brand", ("id", "name"), (), {"id": _INT}, must_exist=False),
        EntitySpec("view", ("customer_id", "product_id", "viewed_at"), (),
                   {"customer_id": _INT, "product_id": _INT, "viewed_at": _TIME}, must_exist=False),
        EntitySpec("cart_item", ("customer_id", "product_id", "quantity", "added_at"), (),
                   {"customer_id": _INT, "product_id": _INT, "quantity": sa.Integer(), "added_at": _TIME},
                   must_exist=False),
        EntitySpec("order", ("id", "customer_id", "placed_at", "total"), (),
                   {"id": _INT, "customer_id": _INT, "placed_at": _TIME, "total": _NUM}),
        EntitySpec("order_line", ("order_id", "product_id", "quantity", "unit_price"), (),
                   {"order_id": _INT, "product_id": _INT, "quantity": sa.Integer(), "unit_price": _NUM}),
    )
}

#: Defaults for optional columns a mapping leaves out.
OPTIONAL_DEFAULTS: dict[tuple[str, str], Any] = {
    ("product", "active"): 1,
    ("product", "in_stock"): 1,
    ("customer", "consent"): 0,
}


def check_identifier(value: str, where: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise MappingError(f"{where}: {value!r} is not a valid table or column name "
                           "(letters, digits and _ only, not starting with a digit)")
    return value


@dataclass(frozen=True)
class EntityMap:
    """Where one entity lives in the shop."""

    entity: str
    table: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> real column
    where: Mapping[str, Any] = field(default_factory=dict)  # real column -> value or list of values
    select: str | None = None  # a SELECT returning canonical names; may use :name parameters
    params: Mapping[str, Any] = field(default_factory=dict)
    origin: str = "preset"  # where this definition came from, for error messages
    store: str = "shop"  # "shop": the shop database; "crm": shopcrm's own database (crm_view)

    def validate(self, prefix: str = "") -> None:
        spec = ENTITIES.get(self.entity)
        where = f"{self.origin}, entity '{self.entity}'"
        if spec is None:
            raise MappingError(f"{where}: unknown entity (known: {', '.join(ENTITIES)})")
        if (self.table is None) == (self.select is None):
            raise MappingError(f"{where}: give either 'table' (with 'columns') or 'select', not both or neither")
        if self.table is not None:
            check_identifier(self.table, f"{where}, table")
            unknown = set(self.columns) - set(spec.columns)
            if unknown:
                raise MappingError(f"{where}, columns: unknown canonical column(s) {sorted(unknown)}; "
                                   f"known: {', '.join(spec.columns)}")
            for canonical, real in self.columns.items():
                check_identifier(real, f"{where}, column '{canonical}'")
            missing = [c for c in spec.required if c not in self.columns]
            if missing:
                raise MappingError(f"{where}, columns: required column(s) {missing} not mapped")
            for column, value in self.where.items():
                check_identifier(column, f"{where}, filter")
                values = value if isinstance(value, (list, tuple)) else [value]
                if not values or not all(isinstance(v, (str, int, float, bool)) for v in values):
                    raise MappingError(f"{where}, filter on '{column}': values must be numbers or strings")
        else:
            if not isinstance(self.select, str) or not self.select.strip().lower().startswith(("select", "(")):
                raise MappingError(f"{where}: 'select' must be a SELECT statement")
            if ";" in self.select.rstrip().rstrip(";"):
                raise MappingError(f"{where}: 'select' must be one statement (no ';')")

    def canonical_columns(self) -> tuple[str, ...]:
        spec = ENTITIES[self.entity]
        if self.table is not None:
            return tuple(c for c in spec.columns if c in self.columns)
        return spec.columns  # a SELECT must return every canonical column it knows of


@dataclass(frozen=True)
class ShopMapping:
    """A complete mapping of one shop. ``params`` are bound into every SELECT entity."""

    name: str
    entities: Mapping[str, EntityMap]
    prefix: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)  # per entity: what this preset cannot read

    def __post_init__(self):
        if not PREFIX.match(self.prefix or ""):
            raise MappingError(f"mapping '{self.name}': table prefix {self.prefix!r} may hold only letters, digits and _")
        for entity, emap in self.entities.items():
            if entity != emap.entity:
                raise MappingError(f"mapping '{self.name}': entity key {entity!r} holds a map for {emap.entity!r}")
            emap.validate(self.prefix)
        for name, spec in ENTITIES.items():
            if spec.must_exist and name not in self.entities:
                raise MappingError(f"mapping '{self.name}': the required entity '{name}' is not mapped")

    def has(self, entity: str) -> bool:
        return entity in self.entities

    def table_name(self, entity: str) -> str | None:
        emap = self.entities.get(entity)
        return None if emap is None or emap.table is None else self.prefix + emap.table

    def source(self, entity: str, columns: tuple[str, ...] | None = None) -> sa.Subquery:
        """A subquery for ``entity`` whose columns carry the canonical names.

        ``columns`` limits the SELECT to what a query needs (less to read and to send);
        optional columns the mapping lacks come back as their default or NULL.
        """
        emap = self.entities.get(entity)
        if emap is None:
            raise MappingError(f"mapping '{self.name}': the entity '{entity}' is not mapped")
        spec = ENTITIES[entity]
        wanted = columns or spec.columns
        unknown = set(wanted) - set(spec.columns)
        if unknown:
            raise MappingError(f"entity '{entity}' has no canonical column(s) {sorted(unknown)}")
        if emap.select is not None:
            params = {**self.params, **emap.params}
            text = sa.text(emap.select.replace("{prefix}", self.prefix).rstrip().rstrip(";"))
            used = {name for name in params if f":{name}" in emap.select}
            text = text.bindparams(*(sa.bindparam(n, params[n], expanding=isinstance(params[n], (list, tuple)))
                                     for n in used))
            typed = text.columns(*(sa.column(c, spec.types.get(c, sa.String())) for c in spec.columns))
            sub = typed.subquery(f"{entity}_sel")
            return sa.select(*(sub.c[c] for c in wanted)).subquery(f"{entity}_src")
        table = sa.table(self.prefix + emap.table,
                         *{sa.column(real) for real in list(emap.columns.values()) + list(emap.where)})
        selected = []
        for canonical in wanted:
            type_ = spec.types.get(canonical, sa.String())
            if canonical in emap.columns:
                selected.append(sa.type_coerce(table.c[emap.columns[canonical]], type_).label(canonical))
            else:
                default = OPTIONAL_DEFAULTS.get((entity, canonical))
                selected.append((sa.literal(default, type_) if default is not None else sa.null()).label(canonical))
        query = sa.select(*selected).select_from(table)
        for column, value in emap.where.items():
            if isinstance(value, (list, tuple)):
                query = query.where(table.c[column].in_(list(value)))
            else:
                query = query.where(table.c[column] == value)
        return query.subquery(f"{entity}_src")
