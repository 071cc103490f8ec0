"""Who comes first: a run's customers ranked the way its backtest says works for this shop.

Each run compares, on the shop's own past, how much of the next horizon's revenue the top
buyers by **expected value** caught against the top buyers by the **RFM sum**
(``quality["value_ranking"]``, see ``mining.forecast``). Expected value wins unless the RFM
sum caught more, or the shop had too few repeat buyers for the models (then there is no
expected value). Everything that lists "the best customers first" asks here:

* :func:`member_order` — the ORDER BY for a run's memberships (the panel's value-type
  segments list their members with it);
* :func:`predicted_top` — the condition "among the top N % of the run's buyers" (the campaign
  target ``predicted_top_percent``, "predicted best customers").

Both are plain SQL on ``crm_membership``, on the two databases shopcrm runs on (MariaDB/MySQL
and SQLite), which both sort NULL below every number: a descending order puts the customers
without a figure last by itself, with no NULLS LAST (which MariaDB lacks) and no NULL test in
front, so the expected-value order is a range of ``ix_crm_membership_run_type_value`` read
backwards (a customer type's members, best first) or forwards (``reverse``: its last page).
"""
from __future__ import annotations

import math

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Membership, Run

#: What a run without a recorded choice (made before this version) is ranked by.
DEFAULT_RANKING = "rfm"


def value_ranking(run: Run) -> str:
    """``expected_value`` or ``rfm``: how this run's customers are ranked."""
    chosen = ((run.quality or {}).get("value_ranking") or {}).get("chosen")
    return chosen if chosen in ("expected_value", "rfm") else DEFAULT_RANKING


def _rfm_sum():
    return Membership.rfm_r + Membership.rfm_f + Membership.rfm_m


def member_order(run: Run, reverse: bool = False) -> list:
    """ORDER BY clauses: the best customers first by the run's value ranking, customers
    without a figure (never bought) last, ties newest customer first (a stable page order).

    ``reverse`` gives the same order read from its end (the expected-value order only: the RFM
    sum is an expression no index holds, see :func:`has_index`)."""
    if value_ranking(run) == "expected_value":
        columns = (Membership.expected_value, Membership.customer_id)
        return [c.asc() if reverse else c.desc() for c in columns]
    return [Membership.rfm_r.is_(None), _rfm_sum().desc(), Membership.monetary.desc(), Membership.customer_id]


def has_index(run: Run) -> bool:
    """Whether :func:`member_order` of this run is a range of an index (and can be read backwards)."""
    return value_ranking(run) == "expected_value"


def predicted_top(run: Run, percent: float) -> sa.ColumnElement:
    """The top ``percent`` % of the run's buyers by its value ranking, as a condition on
    ``Membership`` (with the run's own ``run_id`` condition beside it).

    The cut is ``ceil(buyers × percent / 100)`` customers; customers tied with the last one
    (equal expected value; equal RFM sum and spend) are in too, so the group may be a little
    larger, never smaller.
    """
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be above 0 and at most 100, got {percent}")
    by_value = value_ranking(run) == "expected_value"
    known = Membership.expected_value.is_not(None) if by_value else Membership.rfm_r.is_not(None)
    buyers = db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                               .where(Membership.run_id == run.id, known))
    places = math.ceil(buyers * percent / 100.0 - 1e-9)
    if not places:
        return sa.false()
    inner = aliased(Membership)
    inner_keys = ([inner.expected_value] if by_value
                  else [inner.rfm_r + inner.rfm_f + inner.rfm_m, inner.monetary])
    inner_known = inner.expected_value.is_not(None) if by_value else inner.rfm_r.is_not(None)

    def at_cut(position: int):
        # The last place's figure, read by the database itself: a FLOAT column is compared with its
        # own value, never with a copy rounded on its way to Python and back.
        return (sa.select(inner_keys[position]).where(inner.run_id == run.id, inner_known)
                .order_by(*(k.desc() for k in inner_keys)).offset(places - 1).limit(1).scalar_subquery())

    if by_value:
        return sa.and_(known, Membership.expected_value >= at_cut(0))
    total, spend = at_cut(0), at_cut(1)
    return sa.and_(known, sa.or_(_rfm_sum() > total, sa.and_(_rfm_sum() == total, Membership.monetary >= spend)))
