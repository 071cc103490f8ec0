"""Segments: the list, one segment with its members (paginated, searchable), CSV export."""
from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import Response, abort, render_template, request, stream_with_context

from ..dbutil import keyset_chunks
from ..extensions import db
from ..models import VALUE_TYPE_LABELS, Membership, Run, Segment
from ..shop import queries as shopq
from . import bp
from .auth import role_required
from .common import from_shop, page_from_request

SEARCH_LIMIT = 2000  # shop customers a member search looks among (ids only)
EXPORT_CHUNK = 1000
EXPORT_COLUMNS = ("customer_id", "email", "first_name", "last_name", "city", "country", "value_type",
                  "recency_days", "orders_in_window", "spend_in_window", "top_categories")


def _segment_or_404(segment_id: int) -> Segment:
    segment = db.session.get(Segment, segment_id)
    if segment is None:
        abort(404)
    return segment


@bp.route("/segments")
@role_required("marketer", "viewer")
def segments():
    run = Run.current()
    return render_template("admin/segments.html", run=run, segments=run.segments if run else [])


def page_of_members(conditions: list, run_id: int, page) -> list[Membership]:
    """One page of members, found in two steps: the page's customer ids first, from the index
    (run, segment, customer) alone, then their rows. A deep page skips tens of thousands of
    index entries instead of reading as many whole rows."""
    ids = list(db.session.scalars(sa.select(Membership.customer_id).where(*conditions)
                                  .order_by(Membership.customer_id).limit(page.size).offset(page.offset)))
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Membership).where(Membership.run_id == run_id,
                                                                Membership.customer_id.in_(ids))
                                   .order_by(Membership.customer_id)))


@bp.route("/segments/<int:segment_id>")
@role_required("marketer", "viewer")
def segment(segment_id: int):
    seg = _segment_or_404(segment_id)
    query_text = (request.args.get("q") or "").strip()[:100]
    conditions = [Membership.run_id == seg.run_id, Membership.segment_id == seg.id]
    capped = False
    if query_text:
        found = from_shop(shopq.search_customer_ids, [], query_text, limit=SEARCH_LIMIT)
        capped = len(found) >= SEARCH_LIMIT
        conditions.append(Membership.customer_id.in_(found or [-1]))
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(*conditions))
    else:
        total = seg.size
    page = page_from_request(total)
    members = page_of_members(conditions, seg.run_id, page)
    customers = from_shop(shopq.customers_by_ids, {}, [m.customer_id for m in members]) if members else {}
    current = Run.current()
    return render_template("admin/segment.html", segment=seg, members=members, customers=customers, page=page,
                           q=query_text, value_labels=VALUE_TYPE_LABELS, capped=capped, search_limit=SEARCH_LIMIT,
                           is_current=current is not None and current.id == seg.run_id)


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas: shop data may start with = + - @ (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.route("/segments/<int:segment_id>/export.csv")
@role_required("marketer")
def segment_export(segment_id: int):
    """The whole segment as CSV, streamed in chunks: memory stays flat for any segment size."""
    seg = _segment_or_404(segment_id)
    run_id, seg_id = seg.run_id, seg.id

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        query = sa.select(Membership.customer_id, Membership.value_type, Membership.recency_days,
                          Membership.frequency, Membership.monetary, Membership.top_categories
                          ).where(Membership.run_id == run_id, Membership.segment_id == seg_id)
        for chunk in keyset_chunks(db.session, query, Membership.customer_id, EXPORT_CHUNK):
            customers = from_shop(shopq.customers_by_ids, {}, [m.customer_id for m in chunk])
            for m in chunk:
                c = customers.get(m.customer_id, {})
                writer.writerow([csv_safe(v) for v in (
                    m.customer_id, c.get("email"), c.get("first_name"), c.get("last_name"), c.get("city"),
                    c.get("country"), m.value_type, "" if m.recency_days is None else round(m.recency_days),
                    m.frequency, f"{m.monetary:.2f}", m.top_categories)])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.getvalue():
            yield buffer.getvalue()

    filename = f"segment-{seg.id}-run-{seg.run_id}.csv"
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
