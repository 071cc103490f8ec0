"""The shop side: how shopcrm reads a shop's database, always read-only.

``mapping`` describes where the eight logical entities live, ``presets`` ship mappings for
known shops, ``extract`` runs the aggregations, ``queries`` serves the small lookups the
admin and the campaigns need, ``readonly`` guards the connection, ``demo`` builds a demo shop.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, current_app

from ..errors import MappingError, ShopUnavailable
from .mapping import ShopMapping
from .readonly import install_guard

SHOP_BIND = "shop"


def install_shop_guard(app: Flask) -> None:
    """Make the shop bind's engine refuse every write (see ``readonly``)."""
    from ..extensions import db

    with app.app_context():
        install_guard(db.engines[SHOP_BIND])


def shop_engine() -> sa.Engine:
    from ..extensions import db

    return db.engines[SHOP_BIND]


def load_mapping(config) -> ShopMapping:
    """The mapping the configuration asks for."""
    from .presets import preset

    return preset(config.get("SHOPCRM_SHOP_PRESET") or "generic", prefix=config.get("SHOPCRM_SHOP_TABLE_PREFIX") or "")


def current_mapping() -> ShopMapping:
    """The app's mapping, built once per app and kept."""
    state = current_app.extensions.setdefault("shopcrm_state", {})
    if "mapping" not in state:
        state["mapping"] = load_mapping(current_app.config)
    return state["mapping"]


def connect_shop() -> sa.Connection:
    """A read-only connection to the shop, or a :class:`ShopUnavailable` a shop admin can act on."""
    try:
        return shop_engine().connect()
    except sa.exc.OperationalError as exc:
        raise ShopUnavailable(
            f"cannot reach the shop database ({shop_engine().url.render_as_string(hide_password=True)}): "
            f"{getattr(exc, 'orig', exc)}"
        ) from exc


__all__ = ["install_shop_guard", "shop_engine", "load_mapping", "current_mapping", "connect_shop",
           "MappingError", "ShopMapping"]
