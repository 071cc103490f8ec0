"""A backtest a shop owner can run on their own history: would shopcrm have picked the right customers?

``flask shopcrm backtest --as-of DATE [--horizon DAYS] [--top PERCENT]`` goes back to DATE,
re-runs the analyses on the shop's orders before it, and compares with what the customers did
in the horizon after it (90 days by default, ``SHOPCRM_PREDICTION_HORIZON_DAYS``):

* **value** — the share of the horizon's revenue (of the customers who had bought before DATE)
  bought by the top customers picked by (a) the expected value of the lifetime models, (b) the
  "High value" type, (c) the RFM sum, and (d) the future itself (the ceiling no ranking can
  beat). All pick the same number of customers: as many as the "High value" type held then,
  or ``--top`` per cent of the buyers. A type is a group, not an order: where it holds more or
  fewer customers than the places, the result is what a random pick among its members (or
  among the rest) gives on average (``mining.backtest.top_share``);
* **churn** — the AUC of each churn ranking against "did not buy again in the horizon": the
  chance that, of a customer who left and one who came back, the ranking puts the one who
  left higher (50 % is a coin toss). The run picks the best, never one below "days since the
  last purchase".

It reads the shop's customers and orders once (no views, no carts: only orders matter here)
and stores its report in ``crm_state`` (``backtest``) for the panel's Runs page.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from flask import current_app
from threadpoolctl import threadpool_limits

from ..clock import shop_now
from ..errors import NotEnoughData
from ..extensions import db
from ..mining import ValueTypeClassifier
from ..mining.backtest import top_share
from ..mining.forecast import check_past
from ..models import State
from ..shop import connect_shop, current_mapping
from ..shop.readers import read_customers, read_orders
from ..shop.schema import verify
from .backtest_report import STATE_NAME
from .mine import time_of_day
from .params import RunParams

VALUE_ROWS = ("expected_value", "high_value", "rfm", "ceiling")


@dataclass
class BacktestReport:
    """What a backtest found (JSON-ready through :meth:`to_dict`)."""

    as_of: datetime
    horizon_days: int
    customers: int  # had bought before as_of
    repeat_buyers: int
    bought_again: int  # of them, bought in the horizon
    revenue: float  # their revenue in the horizon
    places: int  # customers each value ranking picks
    places_from: str  # "high_value" (as many as the type held) or "top" (--top per cent)
    high_value: int  # customers of the "High value" type then
    capture: dict[str, float | None]  # VALUE_ROWS → share of the revenue (None: not available)
    aucs: dict[str, float | None]
    chosen: str
    skipped: dict[str, str] = field(default_factory=dict)
    lifetime: str = "fitted"  # or too_few_repeat_buyers, heavy_tailed_values
    min_repeat_buyers: int = 0
    seconds: float = 0.0
    made_at: datetime | None = None

    @property
    def until(self) -> datetime:
        return self.as_of + timedelta(days=self.horizon_days)

    @property
    def churned(self) -> int:
        return self.customers - self.bought_again

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["as_of"], data["made_at"] = self.as_of.isoformat(), self.made_at.isoformat() if self.made_at else None
        data["until"] = self.until.isoformat()
        return data


def _plain(value) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def _start(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


def _too_early(conn, mapping, as_of: datetime) -> NotEnoughData:
    """Nobody had ordered before the date: say when the shop's first order was placed."""
    order = mapping.source("order", ("placed_at",))
    first = conn.execute(sa.select(sa.func.min(order.c.placed_at))).scalar()
    hint = ""
    if first is not None:
        first = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
        hint = f"; the shop's first order was placed on {first:%Y-%m-%d}: choose a later --as-of"
    return NotEnoughData(f"no customer had ordered before {as_of:%Y-%m-%d}, so there is nothing to backtest{hint}")


def run_backtest(as_of: date | datetime, horizon_days: int | None = None,
                 top_percent: float | None = None) -> BacktestReport:
    """Backtest as of ``as_of`` over the following horizon; the report is stored (committed)."""
    started = time.perf_counter()
    config = current_app.config
    params = RunParams.from_config(config)
    horizon = int(horizon_days or params.prediction_horizon_days)
    if horizon < 1:
        raise NotEnoughData("the horizon must be at least one day")
    if top_percent is not None and not 0 < top_percent <= 100:
        raise NotEnoughData(f"--top must be a share of the buyers above 0 and at most 100 (per cent), "
                            f"not {top_percent:g}")
    as_of = _start(as_of).replace(microsecond=0)
    end = as_of + timedelta(days=horizon)
    now = shop_now()
    if end > now:
        latest = (now - timedelta(days=horizon)).date()
        raise NotEnoughData(f"the {horizon} days after {as_of:%Y-%m-%d} end on {end:%Y-%m-%d}, after today "
                            f"({now:%Y-%m-%d}): there is nothing yet to check against. Choose --as-of {latest} "
                            "or earlier, or a shorter --horizon.")
    with connect_shop() as conn:
        mapping = current_mapping()
        verify(conn, mapping)
        customers = read_customers(conn, mapping, end)
        orders, _ = read_orders(conn, mapping, end, customers["ids"])
        n = len(customers["ids"])
        if not (orders.age_days >= horizon).any():
            raise _too_early(conn, mapping, as_of)
    with threadpool_limits(limits=params.threads):  # the run's cap: a cron job beside a web shop stays gentle
        past = check_past(orders.customer, orders.age_days, orders.total, n, horizon_days=horizon,
                          as_of_time_of_day=time_of_day(end), window_days=params.orders.window_days,
                          growth_days=params.orders.growth_days, min_repeat_buyers=params.min_repeat_buyers,
                          random_state=params.random_state)
        # Seed 004's types as of the date: account ages then (customers who signed up later are not
        # buyers then, so they do not count either way).
        history = dataclasses.replace(past.history, account_age_days=customers["age_days"] - horizon)
        types = ValueTypeClassifier(new_days=params.new_days, growth_days=params.orders.growth_days,
                                    growth_ratio=params.growth_ratio, window_days=params.orders.window_days,
                                    random_state=params.random_state).fit_predict(history)
    buyers = past.buyers
    high_value = int((types[buyers] == "high_value").sum())
    if top_percent is not None:
        places, places_from = int(round(top_percent / 100.0 * buyers.sum())), "top"
    else:
        places, places_from = high_value, "high_value"
    revenue = past.revenue[buyers]
    scores = {"expected_value": past.value_scores.get("expected_value"),
              "high_value": (types == "high_value").astype(np.float64), "rfm": past.value_scores["rfm"],
              "ceiling": past.revenue}
    capture = {name: (_plain(top_share(score[buyers], revenue, count=places)) if score is not None else None)
               for name, score in scores.items()}
    report = BacktestReport(
        as_of=as_of, horizon_days=horizon, customers=past.customers,
        repeat_buyers=past.models.repeat_buyers if past.models else 0,
        bought_again=int((buyers & past.bought_again).sum()), revenue=round(float(revenue.sum()), 2),
        places=places, places_from=places_from, high_value=high_value, capture=capture,
        aucs={k: _plain(v) for k, v in past.aucs.items()}, chosen=past.chosen, skipped=dict(past.skipped),
        lifetime=past.models.status if past.models else "too_few_repeat_buyers",
        min_repeat_buyers=params.min_repeat_buyers, made_at=now)
    report.seconds = round(time.perf_counter() - started, 2)
    State.write(STATE_NAME, report.to_dict())
    db.session.commit()
    return report
