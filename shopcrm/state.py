"""What shopcrm keeps per app for the life of a process, in one typed object.

A process may hold several apps (tests do; a host app may mount shopcrm beside others), each
with its own database and settings, so nothing here is module-global: ``app_state()`` is the
current app's, stored as ``app.extensions["shopcrm"]`` by ``ShopCRM.init_app``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:  # for the annotations only: the packages that own them import this module
    from .beacon.signing import RateLimiter
    from .campaigns.results import RecentResults
    from .shop.mapping import ShopMapping


@dataclass
class CRMState:
    extension: Any = None  # the ShopCRM instance that registered the app
    mapping: "ShopMapping | None" = None  # built once from the settings (shop.current_mapping)
    beacon_limiter: "RateLimiter | None" = None  # per process (public.beacon)
    token_serializers: dict = field(default_factory=dict)  # per key and purpose (delivery.tokens)
    preview_popular: tuple | None = None  # (monotonic time, best sellers per category) for previews
    recent_results: "RecentResults | None" = None  # large campaigns' figures, reused briefly


def app_state() -> CRMState:
    return current_app.extensions["shopcrm"]
