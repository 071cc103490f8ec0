"""The shop side: how shopcrm reads a shop's database, always read-only.

``mapping`` describes where the eight logical entities live, ``presets`` ship mappings for
known shops and ``mapping_file`` reads a custom one, ``schema`` checks a mapping against the
live database and ``doctor`` reports on it, ``readers`` run the aggregations a run needs (into
the plain arrays of the shop-data contract; ``sqlfuncs`` packs rows for them), ``activity`` and
``timeline`` read what the panel shows of one shop's or one customer's recent days, ``queries``
serves the small lookups the admin and the campaigns need, ``readonly`` (with ``sqltokens`` and
``sqlite_guard``) guards the connection, ``dberrors`` explains the shop database's refusals and
``timeouts`` bounds every wait on a database server (shopcrm's own too) and explains a dropped
shop connection. The view beacon's rows are shopcrm's own (``beacon.store``); the demo shop is
written by ``demo``: nothing here writes.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, current_app

from ..errors import MappingError, ShopUnavailable
from ..state import app_state
from .dberrors import explain_errors
from .mapping import ShopMapping
from .readonly import install_guard
from .timeouts import explain_gone, install_timeouts, note_timeout, refuse_while_quiet, shop_failures

SHOP_BIND = "shop"


def install_shop_guard(app: Flask) -> None:
    """Make the shop bind's engine refuse every write (see ``readonly``), explain its refusals
    and dropped connections, and bound every wait on both databases (see ``timeouts``)."""
    from ..extensions import db

    with app.app_context():
        install_guard(db.engines[SHOP_BIND])
        explain_errors(db.engines[SHOP_BIND])
        explain_gone(db.engines[SHOP_BIND], app.config)
        for engine in {db.engine, db.engines[SHOP_BIND]}:
            install_timeouts(engine, app.config)


def shop_engine() -> sa.Engine:
    from ..extensions import db

    return db.engines[SHOP_BIND]


def load_mapping(config) -> ShopMapping:
    """The mapping the configuration asks for: the mapping file if one is set, else the preset.

    ``SHOPCRM_SHOP_TABLE_PREFIX`` (when set) wins over the preset's or the file's prefix, and
    ``SHOPCRM_SHOP_VIEWS`` chooses where product views come from.
    """
    from .mapping_file import load_mapping_file
    from .presets import preset

    prefix = config.get("SHOPCRM_SHOP_TABLE_PREFIX")
    params = {"language_id": config.get("SHOPCRM_SHOP_LANGUAGE_ID"), "store_id": config.get("SHOPCRM_SHOP_STORE_ID"),
              "order_statuses": config.get("SHOPCRM_SHOP_ORDER_STATUSES")}
    if config.get("SHOPCRM_SHOP_MAPPING_FILE"):
        mapping = load_mapping_file(config["SHOPCRM_SHOP_MAPPING_FILE"], prefix=prefix, **params)
    else:
        mapping = preset(config.get("SHOPCRM_SHOP_PRESET") or "generic", prefix=prefix, **params)
    return mapping.with_views(config.get("SHOPCRM_SHOP_VIEWS") or "preset")


def current_mapping() -> ShopMapping:
    """The app's mapping, built once per app and kept."""
    state = app_state()
    if state.mapping is None:
        state.mapping = load_mapping(current_app.config)
    return state.mapping


def connect_shop() -> sa.Connection:
    """A read-only connection to the shop, or a :class:`ShopUnavailable` a shop admin can act on."""
    engine = shop_engine()
    refuse_while_quiet(engine)  # a page does not wait again for a server that just did not answer
    try:
        conn = engine.connect()
    except sa.exc.OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        detail = getattr(exc, "orig", exc)
        if "timed out" in str(detail):
            seconds = current_app.config["SHOPCRM_DB_CONNECT_TIMEOUT"]
            raise note_timeout(engine, ShopUnavailable(
                f"the shop database did not answer within {seconds:g} s. Check that its server runs and is not "
                f"overloaded (SHOPCRM_DB_CONNECT_TIMEOUT; {where}).")) from exc
        raise ShopUnavailable(f"cannot reach the shop database ({where}): {detail}") from exc
    state = app_state()
    if not state.mapping_probed:
        state.mapping_probed = True
        from .schema import note_absent_columns

        try:
            note_absent_columns(conn, current_mapping())
        except (sa.exc.SQLAlchemyError, MappingError):
            conn.rollback()  # a shop that cannot be asked is checked by the next run's verify instead
    return conn


def shop_reads():
    """Inside the block, a shop connection that drops or stops answering is a
    :class:`ShopUnavailable` (see ``timeouts``): for jobs that read the shop at length."""
    return shop_failures(shop_engine())


__all__ = ["install_shop_guard", "shop_engine", "load_mapping", "current_mapping", "connect_shop", "shop_reads",
           "MappingError", "ShopMapping"]
