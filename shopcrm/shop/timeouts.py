"""Time limits on MySQL/MariaDB connections, and the shop's dropped connections in words.

Without them a database server that accepts the TCP connection and then says nothing (a hung
server, a full disk, a lost network path) keeps a page or a cron job waiting forever: a
``segment`` hangs and keeps its lock, gunicorn's workers hang until it kills them, and pages
that need no database wait behind them. Three settings bound every wait, on shopcrm's own
database and on the shop's:

* ``SHOPCRM_DB_CONNECT_TIMEOUT`` — connecting and logging in (the server's greeting included);
* ``SHOPCRM_DB_READ_TIMEOUT`` — each wait for an answer while serving a web request;
* ``SHOPCRM_DB_JOB_READ_TIMEOUT`` — the same outside a request (commands, cron jobs), whose
  reads — a segmentation's aggregations over every order — take far longer than a page's.

After a timeout, pages do not try the same silent server again for ``QUIET_SECONDS``
(:func:`refuse_while_quiet`): they fail at once with the same sentence, so a hung shop database
holds a web worker once per process instead of once per page view, and pages that need no
shop (the dashboard) are not stuck behind them. Commands always try.

The level is chosen when a connection is taken from the pool (a web process and a cron process
never share one). With PyMySQL it is set on the live connection; with another driver (the C
driver mysqlclient) it is fixed when the connection is made. Values in the URL's query
(``?read_timeout=…``) win. SQLite needs none of this: it waits for locks (busy timeout), never
for a server.
"""
from __future__ import annotations

import math
import time
import weakref
from contextlib import contextmanager

import sqlalchemy as sa
from flask import has_request_context
from sqlalchemy import event

from ..errors import ShopUnavailable

#: MySQL/MariaDB client errors meaning "the server cannot be reached or stopped answering".
GONE_CODES = {2002, 2003, 2005, 2006, 2013, 2055}
_FIXED = "shopcrm_fixed_timeouts"
_CONFIGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> its do_connect listener
#: Seconds pages leave a shop database alone after it did not answer in time (per process).
QUIET_SECONDS = 15.0
_QUIET: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> (monotonic end, sentence)
_GONE_CONFIGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # shop engine -> its app's configuration


def _level(config) -> tuple[float, str]:
    if has_request_context():
        return float(config["SHOPCRM_DB_READ_TIMEOUT"]), "SHOPCRM_DB_READ_TIMEOUT"
    return float(config["SHOPCRM_DB_JOB_READ_TIMEOUT"]), "SHOPCRM_DB_JOB_READ_TIMEOUT"


def install_timeouts(engine: sa.Engine, config) -> sa.Engine:
    """Bound connecting and every read/write on ``engine`` (MySQL/MariaDB; idempotent)."""
    if engine.dialect.name not in ("mysql", "mariadb") or event.contains(engine, "do_connect", _CONFIGS.get(engine)):
        return engine
    settable = engine.dialect.driver == "pymysql"  # reads _read_timeout on every read
    whole = (lambda v: v) if settable else (lambda v: max(1, math.ceil(v)))  # mysqlclient takes whole seconds

    def _connect(dialect, record, cargs, cparams):
        record.info[_FIXED] = "read_timeout" in cparams  # set in the URL: left alone
        cparams.setdefault("connect_timeout", whole(config["SHOPCRM_DB_CONNECT_TIMEOUT"]))
        level = _level(config)[0]
        if settable:  # the greeting and the login are part of connecting; the level is set below
            cparams.setdefault("read_timeout", float(config["SHOPCRM_DB_CONNECT_TIMEOUT"]))
            cparams.setdefault("write_timeout", float(config["SHOPCRM_DB_CONNECT_TIMEOUT"]))
        else:
            cparams.setdefault("read_timeout", whole(level))
            cparams.setdefault("write_timeout", whole(level))

    _CONFIGS[engine] = _connect  # marks the engine as done
    event.listen(engine, "do_connect", _connect)
    if settable:
        def _apply(dbapi_connection, record, *_):
            if record.info.get(_FIXED):
                return
            level = _level(config)[0]
            if getattr(dbapi_connection, "_read_timeout", None) != level:
                dbapi_connection._read_timeout = dbapi_connection._write_timeout = level

        event.listen(engine, "connect", _apply)
        event.listen(engine, "checkout", _apply)
    return engine


def explain_gone(engine: sa.Engine, config) -> sa.Engine:
    """Make a shop connection that drops or stops answering in the middle of a query raise
    :class:`ShopUnavailable` with a sentence an admin can act on (idempotent)."""
    if not event.contains(engine, "handle_error", _gone):
        _GONE_CONFIGS[engine] = config
        event.listen(engine, "handle_error", _gone)
    return engine


def _gone(context) -> BaseException | None:
    if context.is_pre_ping or context.statement is None or not isinstance(context.sqlalchemy_exception,
                                                                           sa.exc.DBAPIError):
        return None  # a failed connect is worded by connect_shop
    return gone_error(context.original_exception, context.engine)


def gone_error(original: BaseException | None, engine: sa.Engine) -> ShopUnavailable | None:
    """The :class:`ShopUnavailable` that says what happened, when the driver's error ``original``
    means the shop's server dropped the connection or stopped answering; else ``None``."""
    args = getattr(original, "args", ())
    if not (args and isinstance(args[0], int) and args[0] in GONE_CODES):
        return None
    where = engine.url.render_as_string(hide_password=True)
    detail = str(args[1]) if len(args) > 1 else str(original)
    config = _GONE_CONFIGS.get(engine)
    if "timed out" in detail and config is not None:
        seconds, setting = _level(config)
        return note_timeout(engine, ShopUnavailable(
            f"the shop database did not answer within {seconds:g} s. Check that its server runs and is not "
            f"overloaded ({setting}; {where})."))
    return ShopUnavailable(f"lost the connection to the shop database. Check that its server runs; nothing was "
                           f"changed ({where}: {detail}).")


def note_timeout(engine: sa.Engine, error: ShopUnavailable) -> ShopUnavailable:
    """Remember that ``engine``'s server did not answer in time (see :func:`refuse_while_quiet`)."""
    _QUIET[engine] = (time.monotonic() + QUIET_SECONDS, str(error))
    return error


def refuse_while_quiet(engine: sa.Engine) -> None:
    """In a web request, raise at once while ``engine``'s server is known not to answer."""
    quiet = _QUIET.get(engine)
    if quiet is None or not has_request_context():
        return
    until, sentence = quiet
    left = until - time.monotonic()
    if left <= 0:
        _QUIET.pop(engine, None)
        return
    raise ShopUnavailable(f"{sentence} Next try in {math.ceil(left)} s.")


@contextmanager
def shop_failures(engine: sa.Engine):
    """Word a dropped or silent shop connection inside the block as :class:`ShopUnavailable`,
    also for the statements SQLAlchemy runs without error events (its table probes)."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        error = gone_error(exc.orig, engine)
        if error is None:
            raise
        raise error from exc
