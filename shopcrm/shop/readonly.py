"""The guard that keeps shopcrm from ever writing to the shop's database.

Three layers, so that no single mistake writes to a shop:

1. every statement sent through the shop engine is checked before it leaves Python; anything
   that is not a read is refused with :class:`ReadOnlyViolation`. The check reads the statement
   with a lexer that follows the database's own rules for quotes and comments (``sqltokens``),
   so text that one database takes for a string or a comment and another for code cannot
   smuggle a write past it;
2. the database itself refuses writes on each new connection: on SQLite an authorizer that
   lets SQLite compile reads only (``sqlite_guard``; SQL cannot switch it off, unlike ``PRAGMA
   query_only``, which is set as well), on MariaDB/MySQL ``SET SESSION TRANSACTION READ ONLY``
   (which a ``SET`` could undo: layer 1 refuses every ``SET`` but the two shopcrm issues), on
   PostgreSQL ``default_transaction_read_only``;
3. in production the shop is read through a database user with SELECT grants only
   (docs/CONFIGURATION.md; the doctor warns when the user can write).

What a read may be, after the lexer: one statement (a trailing ``;`` is fine) that is

* ``SELECT`` / ``WITH`` / ``VALUES`` (or one in parentheses) without a word that writes,
  locks or leaves the database: no ``INTO`` (``OUTFILE``, ``DUMPFILE``, ``@var``), no
  ``INSERT``/``UPDATE``/``DELETE`` after a ``WITH``, no ``FOR UPDATE``/``FOR SHARE``/``LOCK IN
  SHARE MODE``, no ``PROCEDURE``, ``LOAD_FILE``, ``:=``; the string functions ``REPLACE(`` and
  ``INSERT(`` are functions, not statements;
* ``SHOW``, ``DESCRIBE``/``DESC``/``EXPLAIN`` (the latter three with the same word check);
* a ``PRAGMA`` that introspects the schema or reads a setting (never one that sets a value);
* exactly ``SET [SESSION] TRANSACTION READ ONLY`` or ``SET [SESSION] group_concat_max_len =
  <number or @@max_allowed_packet>`` (``extract.prepare_packing``).
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..errors import ReadOnlyViolation
from .sqlite_guard import SCHEMA_PRAGMAS, guard_connection, pragma_allowed
from .sqltokens import LexError, Token, readings, tokenize

READ_HEADS = frozenset({"SELECT", "WITH", "VALUES"})
EXPLAIN_HEADS = frozenset({"DESCRIBE", "DESC", "EXPLAIN"})
#: Words that make a statement write, lock, run code or touch files, wherever they appear.
WRITE_WORDS = frozenset("""
INSERT UPDATE DELETE REPLACE MERGE UPSERT ALTER DROP CREATE TRUNCATE GRANT REVOKE RENAME LOAD LOAD_FILE CALL
HANDLER LOCK UNLOCK ATTACH DETACH VACUUM REINDEX OPTIMIZE ANALYZE FLUSH KILL INTO OUTFILE DUMPFILE PROCEDURE
PRAGMA EXECUTE PREPARE DEALLOCATE COPY SET_CONFIG LO_EXPORT LO_IMPORT PG_FILE_WRITE DBLINK_EXEC SETVAL NEXTVAL
""".split())
#: Words that are also read-only string functions when a "(" follows (MySQL's INSERT(str, pos, len, new)).
FUNCTION_WORDS = frozenset({"REPLACE", "INSERT"})
LOCKING_AFTER_FOR = frozenset({"UPDATE", "SHARE", "NO", "KEY"})
SETTABLE_VALUES = {"GROUP_CONCAT_MAX_LEN": ("number", "@@MAX_ALLOWED_PACKET")}
#: The database error codes that mean "this connection is read-only" (MariaDB/MySQL).
READ_ONLY_ERRORS = {1792}
AUTHORIZER_KEY = "shopcrm_sqlite_authorizer"


def check_statement(statement: str, dialect: str | None = None) -> None:
    """Raise :class:`ReadOnlyViolation` unless ``statement`` only reads on ``dialect``.

    ``dialect`` is SQLAlchemy's dialect name; without one (a mapping checked before any
    connection) the statement must be a read both as MariaDB/MySQL and as SQLite read it. It
    must be a read in every way its database may read it (``sqltokens.readings``).
    """
    for rule in readings(dialect, statement):
        try:
            tokens = tokenize(statement, rule)
        except LexError as exc:
            _refuse(statement, f"it cannot be read safely: {exc}")
        _check_tokens(statement, tokens)


def several_statements(statement: str) -> bool:
    """Whether ``statement`` holds more than one statement (a trailing ``;`` does not count).

    ``False`` also when the statement cannot be read at all; :func:`check_statement` says why.
    """
    for rule in readings(None, statement):
        try:
            tokens = tokenize(statement, rule)
        except LexError:
            continue
        if _split(tokens)[1]:
            return True
    return False


def _refuse(statement: str, why: str):
    raise ReadOnlyViolation(f"refused a statement on the shop database ({why}); shopcrm only reads there: "
                            f"{statement[:80]!r}")


def _split(tokens: list[Token]) -> tuple[list[Token], list[Token]]:
    """(the first statement, whatever follows its ``;`` apart from more ``;``)."""
    for k, token in enumerate(tokens):
        if token.kind == ";":
            return tokens[:k], [t for t in tokens[k + 1:] if t.kind != ";"]
    return tokens, []


def _check_tokens(statement: str, tokens: list[Token]) -> None:
    tokens, rest = _split(tokens)
    if rest:
        _refuse(statement, "several statements in one")
    if not tokens:
        _refuse(statement, "no statement")
    first = next((t for t in tokens if t.text != "("), tokens[0])
    head = first.upper if first.kind == "word" else first.text
    if head in READ_HEADS:
        _check_words(statement, tokens)
    elif first is not tokens[0]:
        _refuse(statement, f"{head} in parentheses")
    elif head == "SHOW":
        return
    elif head in EXPLAIN_HEADS:
        _check_words(statement, tokens)
    elif head == "PRAGMA":
        _check_pragma(statement, tokens[1:])
    elif head == "SET":
        _check_set(statement, tokens[1:])
    else:
        _refuse(statement, f"{head} is not a read")


def _check_words(statement: str, tokens: list[Token]) -> None:
    for k, token in enumerate(tokens):
        if token.kind == "op" and token.text == ":=":
            _refuse(statement, "an assignment (:=)")
        if token.kind != "word":
            continue
        word = token.upper
        following = tokens[k + 1] if k + 1 < len(tokens) else None
        if word in FUNCTION_WORDS and following is not None and following.text == "(":
            continue
        if word in WRITE_WORDS:
            _refuse(statement, f"{word} writes, locks or reaches outside the database")
        if word == "FOR" and following is not None and following.upper in LOCKING_AFTER_FOR:
            _refuse(statement, f"FOR {following.upper} is a locking read")


def _check_pragma(statement: str, tokens: list[Token]) -> None:
    if len(tokens) >= 2 and tokens[1].text == ".":
        tokens = tokens[2:]  # the schema: main.table_info(...)
    if not tokens or tokens[0].kind != "word":
        _refuse(statement, "a PRAGMA without a name")
    name, args = tokens[0].text.lower(), tokens[1:]
    if not args and pragma_allowed(name, None):
        return
    if (name in SCHEMA_PRAGMAS and len(args) == 3 and args[0].text == "(" and args[2].text == ")"
            and args[1].kind in ("word", "quoted")):
        return
    _refuse(statement, f"PRAGMA {name} may only read the schema or a setting here")


def _check_set(statement: str, tokens: list[Token]) -> None:
    words = [t.upper if t.kind in ("word", "variable") else t.text for t in tokens]
    if words[:1] == ["SESSION"]:
        words, tokens = words[1:], tokens[1:]
    if words == ["TRANSACTION", "READ", "ONLY"]:
        return
    if len(words) == 3 and words[0] in SETTABLE_VALUES and words[1] == "=":
        kind, variable = SETTABLE_VALUES[words[0]]
        if tokens[2].kind == kind or words[2] == variable:
            return
    _refuse(statement, "SET may change how the session reads, not whether it writes; only "
                       "SET SESSION TRANSACTION READ ONLY and group_concat_max_len are allowed")


@lru_cache(maxsize=512)
def _known_read(statement: str, dialect: str) -> bool:
    """:func:`check_statement`, remembered for statements that passed: the pages send the same
    few statements (values are bound, not written into the text) on every request. A refusal
    raises, and nothing is remembered for it."""
    check_statement(statement, dialect)
    return True


def _before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
    if executemany:
        raise ReadOnlyViolation("refused a bulk write to the shop database")
    _known_read(statement, conn.dialect.name)
    authorizer = conn.connection.info.get(AUTHORIZER_KEY)
    if authorizer is not None:
        authorizer.denied = None  # what it denies while compiling this statement explains the error


def _read_only_session(dbapi_connection, connection_record):
    """Ask the database itself to refuse writes on this connection."""
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        connection_record.info[AUTHORIZER_KEY] = guard_connection(dbapi_connection)
        return
    cursor = dbapi_connection.cursor()
    try:
        if module.startswith(("pymysql", "MySQLdb", "mysql")):
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
        elif module.startswith("psycopg"):
            cursor.execute("SET default_transaction_read_only = on")
    finally:
        cursor.close()


def _explain_refusal(context):
    """The database's own refusals (layer 2) as :class:`ReadOnlyViolation`, saying what was refused."""
    info = getattr(getattr(context.connection, "connection", None), "info", None) or {}
    authorizer = info.get(AUTHORIZER_KEY)
    if authorizer is not None and authorizer.denied:
        return ReadOnlyViolation(f"the shop database refused {authorizer.denied} (the shop connection only "
                                 f"reads): {(context.statement or '')[:80]!r}")
    args = getattr(context.original_exception, "args", ())
    if args and args[0] in READ_ONLY_ERRORS:
        return ReadOnlyViolation(f"the shop database refused a write (the shop connection only reads): {args[-1]}")
    return None


def install_guard(engine: Engine) -> Engine:
    """Make ``engine`` read-only (idempotent)."""
    if not event.contains(engine, "before_cursor_execute", _before_cursor_execute):
        event.listen(engine, "before_cursor_execute", _before_cursor_execute)
        event.listen(engine, "connect", _read_only_session)
        event.listen(engine, "handle_error", _explain_refusal)
    return engine
