"""Custom mappings in a TOML file (``SHOPCRM_SHOP_MAPPING_FILE``), for shops no preset knows.

The format (docs/MAPPING.md has a complete worked example)::

    [mapping]                      # optional
    name = "my shop"               # shown by doctor
    prefix = "shop_"               # table prefix, filled in for {prefix}; SHOPCRM_SHOP_TABLE_PREFIX wins
    base = "generic"               # start from a preset; the file's entities replace the preset's
    params = { lang = "de" }       # bound into every select as :lang

    [shop]                         # optional: facts about the shop itself
    timezone = "UTC"               # the zone of its stored times (Magento: UTC); SHOPCRM_SHOP_DB_TIMEZONE wins
    views = "none"                 # it keeps no product views and wants no beacon (browsing data off by choice)

    [customer]                     # one section per entity
    table = "kunden"
    columns = { id = "kd_nr", email = "mail", first_name = "vorname", created_at = "angelegt" }
    where = { geloescht = 0, status = { not = "gesperrt" }, deleted_at = { is_null = true } }
                                   # a value: equal; a list: one of; a table: not, not_in, is_null, not_null

    [order]
    select = "SELECT ... AS id, ... AS customer_id, ... AS placed_at, ... AS total FROM ..."
    params = { paid = [2, 3] }

    [view]
    store = "crm"                  # views come from shopcrm's view beacon (not with views = "none")

    [notes]                        # optional: what this mapping cannot read, per entity
    view = "the shop keeps no views"

Every mistake is a :class:`MappingError` that names the file, the entity and the field.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import MappingError
from .mapping import ENTITIES, EntityMap, ShopMapping

MAPPING_KEYS = {"name": str, "prefix": str, "base": str, "params": dict}
SHOP_KEYS = {"timezone": str, "views": str}
VIEWS_OFF = "none"
ENTITY_KEYS = {"table": str, "columns": dict, "where": dict, "select": str, "params": dict, "returns": list,
               "store": str}
TYPE_WORDS = {str: "a string (in quotes)", dict: "a table ({ key = value, ... })", list: "a list ([ ... ])"}


def _type_name(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "true/false", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _check_keys(data: dict, allowed: dict, where: str) -> None:
    for key, value in data.items():
        if key not in allowed:
            raise MappingError(f"{where}, field '{key}': unknown key (known: {', '.join(allowed)})")
        if not isinstance(value, allowed[key]):
            raise MappingError(f"{where}, field '{key}': must be {TYPE_WORDS[allowed[key]]}, "
                               f"not {_type_name(value)}")


def _entity(name: str, data: dict, origin: str) -> EntityMap:
    where = f"{origin}, entity '{name}'"
    _check_keys(data, ENTITY_KEYS, where)
    columns = data.get("columns", {})
    for canonical, real in columns.items():
        if not isinstance(real, str):
            raise MappingError(f"{where}, field 'columns': '{canonical}' must name a column as a string, "
                               f"not {_type_name(real)}")
    returns = data.get("returns")
    if returns is not None and not all(isinstance(c, str) for c in returns):
        raise MappingError(f"{where}, field 'returns': must be a list of canonical column names (strings)")
    return EntityMap(
        name, table=data.get("table"), columns=dict(columns), where=dict(data.get("where", {})),
        select=data.get("select"), params=dict(data.get("params", {})),
        returns=tuple(returns) if returns is not None else None, store=data.get("store", "shop"), origin=origin,
    )


def load_mapping_file(path: str | Path, prefix: str | None = None, **preset_params: Any) -> ShopMapping:
    """Read and check a mapping file. ``prefix`` (the setting) overrides the file's own;
    ``preset_params`` (language_id, store_id, order_statuses) go to the ``base`` preset."""
    from .presets import preset

    origin = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise MappingError(f"SHOPCRM_SHOP_MAPPING_FILE points to {origin}, which does not exist") from None
    except OSError as exc:
        raise MappingError(f"{origin}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{origin}: not valid TOML: {exc}") from None

    known = {"mapping", "shop", "notes", *ENTITIES}
    for section, value in data.items():
        if section not in known:
            raise MappingError(f"{origin}: unknown section [{section}] (known: {', '.join(sorted(known))})")
        if not isinstance(value, dict):
            raise MappingError(f"{origin}: [{section}] must be a section (a table), not {_type_name(value)}")

    head = data.get("mapping", {})
    _check_keys(head, MAPPING_KEYS, f"{origin}, [mapping]")
    shop = data.get("shop", {})
    _check_keys(shop, SHOP_KEYS, f"{origin}, [shop]")
    views_off = shop.get("views") == VIEWS_OFF
    if "views" in shop and not views_off:
        raise MappingError(f"{origin}, [shop], field 'views': the only value is \"none\" (the shop keeps no "
                           "product views and wants no view beacon); to read views, map the [view] entity instead, "
                           f"not {shop['views']!r}")
    notes = data.get("notes", {})
    for entity, text in notes.items():
        if entity not in ENTITIES or not isinstance(text, str):
            raise MappingError(f"{origin}, [notes]: '{entity}' must be an entity name with a text "
                               f"(entities: {', '.join(ENTITIES)})")

    entities: dict[str, EntityMap] = {}
    base_notes: dict[str, str] = {}
    base_params: dict[str, Any] = {}
    base_prefix = ""
    if "base" in head:
        base = preset(head["base"], **preset_params)
        entities, base_notes, base_params, base_prefix = dict(base.entities), dict(base.notes), dict(base.params), \
            base.prefix
    if views_off and "view" not in data:  # a base preset's views go; a [view] of the file itself is a mistake
        entities.pop("view", None)
        base_notes.pop("view", None)
    for name in ENTITIES:
        if name in data:
            entities[name] = _entity(name, data[name], origin)
            base_notes.pop(name, None)
    chosen_prefix = prefix if prefix is not None else head.get("prefix", base_prefix)
    return ShopMapping(
        name=head.get("name") or Path(origin).stem,
        entities=entities,
        prefix=chosen_prefix,
        params={**base_params, **head.get("params", {})},
        notes={**base_notes, **notes},
        origin=origin,
        timezone=shop.get("timezone"),
        views_off=views_off,
    )


def declared_timezone(path: str | Path) -> str | None:
    """The ``[shop] timezone`` a mapping file declares, read when the app starts so that the
    shop's clock is right before any mapping is loaded; None when it declares none, or when the
    file cannot be read or is malformed (loading the mapping then names the mistake)."""
    from ..clock import zone_named

    try:
        with open(path, "rb") as fh:
            zone = tomllib.load(fh).get("shop", {}).get("timezone")
        zone_named(zone if isinstance(zone, str) else None)
    except (OSError, tomllib.TOMLDecodeError, AttributeError, ValueError):
        return None
    return zone if isinstance(zone, str) and zone else None


def apply_declared_timezone(config) -> None:
    """Let the mapping file's ``[shop] timezone`` set the shop database's clock
    (``SHOPCRM_SHOP_DB_TIMEZONE``) when the setting itself is not given: the setting wins,
    as ``SHOPCRM_SHOP_TABLE_PREFIX`` wins over the file's prefix. Called when the app starts."""
    path = config.get("SHOPCRM_SHOP_MAPPING_FILE")
    if path and not config.get("SHOPCRM_SHOP_DB_TIMEZONE"):
        zone = declared_timezone(path)
        if zone:
            config["SHOPCRM_SHOP_DB_TIMEZONE"] = zone
