"""A small SQL lexer: where a statement's quoted text, comments and words are, as its database reads them.

The read-only guard decides on words (``SELECT``, ``INTO``, ``DELETE`` …), so it must cut a
statement exactly where the database will. A regular expression over the raw text cannot: the
same characters mean different things per database. On SQLite ``'\\'`` is a complete string
(there are no backslash escapes), on MariaDB/MySQL it opens one; ``#`` starts a comment on
MariaDB/MySQL and not on SQLite; ``--x`` is a comment on SQLite but two minus signs on MySQL,
which wants ``--`` followed by a space or a control character; SQLite quotes identifiers in
``[…]`` too; and MySQL *executes* the text of ``/*! … */``, MariaDB that of ``/*M! … */``. Each
:class:`Dialect` below spells out those rules, and :func:`tokenize` applies them.

One database may read the same text in more than one way: a MariaDB/MySQL server reads a
backslash in a string as an escape unless its ``sql_mode`` says ``NO_BACKSLASH_ESCAPES``, and
``ANSI_QUOTES`` makes ``"…"`` an identifier, without escapes. :func:`readings` lists every
reading a statement may get (just one unless it holds a backslash); the guard accepts a
statement only if it is a read under each of them.

:func:`tokenize` raises :class:`LexError` for what it will not guess about: an executable
comment (``/*!``, ``/*M!``), a PostgreSQL dollar quote or a backslash in a PostgreSQL string
(``E'…'``), an unterminated quote or comment (the database would not accept one either), a
control character outside quoted text (databases differ on whether it is white space).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import NamedTuple

WHITESPACE = " \t\n\r\f\v"
_IDENT_CHAR = r"A-Za-z0-9_$\u0080-\U0010ffff"
# One match finds the next token. The characters that may open a comment, a quote or a dollar
# quote, and control characters, are "special": what they start depends on the dialect.
_SCAN = re.compile(rf"""
  (?P<ws>[ \t\n\r\f\v]+)
