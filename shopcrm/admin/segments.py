"""Segments: the list, one segment with its members (paginated, searchable), CSV export."""
from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template, request, stream_with_context

from ..customers import members as segment_members
from ..customers.members import EXPORT_CHUNK, LIST_FIELDS, browse_members, export_rows, members_by_ids, search_members
from ..customers.reader import ShopReader
from ..extensions import db
from ..models import Run, Segment
from ..vocab import VALUE_TYPE_LABELS
from . import bp
from .auth import role_required
from .common import page_from_request, shop_reader


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


@bp.route("/segments/<int:segment_id>")
@role_required("marketer", "viewer")
def segment(segment_id: int):
    seg = _segment_or_404(segment_id)
    query_text = (request.args.get("q") or "").strip()[:100]
    capped = False
    if query_text:
        page, ids, capped = search_members(seg, query_text, page_from_request(0), shop_reader())
        members = members_by_ids(seg.run_id, ids)
    else:
        page = page_from_request(seg.size)
        members = browse_members(seg, page)
    customers = shop_reader().customers([m.customer_id for m in members], columns=LIST_FIELDS)
    current = Run.current()
    return render_template("admin/segment.html", segment=seg, members=members, customers=customers, page=page,
                           q=query_text, value_labels=VALUE_TYPE_LABELS, capped=capped,
                           search_limit=segment_members.SEARCH_LIMIT,
                           is_current=current is not None and current.id == seg.run_id)


@bp.route("/segments/<int:segment_id>/export.csv")
@role_required("marketer")
def segment_export(segment_id: int):
    """The whole segment as CSV, streamed in chunks: memory stays flat for any segment size."""
    seg = _segment_or_404(segment_id)

    reader = ShopReader()  # a stream outlives the request's own reads

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)  # quoted: no "," or ";" in a cell splits it
        try:
            for n, row in enumerate(export_rows(seg, reader)):
                writer.writerow(row)
                if n % EXPORT_CHUNK == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            if buffer.getvalue():
                yield buffer.getvalue()
        finally:
            reader.close()

    filename = f"segment-{seg.id}-run-{seg.run_id}.csv"
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
