"""``flask shopcrm backtest``: would shopcrm have picked the right customers on this shop's own past?"""
from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app

from ..clock import shop_now
from ..formatting import day, money, number, percent
from ..vocab import CHURN_RANKING_LABELS, VALUE_RANKING_LABELS
from . import friendly_errors, parse_datetime, shopcrm_group

WIDTH = 50  # the label column of the two tables


def _share(value) -> str:
    return "not available" if value is None else percent(value)


def report_lines(report) -> list[str]:
    """The backtest in a shop owner's words: two small aligned tables, no raw figures."""
    r = report
    lines = [f"Backtest as of {day(r.as_of)}: the analyses re-run on the orders placed before that day, "
             f"checked against the {r.horizon_days} days after it (to {day(r.until)}).",
             f"{number(r.customers)} customers had bought before {day(r.as_of)}, {number(r.repeat_buyers)} of them "
             f"more than once. In the {r.horizon_days} days after, {number(r.bought_again)} of them bought again "
             f"({percent(r.bought_again / r.customers if r.customers else 0)}) and spent {money(r.revenue)}.", ""]
    why = (f"as many as the {VALUE_RANKING_LABELS['high_value']} held then" if r.places_from == "high_value"
           else "the share asked with --top")
    lines += [f"Who spends most in the next {r.horizon_days} days? The share of that revenue bought by the top "
              f"{number(r.places)} customers ({percent(r.places / r.customers if r.customers else 0)} of the buyers, "
              f"{why}):",
              f"  {'picked by':<{WIDTH}} {'share of the revenue':>20}"]
    for name, share in r.capture.items():
        lines.append(f"  {VALUE_RANKING_LABELS[name]:<{WIDTH}} {_share(share):>20}")
    if r.lifetime != "fitted":
        lines.append(f"  (no predicted value: {r.skipped.get('expected_value', r.lifetime)})")
    lines += ["", f"Who stops buying? Of a customer who did not buy again in the {r.horizon_days} days and one who "
                  f"did, how often each churn score puts the one who left higher ({percent(0.5, 0)} is a coin toss):",
              f"  {'churn score':<{WIDTH}} {'right':>20}"]
    for name, label in CHURN_RANKING_LABELS.items():
        if name in r.aucs:
            value = r.aucs[name]
            tag = "  the baseline" if name == "days_since_last" else ""
            tag += "  ← chosen: a run would use this one" if name == r.chosen else ""
            lines.append(f"  {label:<{WIDTH}} {_share(value):>20}{tag}")
        elif name in r.skipped:
            lines.append(f"  {label:<{WIDTH}} {'not built':>20}  ({r.skipped[name]})")
    lines += ["", f"Took {r.seconds:.1f} s. The panel's Runs page shows this backtest."]
    return lines


@shopcrm_group.command("backtest")
@click.option("--as-of", "as_of_text",
              help="The past date to go back to (default: the horizon before today, the latest that can be "
                   "checked).")
@click.option("--horizon", "horizon_days", type=click.IntRange(1, 3650),
              help="Days after that date to check against (default: SHOPCRM_PREDICTION_HORIZON_DAYS, 90).")
@click.option("--top", "top_percent", type=click.FloatRange(0, 100, min_open=True),
              help="Compare the top PERCENT of buyers (default: as many as the “High value” type held).")
@friendly_errors
def backtest_command(as_of_text, horizon_days, top_percent):
    """Re-run the analyses as of a past date and check them against what the customers did next."""
    from ..segmentation.backtest import run_backtest

    as_of = parse_datetime(as_of_text)
    if as_of is None:
        horizon = horizon_days or current_app.config["SHOPCRM_PREDICTION_HORIZON_DAYS"]
        as_of = (shop_now() - timedelta(days=horizon)).replace(hour=0, minute=0, second=0, microsecond=0)
    report = run_backtest(as_of, horizon_days=horizon_days, top_percent=top_percent)
    for line in report_lines(report):
        click.echo(line)
