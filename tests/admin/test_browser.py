"""The admin panel in a real browser: what a shop owner does in the morning, at desktop and phone width."""
import pytest

from tests.support.apps import create_user
from tests.support.browser import browser, live_server, loopback_only, screenshot
from tests.support.campaigns import use_smtp

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTHS = {"desktop": 1366, "phone": 390}


def open_menu_entry(page, label: str) -> None:
    """The bar on a desktop, the menu on a phone."""
    if page.locator("details.menu").is_visible():
        page.click("details.menu summary")
        page.click(f"details.menu nav >> text={label}")
    else:
        page.click(f"nav.wide >> text={label}")


@pytest.mark.parametrize("device", list(WIDTHS))
def test_morning_round_in_a_real_browser(segmented_app, smtp_server, device):
    smtp = smtp_server
    use_smtp(segmented_app, smtp.port)
    email, password = create_user(segmented_app, email="owner@shop.test", password="owner-password-1")
    with live_server(segmented_app) as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": WIDTHS[device], "height": 900})
        loopback_only(page)  # the email preview shows the demo shop's product images, on no real host
        errors = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "shop.test" not in
                msg.location.get("url", "") else None)  # the e-mail preview's product pictures: no such host here

        page.goto(f"{base}/admin/")
        assert page.url.startswith(f"{base}/admin/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")
        assert page.locator("h1").inner_text() == "Today at Demo Shop"
        pie = page.locator("#chart-segments svg path")
        assert pie.count() >= 2 and pie.first.is_visible()
        assert page.locator("#chart-value-types svg rect").count() >= 6
        stylesheet = page.evaluate("getComputedStyle(document.querySelector('.topbar')).display")
        assert stylesheet == "flex"  # the CSS loaded from /crm/static under the prefix
        screenshot(page, f"dashboard-{device}")

        open_menu_entry(page, "Segments")
        page.wait_for_url(f"{base}/admin/segments")
        page.locator("#interests table.data a").first.click()
        page.wait_for_selector("h2:has-text('Members')")
        members = page.locator("table.data tbody tr:has(a[href*='/admin/customers/'])")
        assert members.count() == 50
        screenshot(page, f"segment-{device}")

        segment_url = page.url
        members.first.locator("a").first.click()
        page.wait_for_selector("h2:has-text('Timeline')")
        assert page.locator("ol.timeline li").count() >= 1
        screenshot(page, f"customer-{device}")

        # A campaign for this segment: create, preview for a real customer, test send, launch.
        page.goto(segment_url)
        page.click("text=New campaign for this segment")
        page.fill("input[name=name]", f"Browser campaign {device}")
        page.fill("input[name=coupon]", "HELLO10")
        page.click("button:has-text('Save draft')")
        page.wait_for_selector("h2:has-text('Preview')")
        audience = int(page.inner_text("#audience"))
        assert audience > 0
        frame = page.frame_locator("iframe.preview")
        assert "HELLO10" in frame.locator("body").inner_text()
        screenshot(page, f"campaign-{device}")
        page.click("#send-test")
        page.wait_for_selector(".flash-success")
        assert any(m["to"] == [email] for m in smtp.messages)
        page.click("#launch")
        page.click("#confirm-launch")  # launching asks first, naming the audience
        page.wait_for_selector(".flash-success:has-text('Launched')")
        assert page.locator("h1 .status").inner_text().lower() == "scheduled"
        assert not errors, errors  # no CSP violations or broken assets
