"""What the dashboard tells the owner to do today, and how the shop moves: figures from the stored
run and the outbox, plus the one live figure the run cannot know (the carts open right now).

Every figure is a bounded read: the run's counts and stored charts, the run's cube
(``figures.cube``), an indexed look-up per best customer in the outbox, and the cart lines of the
last days in the shop. The ones that cost a query are kept for a minute per process, and the
shop's figure degrades to a sentence when the shop cannot answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from babel.dates import format_date

from ..clock import shop_now, to_display, utcnow
from ..extensions import db
from ..formatting import babel_locale, day
from ..models import Insight, Membership, Message, Run, Trigger
from ..vocab import TRIGGER_KINDS
from .figures import Total, kept
from .reader import ShopReader
from .shop_reads import OpenCarts

KEEP_SECONDS = 60
NOT_MAILED_DAYS = 30


def previous_run(run: Run) -> Run | None:
    """The successful run before ``run``: what its figures are compared with."""
    return db.session.scalars(sa.select(Run).where(Run.status == "succeeded", Run.kind == "segmentation",
                                                   Run.id < run.id).order_by(Run.id.desc()).limit(1)).first()


@dataclass(frozen=True)
class Trend:
    key: str
    label: str
    value: float | None
    previous: float | None
    money: bool
    compared_with: str  # "September 2026", "the analysis of 4 Nov"
    help: str = ""
    up_is_good: bool = True

    @property
    def change(self) -> float | None:
        """The relative change (0.12 = 12 % up); ``None`` when there is nothing to compare."""
        if self.value is None or not self.previous:
            return None
        return (self.value - self.previous) / self.previous


def month_name(month: str) -> str:
    """``2026-10`` → ``October 2026`` (in the shop's language)."""
    year, number = (int(x) for x in month.split("-"))
    return format_date(date(year, number, 1), "LLLL y", locale=babel_locale())


def trends(run: Run, sales: list[dict], summary: dict, previous: Run | None, previous_summary: dict) -> list[Trend]:
    """Last complete month against the month before (from the run's stored sales), and the run's
    customer counts against the previous run's."""
    found: list[Trend] = []
    complete = sales[:-1]
    if len(complete) >= 2:
        last, before = complete[-1], complete[-2]
        found.append(Trend("revenue", f"Revenue in {month_name(last['month'])}", last["revenue"], before["revenue"],
                           True, month_name(before["month"]), "Orders the shop counts as sold, whole month."))
        found.append(Trend("orders", f"Orders in {month_name(last['month'])}", last["orders"], before["orders"],
                           False, month_name(before["month"])))
    counts, before_counts = run.counts or {}, (previous.counts or {}) if previous else {}
    since = f"the analysis of {day(to_display(previous.finished_at))}" if previous and previous.finished_at else ""
    found.append(Trend("buyers", f"Customers who bought in the last {summary.get('window_days', 365)} days",
                       summary.get("buyers_in_window"), previous_summary.get("buyers_in_window"), False, since))
    found.append(Trend("customers", "Customers", counts.get("customers"), before_counts.get("customers"), False, since))
    found.append(Trend("churn", "At risk of leaving", counts.get("churn_risk"), before_counts.get("churn_risk"),
                       False, since, "Used to buy regularly, quiet for longer than usual. Fewer is better.",
                       up_is_good=False))
    return found


def stored_documents(run: Run | None, names: tuple[str, ...]) -> dict:
    return Insight.several(run.id, names) if run is not None else {}


def average_order(sales: list[dict], months: int = 12) -> float | None:
    """The average order's value over the last complete months (from the run's stored sales)."""
    recent = sales[:-1][-months:]
    orders = sum(m["orders"] for m in recent)
    return round(sum(m["revenue"] for m in recent) / orders, 2) if orders else None


def _not_mailed(run_id: int, value_types: tuple[str, ...], days: int) -> Total:
    since = utcnow() - timedelta(days=days)
    mailed = (sa.select(sa.literal(1)).select_from(Message)
              .where(Message.customer_id == Membership.customer_id, Message.state == "sent",
                     Message.sent_at >= since))
    count, revenue = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Membership.monetary), 0))
        .where(Membership.run_id == run_id, Membership.value_type.in_(value_types), ~mailed.exists())).one()
    return Total(int(count), float(revenue))


def not_mailed(run: Run, value_types: tuple[str, ...] = ("high_value",), days: int = NOT_MAILED_DAYS) -> Total:
    """Customers of these value types who got no e-mail in the last ``days`` (kept a minute)."""
    return kept().get(("not_mailed", run.id, value_types, days), KEEP_SECONDS,
                      lambda: _not_mailed(run.id, value_types, days))


@dataclass(frozen=True)
class CartFigure:
    carts: OpenCarts | None
    problem: str | None  # why the shop could not tell (None: it did)


def open_carts(days: float) -> CartFigure:
    """Carts open in the last ``days`` and their value, read from the shop (kept a minute)."""
    def count() -> CartFigure:
        problems: list[str] = []
        reader = ShopReader(problems.append)
        try:
            carts = reader.open_carts(shop_now() - timedelta(days=days))
        finally:
            reader.close()
        return CartFigure(carts, problems[0] if problems else None)

    return kept().get(("open_carts", days), KEEP_SECONDS, count)


def triggers_on() -> dict[str, bool]:
    """Which automatic e-mails are switched on (a kind not set up yet is off)."""
    found = dict(db.session.execute(sa.select(Trigger.kind, Trigger.enabled)).all())
    return {kind: bool(found.get(kind)) for kind in TRIGGER_KINDS}


def trigger_param(kind: str, key: str, default):
    params = db.session.scalar(sa.select(Trigger.params).where(Trigger.kind == kind))
    return (params or {}).get(key, default)


def as_of_text(run: Run) -> datetime | None:
    return run.as_of or run.finished_at
