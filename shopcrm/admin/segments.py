"""Segments: the interest segments and the other ways customers group (their type, what to do
with them, whether they might leave), each with its members and revenue; one segment or group
with its members (paginated, searchable) and a CSV export.

Counts and revenue per group come from the run's cube (``customers.figures``), not a scan per page.
"""
from __future__ import annotations

import csv
import io

from flask import Response, abort, current_app, flash, render_template, request, stream_with_context, url_for

from ..campaigns.audiences import audience
from ..customers import browse
from ..customers import members as segment_members
from ..customers.email_status import statuses
from ..customers.figures import cube, segments_of, stored_document
from ..customers.members import (
    BOM,
    EXPORT_CHUNK,
    LIST_FIELDS,
    browse_members,
    export_rows,
    members_by_ids,
    search_members,
)
from ..customers.reader import ShopReader
from ..extensions import db
from ..models import Membership, Run, Segment
from ..vocab import (
    ACTION_HELP,
    ACTION_LABELS,
    ACTIONS,
    RISK_HELP,
    RISK_LABELS,
    VALUE_TYPE_HELP,
    VALUE_TYPE_LABELS,
    VALUE_TYPES,
)
from . import bp, charts, has_endpoint
from .auth import role_required
from .common import page_from_request, shop_reader

#: Groups beyond interests: kind in the URL -> (what the owner reads, the keys, their names, their help).
GROUP_KINDS = {
    "type": ("Customer types", VALUE_TYPES, VALUE_TYPE_LABELS, VALUE_TYPE_HELP),
    "action": ("What to do next", ACTIONS, ACTION_LABELS, ACTION_HELP),
    "risk": ("Might leave", tuple(RISK_LABELS), RISK_LABELS, RISK_HELP),
}
#: The ready-made audience (``campaigns.audiences``) that mails a group, where there is one.
GROUP_AUDIENCES = {("type", "high_value"): "best_customers", ("type", "new"): "welcome",
                   ("type", "negative"): "first_order", ("type", "most_growth"): "growing",
                   ("action", "reactivation"): "win_back", ("action", "welcome_offer"): "welcome",
                   ("action", "first_purchase_incentive"): "first_order", ("action", "loyalty_reward"): "best_customers",
                   ("action", "upsell"): "upsell", ("action", "cross_sell"): "cross_sell", ("risk", "yes"): "win_back"}


def _segment_or_404(segment_id: int) -> Segment:
    segment = db.session.get(Segment, segment_id)
    if segment is None:
        abort(404)
    return segment


def _campaign_link(kind: str, key: str) -> str | None:
    name = GROUP_AUDIENCES.get((kind, key))
    if name is None or audience(name) is None or not has_endpoint("crm_admin.campaign_new"):
        return None
    return url_for("crm_admin.campaign_new", audience=name)


def _field(kind: str) -> str:
    return {"type": "value_type", "action": "action", "risk": "churn_risk"}[kind]


def _key_value(kind: str, key: str):
    return (key == "yes") if kind == "risk" else key


def group_rows(run: Run) -> dict[str, list[dict]]:
    """Every group of every kind with its customers, revenue and share, from the run's cube."""
    figures = cube(run)
    everyone = figures.total()
    result = {}
    for kind, (_, keys, labels, help_texts) in GROUP_KINDS.items():
        totals = figures.by(_field(kind))
        rows = []
        for key in keys:
            total = totals.get(_key_value(kind, key))
            rows.append({"kind": kind, "key": key, "name": labels[key], "help": help_texts.get(key, ""),
                         "customers": total.customers if total else 0, "revenue": total.revenue if total else 0.0,
                         "share": (total.customers / everyone.customers) if total and everyone.customers else 0.0,
                         "color": charts.VALUE_TYPE_COLORS.get(key) if kind == "type" else None})
        result[kind] = rows
    return result


@bp.route("/segments")
@role_required("marketer", "viewer")
def segments():
    run = Run.current()
    context = {"run": run, "segments": [], "groups": {}, "kinds": GROUP_KINDS}
    if run is not None:
        figures = cube(run)
        per_segment = figures.by("segment_id")
        context.update(segments=segments_of(run), groups=group_rows(run), per_segment=per_segment,
                       everyone=figures.total(), segment_color=charts.segment_color)
    return render_template("admin/segments.html", **context)


