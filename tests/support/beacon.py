"""Signed beacon requests for the beacon tests."""
from __future__ import annotations

import time

import sqlalchemy as sa

from shopcrm.beacon.signing import sign
from shopcrm.extensions import db
from shopcrm.models import ProductView

SECRET = "beacon-secret-0123456789abcdef0123456789"


def query(c="107", p="1005", t=None, n="0123456789abcdef0123456789abcdef", secret=SECRET, **override) -> dict:
    t = str(int(time.time()) if t is None else t)
    args = {"c": str(c), "p": str(p), "t": t, "n": n, "s": sign(secret, c, p, t, n)}
    args.update(override)
    return args


def stored(app) -> list:
    with app.app_context():
        return db.session.execute(sa.select(ProductView.customer_id, ProductView.product_id, ProductView.viewed_at,
                                             ProductView.nonce)).all()
