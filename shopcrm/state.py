"""What shopcrm keeps per app for the life of a process, in one typed object.

A process may hold several apps (tests do; a host app may mount shopcrm beside others), each
with its own database and settings, so nothing here is module-global: ``app_state()`` is the
current app's, stored as ``app.extensions["shopcrm"]`` by ``ShopCRM.init_app``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app


@dataclass
class CRMState:
    extension: Any = None  # the ShopCRM instance that registered the app
    # The packages that fill these import this module, so their types are named, not imported.
    mapping: Any = None  # shop.mapping.ShopMapping, built once from the settings (shop.current_mapping)
    mapping_probed: bool = False  # the live shop asked once which late columns it lacks (shop.connect_shop)
    beacon_limiter: Any = None  # throttle.WindowLimit: counts in crm_throttle, shared by processes (public.beacon)
    token_serializers: dict = field(default_factory=dict)  # per key and purpose (delivery.tokens)
    preview_popular: tuple | None = None  # (monotonic time, best sellers per category) for previews
    recent_results: Any = None  # campaigns.results.RecentResults: large campaigns' figures, reused briefly
    panel_settings: Any = None  # panel_settings.Overlay: the panel's settings over the file's, reread briefly
    panel_figures: Any = None  # customers.figures.Kept: the dashboard's and group pages' figures, reused briefly


def app_state() -> CRMState:
    return current_app.extensions["shopcrm"]
