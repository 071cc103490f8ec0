"""The shop owner's main path in a real browser (Debian's Chromium through Playwright), at desktop
and phone width: log in, read the dashboard, follow an action card into a prefilled campaign,
filter the customers, open one, look at the segments and insights, block an address, change a
setting. Every page is screenshotted into test-artifacts/ (owner-<page>-<width>.png)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.apps import create_user
from tests.support.browser import browser, live_server, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTHS = {"desktop": 1366, "phone": 390}


def go(page, base: str, label: str, path: str) -> None:
    """Open a menu entry the way a person would: the bar on a desktop, the menu on a phone."""
    if page.locator("details.menu").is_visible():
        page.click("details.menu summary")
        page.click(f"details.menu nav >> text={label}")
    else:
        page.click(f"nav.wide >> text={label}")
    page.wait_for_url(f"{base}{path}*")


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_owners_morning(segmented_app, device):
    width = WIDTHS[device]
    email, password = create_user(segmented_app, email="owner@shop.test", password="owner-password-1")
    with live_server(segmented_app) as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": width, "height": 900})
        problems = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))

        page.goto(f"{base}/admin/")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")
        assert page.locator("h1").inner_text() == "Today at Demo Shop"
        cards = page.locator("article.action")
        assert cards.count() == 4 and page.locator("#card-win_back strong").first.is_visible()
        assert page.locator("#chart-revenue svg polyline").count() == 1
        assert page.locator("#chart-value-types svg rect").count() == 6
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1  # nothing sticks out sideways
        screenshot(page, f"owner-dashboard-{width}")

        # An action card is one click into a campaign for exactly those customers.
        page.click("#card-win_back a.button")
        page.wait_for_url(f"{base}/admin/campaigns/new*")
        assert parse_qs(urlsplit(page.url).query) == {"audience": ["win_back"]}
        assert page.locator("h1").count() == 1  # the campaign page (the mail helper's) opened
        screenshot(page, f"owner-campaign-from-card-{width}")

        go(page, base, "Customers", "/admin/customers")
        page.select_option("select[name=type]", "high_value")
        page.select_option("select[name=risk]", "no")  # the best customers who are not about to leave
        page.click("#customer-filters button[type=submit]")
        page.wait_for_url(f"{base}/admin/customers?*")
        query = parse_qs(urlsplit(page.url).query)
        assert query["type"] == ["high_value"] and query["risk"] == ["no"]
        rows = page.locator("table.customers tbody tr")
        assert rows.count() >= 1
        for i in range(min(rows.count(), 10)):
            cells = rows.nth(i).locator("td")
            assert cells.nth(1).text_content().strip() == "Best customers"
            assert cells.nth(6).text_content().strip() == "No"  # hidden on a phone, in the page all the same
        screenshot(page, f"owner-customers-{width}")
        rows.first.locator("a").first.click()
        page.wait_for_selector("h2:has-text('Timeline')")
        assert page.locator("#email-status .pill").count() == 1
        screenshot(page, f"owner-customer-{width}")

        go(page, base, "Segments", "/admin/segments")
        screenshot(page, f"owner-segments-{width}")
        page.locator("#interests table a").first.click()
        page.wait_for_selector("h2:has-text('Members')")
        screenshot(page, f"owner-segment-{width}")
        page.goto(f"{base}/admin/segments/type/high_value")
        assert page.locator("h1").inner_text().startswith("Best customers")
        screenshot(page, f"owner-group-{width}")

        go(page, base, "Insights", "/admin/insights")
        assert page.locator("#chart-country svg path").count() >= 2
        screenshot(page, f"owner-insights-{width}")

        go(page, base, "Do not email", "/admin/suppressions")
        page.fill("form[action$='/suppressions/add'] input[name=address]", "complainer@example.org")
        page.click("#add-suppression")
        page.wait_for_selector(".flash-success")
        assert "complainer@example.org" in page.locator(".flash-success").inner_text()
        page.fill("input[name=address][type=email] >> nth=0", "complainer@example.org")
        page.locator("form.search button:has-text('Look up')").click()
        page.wait_for_selector("#lookup-result")
        assert "is on the list" in page.locator("#lookup-result").inner_text()
        screenshot(page, f"owner-suppressions-{width}")

        go(page, base, "Settings", "/admin/settings")
        page.fill("input[name=SHOPCRM_SHOP_NAME]", f"Corner Bikes {device}")
        page.select_option("select[name=SHOPCRM_CURRENCY]", "GBP")
        page.click("#save-settings")
        page.wait_for_selector(".flash-success[role=status]")
        assert "Saved: Shop name, Currency" in page.locator(".flash-success[role=status]").inner_text()
        assert page.locator(".topbar .brand").inner_text().startswith(f"Corner Bikes {device}")
        screenshot(page, f"owner-settings-{width}")
        page.goto(f"{base}/admin/")
        assert "£" in page.locator("#card-win_back").inner_text()

        page.goto(f"{base}/admin/account")
        screenshot(page, f"owner-account-{width}")
        page.goto(f"{base}/admin/runs")
        screenshot(page, f"owner-runs-{width}")
        page.goto(f"{base}/admin/no-such-page")
        assert page.locator("h1").inner_text() == "Page not found"
        screenshot(page, f"owner-404-{width}")
        page.goto(f"{base}/u/not-a-valid-link")
        assert page.locator(".shop-bar .shop-name").inner_text() == f"Corner Bikes {device}"
        screenshot(page, f"owner-shopper-bad-link-{width}")
        expected_404 = [p for p in problems if "404" in p]
        assert len(expected_404) == 1 and len(problems) <= 2, problems  # only the page we asked to be missing
