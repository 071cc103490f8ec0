"""Custom mappings in a TOML file (``SHOPCRM_SHOP_MAPPING_FILE``), for shops no preset knows.

The format (docs/MAPPING.md has a complete worked example)::

    [mapping]                      # optional
    name = "my shop"               # shown by doctor
    prefix = "shop_"               # table prefix, filled in for {prefix}; SHOPCRM_SHOP_TABLE_PREFIX wins
    base = "generic"               # start from a preset; the file's entities replace the preset's
    params = { lang = "de" }       # bound into every select as :lang

    [customer]                     # one section per entity
    table = "kunden"
    columns = { id = "kd_nr", email = "mail", first_name = "vorname", created_at = "angelegt" }
    where = { geloescht = 0 }      # equality; a list means IN

    [order]
    select = "SELECT ... AS id, ... AS customer_id, ... AS placed_at, ... AS total FROM ..."
    params = { paid = [2, 3] }

    [view]
    store = "crm"                  # views come from shopcrm's view beacon

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

    known = {"mapping", "notes", *ENTITIES}
    for section, value in data.items():
        if section not in known:
            raise MappingError(f"{origin}: unknown section [{section}] (known: {', '.join(sorted(known))})")
        if not isinstance(value, dict):
            raise MappingError(f"{origin}: [{section}] must be a section (a table), not {_type_name(value)}")

    head = data.get("mapping", {})
    _check_keys(head, MAPPING_KEYS, f"{origin}, [mapping]")
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
    )
