"""The run's customers counted every way the panel groups them, once per run for every process.

A run's memberships do not change once it is stored (only "assign new" adds the newest
sign-ups), so the counts and revenue by interest segment, value type, recommended action, churn
risk and "ever bought" are one GROUP BY over the run (half a second at 100k customers), stored
in ``crm_state`` for every process and counted again after ``CUBE_SECONDS``: the dashboard, the
segment pages, the group pages and the customer list's counts then read a few hundred cells.
Each process also keeps what it read (``kept``) for ``READ_SECONDS``, as it keeps other figures
that cost a query.
"""
from __future__ import annotations

import threading
import time
from dataclasses import astuple, dataclass
from datetime import timedelta
from typing import Any, Callable, TypeVar

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Insight, Membership, Run, Segment, State
from ..state import app_state
from ..vocab import LAST_ORDER

T = TypeVar("T")
CUBE_SECONDS = 600  # counted again after this (assign-new adds customers to a stored run)
READ_SECONDS = 30  # a process reads the stored cube again after this
STATE_PREFIX = "panel_cube2:"  # (the version of the cells' layout)


class Kept:
    """Figures kept by the process that computed them, each for its own number of seconds."""

    def __init__(self):
        self.items: dict[Any, tuple[float, Any]] = {}
        self.lock = threading.Lock()

    def get(self, key, seconds: float, compute: Callable[[], T]) -> T:
        with self.lock:
            found = self.items.get(key)
        if found is not None and time.monotonic() - found[0] < seconds:
            return found[1]
        started = time.monotonic()
        value = compute()
        with self.lock:
            self.items[key] = (started, value)
        return value

    def forget(self, prefix: str | None = None) -> None:
        with self.lock:
            if prefix is None:
                self.items.clear()
            else:
                for key in [k for k in self.items if isinstance(k, tuple) and k[0] == prefix]:
                    del self.items[key]


def kept() -> Kept:
    state = app_state()
    if state.panel_figures is None:
        state.panel_figures = Kept()
    return state.panel_figures


@dataclass(frozen=True)
class Cell:
    segment_id: int | None
    value_type: str
    action: str | None
    churn_risk: bool
    bought: bool  # ordered in the run's value window
    last: str  # when the last order was: a key of LAST_ORDER ("never": no order at all)
    customers: int
    revenue: float  # spend in the run's value window


@dataclass(frozen=True)
class Total:
    customers: int = 0
    revenue: float = 0.0

    def __add__(self, other: "Total") -> "Total":
        return Total(self.customers + other.customers, self.revenue + other.revenue)


class Cube:
    """Customers and their revenue by (segment, value type, action, churn risk, bought)."""

    def __init__(self, run_id: int, cells: list[Cell]):
        self.run_id, self.cells = run_id, cells

    def total(self, **where) -> Total:
        """Everyone matching ``where`` (field=value, or field=tuple of values)."""
        result = Total()
        for cell in self.cells:
            if all(getattr(cell, k) in v if isinstance(v, (tuple, list, set)) else getattr(cell, k) == v
                   for k, v in where.items()):
                result = result + Total(cell.customers, cell.revenue)
        return result

    def by(self, field: str, **where) -> dict[Any, Total]:
        found: dict[Any, Total] = {}
        for cell in self.cells:
            if all(getattr(cell, k) == v for k, v in where.items()):
                key = getattr(cell, field)
                found[key] = found.get(key, Total()) + Total(cell.customers, cell.revenue)
        return found


def last_order_bucket():
    """The LAST_ORDER key of a membership, as SQL."""
    days = Membership.recency_days
    upper = [(days <= high, key) for key, (_, high) in LAST_ORDER.items() if high is not None]
    return sa.case((days.is_(None), "never"), *upper, else_="older").label("last")


def _count(run_id: int) -> Cube:
    bought = (Membership.frequency > 0).label("bought")
    last = last_order_bucket()
    rows = db.session.execute(
        sa.select(Membership.segment_id, Membership.value_type, Membership.action, Membership.churn_risk, bought, last,
                  sa.func.count(), sa.func.coalesce(sa.func.sum(Membership.monetary), 0))
        .where(Membership.run_id == run_id)
        .group_by(Membership.segment_id, Membership.value_type, Membership.action, Membership.churn_risk, bought,
                  last))
    return Cube(run_id, [Cell(None if s is None else int(s), v, a, bool(c), bool(b), str(w), int(n), float(m))
                         for s, v, a, c, b, w, n, m in rows])


def _stored_or_counted(run_id: int) -> Cube:
    name = f"{STATE_PREFIX}{run_id}"
    row = State.read(name)
    if row is not None and row.updated_at > utcnow() - timedelta(seconds=CUBE_SECONDS):
        return Cube(run_id, [Cell(*cell) for cell in row.data["cells"]])
    counted = _count(run_id)
    try:
        State.write(name, {"cells": [astuple(c) for c in counted.cells]})
        db.session.execute(sa.delete(State).where(State.name.like(f"{STATE_PREFIX}%"), State.name != name))
        db.session.commit()
    except sa.exc.SQLAlchemyError:  # another process stored it at the same moment: theirs is as good
        db.session.rollback()
    return counted


def cube(run: Run) -> Cube:
    """The run's cube: stored for every process, counted at most once every ``CUBE_SECONDS``."""
    return kept().get(("cube", run.id), READ_SECONDS, lambda: _stored_or_counted(run.id))


@dataclass(frozen=True)
class SegmentRow:
    """What the lists show of an interest segment (no centroid): kept per process like the cube."""

    id: int
    label: int
    name: str
    size: int
    top: list


def segments_of(run: Run) -> list[SegmentRow]:
    """The run's interest segments, by label (a run's segments never change)."""
    def read() -> list[SegmentRow]:
        rows = db.session.execute(sa.select(Segment.id, Segment.label, Segment.name, Segment.size, Segment.top)
                                  .where(Segment.run_id == run.id).order_by(Segment.label))
        return [SegmentRow(int(i), int(label), name, int(size or 0), top or []) for i, label, name, size, top in rows]

    return kept().get(("segments", run.id), CUBE_SECONDS, read)


def stored_document(run: Run, name: str):
    """One of the run's stored documents (``crm_insight``), kept per process (they never change)."""
    return kept().get(("insight", run.id, name), CUBE_SECONDS, lambda: Insight.of(run.id, name))


def stored_documents(run: Run, names: tuple[str, ...]) -> dict:
    """Several of the run's stored documents by name (those that exist), read in one query and kept."""
    return kept().get(("insights", run.id, names), CUBE_SECONDS, lambda: Insight.several(run.id, names))
