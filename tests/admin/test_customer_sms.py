"""A customer's profile: their number (or why it cannot be texted), their SMS consent, and their
text messages with state and reason."""
from __future__ import annotations

from shopcrm.delivery.sms.sender import send_sms_due
from tests.support.apps import logged_in
from tests.support.campaigns import shop_execute, writable_shop
from tests.support.sms import give_phones, queue_sms_campaign, sms_settings


def test_the_profile_lists_their_sms_and_says_why_a_number_cannot_be_texted(make_app, fake, tmp_path, demo_shop_file):
    shop = writable_shop(tmp_path, demo_shop_file)
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))
    (texted, e164), (landline, _) = give_phones(shop, 2)
    shop_execute(shop, "UPDATE customers SET telephone = '030 1234567' WHERE customer_id = ?", (landline,))
    with app.app_context():
        queue_sms_campaign([texted, landline])
        assert send_sms_due().sent == 1
    client = logged_in(app, role="viewer")
    page = client.get(f"/crm/admin/customers/{texted}").get_data(as_text=True)
    assert 'id="sms-messages"' in page and e164 in page
    assert "Test Shop: Hi " in page and "Reply STOP to opt out" in page
    assert "yes, in the shop" in page
    assert 'class="event event-sms"' in page
    other = client.get(f"/crm/admin/customers/{landline}").get_data(as_text=True)
    assert "cannot be texted" in other and "not a mobile number" in other
    assert "no usable phone: not a mobile number" in other  # the suppressed row's reason
