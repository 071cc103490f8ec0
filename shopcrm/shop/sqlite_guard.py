"""SQLite's own gatekeeper on a shop connection: an authorizer that lets only reads be compiled.

SQLite asks a connection's authorizer about every action a statement would take while it
compiles the statement (``sqlite3_set_authorizer``): each table column read, each function
called, each PRAGMA, each row it would insert or delete, each ATTACH. Unlike ``PRAGMA
query_only``, which one ``PRAGMA query_only = OFF`` switches off, the authorizer cannot be
removed by SQL, and it judges what SQLite parsed rather than what some other parser thought
the text said. Only these are allowed:

* ``SELECT``, reading a column, a recursive common table expression;
* a function from :data:`FUNCTIONS` (the core, date, math, JSON, window and aggregate
  functions; not ``load_extension``, nor ``zeroblob``/``randomblob``, which only allocate);
* a PRAGMA from :data:`SCHEMA_PRAGMAS` (schema introspection, what SQLAlchemy's inspector and
  the doctor use) or, without a value, from :data:`QUERY_PRAGMAS` (reading a setting).

Everything else (writes, schema changes, ATTACH — and with it ``VACUUM INTO`` —, transaction
control such as ``BEGIN EXCLUSIVE``, which would lock the shop out of its own database) is
denied, and the statement fails with SQLite's "not authorized" (or "authorization denied"). The
last denial is kept on the authorizer so the error can say what was refused.
"""
from __future__ import annotations

import sqlite3

ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})

FUNCTIONS = frozenset("""
abs char coalesce concat concat_ws format glob hex ifnull iif instr length like likelihood likely lower
ltrim max min nullif octet_length printf quote replace round rtrim sign soundex substr substring trim
typeof unhex unicode unlikely upper random sqlite_version regexp
avg count group_concat string_agg sum total
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
date time datetime julianday unixepoch strftime timediff current_date current_time current_timestamp
acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10 log2 mod pi
pow power radians sin sinh sqrt tan tanh trunc
json json_array json_array_length json_extract json_group_array json_group_object json_object json_quote
json_type json_valid json_each json_tree -> ->>
""".split())

SCHEMA_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                            "foreign_key_list", "database_list", "table_list", "collation_list"})
QUERY_PRAGMAS = frozenset({"query_only", "read_uncommitted", "compile_options", "foreign_keys",
                           "user_version", "encoding"})

_ACTION_NAMES = {getattr(sqlite3, name): name[len("SQLITE_"):].lower().replace("_", " ")
                 for name in ("SQLITE_INSERT", "SQLITE_UPDATE", "SQLITE_DELETE", "SQLITE_ATTACH", "SQLITE_DETACH",
                              "SQLITE_TRANSACTION", "SQLITE_SAVEPOINT", "SQLITE_CREATE_TABLE", "SQLITE_DROP_TABLE",
                              "SQLITE_CREATE_TEMP_TABLE", "SQLITE_CREATE_INDEX", "SQLITE_CREATE_VIEW",
                              "SQLITE_CREATE_TRIGGER", "SQLITE_ALTER_TABLE", "SQLITE_ANALYZE", "SQLITE_REINDEX",
                              "SQLITE_CREATE_VTABLE", "SQLITE_DROP_VTABLE", "SQLITE_PRAGMA", "SQLITE_FUNCTION")}


def pragma_allowed(name: str | None, value: str | None) -> bool:
    """Schema introspection with any argument (a table or index name); a setting only read."""
    name = (name or "").lower()
    return name in SCHEMA_PRAGMAS or (name in QUERY_PRAGMAS and value is None)


class ReadOnlyAuthorizer:
    """The callback given to ``set_authorizer``; ``denied`` describes the last refusal."""

    def __init__(self):
        self.denied: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, database: str | None,
                 source: str | None) -> int:
        if action in ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in FUNCTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and pragma_allowed(arg1, arg2):
            return sqlite3.SQLITE_OK
        self.denied = self._describe(action, arg1, arg2)
        return sqlite3.SQLITE_DENY

    @staticmethod
    def _describe(action: int, arg1: str | None, arg2: str | None) -> str:
        what = _ACTION_NAMES.get(action, f"action {action}")
        if action == sqlite3.SQLITE_FUNCTION:
            return f"the function {arg2}() (not among the functions a read needs)"
        if action == sqlite3.SQLITE_PRAGMA:
            return f"PRAGMA {arg1}" + (f" = {arg2}" if arg2 is not None else "")
        return " ".join(part for part in (what, arg1 or "") if part)


def guard_connection(dbapi_connection: sqlite3.Connection) -> ReadOnlyAuthorizer:
    """Put ``dbapi_connection`` in query-only mode and install the authorizer; return it."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only = ON")
    finally:
        cursor.close()
    authorizer = ReadOnlyAuthorizer()
    dbapi_connection.set_authorizer(authorizer)
    return authorizer

