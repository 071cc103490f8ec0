"""The shop readers: what a run reads from the shop, shaped so that the wire is not the bottleneck.

A pure-Python driver (PyMySQL) pays for every row and every field it decodes; MariaDB pays
most for joins and for GROUP BYs that spill a temporary table to disk. Measured on 5M views
(see docs/BENCHMARKS.md), grouping by (customer, category) costs the server a per-view join
with the products and an on-disk temporary table, while grouping by customer alone walks the
covering index (customer, product, time) in order and streams. So every event query here
groups by the customer (or by a bucket of consecutive order ids) and returns the group's
events as one packed string of integers (``sqlfuncs.packed``); numpy parses it in one call,
and the run finishes the aggregation (``mining.features``). Rows cross the wire once per
customer, values as integers (seconds and cents), and a result is processed in chunks as it
streams, so memory stays bounded.

Definitions, the same on every database (tests compare them with a plain-Python reference):

* an event counts when ``as_of - horizon < time <= as_of``;
* events of unknown customers or products (orphans) are dropped and counted;
* orders are the mapping's valid orders placed up to ``as_of``; money is read to the cent;
* quantities are whole numbers, whatever the column's type: a shop may store them as decimals
  (Magento's ``qty_ordered decimal(12,4)``), so they travel in ten-thousandths and a value that
  is not whole stops the run with an error naming the entity, the column, the value and the fix.

A value that is not a whole number where one must be (an id stored as text, say) is named the
same way: the entity, the shop's column, the value, what to do.

The :class:`Catalog`, :class:`Orders` and :class:`Lines` they return are the shop-data
contract: plain arrays, nothing of the database. Functions take a SQLAlchemy connection and a
:class:`ShopMapping`; they know nothing of Flask, so tests and benchmarks call them directly.

The readers stay in one module, longer than most, because they share the packed-row protocol and
the chunking above: splitting them would put one wire format in several files.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import sqlalchemy as sa

from ..arrays import IdIndex
from ..clock import DAY
from ..errors import MappingError
from .mapping import COLUMN_WORDS, ENTITIES, ShopMapping
from .sqlfuncs import bucket, cents, packed, seconds_between

NULL_AGE = -(10 ** 12)  # stands for "no date" inside packed tuples (31,700 years in the future)
ORDER_BUCKET = 1024  # consecutive order ids packed into one row
CUSTOMER_BUCKET = 32768  # customers of one location/source packed into one row at most
CHUNK_ROWS = 2000  # packed rows fetched at a time while a result streams
CHUNK_BYTES = 4 << 20  # packed text parsed at a time
ID_CHUNK = 1000  # ids per IN (...) list when a run is restricted to some customers
QUANTITY_SCALE = 10_000  # quantities travel in ten-thousandths: decimal(12,4) exactly, and whole ones checked
_WHOLE = re.compile(rb"-?[0-9]+")


@dataclass
class Catalog:
    """Products with their category and brand as column positions of the interest matrices."""

    product_ids: np.ndarray  # int64, sorted, unique
    product_category: np.ndarray  # position in category_ids, -1 without a category
    product_brand: np.ndarray  # position in brand_ids, -1 without a brand
    category_ids: np.ndarray
    category_names: list[str]
    brand_ids: np.ndarray
    brand_names: list[str]

    def __post_init__(self):
        self._index = IdIndex(self.product_ids)

    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._index.locate(ids)


@dataclass
class Orders:
    """Valid orders of known customers, sorted by id."""

    ids: np.ndarray  # int64
    customer: np.ndarray  # row in the extract's customers
    age_days: np.ndarray
    total: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Lines:
    """Order lines of :class:`Orders` placed within the history window, known products only.

    Rows and quantities are int32 (millions of lines): cast before multiplying them.
    """

    order: np.ndarray  # row in Orders
    product: np.ndarray  # row in Catalog
    quantity: np.ndarray
    unit_price: np.ndarray

    def __len__(self) -> int:
        return len(self.order)


# --- reading packed groups -------------------------------------------------------------------------

def _bind_time(name: str, value: datetime) -> sa.BindParameter:
    return sa.bindparam(name, value.replace(microsecond=0), type_=sa.DateTime)


def _in_chunks(column: sa.ColumnElement, ids: Iterable[int] | None) -> Iterator[list]:
    """Conditions restricting ``column`` to ``ids`` in bounded IN lists (or no restriction)."""
    if ids is None:
        yield []
        return
    values = sorted({int(i) for i in ids})
    for start in range(0, len(values), ID_CHUNK):
        yield [column.in_(values[start:start + ID_CHUNK])]


def prepare_packing(conn: sa.Connection) -> None:
    """Let MariaDB/MySQL return long packed groups (the default cap is 1 MB, silently truncating)."""
    if conn.dialect.name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET SESSION group_concat_max_len = @@max_allowed_packet")


_TUPLE_END = bytes.maketrans(b";", b",")


def _complete(blob: bytes, tuples: int) -> bool:
    """Whether a packed group holds all its ``tuples`` (each ends with ``;``; wherever the
    server cut the string, at least the last ``;`` is gone)."""
    return blob.count(b";") == tuples


#: What a packed value is, per position: (entity, canonical column) or None; it names a bad value.
Labels = Sequence["tuple[str, str] | None"]
Explain = Callable[[int, str], MappingError]


def value_error(mapping: ShopMapping, entity: str, canonical: str, value: str, doctor_hint: bool = True
                ) -> MappingError:
    """A value the readers cannot use, named: the entity, the shop's column, the value, the fix."""
    spec = ENTITIES[entity]
    words = COLUMN_WORDS.get(canonical, canonical)
    column = mapping.column_text(entity, canonical)
    if canonical in ("created_at", "placed_at", "viewed_at", "added_at"):
        return MappingError(f"{spec.label} ({entity}): {column} holds {value}, which is not a date and time; map "
                            f"'{entity}' with a SELECT that converts it (… AS {canonical}), see docs/MAPPING.md")
    return MappingError(f"{spec.label} ({entity}): {column} holds {value}, but the {words} must be a whole number; "
                        f"map '{entity}' with a SELECT that returns whole numbers (e.g. CAST(… AS SIGNED) AS "
                        f"{canonical}) or map another column"
                        + ("; `flask --app wsgi shopcrm doctor` checks every row" if doctor_hint else ""))


