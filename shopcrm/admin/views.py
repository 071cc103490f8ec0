"""Admin pages. They read stored runs (``crm_`` tables) and look up shop rows by id only."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, render_template, request
from flask_login import login_required

from ..errors import ShopCRMError
from ..extensions import db
from ..models import VALUE_TYPE_LABELS, VALUE_TYPES, Membership, Run, Segment
from ..shop import connect_shop, current_mapping
from ..shop import queries as shopq
from . import bp, charts
from .auth import role_required


def _page_args() -> tuple[int, int]:
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    return page, current_app.config["SHOPCRM_PAGE_SIZE"]


@bp.route("/")
@login_required
def dashboard():
    run = Run.current()
    last = db.session.scalars(sa.select(Run).order_by(Run.id.desc()).limit(1)).first()
    segments, pie, value_bars, value_rows = [], [], [], []
    if run is not None:
        segments = run.segments
        pie = charts.pie([(s.name, s.size) for s in segments])
        counts = dict(db.session.execute(
            sa.select(Membership.value_type, sa.func.count()).where(Membership.run_id == run.id)
            .group_by(Membership.value_type)).all())
        value_rows = [(VALUE_TYPE_LABELS[t], counts.get(t, 0)) for t in VALUE_TYPES]
        value_bars = charts.bars(value_rows)
    return render_template("admin/dashboard.html", run=run, last=last, segments=segments, pie=pie,
                           value_bars=value_bars, value_rows=value_rows)


@bp.route("/segments/<int:segment_id>")
@role_required("marketer", "viewer")
def segment(segment_id: int):
    seg = db.session.get(Segment, segment_id)
    if seg is None:
        abort(404)
    page, per_page = _page_args()
    query = (sa.select(Membership).where(Membership.run_id == seg.run_id, Membership.segment_id == seg.id)
             .order_by(Membership.customer_id))
    members = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    customers: dict = {}
    if members:
        try:
            with connect_shop() as conn:
                customers = shopq.customers_by_ids(conn, current_mapping(), [m.customer_id for m in members])
        except ShopCRMError as exc:
            flash(f"Customer details are unavailable: {exc}", "error")
    pages = max(1, -(-seg.size // per_page))
    return render_template("admin/segment.html", segment=seg, members=members, customers=customers, page=page,
                           pages=pages, value_labels=VALUE_TYPE_LABELS,
                           is_current=(Run.current() is not None and Run.current().id == seg.run_id))
