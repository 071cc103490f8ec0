"""Is shopcrm set up right? The mapping doctor's last report, kept for every process in
``crm_state`` (the doctor itself reads the shop: ``shop.doctor``).

The doctor reads the shop with bounded queries, but on a large shop they add up to seconds.
So a page view never runs it: the last report is stored with its time and shown as it is,
for every worker process alike. It is made when an admin asks ("Check again"), on the very
first visit, and by ``flask shopcrm doctor``; one check at a time (a lock), so visitors
arriving together do not all start one.

A stored report also says which mapping it checked and when (``checked``): the preset's name,
or the mapping file's path with its modification time and a hash of its content, and the
settings that change what is read. The settings page compares that with the mapping
configured now (:func:`doctor_status`), so a report made for another mapping (a file edited
since, another preset, another shop database) is shown as such, with "Check again", instead of
as the current state of the shop.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app

from .clock import utcnow
from .extensions import db
from .locks import try_acquire
from .models import State
from .shop.doctor import DoctorReport, report_for_app

STATE_NAME = "doctor"
CHECK_TTL = 300  # seconds the check's lock lives if its process dies while checking
#: Settings that change what a mapping reads: a report made under other values is for another mapping.
MAPPING_SETTINGS = ("SHOPCRM_SHOP_TABLE_PREFIX", "SHOPCRM_SHOP_LANGUAGE_ID", "SHOPCRM_SHOP_STORE_ID",
                    "SHOPCRM_SHOP_ORDER_STATUSES", "SHOPCRM_SHOP_VIEWS", "SHOPCRM_SHOP_DB_TIMEZONE")


def _database(config) -> str:
    url = config.get("SHOPCRM_SHOP_DATABASE_URI") or ""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(not a database address)"


def mapping_identity(config=None) -> dict:
    """Which mapping the configuration names now: ``kind`` (preset or file), ``name`` (the
    preset, or the file's absolute path), for a file its ``modified`` time (UTC, ISO) and
    ``sha256``, the mapping ``settings`` in force, the shop ``database``, a ``label`` in words,
    and a ``fingerprint`` of all that (equal fingerprints: the same mapping of the same shop)."""
    config = current_app.config if config is None else config
    path = config.get("SHOPCRM_SHOP_MAPPING_FILE")
    if path:
        path = os.path.abspath(path)
        try:
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            modified = datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc).replace(tzinfo=None, microsecond=0)
        except OSError:
            digest, modified = None, None
        identity = {"kind": "file", "name": path, "sha256": digest,
                    "modified": modified.isoformat() if modified else None,
                    "label": f"the mapping file {path}" + (f" (saved {modified:%Y-%m-%d %H:%M} UTC)" if modified
                                                           else " (which cannot be read)")}
    else:
        name = config.get("SHOPCRM_SHOP_PRESET") or "generic"
        identity = {"kind": "preset", "name": name, "label": f"the preset “{name}”"}
    settings = {key: config.get(key) for key in MAPPING_SETTINGS  # an empty prefix is a setting; "preset" is none
                if config.get(key) is not None and (key, config.get(key)) != ("SHOPCRM_SHOP_VIEWS", "preset")}
    settings = json.loads(json.dumps(settings, default=str))  # lists and tuples alike, as stored
    if settings:
        identity["label"] += " with " + ", ".join(f"{key} = {value!r}" for key, value in settings.items())
    identity.update(settings=settings, database=_database(config))
    material = {k: identity.get(k) for k in ("kind", "name", "sha256", "settings", "database")}
    identity["fingerprint"] = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return identity


def store_report(report: DoctorReport) -> dict:
    """The report as plain JSON (samples may hold dates and decimals), with the mapping it
    checked and when (``checked``), stored for every process. Commits."""
    data = json.loads(json.dumps(report.to_dict(), default=str))
    data["checked"] = {"mapping": mapping_identity(), "at": utcnow().replace(microsecond=0).isoformat()}
    State.write(STATE_NAME, data)
    db.session.commit()
    return data


def check_shop() -> dict | None:
    """Run the doctor now and store its report; ``None`` when another check is running."""
    lease = try_acquire("doctor", CHECK_TTL)
    if lease is None:
        return None
    try:
        return store_report(report_for_app())
    finally:
        lease.release()


def mapping_change(checked: dict | None, current: dict) -> str | None:
    """What differs between the mapping a report checked and the one configured now, in a
    sentence for the settings page; None when they are the same."""
    if checked and checked.get("fingerprint") == current["fingerprint"]:
        return None
    if not checked:
        return f"it does not say which mapping it checked; shopcrm is now set to {current['label']}"
    if (checked.get("kind"), checked.get("name")) != (current["kind"], current["name"]):
        return f"shopcrm is now set to {current['label']}"
    if checked.get("sha256") != current.get("sha256"):
        return f"the mapping file has been changed since ({current['label']})"
    if checked.get("settings") != current["settings"]:
        changed = sorted(k for k in {*checked.get("settings", {}), *current["settings"]}
                         if checked.get("settings", {}).get(k) != current["settings"].get(k))
        return f"the setting(s) {', '.join(changed)} changed since"
    return f"the shop database is now {current['database']}"


def _annotated(data: dict, updated_at: datetime | None) -> dict:
    """The stored report with, for showing it (not stored): ``checked_at`` (naive UTC),
    ``is_current_mapping``, ``current_mapping`` (the label of the mapping configured now) and
    ``mapping_change`` (what changed since the check, in a sentence; None if nothing)."""
    current = mapping_identity()
    checked = data.get("checked") or {}
    change = mapping_change(checked.get("mapping"), current)
    try:
        at = datetime.fromisoformat(checked["at"]) if checked.get("at") else updated_at
    except ValueError:
        at = updated_at
    return {**data, "checked_at": at, "is_current_mapping": change is None, "current_mapping": current["label"],
            "mapping_change": change}


def last_report() -> tuple[dict | None, datetime | None]:
    """The last report and when it was made (UTC), checking the shop on the very first visit.
    The report carries ``checked_at``, ``is_current_mapping`` and ``current_mapping`` too."""
    row = State.read(STATE_NAME)
    if row is None:
        data = check_shop()
        row = State.read(STATE_NAME) if data is not None else None
    if row is None:
        return None, None
    return _annotated(row.data, row.updated_at), row.updated_at


def doctor_status() -> dict:
    """What the settings page shows about the shop check: ``report`` (the last one, annotated as
    in :func:`last_report`; None while the first check runs), ``checked_at`` (naive UTC),
    ``mapping`` (the mapping configured now, see :func:`mapping_identity`) and
    ``is_current_mapping`` (whether the report checked that mapping; if not, offer "Check again")."""
    report, checked_at = last_report()
    return {"report": report, "checked_at": (report or {}).get("checked_at") or checked_at,
            "mapping": mapping_identity(), "is_current_mapping": bool(report and report["is_current_mapping"])}
