"""The CDNOW sample (tests/data/README.md): the published per-customer summary and the raw purchases."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data"
CUSTOMERS = 2357
AS_OF = date(1998, 7, 1)  # the day after the 78 weeks of data
CALIBRATION_END = date(1997, 9, 30)  # the end of Fader, Hardie & Lee's 39-week calibration period
CALIBRATION_CUTOFF_DAYS = (AS_OF - CALIBRATION_END).days


def summary() -> dict[str, np.ndarray]:
    """x, t_x, T (weeks) and zbar (mean repeat purchase value, 0 without repeats) per customer."""
    table = np.genfromtxt(DATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True)
    return {name: np.asarray(table[name], dtype=np.float64) for name in ("x", "t_x", "T", "zbar")}


def purchases() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every purchase of the sample as (customer row, days before AS_OF, dollar value)."""
    raw = np.loadtxt(DATA / "CDNOW_sample.txt")
    customer = raw[:, 1].astype(np.int64) - 1  # the sample's own ids run 1..2357
    stamps = raw[:, 2].astype(np.int64)
    days = np.array([(AS_OF - date(int(s // 10000), int(s // 100 % 100), int(s % 100))).days for s in stamps])
    return customer, days.astype(np.float64), raw[:, 4]
