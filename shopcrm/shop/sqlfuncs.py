"""Small SQL constructs that differ by database, compiled per dialect.

Shop timestamps are naive local times written by the shop's PHP code. Ages are computed as
differences between two naive timestamps (``TIMESTAMPDIFF`` on MariaDB/MySQL, ``julianday``
on SQLite), so no time-zone conversion ever happens in the database (``UNIX_TIMESTAMP`` would
apply the session time zone).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class days_between(FunctionElement):
    """``end - start`` in days, as a floating-point number."""

    type = sa.Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


@compiles(days_between, "mysql")
@compiles(days_between, "mariadb")
def _days_between_mysql(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(TIMESTAMPDIFF(SECOND, {start}, {end}) / 86400e0)"


@compiles(days_between, "postgresql")
def _days_between_pg(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"


class as_float(FunctionElement):
    """A numeric expression as a double, so drivers return floats, not Decimal objects
    (converting millions of Decimals in Python costs more than the query)."""

    type = sa.Float()
    inherit_cache = True
    name = "as_float"


@compiles(as_float)
def _as_float_default(element, compiler, **kw):
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST({value} AS REAL)"


@compiles(as_float, "mysql")
@compiles(as_float, "mariadb")
def _as_float_mysql(element, compiler, **kw):
    # MySQL 5.7 has no CAST(... AS DOUBLE); multiplying by a double literal works everywhere.
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"(({value}) * 1e0)"


@compiles(as_float, "postgresql")
def _as_float_pg(element, compiler, **kw):
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST({value} AS DOUBLE PRECISION)"


class seconds_between(FunctionElement):
    """``end - start`` in whole seconds, as an integer (no time zone involved, as above)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400.0) AS INTEGER)"


@compiles(seconds_between, "mysql")
@compiles(seconds_between, "mariadb")
def _seconds_between_mysql(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"TIMESTAMPDIFF(SECOND, {start}, {end})"


@compiles(seconds_between, "postgresql")
def _seconds_between_pg(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start}))) AS BIGINT)"


class cents(FunctionElement):
    """A money amount as a whole number of cents (integers are cheap to send and to parse)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "cents"


@compiles(cents)
def _cents_default(element, compiler, **kw):
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(ROUND(({value}) * 100) AS INTEGER)"


@compiles(cents, "mysql")
@compiles(cents, "mariadb")
def _cents_mysql(element, compiler, **kw):
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(ROUND(({value}) * 100) AS SIGNED)"


@compiles(cents, "postgresql")
def _cents_pg(element, compiler, **kw):
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(ROUND(({value}) * 100) AS BIGINT)"


class bucket(FunctionElement):
    """``value`` integer-divided by a constant: groups consecutive ids into one packed row."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "bucket"


@compiles(bucket)
def _bucket_default(element, compiler, **kw):
    value, size = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({value} AS INTEGER) / {size})"


@compiles(bucket, "mysql")
@compiles(bucket, "mariadb")
def _bucket_mysql(element, compiler, **kw):
    value, size = (compiler.process(c, **kw) for c in element.clauses)
    return f"({value} DIV {size})"


@compiles(bucket, "postgresql")
def _bucket_pg(element, compiler, **kw):
    value, size = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({value} AS BIGINT) / {size})"


class packed(FunctionElement):
    """An aggregate: the group's integer tuples as one ``a,b;a,b;...;`` byte string.

    One row per group instead of one row per event is what makes extraction fast through a
    pure-Python driver: the driver's cost is per row and per field, and numpy parses the
    digits of a long string in one call. Every argument must be a non-NULL integer
    expression (a NULL would silently drop its whole tuple). Every tuple ends with ``;``, so
    the caller notices a string the server cut short (GROUP_CONCAT truncates silently at
    ``group_concat_max_len``) by counting them against ``COUNT(*)``.
    """

    type = sa.LargeBinary()
    inherit_cache = True
    name = "packed"


@compiles(packed)
def _packed_sqlite(element, compiler, **kw):
    parts = [compiler.process(c, **kw) for c in element.clauses]
    return "group_concat(" + " || ',' || ".join(parts) + " || ';', '')"


@compiles(packed, "mysql")
@compiles(packed, "mariadb")
def _packed_mysql(element, compiler, **kw):
    parts = [compiler.process(c, **kw) for c in element.clauses]
    return "CAST(GROUP_CONCAT(CONCAT(" + ", ',', ".join(parts) + ", ';') SEPARATOR '') AS BINARY)"


@compiles(packed, "postgresql")
def _packed_pg(element, compiler, **kw):
    parts = [f"CAST({compiler.process(c, **kw)} AS TEXT)" for c in element.clauses]
    return "string_agg(" + " || ',' || ".join(parts) + " || ';', '')"
