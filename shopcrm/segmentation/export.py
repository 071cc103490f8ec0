"""Per-customer results of a run as rows for a CSV file: one column set for every export.

``flask shopcrm export customers`` writes every customer of a run with these columns; the
panel's segment export can reuse them (``customer_rows(run, emails, segment_id=…)``). Rows
are plain strings, in :data:`EXPORT_COLUMNS` order, with an empty cell wherever a value does
not apply (a customer who never bought has no RFM scores, churn figures or predictions; a
shop with too few repeat buyers has no predictions at all). The value type and the action
are written as the panel shows them. The writer makes the cells formula-safe
(``customers.members.csv_safe``) and quotes every field.

Memberships are read a chunk at a time by customer id (keyset paging: the thousandth chunk
costs what the first does), and the e-mail addresses of a chunk are looked up in the shop
together: memory stays flat whatever the number of customers.
"""
from __future__ import annotations

from typing import Callable, Iterator

import sqlalchemy as sa

from ..dbutil import keyset_chunks
from ..extensions import db
from ..models import Membership, Run, Segment
from ..shop import queries as shopq
from ..shop.mapping import ShopMapping
from ..vocab import ACTION_LABELS, VALUE_TYPE_LABELS

EXPORT_COLUMNS = ("customer_id", "email", "segment", "value_type", "rfm_r", "rfm_f", "rfm_m", "churn_risk",
                  "churn_score", "p_alive", "expected_orders", "expected_value", "recommended_action")
CHUNK = 2000
Emails = Callable[[list[int]], dict[int, "str | None"]]

_FIELDS = (Membership.customer_id, Membership.segment_id, Membership.value_type, Membership.rfm_r, Membership.rfm_f,
           Membership.rfm_m, Membership.churn_risk, Membership.churn_score, Membership.p_alive,
           Membership.expected_orders, Membership.expected_value, Membership.action)


def shop_emails(conn: sa.Connection, mapping: ShopMapping) -> Emails:
    """E-mail addresses by customer id from the shop (a bounded query per chunk of ids)."""
    def lookup(ids: list[int]) -> dict[int, str | None]:
        found = shopq.customers_by_ids(conn, mapping, ids, columns=("id", "email"))
        return {customer_id: row.get("email") for customer_id, row in found.items()}
    return lookup


def _number(value, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _whole(value) -> str:
    return "" if value is None else str(int(value))


#: The figures every export carries after the customer type, with the names an owner reads in a
#: spreadsheet (the panel's segment export uses these; ``export customers`` the machine names).
FIGURE_HEADINGS = ("Recency score (1-5)", "Frequency score (1-5)", "Spend score (1-5)", "At risk of leaving",
                   "Risk score (0-1)", "Chance still a customer", "Expected orders (next period)",
                   "Expected spend (next period)", "Recommended action")
FIGURE_FIELDS = (Membership.rfm_r, Membership.rfm_f, Membership.rfm_m, Membership.churn_risk, Membership.churn_score,
                 Membership.p_alive, Membership.expected_orders, Membership.expected_value, Membership.action)


def figures(m) -> list[str]:
    """A membership's RFM scores, churn figures, predictions and action, as cells (empty where a
    value does not apply: a customer who never bought has none of them)."""
    bought = m.churn_score is not None
    return [_whole(m.rfm_r), _whole(m.rfm_f), _whole(m.rfm_m), ("yes" if m.churn_risk else "no") if bought else "",
            _number(m.churn_score, 4), _number(m.p_alive, 4), _number(m.expected_orders, 4),
            _number(m.expected_value, 2), ACTION_LABELS.get(m.action, (m.action or "").replace("_", " "))]


def row(m, email: str | None, segment: str | None) -> list[str]:
    """One customer's cells, in :data:`EXPORT_COLUMNS` order."""
    return [str(m.customer_id), email or "", segment or "", VALUE_TYPE_LABELS.get(m.value_type, m.value_type or ""),
            *figures(m)]


def customer_rows(run: Run, emails: Emails, segment_id: int | None = None,
                  chunk: int = CHUNK) -> Iterator[list[str]]:
    """The header, then one row per customer of ``run`` (of one segment, if given), by customer id."""
    yield list(EXPORT_COLUMNS)
    names = dict(db.session.execute(sa.select(Segment.id, Segment.name).where(Segment.run_id == run.id)).all())
    conditions: list = [Membership.run_id == run.id]
    if segment_id is not None:
        conditions.append(Membership.segment_id == segment_id)
    for part in keyset_chunks(db.session, sa.select(*_FIELDS).where(*conditions), Membership.customer_id, chunk):
        found = emails([m.customer_id for m in part])
        for m in part:
            yield row(m, found.get(m.customer_id), names.get(m.segment_id))

