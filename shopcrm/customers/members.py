"""A segment's members: a page of them, a search among them, and the whole segment as rows."""
from __future__ import annotations

import re

import sqlalchemy as sa

from ..dbutil import keyset_chunks
from ..extensions import db
from ..models import Membership, SearchWord, Segment
from ..paging import Page
from ..segmentation import search_index as search
from ..segmentation.export import FIGURE_FIELDS, FIGURE_HEADINGS, figures
from .reader import ShopReader

SEARCH_LIMIT = 2000  # shop customers a member search looks among (ids only)
EXPORT_CHUNK = 1000
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


def search_members(seg: Segment, query_text: str, asked: Page, reader: ShopReader) -> tuple[Page, list[int], bool]:
    """A page of the segment's members a search finds: their ids, and whether it stopped at its cap.

    With a word index built after the segment's run, the index holds each customer's segment:
    the count and the page are one range of it, plus the members who signed up since it was
    built. For an older run's segment the index is joined with the memberships. Without an
    index (never built yet), or for an e-mail address (the shop's own index answers it), the
    shop is searched and at most ``SEARCH_LIMIT`` of its matches are looked for among the members."""
    member = [Membership.run_id == seg.run_id, Membership.segment_id == seg.id]
    state = search.uses_index(query_text)
    if state is None:
        found = reader.search_ids(query_text, SEARCH_LIMIT)
        return _member_page(member + [Membership.customer_id.in_(found or [-1])], asked) + (len(found) >= SEARCH_LIMIT,)
    words = search.query_words(query_text)
    newer = [int(r["id"]) for r in reader.newer_matches(words, state, SEARCH_LIMIT)]
    capped = len(newer) >= SEARCH_LIMIT
    if state.run_id != seg.run_id:
        matching = Membership.customer_id.in_(search.matching_ids(words))
        if newer:
            matching = sa.or_(matching, Membership.customer_id.in_(newer))
        return _member_page(member + [matching], asked) + (capped,)
    newer_members = list(db.session.scalars(sa.select(Membership.customer_id).where(
        *member, Membership.customer_id.in_(newer)).order_by(Membership.customer_id))) if newer else []
    indexed = search.matching_ids(words).where(SearchWord.segment_id == seg.id)
    ids, in_index = search.id_page(indexed, asked.offset, asked.size)
    page = Page(asked.number, asked.size, in_index + len(newer_members))
    ids += newer_members[max(0, page.offset - in_index):max(0, page.offset + page.size - in_index)]
    return page, ids, capped


def _member_page(conditions: list, asked: Page) -> tuple[Page, list[int]]:
    ids, total = search.id_page(sa.select(Membership.customer_id).where(*conditions), asked.offset, asked.size)
    return Page(asked.number, asked.size, total), ids


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet may start a new cell inside one of ours: after a ";" (when it splits on
# semicolons, as many locales do), a "," (when the file is read with the other delimiter) or a
# line break (a reader that does not honour quotes). A formula character, or a quote that could
# open a quoted formula, right after one of them is neutralised too.
_CELL_STARTS = re.compile(r"([,;\r\n])(?=[=+\-@\t\r\"])")


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas: shop data may start with = + - @ (CSV injection), and a
    cell may be split into more cells by a reader using another delimiter (``x;=1+1``). Write
    the rows with every field quoted (``csv.QUOTE_ALL``)."""
    text = _CELL_STARTS.sub(r"\1'", "" if value is None else str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text

#: The export's header: what a spreadsheet user reads at the top of each column.
EXPORT_COLUMNS = ("Customer number", "E-mail", "First name", "Last name", "City", "Country", "Customer type",
                  "Can we e-mail?", "Days since last order", "Orders (12 months)", "Spend (12 months)",
                  "Interested in", "Segment", *FIGURE_HEADINGS)
#: Put before the first byte of an export: Excel takes a CSV file without it for the machine's
#: old code page and shows "JosÃ©" for "José"; LibreOffice reads it as UTF-8 either way.
BOM = "\ufeff"


def segment_members(seg: Segment) -> list:
    """The conditions on ``Membership`` that select an interest segment's members."""
    return [Membership.run_id == seg.run_id, Membership.segment_id == seg.id]


def export_rows(conditions: list, reader: ShopReader):
    """The members matching ``conditions`` (on ``Membership``, the run's included) as CSV rows,
    the header first, a chunk of customers at a time: memory stays flat for any size. Shop
    words, not ids: the customer type's name, the categories' names, the e-mail status."""
    from ..vocab import VALUE_TYPE_LABELS
    from .email_status import statuses

    yield EXPORT_COLUMNS
    categories = reader.category_names()
    segment_names = dict(db.session.execute(sa.select(Segment.id, Segment.name).join(
        Membership, Membership.segment_id == Segment.id).where(*conditions).distinct()).all())
    query = sa.select(Membership.customer_id, Membership.value_type, Membership.recency_days,
                      Membership.frequency, Membership.monetary, Membership.top_categories, Membership.segment_id,
                      *FIGURE_FIELDS).where(*conditions)
    for chunk in keyset_chunks(db.session, query, Membership.customer_id, EXPORT_CHUNK):
        customers = reader.customers([m.customer_id for m in chunk])
        email = statuses(customers.values())
        for m in chunk:
            c = customers.get(m.customer_id, {})
            status = email.get(m.customer_id)
            interests = ", ".join(categories.get(int(i), f"Category {i}")
                                  for i in (m.top_categories or "").split(",") if i.strip().isdigit())
            yield [csv_safe(v) for v in (
                m.customer_id, c.get("email"), c.get("first_name"), c.get("last_name"), c.get("city"),
                c.get("country"), VALUE_TYPE_LABELS.get(m.value_type, m.value_type),
                status.label if status else "unknown", "" if m.recency_days is None else round(m.recency_days),
                m.frequency, f"{m.monetary:.2f}", interests, segment_names.get(m.segment_id, ""), *figures(m))]
