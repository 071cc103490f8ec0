"""The shop database's refusals, in words a shop admin can act on.

A mapping that names a table or column the shop does not have, or a mapping SELECT with a
typo, fails inside the database. Without this, that failure would surface as a driver
exception (and a traceback in the CLI); with it, it becomes a :class:`MappingError` that says
what the database said and how to find out more (``doctor``).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event

from ..errors import MappingError

#: MySQL/MariaDB error codes that mean "the mapping does not fit this database".
MAPPING_CODES = {
    1049: "unknown database",
    1054: "unknown column",
    1064: "SQL syntax error",
    1142: "no permission on a table",
    1143: "no permission on a column",
    1146: "unknown table",
    1305: "unknown function",
    1582: "wrong arguments to a function",
}
SQLITE_MESSAGES = ("no such table", "no such column", "syntax error", "no such function")
DOCTOR = "flask --app wsgi shopcrm doctor"


def _mapping_problem(exc: BaseException) -> str | None:
    """The database's own message when ``exc`` means the mapping does not fit, else ``None``."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int) and args[0] in MAPPING_CODES:
        return str(args[1])
    text = str(exc)
    if type(exc).__module__.startswith("sqlite3") and text.startswith(SQLITE_MESSAGES):
        return text
    return None


def _is_probe(context) -> bool:
    """SQLAlchemy's own probes that expect to fail (MySQL's has_table runs DESCRIBE and treats
    "no such table" as False); they ask for no user error events, per statement."""
    execution = context.execution_context
    options = execution.execution_options if execution is not None else {}
    return bool(options.get("skip_user_error_events")) or \
        (context.statement or "").lstrip().upper().startswith("DESCRIBE")


def _explain(context) -> BaseException | None:
    if context.is_pre_ping or not isinstance(context.sqlalchemy_exception, sa.exc.DBAPIError) or _is_probe(context):
        return None
    problem = _mapping_problem(context.original_exception)
    if problem is None:
        return None
    return MappingError(f"the shop database refused a query of the shop mapping: {problem}. "
                        f"Check the mapping against the shop's tables with `{DOCTOR}`.")


def explain_errors(engine: sa.Engine) -> sa.Engine:
    """Make ``engine`` raise :class:`MappingError` for mapping mistakes (idempotent)."""
    if not event.contains(engine, "handle_error", _explain):
        event.listen(engine, "handle_error", _explain)
    return engine
