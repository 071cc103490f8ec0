"""The Runs page's part about predictions and the last backtest (templates/admin/_backtest.html):
in the owner's words, figures as percentages, what a small shop cannot have said plainly."""
from datetime import datetime

import pytest

from shopcrm.formatting import percent
from shopcrm.segmentation.backtest import run_backtest
from tests.support.apps import create_user, logged_in
from tests.support.browser import browser, live_server, screenshot, sign_in


def runs_page(app, role="viewer"):
    client = logged_in(app, role=role)
    response = client.get("/crm/admin/runs")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_runs_page_says_what_the_run_predicts_and_that_there_is_no_backtest_yet(segmented_app):
    html = runs_page(segmented_app)
    assert "Predictions in the current run" in html
    assert "learnt from the 1,272 customers who bought more than once" in html
    assert "At risk of leaving" in html and "Tried on the shop's past, it put the customer who left above" in html
    assert "Best customers first:" in html and "ranked by <strong>Predicted value (lifetime model)" in html
    assert "No backtest yet" in html and "flask --app wsgi shopcrm backtest --as-of" in html
    assert "nan" not in html.lower() and "{'" not in html  # no raw figures or dicts


def test_the_last_backtest_is_shown_with_percentages(segmented_app):
    with segmented_app.app_context():
        report = run_backtest(datetime(2026, 8, 3))
    html = runs_page(segmented_app)
    assert "Last backtest" in html and "3 Aug 2026" in html and "1 Nov 2026" in html
    assert f"the top {report.places:,} customers" in html and "(as many as were “High value”)" in html
    with segmented_app.app_context():  # as the page writes them (the shop's locale)
        shares = [percent(share) for share in report.capture.values()]
        chosen = percent(report.aucs[report.chosen])
    assert all(f'<td class="num">{share}</td>' in html for share in shares)
    assert chosen in html and "← used" in html
    assert "(the baseline)" in html and "50% is a coin toss" in html


def test_a_small_shop_is_told_why_there_is_no_predicted_value(make_app):
    app = make_app(SHOPCRM_MIN_REPEAT_BUYERS=100_000)
    assert app.test_cli_runner().invoke(args=["shopcrm", "segment", "--as-of", "2026-11-01", "--quiet"]).exit_code == 0
    html = runs_page(app)
    assert "Only 1,272 customers have bought more than once; predicting purchases and value needs at least 100,000" \
           in html
    assert "ranks customers by their RFM score instead" in html and "ranked by <strong>RFM score</strong>" in html
    assert "learnt from the" not in html


def test_no_run_yet(app):
    html = runs_page(app)
    assert "Predictions in the current run" in html and "No run yet." in html


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("width", [1366, 390])
def test_the_runs_page_in_a_browser(segmented_app, width):
    with segmented_app.app_context():
        run_backtest(datetime(2026, 8, 3))
    email, password = create_user(segmented_app, email="owner@shop.test", password="owner-password-1", role="viewer")
    with live_server(segmented_app) as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": width, "height": 900})
        sign_in(page, base, email, password)
        page.goto(f"{base}/admin/runs")
        page.wait_for_selector("#backtest table.data")
        assert page.locator("#backtest table.data").count() == 2 and page.locator("#predictions p").first.is_visible()
        # nothing sticks out of the page at phone width
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, overflow
        screenshot(page, f"runs-backtest-{width}")
