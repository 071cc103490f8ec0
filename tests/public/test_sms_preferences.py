"""The shopper's page: a "Text messages" checkbox (CSRF-protected) is the explicit SMS opt-in;
e-mail consent never counts, and turning texts off suppresses the texts still queued."""
from __future__ import annotations

import re

import pytest

from shopcrm.delivery.addresses import address_hash
from shopcrm.delivery.sms import consent
from shopcrm.delivery.tokens import make_token
from tests.support.campaigns import shop_execute, writable_shop
from tests.support.sms import give_phones, queue_sms_campaign, sms_rows, sms_settings


@pytest.fixture
def shop(tmp_path, demo_shop_file):
    return writable_shop(tmp_path, demo_shop_file)


def page_of(app, shop, customer_id):
    email = shop_execute(shop, "SELECT email FROM customers WHERE customer_id = ?", (customer_id,))[0][0]
    with app.app_context():
        return f"/crm/me/{make_token('preferences', {'c': customer_id, 'h': address_hash(email)})}"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_text_messages_box_opts_in_and_out_with_csrf(make_app, fake, shop):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))
    (cid, e164), = give_phones(shop, 1, optin=0)  # newsletter consent yes, SMS consent no
    client = app.test_client()
    page = page_of(app, shop, cid)
    html = client.get(page).get_data(as_text=True)
    assert "Text messages" in html and f"ending …{e164[-4:]}" in html and " checked>" not in html
    assert client.post(f"{page}/sms", data={"sms": "yes"}).status_code == 400  # no CSRF token
    with app.app_context():
        assert consent.state_of(e164) is None
        _, report = queue_sms_campaign([cid], name="Before")
        assert report.suppressed == {"no_sms_consent": 1}
    client.post(f"{page}/sms", data={"sms": "yes", "csrf_token": csrf_of(html)})
    html = client.get(page).get_data(as_text=True)
    assert " checked>" in html
    with app.app_context():
        assert consent.state_of(e164) == consent.OPTED_IN
        _, report = queue_sms_campaign([cid], name="After")
        assert report.queued == 1
    client.post(f"{page}/sms", data={"csrf_token": csrf_of(html)})  # unticked
    with app.app_context():
        assert consent.state_of(e164) == consent.OPTED_OUT
        assert [(r.state, r.reason) for r in sms_rows() if r.text] == [("suppressed", "sms_opted_out")]


def test_a_landline_cannot_be_ticked_and_the_page_says_why(make_app, fake, shop):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))
    (cid, _), = give_phones(shop, 1)
    shop_execute(shop, "UPDATE customers SET telephone = '030 1234567' WHERE customer_id = ?", (cid,))
    html = app.test_client().get(page_of(app, shop, cid)).get_data(as_text=True)
    assert "We cannot text you" in html and "not a mobile number" in html


def test_without_sms_the_page_has_no_text_section(app, demo_shop_file):
    cid = shop_execute(demo_shop_file, "SELECT customer_id FROM customers WHERE email LIKE '%_@_%.%' LIMIT 1")[0][0]
    html = app.test_client().get(page_of(app, demo_shop_file, cid)).get_data(as_text=True)
    assert "Text messages" not in html


def test_forget_me_stops_texts_even_with_the_shops_sms_consent(make_app, fake, shop):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))
    (cid, e164), = give_phones(shop, 1)  # the shop's column says yes
    client = app.test_client()
    page = page_of(app, shop, cid)
    html = client.get(page).get_data(as_text=True)
    client.post(f"{page}/sms", data={"sms": "yes", "csrf_token": csrf_of(html)})
    assert client.post(f"{page}/forget", data={"confirm": "yes", "csrf_token": csrf_of(html)}).status_code == 200
    with app.app_context():
        from shopcrm.models import SmsConsent

        assert consent.state_of(e164) == consent.OPTED_OUT
        assert [r.customer_id for r in SmsConsent.query.all()] == [None]  # only the number's hash stays
        _, report = queue_sms_campaign([cid], name="After forgetting")
        assert report.queued == 0
