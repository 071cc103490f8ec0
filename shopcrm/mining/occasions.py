"""Purchase occasions: from a run's plain order arrays to the inputs of the lifetime models.

The buy-till-you-die models (:mod:`.lifetime`) describe customers by three figures counted in
*purchase occasions*, not orders:

* ``frequency`` (x) — repeat occasions: occasions after the first one;
* ``recency`` (t_x) — time from the first occasion to the last one (0 when x = 0);
* ``T`` — time from the first occasion to the as-of date (the customer's age as a buyer);

and the Gamma-Gamma value model adds ``monetary_value``, the mean value of the *repeat*
occasions (the first one is left out, as Fader & Hardie do: it often differs in kind, e.g. a
welcome discount).

**An occasion is a customer's orders of one day** (the CDNOW convention: a second order the
same day is usually a forgotten item, not a second decision to buy). Its value is the sum of
those orders and its time is the time of the day's first order. Days are counted back from the
as-of instant using only the order ages; ``as_of_time_of_day`` (the as-of instant's time of day
as a fraction of a day, 0 = midnight) places the boundaries at midnight. Without it the "days"
are the 24-hour spans ending at the as-of instant.

A *cutoff* moves the as-of date ``cutoff_days`` back: orders younger than that are ignored and
ages are measured from the cutoff. This is how a backtest computes the figures "as of an
earlier date" and :func:`future_activity` counts what happened after it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LifetimeInputs:
    """Per-customer model inputs, all arrays of one length (one entry per customer).

    Times are in units of ``unit_days`` days (1: days, 7: weeks). Customers who had no order
    before the as-of date have ``T`` = NaN (they are not buyers yet; the models give them
    NaN) and frequency and recency 0.
    """

    frequency: np.ndarray  # x: repeat occasions
    recency: np.ndarray  # t_x: first to last occasion
    T: np.ndarray  # first occasion to as-of; NaN for customers who never bought
    monetary_value: np.ndarray  # mean value of the repeat occasions; NaN where x = 0
    spend: np.ndarray  # value of all occasions, the first included; 0 for non-buyers
    unit_days: float = 1.0

    def __len__(self) -> int:
        return len(self.T)

    @property
    def buyers(self) -> np.ndarray:
        return ~np.isnan(self.T)

    @property
    def days_since_last(self) -> np.ndarray:
        """Days from the last occasion to the as-of date; NaN for customers who never bought."""
        return (self.T - self.recency) * self.unit_days


def _check_orders(customer, age_days, total, n_customers):
    customer = np.asarray(customer)
    age_days = np.asarray(age_days, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    if not (len(customer) == len(age_days) == len(total)):
        raise ValueError(f"orders: customer, age_days and total must have one entry per order "
                         f"(got {len(customer)}, {len(age_days)}, {len(total)})")
    if len(customer) and (customer.min() < 0 or customer.max() >= n_customers):
        bad = customer[(customer < 0) | (customer >= n_customers)][0]
        raise ValueError(f"orders.customer: {bad} is not a customer row (0 to {n_customers - 1}); "
                         f"pass n_customers = the number of customers the rows index")
    for name, values in (("age_days", age_days), ("total", total)):
        if not np.isfinite(values).all():
            raise ValueError(f"orders.{name}: {values[~np.isfinite(values)][0]} is not a number; "
                             f"drop or fix those orders before computing lifetime inputs")
    return customer.astype(np.int64), age_days, total


def _occasions(customer, age_days, total, as_of_time_of_day):
    """Orders grouped into (customer, day) occasions: customer, age of the first order, value.

    Sorted by customer, oldest occasion first.
    """
    order = np.lexsort((-age_days, customer))
    c, age, value = customer[order], age_days[order], total[order]
    day = np.ceil(age - as_of_time_of_day)  # (d − 1, d]: a day runs from midnight (included) to midnight
    starts = np.ones(len(c), dtype=bool)
    if len(c):
        starts[1:] = (c[1:] != c[:-1]) | (day[1:] != day[:-1])
    first = np.flatnonzero(starts)
    values = np.add.reduceat(value, first) if len(first) else np.empty(0)
    return c[first], age[first], values


def lifetime_inputs(customer, age_days, total, n_customers: int, *, unit_days: float = 1.0,
                    cutoff_days: float = 0.0, as_of_time_of_day: float = 0.0) -> LifetimeInputs:
    """x, t_x, T and the mean repeat value per customer from plain order arrays.

    Parameters
    ----------
    customer : int row of the ordering customer, per order (``orders.customer``)
    age_days : days from the order to the as-of date, per order (``orders.age_days``)
    total : order total, per order (``orders.total``)
    n_customers : length of the per-customer outputs (customers without orders get NaN ``T``)
    unit_days : the time unit of the outputs in days (7 gives weeks)
    cutoff_days : compute as of this many days before the as-of date (orders placed after it
        are ignored); an order exactly at the cutoff counts as before it
    as_of_time_of_day : the as-of instant's time of day as a fraction of a day, so occasions
        are calendar days (see the module docstring)
    """
    customer, age_days, total = _check_orders(customer, age_days, total, n_customers)
    before = age_days >= cutoff_days
    c, age, value = _occasions(customer[before], age_days[before] - cutoff_days, total[before],
                               (as_of_time_of_day - cutoff_days) % 1.0)
    count = np.bincount(c, minlength=n_customers)
    buyers = count > 0
    first_age = np.full(n_customers, np.nan)
    last_age = np.full(n_customers, np.nan)
    first_value = np.zeros(n_customers)
    np.fmax.at(first_age, c, age)
    np.fmin.at(last_age, c, age)
    # Occasions are sorted oldest first within a customer: the first row of each block is the first occasion.
    block_start = np.ones(len(c), dtype=bool)
    block_start[1:] = c[1:] != c[:-1]
    first_value[c[block_start]] = value[block_start]
    spend = np.bincount(c, weights=value, minlength=n_customers)
    frequency = np.maximum(count - 1, 0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (spend - first_value) / frequency, np.nan)
    T = first_age / unit_days
    recency = np.where(buyers, (first_age - last_age) / unit_days, 0.0)
    return LifetimeInputs(frequency=frequency, recency=recency, T=T, monetary_value=monetary, spend=spend,
                          unit_days=float(unit_days))


def future_activity(customer, age_days, total, n_customers: int, *, cutoff_days: float, horizon_days: float,
                    as_of_time_of_day: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Purchase occasions and revenue per customer in the ``horizon_days`` after a cutoff.

    The window is the orders with ``cutoff_days > age_days >= cutoff_days - horizon_days``: it
    starts just after the cutoff (an order exactly at the cutoff belongs to the past, as in
    :func:`lifetime_inputs`). Returns (occasions, revenue), one entry per customer.
    """
    customer, age_days, total = _check_orders(customer, age_days, total, n_customers)
    inside = (age_days < cutoff_days) & (age_days >= cutoff_days - horizon_days)
    c, _, value = _occasions(customer[inside], age_days[inside], total[inside], as_of_time_of_day % 1.0)
    return (np.bincount(c, minlength=n_customers).astype(np.float64),
            np.bincount(c, weights=value, minlength=n_customers))
