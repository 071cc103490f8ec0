"""The customer list: every customer of the current analysis, filtered, sorted and a page at a time.

It reads ``crm_membership`` (one row per customer of the run, with their segment, type, churn
risk, country, last order and spend), never the whole shop: a page picks its 50 ids from an
index, then reads those rows, then asks the shop for those 50 customers' names and addresses.
Counts of the groups the cube knows come from the cube (``figures``), others are one indexed
COUNT.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from ..extensions import db
from ..models import Membership, Run
from ..paging import Page
from ..segmentation.ranking import has_index, member_order
from ..vocab import ACTIONS, LAST_ORDER, LAST_ORDER_CODES, VALUE_TYPES
from . import figures
from .email_status import statuses
from .figures import cube
from .reader import ShopReader

#: How the list can be ordered: (what the owner reads, ORDER BY). Each order is a range of an index
#: read in one direction (ties: newest customer first); "latest order" lists customers who ordered.
SORTS = {
    "revenue": ("Highest spend", ((Membership.monetary, True), (Membership.customer_id, True))),
    "recent": ("Latest order", ((Membership.recency_days, False), (Membership.customer_id, False))),
    "newest": ("Newest customers", ((Membership.customer_id, True),)),
    # the run's own value ranking (predicted value, or the RFM score where the shop's past says it
    # catches more revenue): segmentation.ranking.member_order
    "value": ("Most valuable first", ()),
}


def order_by(sort: str, reverse: bool = False, run: Run | None = None) -> list:
    """The ORDER BY of a sort (``reverse``: read from the other end of the same index)."""
    if sort == "value":
        return member_order(run, reverse)
    return [column.desc() if descending != reverse else column.asc() for column, descending in SORTS[sort][1]]
DEFAULT_SORT = "revenue"
#: When the last order was, in the owner's words: the buckets of ``vocab.LAST_ORDER`` (and of the cube).
LAST_ORDER_LABELS = {
    "30": "In the last 30 days",
    "90": "31 to 90 days ago",
    "365": "3 to 12 months ago",
    "older": "More than a year ago",
    "never": "Never ordered",
}
ROW_COLUMNS = (Membership.customer_id, Membership.segment_id, Membership.value_type, Membership.recency_days,
               Membership.frequency, Membership.monetary, Membership.churn_risk, Membership.action,
               Membership.country)
SHOP_FIELDS = ("id", "email", "first_name", "last_name", "city", "country", "consent")


@dataclass
class Filters:
    """What the list is narrowed to; every value is checked against what exists."""

    segment: int | None = None  # an interest segment of the run; 0: customers in none
    type: str | None = None
    risk: bool | None = None
    action: str | None = None
    country: str | None = None
    last: str | None = None
    sort: str = DEFAULT_SORT
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args, run: Run) -> "Filters":
        found = cls()
        segment = (args.get("segment") or "").strip()
        if segment:
            ids = {s.id for s in figures.segments_of(run)}
            if segment == "none":
                found.segment = 0
            elif segment.isdigit() and int(segment) in ids:
                found.segment = int(segment)
            else:
                found.problems.append(f"There is no segment {segment!r} in the current analysis; "
                                      "showing every segment.")
        found.type = found._one_of(args, "type", VALUE_TYPES, "Unknown customer type {!r}; showing every type.")
        risk = (args.get("risk") or "").strip()
        if risk in ("yes", "no"):
            found.risk = risk == "yes"
        found.action = found._one_of(args, "action", ACTIONS, "Unknown recommendation {!r}; showing every one.")
        country = (args.get("country") or "").strip()[:64]
        found.country = country or None
        found.last = found._one_of(args, "last", LAST_ORDER_LABELS,
                                   "Unknown last-order choice {!r}; showing every customer.")
        sort = (args.get("sort") or "").strip()
        found.sort = sort if sort in SORTS else DEFAULT_SORT
        return found

    def _one_of(self, args, name: str, allowed, problem: str) -> str | None:
        """The argument when it is one of ``allowed``; otherwise none, and the problem noted for the page."""
        value = (args.get(name) or "").strip()
        if value and value not in allowed:
            self.problems.append(problem.format(value))
        return value if value in allowed else None

    def args(self, **changes) -> dict:
        """The query string of these filters (with ``changes``), empty values left out."""
        values = {"segment": ("none" if self.segment == 0 else self.segment), "type": self.type,
                  "risk": None if self.risk is None else ("yes" if self.risk else "no"), "action": self.action,
                  "country": self.country, "last": self.last,
                  "sort": None if self.sort == DEFAULT_SORT else self.sort}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.segment, self.type, self.risk, self.action, self.country, self.last))

    def conditions(self, run: Run) -> list:
        found = [Membership.run_id == run.id]
        if self.sort == "recent":
            found.append(Membership.recency_days.is_not(None))
        if self.segment == 0:
            found.append(Membership.segment_id.is_(None))
        elif self.segment is not None:
            found.append(Membership.segment_id == self.segment)
        if self.type:
            found.append(Membership.value_type == self.type)
        if self.risk is not None:
            # "= true", not "IS TRUE": MariaDB reads an index range for the first only
            found.append(Membership.churn_risk == (sa.true() if self.risk else sa.false()))
        if self.action:
            found.append(Membership.action == self.action)
        if self.country:
            found.append(Membership.country == self.country)
        if self.last and self.country:  # one range of the country index
            found.append(Membership.last_order == LAST_ORDER_CODES[self.last])
        elif self.last == "never":
            found.append(Membership.recency_days.is_(None))
        elif self.last:  # a range of the recency indexes (the same customers as the bucket)
            low, high = LAST_ORDER[self.last]
            if low is not None:
                found.append(Membership.recency_days > low)
            if high is not None:
                found.append(Membership.recency_days <= high)
        return found

    def cube_filter(self) -> dict | None:
        """The same filter on the run's cube, when the cube can answer it (not by country)."""
        if self.country:
            return None
        where: dict = {}
        if self.last:
            where["last"] = self.last
        elif self.sort == "recent":
            where["last"] = tuple(LAST_ORDER)
        if self.segment is not None:
            where["segment_id"] = None if self.segment == 0 else self.segment
        if self.type:
            where["value_type"] = self.type
        if self.risk is not None:
            where["churn_risk"] = self.risk
        if self.action:
            where["action"] = self.action
        return where


