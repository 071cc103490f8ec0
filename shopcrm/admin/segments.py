"""Segments: the list, one segment with its members (paginated, searchable), CSV export."""
from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa
from flask import Response, abort, render_template, request, stream_with_context

from .. import search
from ..dbutil import keyset_chunks
from ..extensions import db
from ..models import VALUE_TYPE_LABELS, Membership, Run, SearchWord, Segment
from ..shop import queries as shopq
from . import bp
from .auth import role_required
from .common import Page, from_shop, page_from_request

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


LIST_FIELDS = ("id", "email", "first_name", "last_name", "city", "country")  # what the members table shows
MEMBER_COLUMNS = (Membership.customer_id, Membership.value_type, Membership.recency_days, Membership.frequency,
                  Membership.monetary)


def members_by_ids(run_id: int, ids: list[int]) -> list[sa.Row]:
    """What the members table shows of a page's customers, in id order. Pages find their ids
    first, from an index alone (a deep page skips tens of thousands of index entries instead of
    whole rows); then only the shown columns are read, as rows, not 20-column objects."""
    if not ids:
        return []
    return list(db.session.execute(sa.select(*MEMBER_COLUMNS).where(Membership.run_id == run_id,
                                                                    Membership.customer_id.in_(ids))
                                   .order_by(Membership.customer_id)))


def browse_members(seg: Segment, page: Page) -> list[sa.Row]:
    """One page of a segment's members in one statement: the page's ids from the index alone
    (a deep page skips tens of thousands of index entries, not whole rows), joined back to
    their rows for the shown columns."""
    picked = (sa.select(Membership.customer_id).where(Membership.run_id == seg.run_id, Membership.segment_id == seg.id)
              .order_by(Membership.customer_id).limit(page.size).offset(page.offset).subquery())
    return list(db.session.execute(sa.select(*MEMBER_COLUMNS).join(picked, picked.c.customer_id == Membership.customer_id)
                                   .where(Membership.run_id == seg.run_id).order_by(Membership.customer_id)))


def search_members(seg: Segment, query_text: str) -> tuple[Page, list[int], bool]:
    """A page of the segment's members a search finds: their ids, and whether it stopped at its cap.

    With a word index built after the segment's run, the index holds each customer's segment:
    the count and the page are one range of it, plus the members who signed up since it was
    built. For an older run's segment the index is joined with the memberships. Without an
    index (never built yet), or for an e-mail address (the shop's own index answers it), the
    shop is searched and at most ``SEARCH_LIMIT`` of its matches are looked for among the members."""
    member = [Membership.run_id == seg.run_id, Membership.segment_id == seg.id]
    state = search.uses_index(query_text)
    if state is None:
        found = from_shop(shopq.search_customer_ids, [], query_text, limit=SEARCH_LIMIT)
        return _member_page(member + [Membership.customer_id.in_(found or [-1])]) + (len(found) >= SEARCH_LIMIT,)
    words = search.query_words(query_text)
    newer = [int(r["id"]) for r in from_shop(search.newer_matches, [], words, state, SEARCH_LIMIT)]
    capped = len(newer) >= SEARCH_LIMIT
    if state.run_id != seg.run_id:
        matching = Membership.customer_id.in_(search.matching_ids(words))
        if newer:
            matching = sa.or_(matching, Membership.customer_id.in_(newer))
        return _member_page(member + [matching]) + (capped,)
    newer_members = list(db.session.scalars(sa.select(Membership.customer_id).where(
        *member, Membership.customer_id.in_(newer)).order_by(Membership.customer_id))) if newer else []
    indexed = search.matching_ids(words).where(SearchWord.segment_id == seg.id)
    asked = page_from_request(0)
    ids, in_index = search.id_page(indexed, asked.offset, asked.size)
    page = Page(asked.number, asked.size, in_index + len(newer_members))
    ids += newer_members[max(0, page.offset - in_index):max(0, page.offset + page.size - in_index)]
    return page, ids, capped


def _member_page(conditions: list) -> tuple[Page, list[int]]:
    asked = page_from_request(0)
    ids, total = search.id_page(sa.select(Membership.customer_id).where(*conditions), asked.offset, asked.size)
    return Page(asked.number, asked.size, total), ids


@bp.route("/segments/<int:segment_id>")
@role_required("marketer", "viewer")
def segment(segment_id: int):
    seg = _segment_or_404(segment_id)
    query_text = (request.args.get("q") or "").strip()[:100]
    capped = False
    if query_text:
        page, ids, capped = search_members(seg, query_text)
        members = members_by_ids(seg.run_id, ids)
    else:
        page = page_from_request(seg.size)
        members = browse_members(seg, page)
    customers = from_shop(shopq.customers_by_ids, {}, [m.customer_id for m in members],
                          columns=LIST_FIELDS) if members else {}
    current = Run.current()
    return render_template("admin/segment.html", segment=seg, members=members, customers=customers, page=page,
                           q=query_text, value_labels=VALUE_TYPE_LABELS, capped=capped, search_limit=SEARCH_LIMIT,
                           is_current=current is not None and current.id == seg.run_id)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet may start a new cell inside one of ours: after a ";" (when it splits on
# semicolons, as many locales do), a "," (when the file is read with the other delimiter) or a
# line break (a reader that does not honour quotes). A formula character, or a quote that could
# open a quoted formula, right after one of them is neutralised too.
_CELL_STARTS = re.compile(r"([,;\r\n])(?=[=+\-@\t\r\"])")


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas: shop data may start with = + - @ (CSV injection), and a
    cell may be split into more cells by a reader using another delimiter (``x;=1+1``)."""
    text = _CELL_STARTS.sub(r"\1'", "" if value is None else str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


@bp.route("/segments/<int:segment_id>/export.csv")
@role_required("marketer")
def segment_export(segment_id: int):
    """The whole segment as CSV, streamed in chunks: memory stays flat for any segment size."""
    seg = _segment_or_404(segment_id)
    run_id, seg_id = seg.run_id, seg.id

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)  # quoted: no "," or ";" in a cell splits it
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
