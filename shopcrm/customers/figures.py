"""The run's customers counted every way the panel groups them, once per run and process.

A run's memberships do not change once it is stored (only "assign new" adds the newest
sign-ups), so the counts and revenue by interest segment, value type, recommended action, churn
risk and "ever bought" are one GROUP BY over the run, kept for ``CUBE_SECONDS``: the dashboard,
the segment pages and the group pages then read a few hundred cells instead of 100k rows.
Other figures that cost a query are kept briefly the same way (``kept``), per process.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import sqlalchemy as sa

from ..extensions import db
from ..models import Membership, Run
from ..state import app_state

T = TypeVar("T")
CUBE_SECONDS = 600


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
    bought: bool
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


def _count(run_id: int) -> Cube:
    bought = (Membership.frequency > 0).label("bought")
    rows = db.session.execute(
        sa.select(Membership.segment_id, Membership.value_type, Membership.action, Membership.churn_risk, bought,
                  sa.func.count(), sa.func.coalesce(sa.func.sum(Membership.monetary), 0))
        .where(Membership.run_id == run_id)
        .group_by(Membership.segment_id, Membership.value_type, Membership.action, Membership.churn_risk, bought))
    return Cube(run_id, [Cell(None if s is None else int(s), v, a, bool(c), bool(b), int(n), float(m))
                         for s, v, a, c, b, n, m in rows])


def cube(run: Run) -> Cube:
    """The run's cube, counted at most once every ``CUBE_SECONDS`` per process."""
    return kept().get(("cube", run.id), CUBE_SECONDS, lambda: _count(run.id))
