"""End to end: a campaign sent on both channels to a demo segment through ``flask shopcrm send``;
a STOP from one number (Twilio's signed webhook) suppresses it before the next message, also in
the middle of a running batch, while that customer's e-mails go on."""
from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from shopcrm.delivery.sms.sender import send_sms_due
from shopcrm.delivery.sms.settings import load
from shopcrm.delivery.sms.twilio_provider import TwilioProvider
from shopcrm.extensions import db
from shopcrm.models import Message
from tests.support.apps import logged_in
from tests.support.campaigns import seed_run, writable_shop
from tests.support.sms import SENDER, give_phones, queue_sms_campaign, sms_rows, sms_settings


def stop_from(app, fake, number: str):
    params = {"AccountSid": fake.account_sid, "From": number, "To": SENDER, "Body": "STOP"}
    signature = RequestValidator(fake.auth_token).compute_signature("http://crm.test/crm/sms/inbound", params)
    return app.test_client().post("/crm/sms/inbound", data=urlencode(params),
                                  content_type="application/x-www-form-urlencoded",
                                  headers={"X-Twilio-Signature": signature})


def test_a_campaign_on_both_channels_then_stop_suppresses_the_next_text(make_app, fake, tmp_path, demo_shop_file):
    shop = writable_shop(tmp_path, demo_shop_file)
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", SHOPCRM_FREQUENCY_CAP=0, **sms_settings(fake))
    people = give_phones(shop, 4)
    ids = [c for c, _ in people]
    with app.app_context():
        campaign, report = queue_sms_campaign(ids, channel="both", name="Spring")
        assert (report.queued, report.sms.queued) == (4, 4)
        campaign_id = campaign.id
    result = app.test_cli_runner().invoke(args=["shopcrm", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 4," in result.output and "SMS: sent 4," in result.output
    assert len(fake.messages) == 4 and len(list((tmp_path / "outbox").glob("*.eml"))) == 4
    link = re.search(r"http://crm\.test(/crm/c/\S+)", fake.messages[0]["body"]).group(1)
    assert app.test_client().get(link).status_code == 302  # the text's short link: counted for the text
    with app.app_context():
        clicked = {(m.channel, m.click_count) for m in db.session.query(Message).filter(
            Message.campaign_id == campaign_id, Message.phone == fake.messages[0]["to"])}
        clicked |= {("email", m.click_count) for m in db.session.query(Message).filter(
            Message.campaign_id == campaign_id, Message.channel == "email", Message.customer_id.in_(ids))}
        assert clicked == {("sms", 1), ("email", 0)}
    page = logged_in(app, role="viewer").get(f"/crm/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'id="sms-results">4: 4 sent (0 confirmed delivered by Twilio), 0 failed' in page

    assert stop_from(app, fake, people[0][1]).status_code == 200
    with app.app_context():
        second, report = queue_sms_campaign(ids, channel="both", name="Summer")
        assert report.queued == 4  # e-mail is its own channel: a text STOP does not unsubscribe it
        assert (report.sms.queued, report.sms.suppressed) == (3, {"sms_opted_out": 1})
    result = app.test_cli_runner().invoke(args=["shopcrm", "send", "--channel", "sms"])
    assert "SMS: sent 3," in result.output
    assert Counter(m["to"] for m in fake.messages) == {people[0][1]: 1, people[1][1]: 2, people[2][1]: 2,
                                                       people[3][1]: 2}


def test_a_stop_during_a_running_batch_stops_the_very_next_text(make_app, fake, tmp_path, demo_shop_file):
    shop = writable_shop(tmp_path, demo_shop_file)
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))
    people = give_phones(shop, 3)
    with app.app_context():
        queue_sms_campaign([c for c, _ in people])
        provider = TwilioProvider(load(app.config))
        real_send = provider.send

        def send_then_stop(to, body, url=None):
            sid = real_send(to, body, url)
            if to == people[0][1]:  # the batch's checks were read already; the STOP comes in now
                assert stop_from(app, fake, people[1][1]).status_code == 200
            return sid

        provider.send = send_then_stop
        report = send_sms_due(provider=provider)
        assert (report.sent, report.reasons) == (2, {"sms_opted_out": 1})
        stopped = [r for r in sms_rows() if r.phone == people[1][1]][0]
        assert (stopped.state, stopped.reason) == ("suppressed", "sms_opted_out")
        db.session.commit()
    assert [m["to"] for m in fake.messages] == [people[0][1], people[2][1]]


def test_the_cli_creates_an_sms_campaign_and_refuses_a_broken_text(make_app, fake, tmp_path, demo_shop_file):
    shop = writable_shop(tmp_path, demo_shop_file)
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))
    people = give_phones(shop, 2)
    with app.app_context():
        _, segment = seed_run([c for c, _ in people])
        segment = str(segment.id)
    made = app.test_cli_runner().invoke(args=["shopcrm", "campaign", "create", "--name", "Texts", "--segment", segment,
                                              "--channel", "both", "--sms-text", "Hi {{ customer.first_name }}!"])
    assert made.exit_code == 0, made.output
    broken = app.test_cli_runner().invoke(args=["shopcrm", "campaign", "create", "--name", "Broken", "--segment",
                                                segment, "--channel", "sms", "--sms-text", "{{ customer.__class__ }}"])
    assert broken.exit_code != 0 and "not allowed" in broken.output and "Traceback" not in broken.output
    with app.app_context():
        from shopcrm.models import Campaign

        assert [(c.channel, c.sms_body) for c in db.session.query(Campaign)] == [("both", "Hi {{ customer.first_name }}!")]


def test_send_leaves_texts_to_a_run_already_sending_them(make_app, fake, tmp_path, demo_shop_file):
    from shopcrm.locks import job_lock

    shop = writable_shop(tmp_path, demo_shop_file)
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))
    with app.app_context(), job_lock("send-sms", ttl=60):  # another process is sending texts
        both = app.test_cli_runner().invoke(args=["shopcrm", "send"])
        assert both.exit_code == 0 and "SMS: left to the run that is sending texts now" in both.output
        only = app.test_cli_runner().invoke(args=["shopcrm", "send", "--channel", "sms"])
        assert only.exit_code != 0 and "Traceback" not in only.output