def _brands(seg: Segment) -> list[dict]:
    stored = stored_document(db.session.get(Run, seg.run_id), "segments") or []
    mine = next((s for s in stored if s.get("label") == seg.label), {})
    return mine.get("top_brands") or []


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
    customers = shop_reader().customers([m.customer_id for m in members], columns=LIST_FIELDS + ("consent",))
    current = Run.current()
    run = db.session.get(Run, seg.run_id)
    figures = cube(run)
    total = figures.total(segment_id=seg.id)
    types = figures.by("value_type", segment_id=seg.id)
    return render_template("admin/segment.html", segment=seg, members=members, customers=customers, page=page,
                           q=query_text, value_labels=VALUE_TYPE_LABELS, capped=capped,
                           search_limit=segment_members.SEARCH_LIMIT, email=statuses(customers.values()),
                           is_current=current is not None and current.id == seg.run_id, total=total,
                           everyone=figures.total(), brands=_brands(seg), color=charts.segment_color(seg.label),
                           types=[(t, VALUE_TYPE_LABELS[t], types[t]) for t in VALUE_TYPES if t in types])


@bp.route("/segments/<kind>/<key>")
@role_required("marketer", "viewer")
def group(kind: str, key: str):
    """A group beyond interests (a customer type, a recommended action, at risk or not), as a segment."""
    if kind not in GROUP_KINDS or key not in GROUP_KINDS[kind][1]:
        abort(404)
    run = Run.current()
    if run is None:
        flash("There is no analysis yet: groups appear after the first one.", "info")
        return render_template("admin/group.html", run=None, kind=kind, key=key, kinds=GROUP_KINDS)
    title, _, labels, help_texts = GROUP_KINDS[kind]
    filters = browse.Filters(**{"type": key} if kind == "type" else {"action": key} if kind == "action"
                             else {"risk": key == "yes"})
    # a customer type lists its most valuable members first (the run's value ranking)
    default_sort = "value" if kind == "type" else browse.DEFAULT_SORT
    filters.sort = request.args.get("sort") if request.args.get("sort") in browse.SORTS else default_sort
    listing = browse.listing(run, filters, page_from_request(0).number, current_app.config["SHOPCRM_PAGE_SIZE"],
                             shop_reader())
    everyone = cube(run).total()
    return render_template("admin/group.html", run=run, kind=kind, key=key, kinds=GROUP_KINDS, title=title,
                           name=labels[key], help=help_texts.get(key, ""), listing=listing, page=listing.page,
                           everyone=everyone, filters=filters, campaign_link=_campaign_link(kind, key),
                           sorts=browse.SORTS, value_labels=VALUE_TYPE_LABELS, value_help=VALUE_TYPE_HELP,
                           action_labels=ACTION_LABELS, segment_color=charts.segment_color,
                           segment_names={s.id: s for s in segments_of(run)}, list_args=filters.args())


def _csv_response(conditions: list, filename: str) -> Response:
    """The rows of ``export_rows`` as a CSV download, streamed in chunks (memory stays flat), with
    the byte-order mark Excel needs to read UTF-8 (``members.BOM``)."""
    reader = ShopReader()  # a stream outlives the request's own reads

    def rows():
        buffer = io.StringIO()
        buffer.write(BOM)
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)  # quoted: no "," or ";" in a cell splits it
        try:
            for n, row in enumerate(export_rows(conditions, reader)):
                writer.writerow(row)
                if n % EXPORT_CHUNK == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            if buffer.getvalue():
                yield buffer.getvalue()
        finally:
            reader.close()

    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/segments/<int:segment_id>/export.csv")
@role_required("marketer")
def segment_export(segment_id: int):
    """The whole segment as CSV."""
    seg = _segment_or_404(segment_id)
    return _csv_response(segment_members.segment_members(seg), f"segment-{seg.id}-run-{seg.run_id}.csv")


@bp.route("/segments/<kind>/<key>/export.csv")
@role_required("marketer")
def group_export(kind: str, key: str):
    if kind not in GROUP_KINDS or key not in GROUP_KINDS[kind][1]:
        abort(404)
    run = Run.current()
    if run is None:
        abort(404)
    column = {"type": Membership.value_type, "action": Membership.action, "risk": Membership.churn_risk}[kind]
    return _csv_response([Membership.run_id == run.id, column == _key_value(kind, key)],
                         f"{kind}-{key}-run-{run.id}.csv")
