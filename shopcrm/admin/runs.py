"""Runs: their history, parameters, stage timings, quality and migration matrix; "Run now".

"Run now" only queues a run (a ``crm_run`` row with status ``queued``); the cron command
``flask shopcrm run-queued`` carries it out within minutes. A segmentation never runs inside a
web request.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ..extensions import db
from ..models import Run, Segment
from ..segmentation.backtest_report import panel_data
from ..segmentation.queue import queue_run, waiting_run
from . import bp
from .auth import role_required
from .common import page_from_request
from .forms import ConfirmForm

LIST_PAGE = 25
QUALITY_HELP = {
    "silhouette": "how well customers fit their own segment rather than the nearest other one (−1..1, higher is better)",
    "davies_bouldin": "average similarity of each segment to its closest one (≥ 0, lower is better)",
    "calinski_harabasz": "spread between segments relative to spread within them (higher is better)",
    "stability": "agreement of the segments with re-seeded fits (adjusted Rand index, 1 = identical)",
}


@bp.route("/runs")
@role_required("marketer", "viewer")
def runs():
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Run))
    page = page_from_request(total, LIST_PAGE)
    rows = db.session.scalars(sa.select(Run).order_by(Run.id.desc()).limit(page.size).offset(page.offset)).all()
    current = Run.current()
    waiting = waiting_run() is not None
    return render_template("admin/runs.html", runs=rows, page=page, current=current, form=ConfirmForm(),
                           waiting=waiting, can_queue=current_user.has_role("marketer"),
                           predictions=panel_data(current))  # templates/admin/_backtest.html


@bp.route("/runs/queue", methods=["POST"])
@role_required("marketer")
def run_queue():
    ConfirmForm().validate_on_submit()
    run, queued = queue_run(requested_by=current_user.email)
    if queued:
        flash(f"Run #{run.id} is queued; the scheduled job starts it within a few minutes.", "success")
    else:
        flash(f"Run #{run.id} is already waiting or running; it will include everything up to its start.", "info")
    return redirect(url_for("crm_admin.runs"))


def _segment_names(run_id: int) -> dict[int, str]:
    return dict(db.session.execute(sa.select(Segment.label, Segment.name).where(Segment.run_id == run_id)).all())


@bp.route("/runs/<int:run_id>")
@role_required("marketer", "viewer")
def run(run_id: int):
    item = db.session.get(Run, run_id) or abort(404)
    quality = item.quality or {}
    migration = quality.get("migration")
    matrix = None
    if migration:
        previous = _segment_names(migration["previous_run"])
        current = _segment_names(item.id)
        rows = [previous.get(i, f"segment {i + 1}") for i in range(len(migration["matrix"]) - 1)] + ["new to segments"]
        cols = [current.get(j, f"segment {j + 1}") for j in range(len(migration["matrix"][0]) - 1)] + ["left"]
        matrix = {"rows": rows, "cols": cols, "cells": migration["matrix"],
                  "match": {int(i): j for i, j in (migration.get("match") or {}).items()}}
    stages = {k: v for k, v in (item.timings or {}).items() if "." not in k and k != "total"}
    return render_template("admin/run.html", run=item, quality=quality, matrix=matrix, migration=migration,
                           stages=stages, help=QUALITY_HELP, is_current=(Run.current() or item).id == item.id)