| (?P<word>[A-Za-z_\u0080-\U0010ffff][{_IDENT_CHAR}]*)
| (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
| (?P<param>%(?:\([A-Za-z0-9_]+\))?s|:[A-Za-z_][A-Za-z0-9_]*)  # %s, %(name)s, :name
| (?P<variable>@@?[A-Za-z0-9_$.]*)  # MySQL @user and @@system variables, SQLite @param
| (?P<special>[-/\#'"`\[$\x00-\x1f\x7f])
| (?P<op>:=|.)
""", re.X | re.S)
_DOLLAR_WORD = re.compile(rf"\$[{_IDENT_CHAR}]*")


class LexError(ValueError):
    """The statement cannot be read the way its database would read it."""


@dataclass(frozen=True)
class Dialect:
    """How one database cuts a statement into tokens (only what the guard needs to know)."""

    name: str
    quotes: tuple[tuple[str, str], ...]  # (opening, closing); a doubled closing character is a literal one
    backslash_escapes: str  # the openings inside which a backslash escapes the next character
    no_backslash_in: str  # the openings inside which a backslash is refused
    hash_comments: bool  # "#" comments to the end of the line
    dash_comment_needs_space: bool  # "-- " (MySQL) rather than "--"
    nested_comments: bool  # /* /* */ */ (PostgreSQL)
    open_comment_ok: bool  # an unterminated /* runs to the end (SQLite)
    executable_comments: bool  # /*! … */ and /*M! … */ are code (MariaDB/MySQL)
    dollar_quotes: bool  # $tag$ … $tag$ (PostgreSQL)

    @property
    def openings(self) -> str:
        return "".join(opening for opening, _ in self.quotes)


MYSQL = Dialect("mysql", quotes=(("'", "'"), ('"', '"'), ("`", "`")), backslash_escapes="'\"", no_backslash_in="",
                hash_comments=True, dash_comment_needs_space=True, nested_comments=False,
                open_comment_ok=False, executable_comments=True, dollar_quotes=False)
MYSQL_ANSI_QUOTES = replace(MYSQL, name="mysql with ANSI_QUOTES", backslash_escapes="'")
MYSQL_NO_BACKSLASH_ESCAPES = replace(MYSQL, name="mysql with NO_BACKSLASH_ESCAPES", backslash_escapes="")
SQLITE = Dialect("sqlite", quotes=(("'", "'"), ('"', '"'), ("`", "`"), ("[", "]")), backslash_escapes="",
                 no_backslash_in="", hash_comments=False, dash_comment_needs_space=False, nested_comments=False,
                 open_comment_ok=True, executable_comments=False, dollar_quotes=False)
POSTGRESQL = Dialect("postgresql", quotes=(("'", "'"), ('"', '"')), backslash_escapes="", no_backslash_in="'",
                     hash_comments=False, dash_comment_needs_space=False, nested_comments=True,
                     open_comment_ok=False, executable_comments=False, dollar_quotes=True)
DIALECTS = {"mysql": MYSQL, "mariadb": MYSQL, "sqlite": SQLITE, "postgresql": POSTGRESQL}


def readings(dialect_name: str | None, statement: str) -> tuple[Dialect, ...]:
    """Every way a database of ``dialect_name`` (SQLAlchemy's name) may read ``statement``;
    without a name, as MariaDB/MySQL or SQLite would; for a name not known here, as any of them."""
    if dialect_name is None:
        return readings("mysql", statement) + (SQLITE,)
    dialect = DIALECTS.get(dialect_name)
    if dialect is None:
        return readings(None, statement) + (POSTGRESQL,)
    if dialect is MYSQL and "\\" in statement:
        return MYSQL, MYSQL_ANSI_QUOTES, MYSQL_NO_BACKSLASH_ESCAPES
    return (dialect,)


class Token(NamedTuple):
    """``kind`` is one of: word, quoted (a string or a quoted identifier), number, variable,
    param, op (one character, or ``:=``), ``;``. ``text`` is the token as written."""

    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(statement: str, dialect: Dialect) -> list[Token]:
    """The tokens of ``statement`` without white space and comments, or :class:`LexError`."""
    tokens: list[Token] = []
    n, i, scan = len(statement), 0, _SCAN.match
    while i < n:
        match = scan(statement, i)
        kind, end = match.lastgroup, match.end()
        if kind == "special":
            kind, end = _special(statement, i, dialect)
        if kind == "op" and statement[i] == ";":
            kind = ";"
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, statement[i:end], i))
        i = end
    return tokens


def _special(statement: str, i: int, dialect: Dialect) -> tuple[str, int]:
    """(kind, end) of the token at ``i``, which starts with a character whose meaning varies."""
    char = statement[i]
    if char == "-":
        if statement.startswith("--", i) and _dash_comment(statement, i, dialect):
            return "comment", _line_end(statement, i)
    elif char == "/":
        if statement.startswith("/*", i):
            return "comment", _block_comment_end(statement, i, dialect)
    elif char == "#":
        if dialect.hash_comments:
            return "comment", _line_end(statement, i)
    elif char == "$":
        if dialect.dollar_quotes:
            raise LexError(f"a dollar sign (PostgreSQL dollar quoting) at offset {i}")
        return "word", _DOLLAR_WORD.match(statement, i).end()
    elif char in dialect.openings:
        return "quoted", _quote_end(statement, i, dialect)
    elif char not in "'\"`[":
        raise LexError(f"a control character (U+{ord(char):04X}) outside quoted text at offset {i}")
    return "op", i + 1


def _dash_comment(statement: str, i: int, dialect: Dialect) -> bool:
    if not dialect.dash_comment_needs_space:
        return True
    # MySQL: "--" starts a comment when followed by white space or a control character, or at the end
    # (any other control character is refused in tokenize, so white space is what remains).
    return i + 2 >= len(statement) or statement[i + 2] in WHITESPACE


def _line_end(statement: str, i: int) -> int:
    end = statement.find("\n", i)
    return len(statement) if end < 0 else end + 1


def _block_comment_end(statement: str, i: int, dialect: Dialect) -> int:
    if dialect.executable_comments and statement.startswith(("/*!", "/*M!", "/*m!"), i):
        raise LexError(f"an executable comment ({statement[i:i + 4]} … */) at offset {i}: the server runs its text")
    depth, j = 1, i + 2
    while depth:
        close = statement.find("*/", j)
        opening = statement.find("/*", j) if dialect.nested_comments else -1
        if close < 0:
            if dialect.open_comment_ok:
                return len(statement)
            raise LexError(f"an unterminated comment starting at offset {i}")
        if 0 <= opening < close:
            depth, j = depth + 1, opening + 2
        else:
            depth, j = depth - 1, close + 2
    return j


def _quote_end(statement: str, i: int, dialect: Dialect) -> int:
    """The offset just past the quoted token opening at ``i``."""
    opening = statement[i]
    closing = dict(dialect.quotes)[opening]
    j = i + 1
    while True:
        end = statement.find(closing, j)
        if end < 0:
            raise LexError(f"an unterminated {opening}…{closing} starting at offset {i}")
        slash = statement.find("\\", j, end)
        if slash >= 0 and opening in dialect.backslash_escapes:
            j = slash + 2  # the backslash and the character it escapes (perhaps the closing quote)
            continue
        if slash >= 0 and opening in dialect.no_backslash_in:
            raise LexError(f"a backslash inside quoted text at offset {slash}: {dialect.name} reads it as an "
                           "escape or not depending on the string's prefix and the server's settings; "
                           "pass the value as a bound parameter")
        if closing != "]" and statement.startswith(closing * 2, end):
            j = end + 2  # a doubled quote stands for itself
            continue
        return end + 1
