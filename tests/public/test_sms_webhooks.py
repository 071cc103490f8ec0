"""Twilio's webhooks on the public blueprint: only requests with a valid Twilio signature are
heard (403 otherwise, CSRF-exempt for that reason alone); STOP suppresses the number at once
and is confirmed once, START opts in again, HELP is answered; status callbacks update the
message they name."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from shopcrm.delivery.sms import consent
from shopcrm.delivery.sms.sender import send_sms_due
from shopcrm.extensions import db
from tests.support.campaigns import writable_shop
from tests.support.sms import SENDER, give_phones, queue_sms_campaign, sms_rows, sms_settings

PUBLIC = "http://crm.test/crm"



@pytest.fixture
def shop(tmp_path, demo_shop_file):
    return writable_shop(tmp_path, demo_shop_file)


@pytest.fixture
def sms_app(make_app, fake, shop):
    return make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))


def post_signed(client, token: str, path: str, params: dict, forged: bool = False, signature: str | None = None):
    url = f"{PUBLIC}{path}"
    if signature is None:
        signature = RequestValidator("not-the-token" if forged else token).compute_signature(url, params)
    return client.post(f"/crm{path}", data=urlencode(params), content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": signature} if signature else {})


def reply(fake, client, number: str, body: str, **kwargs):
    params = {"AccountSid": fake.account_sid, "From": number, "To": SENDER, "Body": body,
              "MessageSid": "SM" + "0" * 32, "NumSegments": "1"}
    return post_signed(client, fake.auth_token, "/sms/inbound", params, **kwargs)


def test_stop_with_a_valid_signature_suppresses_at_once_and_is_confirmed_once(sms_app, fake, shop):
    people = give_phones(shop, 3)
    client = sms_app.test_client()
    with sms_app.app_context():
        queue_sms_campaign([c for c, _ in people])
    first = reply(fake, client, people[0][1], " Stop. ")
    assert first.status_code == 200 and first.mimetype == "text/xml"
    assert "no more text messages" in first.get_data(as_text=True)
    again = reply(fake, client, people[0][1], "STOP")
    assert again.status_code == 200 and "<Message>" not in again.get_data(as_text=True)  # confirmed once
    with sms_app.app_context():
        assert consent.state_of(people[0][1]) == consent.OPTED_OUT
        stopped = [r for r in sms_rows() if r.phone == people[0][1]][0]
        assert (stopped.state, stopped.reason) == ("suppressed", "sms_opted_out")
        assert send_sms_due().sent == 2
    assert people[0][1] not in {m["to"] for m in fake.messages}


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit"])
def test_every_opt_out_word_works(sms_app, fake, word):
    assert reply(fake, sms_app.test_client(), "+4915112345678", word).status_code == 200
    with sms_app.app_context():
        assert consent.state_of("+4915112345678") == consent.OPTED_OUT


def test_a_shop_word_in_its_own_language_opts_out(make_app, fake, shop):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}",
                   **sms_settings(fake, SHOPCRM_SMS_OPT_OUT_KEYWORDS=("STOPP", "ABMELDEN")))
    assert reply(fake, app.test_client(), "+4915112345678", "abmelden").status_code == 200
    with app.app_context():
        assert consent.state_of("+4915112345678") == consent.OPTED_OUT


@pytest.mark.parametrize("how", ["forged", "missing"])
def test_forged_or_unsigned_replies_are_refused_and_change_nothing(sms_app, fake, how):
    response = reply(fake, sms_app.test_client(), "+4915112345678", "STOP",
                     **({"forged": True} if how == "forged" else {"signature": ""}))
    assert response.status_code == 403
    with sms_app.app_context():
        assert consent.state_of("+4915112345678") is None


def test_a_signature_for_other_fields_is_refused(sms_app, fake):
    params = {"From": "+4915112345678", "To": SENDER, "Body": "HELP"}
    signature = RequestValidator(fake.auth_token).compute_signature(f"{PUBLIC}/sms/inbound", params)
    tampered = sms_app.test_client().post("/crm/sms/inbound", data={**params, "Body": "STOP"},
                                          headers={"X-Twilio-Signature": signature})
    assert tampered.status_code == 403


def test_help_is_answered_every_time_and_start_opts_in_again(sms_app, fake):
    client = sms_app.test_client()
    for _ in range(2):
        answer = reply(fake, client, "+4915112345678", "help").get_data(as_text=True)
        assert "Test Shop" in answer and "Reply STOP to opt out" in answer
    reply(fake, client, "+4915112345678", "STOP")
    started = reply(fake, client, "+4915112345678", "START").get_data(as_text=True)
    assert "again" in started
    with sms_app.app_context():
        assert consent.state_of("+4915112345678") == consent.OPTED_IN
    assert "<Message>" not in reply(fake, client, "+4915112345678", "please stop texting").get_data(as_text=True)
    with sms_app.app_context():
        assert consent.state_of("+4915112345678") == consent.OPTED_IN  # a sentence is not a keyword


def test_without_sms_settings_the_webhooks_do_not_exist(app):
    assert app.test_client().post("/crm/sms/inbound", data={"Body": "STOP"}).status_code == 404


def test_status_callbacks_update_the_message_they_name(sms_app, fake, shop):
    people = give_phones(shop, 3)
    client = sms_app.test_client()
    with sms_app.app_context():
        queue_sms_campaign([c for c, _ in people])
        send_sms_due()
        rows = {r.phone: (r.id, r.provider_sid) for r in sms_rows()}

    def callback(phone, status, code=None, forged=False, row_id=None):
        mid, sid = rows[phone]
        params = fake.status_params(sid, status, code)
        return post_signed(client, fake.auth_token, f"/sms/status?m={row_id or mid}", params, forged=forged)

    assert callback(people[0][1], "delivered").status_code == 204
    assert callback(people[1][1], "undelivered", 30003).status_code == 204
    assert callback(people[2][1], "failed", 21610).status_code == 204
    assert callback(people[0][1], "failed", 30005, forged=True).status_code == 403
    assert callback(people[0][1], "failed", row_id=rows[people[1][1]][0]).status_code == 204  # another row's id
    with sms_app.app_context():
        by_phone = {r.phone: (r.state, r.reason) for r in sms_rows()}
        assert by_phone[people[0][1]] == ("sent", "delivered")
        assert by_phone[people[1][1]] == ("failed", "undelivered (Twilio error 30003)")
        assert by_phone[people[2][1]] == ("failed", "failed (Twilio error 21610)")
        assert consent.state_of(people[2][1]) == consent.OPTED_OUT
        db.session.commit()
