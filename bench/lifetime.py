"""What the lifetime models cost and how much data they need.

    PYTHONPATH=. .venv/bin/python bench/lifetime.py [--customers 100000] [--repeat 5]
    PYTHONPATH=. .venv/bin/python bench/lifetime.py --minimum [--shops 100]
    PYTHONPATH=. .venv/bin/python bench/lifetime.py --cdnow

Default: BG/NBD and Gamma-Gamma fitted on simulated customers (CDNOW's parameters in days, ages
30 days to 2 years); the median fit and prediction times of ``--repeat`` runs and the peak
memory the fits allocate on top of their inputs (tracemalloc, which sees NumPy's buffers).

``--minimum``: the experiment behind ``MIN_REPEAT_BUYERS``. For shops of a given number of
repeat buyers (simulated from the models themselves), how far the fitted models' expected
90-day value per customer is from the value under the true parameters, and how often a fit runs
to a parameter bound.

``--cdnow``: the half-year churn and value backtests on the CDNOW sample (tests/data).
"""
from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from shopcrm.mining.backtest import churn_backtest, value_backtest
from shopcrm.mining.lifetime import (
    LOG_BOUND,
    BetaGeoModel,
    GammaGammaModel,
    expected_value,
)
from tests.support import cdnow
from tests.support.simulate import simulate_bgnbd, simulate_gamma_gamma

BGNBD_DAYS = (0.243, 4.414 * 7, 0.793, 2.426)  # CDNOW's fit, α from weeks to days
GAMMA_GAMMA = (6.25, 3.74, 15.44)
REPEAT_SHARE = 0.44  # of simulated customers with ages 30..730 days, about this share buys again


def shop(n: int, seed: int):
    T = np.random.default_rng(seed + 1000).uniform(30, 730, n)
    x, t_x, T = simulate_bgnbd(n, *BGNBD_DAYS, T, seed=seed)
    return x, t_x, T, simulate_gamma_gamma(x, *GAMMA_GAMMA, seed=seed + 5000)


def fit_both(x, t_x, T, m, minimum=None):
    kwargs = {} if minimum is None else {"min_repeat_buyers": minimum}
    return BetaGeoModel(**kwargs).fit(x, t_x, T), GammaGammaModel(**kwargs).fit(x, m)


def timing(customers: int, repeat: int) -> None:
    x, t_x, T, m = shop(customers, seed=1)
    print(f"{customers:,} customers, {int((x > 0).sum()):,} repeat buyers; medians of {repeat} runs")
    fits, bgnbd, gg, predict = [], [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        purchases = BetaGeoModel().fit(x, t_x, T)
        middle = time.perf_counter()
        values = GammaGammaModel().fit(x, m)
        end = time.perf_counter()
        expected_value(purchases, values, x, t_x, T, m, horizon=90.0)
        purchases.probability_alive(x, t_x, T)
        predict.append(time.perf_counter() - end)
        bgnbd.append(middle - start)
        gg.append(end - middle)
        fits.append(end - start)
    tracemalloc.start()
    purchases, values = fit_both(x, t_x, T, m)
    fit_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    held = tracemalloc.get_traced_memory()[0]
    expected_value(purchases, values, x, t_x, T, m, horizon=90.0)
    predict_peak = tracemalloc.get_traced_memory()[1] - held
    tracemalloc.stop()
    print(f"  fit BG/NBD {statistics.median(bgnbd):.3f} s, Gamma-Gamma {statistics.median(gg):.3f} s, "
          f"both {statistics.median(fits):.3f} s (min {min(fits):.3f}, max {max(fits):.3f})")
    print(f"  predict (expected 90-day value + P(alive)) {statistics.median(predict):.3f} s")
    print(f"  peak extra memory: fits {fit_peak / 1e6:.1f} MB, predictions {predict_peak / 1e6:.1f} MB "
          f"(inputs: 4 arrays of {x.nbytes / 1e6:.1f} MB)")
    print(f"  fitted r {purchases.r_:.4f} α {purchases.alpha_:.3f} a {purchases.a_:.4f} b {purchases.b_:.4f}; "
          f"p {values.p_:.3f} q {values.q_:.3f} γ {values.v_:.3f}")


def at_bound(model: BetaGeoModel, T) -> bool:
    scaled = np.log([model.r_, model.alpha_ / T.mean(), model.a_, model.b_])
    return bool(np.any(np.abs(scaled) > LOG_BOUND - 0.1))


def minimum(shops: int) -> None:
    truth_b, truth_g = BetaGeoModel(), GammaGammaModel()
    truth_b.r_, truth_b.alpha_, truth_b.a_, truth_b.b_ = BGNBD_DAYS
    truth_g.p_, truth_g.q_, truth_g.v_ = GAMMA_GAMMA
    truth_g.mean_value_ = GAMMA_GAMMA[0] * GAMMA_GAMMA[2] / (GAMMA_GAMMA[1] - 1)
    print(f"{shops} simulated shops per size; error = |fitted / true expected 90-day value − 1| per customer")
    print("repeat buyers | fits at a bound | customer error, median shop | 90th pct shop | shop total error p10..p90")
    for repeat in (25, 50, 100, 150, 200, 300, 400):
        bound, typical, total = 0, [], []
        for seed in range(shops):
            x, t_x, T, m = shop(int(repeat / REPEAT_SHARE), seed)
            purchases, values = fit_both(x, t_x, T, m, minimum=1)
            bound += at_bound(purchases, T)
            fitted = expected_value(purchases, values, x, t_x, T, m, horizon=90.0)
            true = expected_value(truth_b, truth_g, x, t_x, T, m, horizon=90.0)
            typical.append(np.median(np.abs(fitted / true - 1)))
            total.append(fitted.sum() / true.sum() - 1)
        print(f"{repeat:>13} | {bound / shops:>15.0%} | {np.median(typical):>26.1%} | "
              f"{np.quantile(typical, 0.9):>13.1%} | {np.quantile(total, 0.1):+.1%}..{np.quantile(total, 0.9):+.1%}")


def cdnow_backtests() -> None:
    customer, age, total = cdnow.purchases()
    for horizon in (91, 182):
        start = time.perf_counter()
        churn = churn_backtest(customer, age, total, cdnow.CUSTOMERS, horizon_days=horizon)
        value = value_backtest(customer, age, total, cdnow.CUSTOMERS, horizon_days=horizon)
        took = time.perf_counter() - start
        print(f"horizon {horizon} days ({took:.2f} s): {churn.churned} of {churn.customers} did not buy again")
        print("  churn AUC: " + ", ".join(f"{k} {v:.3f}" for k, v in churn.aucs.items()) + f"; chosen {churn.chosen}")
        print("  top 20 % revenue share: " + ", ".join(f"{k} {v:.3f}" for k, v in value.shares.items())
              + f"; ceiling {value.ceiling:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--minimum", action="store_true")
    parser.add_argument("--shops", type=int, default=100)
    parser.add_argument("--cdnow", action="store_true")
    args = parser.parse_args()
    if args.minimum:
        minimum(args.shops)
    elif args.cdnow:
        cdnow_backtests()
    else:
        timing(args.customers, args.repeat)


if __name__ == "__main__":
    main()
