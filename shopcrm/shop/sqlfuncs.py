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
