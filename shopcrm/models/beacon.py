"""``crm_view``, the product views the beacon records.

OpenCart and PrestaShop (without statsdata) keep no per-customer view history, so the shop's
product page reports views to shopcrm (``public/beacon.py``). Each row is one signed view;
the nonce is unique, so a replayed request fails on insert without a read first.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db


class ProductView(db.Model):
    """One product page view by a logged-in customer. ``viewed_at`` is naive UTC (from the
    beacon's signed unix time), like every shopcrm timestamp."""

    __tablename__ = "crm_view"

    id = sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    customer_id = sa.Column(sa.BigInteger, nullable=False)
    product_id = sa.Column(sa.BigInteger, nullable=False)
    viewed_at = sa.Column(sa.DateTime, nullable=False)
    nonce = sa.Column(sa.String(32), nullable=False)
    received_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("nonce", name="uq_crm_view_nonce"),
        # The aggregation reads a time range and groups by customer and product: a covering index.
        sa.Index("ix_crm_view_time", "viewed_at", "customer_id", "product_id"),
        # One customer's views, newest first (the admin's customer timeline, browse reminders).
        sa.Index("ix_crm_view_customer", "customer_id", "viewed_at"),
    )