@dataclass
class Listing:
    rows: list[dict]
    page: Page
    revenue: float | None  # the spend of everyone listed (when the cube knows it)


def count(run: Run, filters: Filters) -> tuple[int, float | None]:
    where = filters.cube_filter()
    if where is not None:
        total = cube(run).total(**where)
        return total.customers, total.revenue
    return db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                             .where(*filters.conditions(run))), None


def listing(run: Run, filters: Filters, page_number: int, page_size: int, reader: ShopReader) -> Listing:
    total, revenue = count(run, filters)
    page = Page(max(1, min(page_number, max(1, -(-total // page_size)))), page_size, total)
    # A page past the middle is read from the other end of the index: the last page skips as few
    # entries as the first.
    reverse = page.offset > total // 2 and (filters.sort != "value" or has_index(run))
    offset = max(0, total - page.offset - page.size) if reverse else page.offset
    size = min(page.size, total - page.offset) if reverse else page.size
    picked = (sa.select(Membership.customer_id).where(*filters.conditions(run))
              .order_by(*order_by(filters.sort, reverse, run)).limit(max(size, 0)).offset(offset).subquery())
    rows = db.session.execute(sa.select(*ROW_COLUMNS).join(picked, picked.c.customer_id == Membership.customer_id)
                              .where(Membership.run_id == run.id).order_by(*order_by(filters.sort, run=run))).all()
    shop = reader.customers([r.customer_id for r in rows], columns=SHOP_FIELDS)
    email = statuses(shop.values())
    return Listing([{**r._asdict(), "shop": shop.get(r.customer_id), "email": email.get(r.customer_id)} for r in rows],
                   page, revenue)


def countries(groups: dict) -> list[tuple[str, int]]:
    """The countries of the run's customers, most customers first (from the stored groups)."""
    found = []
    for row in groups.get("country") or []:
        code = (row.get("key") or [""])[0]
        if code and not code.startswith("("):  # not "(unknown)" or "(other)"
            found.append((str(code), int(row.get("customers") or 0)))
    return sorted(found, key=lambda kv: -kv[1])
