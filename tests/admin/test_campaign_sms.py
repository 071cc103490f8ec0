"""The campaign page's SMS card: the channel and the SMS text (CSRF, marketers only), the
sample text with characters, segments, GSM-7 vs UCS-2 and the estimated cost for the audience
in the shop's money; the live count is a static script (the CSP allows no inline script)."""
from __future__ import annotations

import re

import pytest

from shopcrm.extensions import db
from shopcrm.models import Campaign
from tests.support.apps import create_user, logged_in
from tests.support.campaigns import seed_run, writable_shop
from tests.support.sms import give_phones, sms_settings


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def texts_campaign(make_app, fake, tmp_path, demo_shop_file) -> tuple:
    """An app with SMS on (€0.10 a segment) and a draft campaign for 20 customers with phones."""
    from shopcrm.campaigns.service import create_campaign

    shop = writable_shop(tmp_path, demo_shop_file)
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", SHOPCRM_SMS_PRICE_PER_SEGMENT=0.1,
                   **sms_settings(fake))
    people = give_phones(shop, 20)
    with app.app_context():
        _, segment = seed_run([c for c, _ in people])
        campaign = create_campaign("Texts", {"segment_ids": [segment.id]})
        db.session.commit()
        return app, campaign.id


def test_the_sms_card_counts_segments_encoding_and_cost(make_app, fake, tmp_path, demo_shop_file):
    app, campaign_id = texts_campaign(make_app, fake, tmp_path, demo_shop_file)
    client = logged_in(app, role="marketer")
    page = client.get(f"/crm/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'id="sms"' in page and "sms_count.js" in page and "<script>" not in page
    assert "1 (GSM-7)" in page and "€2.00 for at most 20 texts" in page  # 20 × 1 segment × €0.10
    response = client.post(f"/crm/admin/campaigns/{campaign_id}/sms",
                           data={"channel": "both", "sms_body": "Hi {{ customer.first_name }}, a gift 🎁 for you",
                                 "csrf_token": csrf_of(page)})
    assert response.status_code == 302
    page = client.get(f"/crm/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Test Shop: Hi Alex, a gift 🎁 for you" in page
    assert "(UCS-2)" in page and "🎁</strong> makes it UCS-2" in page
    assert "€4.00 for at most 20 texts" in page and "without it, 1 segment" in page  # the emoji doubles it
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).channel == "both"
    assert client.post(f"/crm/admin/campaigns/{campaign_id}/sms", data={"channel": "sms"}).status_code == 400
    broken = client.post(f"/crm/admin/campaigns/{campaign_id}/sms", follow_redirects=True,
                         data={"channel": "sms", "sms_body": "{{ customer.__class__ }}", "csrf_token": csrf_of(page)})
    assert "not allowed" in broken.get_data(as_text=True)
    viewer = logged_in(app, role="viewer", email="viewer@shop.test")
    own = csrf_of(viewer.get(f"/crm/admin/campaigns/{campaign_id}").get_data(as_text=True))
    assert viewer.post(f"/crm/admin/campaigns/{campaign_id}/sms",
                       data={"channel": "email", "csrf_token": own}).status_code == 403  # viewers read only
    script = client.get("/crm/static/sms_count.js")
    assert script.status_code == 200 and b"UCS-2" in script.data
    script.close()


def test_without_sms_an_email_campaign_shows_no_sms_card(segmented_app):
    from tests.support.apps import biggest

    segment_id, _, _ = biggest(segmented_app)
    with segmented_app.app_context():
        from shopcrm.campaigns.service import create_campaign

        campaign = create_campaign("Mail", {"segment_ids": [segment_id]})
        db.session.commit()
        campaign_id = campaign.id
    page = logged_in(segmented_app, role="viewer").get(f"/crm/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'id="sms"' not in page


@pytest.mark.browser
@pytest.mark.parametrize("width", [1366, 390])
def test_the_sms_card_in_a_real_browser_counts_as_the_marketer_types(make_app, fake, tmp_path, demo_shop_file, width):
    """The live count (static/sms_count.js) in Chromium: an emoji typed turns the count to UCS-2,
    nothing breaks the CSP, nothing sticks out sideways; screenshots sms-card-<width>.png."""
    from tests.support.browser import browser, live_server, screenshot, sign_in

    app, campaign_id = texts_campaign(make_app, fake, tmp_path, demo_shop_file)
    email, password = create_user(app, email="marketer@shop.test", role="marketer")
    with live_server(app) as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": width, "height": 900})
        problems = []
        # the e-mail preview's product pictures live at the test shop's made-up address: not resolved
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error"
                and "ERR_NAME_NOT_RESOLVED" not in msg.text else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        sign_in(page, base, email, password)
        page.goto(f"{base}/admin/campaigns/{campaign_id}")
        assert page.locator("#sms-body").count() == 1, (page.url, page.inner_text("main")[:600])
        page.fill("#sms-body", "Hello {{ customer.first_name }}, our sale starts today")
        page.wait_for_function("document.querySelector('#sms-live').textContent.includes('GSM-7')")
        page.fill("#sms-body", "Hello {{ customer.first_name }}, a gift for you 🎁")
        page.wait_for_function("document.querySelector('#sms-live').textContent.includes('UCS-2')")
        page.locator("#sms").scroll_into_view_if_needed()
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        screenshot(page, f"sms-card-{width}")
        assert not problems, problems
