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


def _per_dialect(cls, default: str, mysql: str, postgresql: str) -> None:
    """Compile ``cls`` from one template per dialect; ``{0}``, ``{1}`` … are its compiled
    arguments. MariaDB shares MySQL's; anything else gets ``default`` (SQLite's)."""
    for template, dialects in ((default, (None,)), (mysql, ("mysql", "mariadb")), (postgresql, ("postgresql",))):
        def compile_sql(element, compiler, _template=template, **kw):
            return _template.format(*(compiler.process(c, **kw) for c in element.clauses))

        for dialect in dialects:
            compiles(cls, *([dialect] if dialect else []))(compile_sql)


class days_between(FunctionElement):
    """``end - start`` in days, as a floating-point number."""

    type = sa.Float()
    inherit_cache = True
    name = "days_between"


_per_dialect(days_between,
             default="(julianday({1}) - julianday({0}))",
             mysql="(TIMESTAMPDIFF(SECOND, {0}, {1}) / 86400e0)",
             postgresql="(EXTRACT(EPOCH FROM ({1} - {0})) / 86400.0)")


class as_float(FunctionElement):
    """A numeric expression as a double, so drivers return floats, not Decimal objects
    (converting millions of Decimals in Python costs more than the query)."""

    type = sa.Float()
    inherit_cache = True
    name = "as_float"


_per_dialect(as_float,
             default="CAST({0} AS REAL)",
             mysql="(({0}) * 1e0)",  # MySQL 5.7 has no CAST(... AS DOUBLE); a double literal works everywhere
             postgresql="CAST({0} AS DOUBLE PRECISION)")


class seconds_between(FunctionElement):
    """``end - start`` in whole seconds, as an integer (no time zone involved, as above)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "seconds_between"


_per_dialect(seconds_between,
             default="CAST(ROUND((julianday({1}) - julianday({0})) * 86400.0) AS INTEGER)",
             mysql="TIMESTAMPDIFF(SECOND, {0}, {1})",
             postgresql="CAST(ROUND(EXTRACT(EPOCH FROM ({1} - {0}))) AS BIGINT)")


class cents(FunctionElement):
    """A money amount as a whole number of cents (integers are cheap to send and to parse)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "cents"


_per_dialect(cents,
             default="CAST(ROUND(({0}) * 100) AS INTEGER)",
             mysql="CAST(ROUND(({0}) * 100) AS SIGNED)",
             postgresql="CAST(ROUND(({0}) * 100) AS BIGINT)")


class bucket(FunctionElement):
    """``value`` integer-divided by a constant: groups consecutive ids into one packed row."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "bucket"


_per_dialect(bucket,
             default="(CAST({0} AS INTEGER) / {1})",
             mysql="({0} DIV {1})",
             postgresql="(CAST({0} AS BIGINT) / {1})")


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
