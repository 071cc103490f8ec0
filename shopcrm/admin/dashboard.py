"""The dashboard: the shop at a glance, from the current run's stored figures."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from flask_login import login_required

from ..extensions import db
from ..models import Insight, Run
from ..vocab import VALUE_TYPE_LABELS, VALUE_TYPES
from . import bp, charts
from .insights import name_of

MONTHS_SHOWN = 12
TOP_PRODUCTS = 5
DOCUMENTS = ("names", "visitors_per_month", "sales_per_month", "summary", "top_products", "best_month")


def value_type_counts(run: Run) -> list[tuple[str, int]]:
    """From the counts stored with the run: no scan of 100k memberships per page view."""
    counts = (run.counts or {}).get("value_types") or {}
    return [(VALUE_TYPE_LABELS[t], int(counts.get(t, 0))) for t in VALUE_TYPES]


@bp.route("/")
@login_required
def dashboard():
    run = Run.current()
    last = db.session.scalars(sa.select(Run).order_by(Run.id.desc()).limit(1)).first()
    context = {"run": run, "last": last, "segments": [], "pie": [], "value_bars": [], "value_rows": []}
    if run is not None:
        docs = Insight.several(run.id, DOCUMENTS)
        names = docs.get("names") or {}
        visitors = (docs.get("visitors_per_month") or [])[-MONTHS_SHOWN:]
        sales = (docs.get("sales_per_month") or [])[-MONTHS_SHOWN:]
        context.update(
            segments=run.segments,
            pie=charts.pie([(s.name, s.size) for s in run.segments]),
            value_rows=value_type_counts(run),
            summary=docs.get("summary") or {},
            visitors=visitors, visitors_line=charts.polyline([m["visitors"] for m in visitors]),
            sales=sales, orders_line=charts.polyline([m["orders"] for m in sales]),
            top_products=[{**p, "name": name_of(names, "product", p["product_id"])}
                          for p in (docs.get("top_products") or [])[:TOP_PRODUCTS]],
            best_month=docs.get("best_month"),
        )
        context["value_bars"] = charts.bars(context["value_rows"])
    return render_template("admin/dashboard.html", **context)
