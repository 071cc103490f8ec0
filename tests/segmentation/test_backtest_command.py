"""`flask shopcrm backtest`: the analyses re-run as of a past date on the demo shop, checked against
the horizon after it, reported in an owner's words and kept for the Runs page."""
import re
from datetime import date, datetime, timedelta

import pytest

from shopcrm.mining.backtest import top_share
from shopcrm.mining.forecast import check_past
from shopcrm.models import State
from shopcrm.segmentation.backtest import run_backtest
from shopcrm.segmentation.backtest_report import STATE_NAME, last_backtest
from shopcrm.segmentation.extract import extract
from shopcrm.shop import connect_shop, current_mapping
from shopcrm.vocab import CHURN_RANKING_LABELS, VALUE_RANKING_LABELS
from tests.support.apps import DEMO_NOW

AS_OF = "2026-08-03"  # 90 days before the demo shop's last day


def backtest(app, *options):
    return app.test_cli_runner().invoke(args=["shopcrm", "backtest", *options])


def percentages(line: str) -> list[float]:
    return [float(x) / 100 for x in re.findall(r"(\d+\.\d)%", line)]


def test_the_backtest_reports_value_and_churn_in_an_owners_words(app):
    result = backtest(app, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Traceback" not in out and "{" not in out and "nan" not in out.lower()  # no raw dicts, no NaN
    assert out.startswith("Backtest as of 3 Aug 2026: the analyses re-run on the orders placed before that day, "
                          "checked against the 90 days after it (to 1 Nov 2026).")
    lines = out.splitlines()
    value = {label: next(percentages(line) for line in lines if line.startswith(f"  {label} "))
             for label in VALUE_RANKING_LABELS.values()}
    shares = {name: value[label][0] for name, label in VALUE_RANKING_LABELS.items()}
    assert all(0 < s <= shares["ceiling"] for s in shares.values())
    assert shares["expected_value"] > shares["high_value"]  # the predicted value beats the type on the demo shop
    churn = {name: percentages(line) for name, label in CHURN_RANKING_LABELS.items()
             for line in lines if line.startswith(f"  {label} ")}
    assert set(churn) == set(CHURN_RANKING_LABELS)
    chosen = next(name for name, label in CHURN_RANKING_LABELS.items() if any(
        line.startswith(f"  {label} ") and "← chosen" in line for line in lines))
    assert churn[chosen][0] >= churn["days_since_last"][0]
    # The two tables are aligned: every figure ends in the same column.
    table = [line for line in lines if line.startswith("  ") and re.search(r"\d%", line)]
    assert len({line.index("%") for line in table}) == 1
    assert re.search(r"^Took \d+\.\d s\. The panel's Runs page shows this backtest\.$", out, re.M)


def test_the_figures_are_those_of_the_runs_own_backtest(app, demo_shop):
    """As of 90 days before the shop's end, the command checks what a run on that last day checks."""
    with app.app_context():
        report = run_backtest(datetime(2026, 8, 3), horizon_days=90)
        with connect_shop() as conn:
            ex = extract(conn, current_mapping(), DEMO_NOW)
    o = ex.orders
    past = check_past(o.customer, o.age_days, o.total, ex.n_customers, horizon_days=90)
    assert report.customers == past.customers and report.chosen == past.chosen
    assert report.aucs == {k: pytest.approx(v, abs=1e-4) for k, v in past.aucs.items()}
    buyers = past.buyers
    for name in ("expected_value", "rfm"):
        assert report.capture[name] == pytest.approx(
            top_share(past.value_scores[name][buyers], past.revenue[buyers], count=report.places), abs=1e-4)
    assert report.places_from == "high_value" and report.places == report.high_value > 50
    assert report.revenue == pytest.approx(past.revenue[buyers].sum(), abs=0.01)


def test_top_sets_the_number_of_customers_compared(app):
    with app.app_context():
        report = run_backtest(datetime(2026, 8, 3), top_percent=20)
    assert report.places_from == "top" and report.places == round(0.2 * report.customers)
    result = backtest(app, "--as-of", AS_OF, "--top", "20")
    assert f"top {report.places:,} customers (20.0% of the buyers, the share asked with --top)" in result.output


def test_the_last_backtest_is_kept_for_the_runs_page(app):
    with app.app_context():
        assert last_backtest() is None
    assert backtest(app, "--as-of", AS_OF, "--horizon", "60").exit_code == 0
    with app.app_context():
        stored = last_backtest()
        assert stored["as_of"] == "2026-08-03T00:00:00" and stored["horizon_days"] == 60
        assert stored["until"] == "2026-10-02T00:00:00" and State.read(STATE_NAME).updated_at is not None
        assert set(stored["capture"]) == {"expected_value", "high_value", "rfm", "ceiling"}
        assert stored["seconds"] > 0


@pytest.mark.parametrize("options, message", [
    (("--as-of", (date.today() + timedelta(days=10)).isoformat()), "after today"),
    (("--as-of", "2020-01-01"), "no customer had ordered before 2020-01-01"),
    (("--as-of", "yesterday"), "is not a date like 2026-11-01"),
    (("--as-of", AS_OF, "--top", "0"), "0<x<=100"),
])
def test_bad_dates_and_shares_are_clear_errors(app, options, message):
    result = backtest(app, *options)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_the_first_order_date_is_named_when_the_date_is_too_early(app):
    result = backtest(app, "--as-of", "2020-01-01")
    assert re.search(r"the shop's first order was placed on 20\d\d-\d\d-\d\d: choose a later --as-of", result.output)


def test_a_small_shop_backtest_says_there_is_no_predicted_value(make_app):
    app = make_app(SHOPCRM_MIN_REPEAT_BUYERS=100_000)
    result = backtest(app, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith(f"  {VALUE_RANKING_LABELS['expected_value']}"))
    assert "not available" in line
    assert "(no predicted value: too few repeat buyers for the BG/NBD model" in result.output
    assert "not built" in result.output  # the lifetime churn rankings, with the reason


def test_the_backtest_stays_inside_the_thread_cap(app, monkeypatch):
    from threadpoolctl import threadpool_info

    import shopcrm.segmentation.backtest as service

    seen = []
    real = service.check_past

    def spy(*args, **kwargs):
        seen.append(max(i["num_threads"] for i in threadpool_info()))
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "check_past", spy)
    with app.app_context():
        run_backtest(datetime(2026, 8, 3))
    assert seen == [1]
