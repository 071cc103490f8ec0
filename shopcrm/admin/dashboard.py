"""The dashboard: the current run at a glance."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from flask_login import login_required

from ..extensions import db
from ..models import VALUE_TYPE_LABELS, VALUE_TYPES, Run
from . import bp, charts


def value_type_counts(run: Run) -> list[tuple[str, int]]:
    """From the counts stored with the run: no scan of 100k memberships per page view."""
    counts = (run.counts or {}).get("value_types") or {}
    return [(VALUE_TYPE_LABELS[t], int(counts.get(t, 0))) for t in VALUE_TYPES]


@bp.route("/")
@login_required
def dashboard():
    run = Run.current()
    last = db.session.scalars(sa.select(Run).order_by(Run.id.desc()).limit(1)).first()
    segments, pie, value_bars, value_rows = [], [], [], []
    if run is not None:
        segments = run.segments
        pie = charts.pie([(s.name, s.size) for s in segments])
        value_rows = value_type_counts(run)
        value_bars = charts.bars(value_rows)
    return render_template("admin/dashboard.html", run=run, last=last, segments=segments, pie=pie,
                           value_bars=value_bars, value_rows=value_rows)