def _explainer(mapping: ShopMapping, labels: Labels) -> Explain:
    def explain(position: int, value: str) -> MappingError:
        label = labels[position] if position < len(labels) else None
        if label is None:
            return MappingError(f"the shop returned {value}, which is not a whole number; "
                                "run `flask --app wsgi shopcrm doctor` to find the column")
        return value_error(mapping, *label, value)
    return explain


def _first_bad(data: bytes, width: int, explain: Explain | None) -> MappingError:
    for index, token in enumerate(data.split(b",")):
        if not _WHOLE.fullmatch(token.strip()):
            shown = repr(token.decode("utf-8", "replace")) if token.strip() else "an empty value"
            if explain is not None:
                return explain(index % width, shown)
            return MappingError(f"the shop returned {shown}, which is not a whole number; "
                                "run `flask --app wsgi shopcrm doctor` to find the column")
    return MappingError("the shop returned values that are not whole numbers; "
                        "run `flask --app wsgi shopcrm doctor` to find the column")


def _parse(blobs: list[bytes], width: int, explain: Explain | None = None) -> np.ndarray:
    data = b"".join(blobs).translate(_TUPLE_END)[:-1]
    if not data:
        return np.empty((0, width), np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(data, dtype=np.int64, sep=",")
        except (DeprecationWarning, ValueError) as exc:
            raise _first_bad(data, width, explain) from exc
    if values.size % width:  # a value the parser stopped at without a warning
        raise _first_bad(data, width, explain)
    return values.reshape(-1, width)


def _plain_rows(rows: list, width: int, explain: Explain | None) -> np.ndarray:
    """Rows read one by one (a group too long to pack) as integers, a bad value named."""
    try:
        return np.asarray(rows, dtype=np.int64).reshape(-1, width)
    except (TypeError, ValueError, OverflowError):
        for row in rows:
            for position, value in enumerate(row):
                if not isinstance(value, int) or isinstance(value, bool):
                    shown = "an empty value (NULL)" if value is None else repr(str(value))
                    if explain is not None:
                        raise explain(position, shown) from None
                    raise MappingError(f"the shop returned {shown}, which is not a whole number; "
                                       "run `flask --app wsgi shopcrm doctor` to find the column") from None
        raise


def fetch_packed(conn: sa.Connection, key: sa.ColumnElement, values: list[sa.ColumnElement], from_,
                 conditions: list, explain: Explain | None = None
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stream ``(keys, counts, tuples)`` chunks: the groups' keys, how many tuples each group
    has, and the tuples (``len(values)`` integers each) one group after the other.

    A group whose packed string came back short (longer than the server's packet limit) is
    read again as plain rows, so nothing is ever silently lost. ``explain`` names a value that
    is not a whole number (see :func:`value_error`).
    """
    width = len(values)
    query = (sa.select(key.label("k"), sa.func.count().label("n"), packed(*values).label("p"))
             .select_from(from_).where(*conditions).group_by(key))
    short: list = []
    keys, blobs, counts, size = [], [], [], 0
    result = conn.execution_options(stream_results=True).execute(query)
    for rows in result.partitions(CHUNK_ROWS):
        for k, n, p in rows:
            blob = p.encode() if isinstance(p, str) else bytes(p or b"")
            if k is None:
                continue
            if not _complete(blob, n):
                short.append(k)
                continue
            keys.append(k)
            counts.append(n)
            blobs.append(blob)
            size += len(blob)
            if size >= CHUNK_BYTES:  # parse a few MB at a time, whatever the rows hold
                yield (np.asarray(keys, dtype=np.int64), np.asarray(counts, dtype=np.int64),
                       _parse(blobs, width, explain))
                keys, blobs, counts, size = [], [], [], 0
    if blobs:
        yield np.asarray(keys, dtype=np.int64), np.asarray(counts, dtype=np.int64), _parse(blobs, width, explain)
    for k in short:
        plain = sa.select(*values).select_from(from_).where(*conditions, key == k)
        rows = _plain_rows([tuple(r) for r in conn.execute(plain).all()], width, explain)
        yield np.array([int(k)], dtype=np.int64), np.array([len(rows)], dtype=np.int64), rows


# --- customers and catalog ---------------------------------------------------------------------------

LOCATION_FIELDS = ("country", "region", "city", "source")


def read_customers(conn: sa.Connection, mapping: ShopMapping, as_of: datetime,
                   only: Iterable[int] | None = None) -> dict[str, np.ndarray]:
    """Customer ids (sorted, unique), account ages in days, location and source.

    Grouped by location and source on the server: a shop has few distinct places and
    sources, so the strings cross the wire once per group, the ids and ages packed.
    """
    src = mapping.source("customer", ("id", "created_at", *LOCATION_FIELDS))
    group_cols = [src.c[f] for f in LOCATION_FIELDS]
    age = sa.func.coalesce(seconds_between(src.c.created_at, _bind_time("as_of", as_of)), NULL_AGE)
    key = bucket(src.c.id, sa.literal_column(str(CUSTOMER_BUCKET)))
    ids_parts, age_parts, label_parts = [], [], []
    for cond in _in_chunks(src.c.id, only):
        query = (sa.select(*group_cols, sa.func.count(), packed(src.c.id, age))
                 .where(src.c.id.is_not(None), *cond).group_by(*group_cols, key))
        for *labels, n, p in conn.execute(query):
            blob = p.encode() if isinstance(p, str) else bytes(p or b"")
            if not _complete(blob, n):
                raise MappingError("the customer list came back truncated; raise the database's "
                                   "max_allowed_packet (it must hold 32768 customer ids)")
            pairs = _parse([blob], 2, _explainer(mapping, [("customer", "id"), ("customer", "created_at")]))
            ids_parts.append(pairs[:, 0])
            age_parts.append(pairs[:, 1])
            label_parts.append((labels, len(pairs)))
    if not ids_parts:
        empty = np.empty(0, dtype=object)
        return {"ids": np.empty(0, np.int64), "age_days": np.empty(0), **{f: empty for f in LOCATION_FIELDS}}
    ids = np.concatenate(ids_parts)
    ages = np.concatenate(age_parts).astype(np.float64)
    ages = np.where(ages == NULL_AGE, np.nan, np.maximum(ages, 0.0) / DAY)
    labels = {f: np.empty(len(ids), dtype=object) for f in LOCATION_FIELDS}
    start = 0
    for values, n in label_parts:
        for f, value in zip(LOCATION_FIELDS, values):
            labels[f][start:start + n] = value
        start += n
    unique, first = np.unique(ids, return_index=True)
    return {"ids": unique, "age_days": ages[first], **{f: labels[f][first] for f in LOCATION_FIELDS}}


def _names(conn: sa.Connection, mapping: ShopMapping, entity: str, label: str) -> dict[int, str]:
    if not mapping.has(entity):
        return {}
    src = mapping.source(entity, ("id", "name"))
    return {int(i): (n if n is not None else f"{label} {i}") for i, n in conn.execute(sa.select(src.c.id, src.c.name))
            if i is not None}


def categories(conn: sa.Connection, mapping: ShopMapping) -> dict[int, str]:
    return _names(conn, mapping, "category", "Category")


def read_catalog(conn: sa.Connection, mapping: ShopMapping) -> Catalog:
    src = mapping.source("product", ("id", "category_id", "brand_id"))
    rows = conn.execute(sa.select(src.c.id, src.c.category_id, src.c.brand_id).where(src.c.id.is_not(None))).all()
    data = np.array([(r[0], -1 if r[1] is None else r[1], -1 if r[2] is None else r[2]) for r in rows],
                    dtype=np.int64).reshape(-1, 3)
    ids, first = np.unique(data[:, 0], return_index=True)
    cat, brand = data[first, 1], data[first, 2]
    category_ids, brand_ids = np.unique(cat[cat >= 0]), np.unique(brand[brand >= 0])
    cat_names, brand_names = categories(conn, mapping), _names(conn, mapping, "brand", "Brand")
    return Catalog(
        product_ids=ids,
        product_category=np.where(cat >= 0, np.searchsorted(category_ids, cat), -1),
        product_brand=np.where(brand >= 0, np.searchsorted(brand_ids, brand), -1),
        category_ids=category_ids,
        category_names=[cat_names.get(int(c), f"Category {int(c)}") for c in category_ids],
        brand_ids=brand_ids,
        brand_names=[brand_names.get(int(b), f"Brand {int(b)}") for b in brand_ids],
    )


# --- events ----------------------------------------------------------------------------------------------

EVENT_TIME = {"view": "viewed_at", "cart_item": "added_at"}


def event_chunks(conn: sa.Connection, mapping: ShopMapping, entity: str, as_of: datetime, horizon_days: int,
                 only: Iterable[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``(customer ids, events per customer, product ids, ages in seconds)`` of one kind of
    event, a chunk of customers at a time."""
    ts_col = EVENT_TIME[entity]
    events = mapping.source(entity, ("customer_id", "product_id", ts_col))
    ts = events.c[ts_col]
    as_of_p = _bind_time("as_of", as_of)
    since = _bind_time("since", as_of - timedelta(days=horizon_days))
    age = seconds_between(ts, as_of_p)
    for cond in _in_chunks(events.c.customer_id, only):
        conditions = [ts <= as_of_p, ts > since, events.c.customer_id.is_not(None), events.c.product_id.is_not(None),
                      *cond]
        for keys, counts, tuples in fetch_packed(conn, events.c.customer_id, [events.c.product_id, age], events,
                                                 conditions, _explainer(mapping, [(entity, "product_id"),
                                                                                  (entity, ts_col)])):
            yield keys, counts, tuples[:, 0], tuples[:, 1]


# --- orders -----------------------------------------------------------------------------------------------

def read_orders(conn: sa.Connection, mapping: ShopMapping, as_of: datetime, customer_ids: np.ndarray,
                only: Iterable[int] | None = None) -> tuple[Orders, dict]:
    """Valid orders of known customers (each chunk is reduced to its final columns as it
    arrives, so a long history never sits in memory twice)."""
    order = mapping.source("order", ("id", "customer_id", "placed_at", "total"))
    as_of_p = _bind_time("as_of", as_of)
    values = [order.c.id, order.c.customer_id, seconds_between(order.c.placed_at, as_of_p),
              cents(sa.func.coalesce(order.c.total, 0))]
    key = bucket(order.c.id, sa.literal_column(str(ORDER_BUCKET)))
    customers = IdIndex(customer_ids)
    parts, orphans, read = [], [], 0
    for cond in _in_chunks(order.c.customer_id, only):
        conditions = [order.c.placed_at <= as_of_p, order.c.customer_id.is_not(None), order.c.id.is_not(None), *cond]
        explain = _explainer(mapping, [("order", "id"), ("order", "customer_id"), ("order", "placed_at"), None])
        for _, _, t in fetch_packed(conn, key, values, order, conditions, explain):
            rows, known = customers.locate(t[:, 1])
            read += len(t)
            orphans.append(t[~known, 1])
            parts.append((t[known, 0], rows[known], np.maximum(t[known, 2], 0) / DAY, t[known, 3] / 100.0))
    ids, rows, age, total = (np.concatenate([p[i] for p in parts]) if parts else np.empty(0) for i in range(4))
    ids, first = np.unique(ids.astype(np.int64), return_index=True)  # a mapping's SELECT may repeat an order
    orphan_ids = np.concatenate(orphans) if orphans else np.empty(0, np.int64)
    counts = {"order_rows": read, "order_orphan_rows": int(len(orphan_ids)),
              "order_orphan_customers": int(len(np.unique(orphan_ids)))}
    return Orders(ids=ids, customer=rows[first].astype(np.int64), age_days=age[first], total=total[first]), counts


def read_lines(conn: sa.Connection, mapping: ShopMapping, orders: Orders, catalog: Catalog,
               history_days: int, restricted: bool = False) -> tuple[Lines, dict]:
    """Lines of orders placed within ``history_days``.

    The lines are read without a join: a range on order ids (orders ids grow with time in
    every shop; the exact order set is applied afterwards) keeps old history off the wire.
    A ``restricted`` extraction (a few customers) asks for their orders' ids instead.
    """
    recent = orders.age_days < history_days  # younger than the window, as every window of a run
    if not recent.any():
        return Lines(*(np.empty(0, np.int32) for _ in range(3)), np.empty(0)), {"line_rows": 0}
    line = mapping.source("order_line", ("order_id", "product_id", "quantity", "unit_price"))
    values = [line.c.order_id, line.c.product_id, scaled_quantity(line.c.quantity),
              cents(sa.func.coalesce(line.c.unit_price, 0))]
    explain = _explainer(mapping, [("order_line", "order_id"), ("order_line", "product_id"),
                                   ("order_line", "quantity"), None])
    key = bucket(line.c.order_id, sa.literal_column(str(ORDER_BUCKET)))
    conditions = [line.c.order_id >= sa.bindparam("first_order", int(orders.ids[recent].min())),
                  line.c.order_id.is_not(None), line.c.product_id.is_not(None)]
    order_index = IdIndex(orders.ids)
    parts, read, unknown = [], 0, 0
    for cond in _in_chunks(line.c.order_id, orders.ids[recent] if restricted else None):
        for _, _, t in fetch_packed(conn, key, values, line, conditions + cond, explain):
            t[:, 2] = whole_quantities(mapping, "order_line", t[:, 2], t[:, 0], t[:, 1])
            order_rows, valid = order_index.locate(t[:, 0])
            valid &= recent[order_rows]
            products, found = catalog.locate(t[:, 1])
            keep = valid & found
            read += len(t)
            unknown += int((valid & ~found).sum())
            parts.append((order_rows[keep].astype(np.int32), products[keep].astype(np.int32),
                          t[keep, 2].astype(np.int32), t[keep, 3] / 100.0))
    order_rows, products, quantity, price = (
        np.concatenate([p[i] for p in parts]) if parts else np.empty(0, np.int32) for i in range(4))
    return (Lines(order=order_rows, product=products, quantity=quantity, unit_price=price.astype(np.float64)),
            {"line_rows": read, "line_unknown_product_rows": unknown})


# --- quantities ----------------------------------------------------------------------------------------

def scaled_quantity(column: sa.ColumnElement) -> sa.ColumnElement:
    """A quantity (empty: 1) as a whole number of ten-thousandths, whatever the column's type:
    ``2``, ``2.0`` and ``2.0000`` all become 20000, and ``2.5`` becomes 25000, which
    :func:`whole_quantities` refuses by name."""
    return sa.cast(sa.func.round(sa.func.coalesce(column, 1) * QUANTITY_SCALE), sa.BigInteger)


def whole_quantities(mapping: ShopMapping, entity: str, scaled: np.ndarray, first: np.ndarray,
                     second: np.ndarray) -> np.ndarray:
    """Scaled quantities back to whole numbers; a value that is not whole is a MappingError
    naming the entity, the shop's column, the value, the row (``first``, ``second``: its order
    and product, or customer and product) and the fix."""
    bad = np.flatnonzero(scaled % QUANTITY_SCALE)
    if len(bad):
        at = bad[0]
        value = f"{scaled[at] / QUANTITY_SCALE:.4f}".rstrip("0").rstrip(".")
        row = (f"order {first[at]}, product {second[at]}" if entity == "order_line"
               else f"customer {first[at]}, product {second[at]}")
        raise MappingError(
            f"{ENTITIES[entity].label} ({entity}): {mapping.column_text(entity, 'quantity')} holds {value} ({row}), "
            f"but shopcrm counts whole items: map '{entity}' with a SELECT that rounds the quantity "
            "(e.g. CEIL(…) AS quantity), see docs/MAPPING.md; `flask --app wsgi shopcrm doctor` counts such rows")
    return scaled // QUANTITY_SCALE


# --- what the extraction wants from the shop's schema ---------------------------------------------------

INDEX_REASONS = {
    "view": "the per-customer grouping of the browsing history streams off this index instead of sorting "
            "every view first (docs/BENCHMARKS.md measures both)",
    "cart_item": "the per-customer grouping of cart items streams off this index instead of sorting them",
    "order": "each customer's orders are read from this index (customer, date, total) without the table",
    "order_line": "only the order lines of recent orders are read (a range on the order id)",
}


def index_advice(mapping: ShopMapping, entities: Iterable[str] | None = None) -> list[dict]:
    """The indexes extraction wants on the shop's tables: the mapping's extraction hints (derived
    for an entity mapped to a table, declared for one read through a SELECT), with the reason."""
    advice = []
    for entity in entities or mapping.entities:
        emap = mapping.entities.get(entity)
        if emap is None or not mapping.has(entity):
            continue
        for hint in emap.extraction_hints():
            advice.append({"entity": entity, "table": mapping.prefix + hint.table, "columns": list(hint.columns),
                           "why": INDEX_REASONS.get(entity, "the extraction's query on this table uses it")})
    return advice


def missing_indexes(conn: sa.Connection, mapping: ShopMapping, entities: Iterable[str] | None = None) -> list[dict]:
    """The :func:`index_advice` entries whose table exists and has no index (nor primary key)
    starting with those columns."""
    inspector = sa.inspect(conn)
    missing = []
    for item in index_advice(mapping, entities):
        if not inspector.has_table(item["table"]):
            continue
        wanted = [c.lower() for c in item["columns"]]
        table = item["table"]
        existing = [[c.lower() for c in ix["column_names"] if c] for ix in inspector.get_indexes(table)]
        existing.append([c.lower() for c in inspector.get_pk_constraint(table).get("constrained_columns") or []])
        if not any(cols[:len(wanted)] == wanted for cols in existing):
            missing.append(item)
    return missing
