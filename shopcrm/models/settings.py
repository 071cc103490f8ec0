"""``crm_setting``: the settings a shop admin changes in the panel (shop name, currency, sender…).

One row per setting key, its value as JSON. Secrets never live here: the instance file keeps
them. ``panel_settings`` lays these values over the app's configuration.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db


class PanelSetting(db.Model):
    __tablename__ = "crm_setting"

    key = sa.Column(sa.String(64), primary_key=True)
    value = sa.Column(sa.JSON, nullable=False)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_by = sa.Column(sa.String(255))
