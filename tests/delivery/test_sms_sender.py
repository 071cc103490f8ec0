"""The SMS channel of the outbox against the loopback fake of Twilio: queued only with SMS
consent and a mobile number, sent once with the shop's name, a tracked link and the opt-out
line; 429 and 5xx retried with nothing lost; refusals failed with the reason; a lost reply in
doubt, never resent; quiet hours on the shop's clock (DST included); one cap for both channels."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from shopcrm.clock import utcnow
from shopcrm.delivery.sender import in_doubt, send_due
from shopcrm.delivery.sms import consent
from shopcrm.delivery.sms import sender as sms_sender
from shopcrm.delivery.sms.sender import send_sms_due
from shopcrm.extensions import db
from shopcrm.models import Message
from tests.support.campaigns import shop_execute, writable_shop
from tests.support.sms import give_phones, queue_sms_campaign, sms_rows, sms_settings


@pytest.fixture
def shop(tmp_path, demo_shop_file):
    return writable_shop(tmp_path, demo_shop_file)


@pytest.fixture
def sms_app(make_app, fake, shop, monkeypatch):
    monkeypatch.setattr(sms_sender, "INLINE_BACKOFF_SECONDS", 0.01)
    return make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))


def test_an_sms_campaign_goes_once_to_each_number_with_name_link_and_opt_out(sms_app, fake, shop):
    people = give_phones(shop, 5)
    with sms_app.app_context():
        campaign, report = queue_sms_campaign([c for c, _ in people])
        assert report.queued == 5
        sent = send_sms_due()
        assert (sent.sent, sent.failed, sent.in_doubt) == (5, 0, 0)
        rows = sms_rows(campaign.id)
        assert {r.state for r in rows} == {"sent"}
        assert {r.phone for r in rows} == {e for _, e in people}
        assert {r.provider_sid for r in rows} == {m["sid"] for m in fake.messages}
        assert send_sms_due().sent == 0  # nothing twice
    assert sorted(Counter(m["to"] for m in fake.messages).values()) == [1] * 5
    body = fake.messages[0]["body"]
    assert body.startswith("Test Shop: Hi ")
    assert "http://crm.test/crm/c/" in body  # the short tracked link
    assert body.endswith("\nReply STOP to opt out")
    assert fake.messages[0]["status_callback"].startswith("http://crm.test/crm/sms/status?m=")


def test_sms_needs_its_own_consent_never_the_newsletters(sms_app, fake, shop):
    people = give_phones(shop, 4, optin=0)  # all have e-mail consent (newsletter = 1), none SMS consent
    with sms_app.app_context():
        consent.record(people[0][1], consent.OPTED_IN, "preferences", people[0][0])  # ticked on their page
        consent.record(people[1][1], consent.OPTED_OUT, "reply")
        db.session.commit()
        _, report = queue_sms_campaign([c for c, _ in people])
        assert report.queued == 1
        assert report.suppressed == {"no_sms_consent": 2, "sms_opted_out": 1}
        assert send_sms_due().sent == 1
    assert [m["to"] for m in fake.messages] == [people[0][1]]


def test_invalid_and_landline_numbers_are_never_queued_and_say_why(sms_app, fake, shop):
    people = give_phones(shop, 4)
    for (cid, _), typed in zip(people, ["030 1234567", "n/a", "", "0151 1"]):
        shop_execute(shop, "UPDATE customers SET telephone = ? WHERE customer_id = ?", (typed, cid))
    with sms_app.app_context():
        _, report = queue_sms_campaign([c for c, _ in people])
        assert report.queued == 0
        assert report.suppressed == {"no usable phone: not a mobile number": 1, "no usable phone: not a number": 1,
                                     "no usable phone: empty": 1, "no usable phone: invalid for region DE": 1}
        assert {r.state for r in sms_rows()} == {"suppressed"}
        assert send_sms_due().sent == 0
    assert fake.requests == 0


def test_429_and_5xx_are_retried_with_back_off_and_nothing_is_lost(sms_app, fake, shop):
    people = give_phones(shop, 4)
    fake.fail_next(429, times=2, retry_after=0)
    fake.fail_next(503, times=1)
    with sms_app.app_context():
        queue_sms_campaign([c for c, _ in people])
        report = send_sms_due()
        assert (report.sent, report.retried, report.failed) == (4, 3, 0)
    assert fake.requests == 4 + 3
    assert sorted(m["to"] for m in fake.messages) == sorted(e for _, e in people)


def test_an_api_that_keeps_failing_sends_the_rows_back_to_the_queue(sms_app, fake, shop):
    people = give_phones(shop, 3)
    fake.fail_next(500, times=sms_sender.INLINE_RETRIES + 1)
    with sms_app.app_context():
        queue_sms_campaign([c for c, _ in people])
        report = send_sms_due()
        assert report.sent == 0 and report.errors
        rows = sms_rows()
        assert {r.state for r in rows} == {"queued"}
        assert rows[0].reason.startswith("retrying: Twilio answered 500") and rows[0].attempts == 1
        assert rows[0].next_attempt_at > utcnow()  # the outbox's back-off
        db.session.execute(sa.update(Message).values(next_attempt_at=utcnow()))
        db.session.commit()
        assert send_sms_due().sent == 3
    assert len(fake.messages) == 3


@pytest.mark.parametrize("code, opted_out", [(21211, False), (21610, True)])
def test_a_refused_number_fails_with_the_reason(sms_app, fake, shop, code, opted_out):
    people = give_phones(shop, 3)
    fake.refuse(people[1][1], code)
    with sms_app.app_context():
        queue_sms_campaign([c for c, _ in people])
        report = send_sms_due()
        assert (report.sent, report.failed) == (2, 1)
        refused = [r for r in sms_rows() if r.phone == people[1][1]][0]
        assert refused.state == "failed" and f"error {code}" in refused.reason
        assert (consent.state_of(people[1][1]) == consent.OPTED_OUT) is opted_out


def test_a_lost_reply_leaves_one_message_in_doubt_never_resent(sms_app, fake, shop):
    people = give_phones(shop, 4)
    fake.lose_reply("drop")
    with sms_app.app_context():
        queue_sms_campaign([c for c, _ in people])
        first = send_sms_due()
        assert (first.sent, first.in_doubt) == (0, 1)
        doubtful = in_doubt()
        assert [r.phone for r in doubtful] == [people[0][1]]
        assert {r.state for r in sms_rows()} == {"sending", "queued"}  # the rest waits a minute, as e-mail does
        db.session.execute(sa.update(Message).where(Message.state == "queued").values(next_attempt_at=utcnow()))
        db.session.commit()
        second = send_sms_due()
        assert (second.sent, second.in_doubt) == (3, 1)
    assert sorted(Counter(m["to"] for m in fake.messages).values()) == [1] * 4  # the lost one arrived once


@pytest.mark.parametrize("now, due", [
    (datetime(2026, 1, 14, 21, 30, tzinfo=UTC), datetime(2026, 1, 15, 7, 0)),  # 22:30 in Berlin: wait for 08:00
    (datetime(2026, 1, 15, 5, 0, tzinfo=UTC), datetime(2026, 1, 15, 7, 0)),  # 06:00, after midnight
    # the night the clocks go forward (29 March 2026): 08:00 CEST is 06:00 UTC
    (datetime(2026, 3, 28, 22, 0, tzinfo=UTC), datetime(2026, 3, 29, 6, 0)),
    # the night they go back (25 October 2026): 08:00 CET is 07:00 UTC
    (datetime(2026, 10, 24, 21, 0, tzinfo=UTC), datetime(2026, 10, 25, 7, 0)),
])
def test_quiet_hours_make_messages_wait_on_the_shops_clock(make_app, fake, shop, monkeypatch, now, due):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}",
                   **sms_settings(fake, SHOPCRM_SMS_QUIET_HOURS="21:00-08:00"))
    people = give_phones(shop, 2)
    with app.app_context():
        queue_sms_campaign([c for c, _ in people])
        monkeypatch.setattr(sms_sender, "utcnow", lambda: now.replace(tzinfo=None))
        report = send_sms_due()
        assert report.sent == 0 and report.quiet_until == due.replace(tzinfo=UTC)
        assert {(r.state, r.next_attempt_at) for r in sms_rows()} == {("queued", due)}  # waiting, not dropped
        monkeypatch.setattr(sms_sender, "utcnow", lambda: due)
        db.session.execute(sa.update(Message).values(next_attempt_at=utcnow()))
        db.session.commit()
        assert send_sms_due().sent == 2
    assert fake.requests == 2


def test_one_frequency_cap_counts_email_and_sms(make_app, fake, shop):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", SHOPCRM_FREQUENCY_CAP=1,
                   **sms_settings(fake))
    people = give_phones(shop, 2)
    ids = [c for c, _ in people]
    with app.app_context():
        queue_sms_campaign(ids[:1], name="Text first")  # customer 0: an SMS, then an e-mail
        assert send_sms_due().sent == 1
        queue_sms_campaign(ids, channel="email", name="Mail second")  # customer 1: an e-mail, then an SMS
        mailed = send_due()
        assert (mailed.sent, mailed.reasons) == (1, {"frequency_cap": 1})
        queue_sms_campaign(ids[1:], name="Text third")
        texted = send_sms_due()
        assert (texted.sent, texted.reasons) == (0, {"frequency_cap": 1})
    assert [m["to"] for m in fake.messages] == [people[0][1]]


def test_a_slow_batch_keeps_its_claims_and_rechecks_when_its_checks_are_old(make_app, fake, shop):
    """At the send rate a batch takes long: its claims are renewed (the text in flight never looks
    stopped, i.e. in doubt), the last text's "sent" is written at once, and checks older than
    SHOPCRM_SEND_CHECKS_MAX_AGE send the rest back to be claimed and checked anew."""
    from shopcrm.delivery.sender import count_in_doubt
    from shopcrm.delivery.sms.settings import load
    from shopcrm.delivery.sms.twilio_provider import TwilioProvider

    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", SHOPCRM_SEND_LEASE_SECONDS=2,
                   SHOPCRM_SEND_CHECKS_MAX_AGE=60.0, SHOPCRM_FREQUENCY_CAP=0,
                   **sms_settings(fake, SHOPCRM_SMS_SEND_RATE=5.0))
    people = give_phones(shop, 12)
    seen = []
    with app.app_context():
        provider = TwilioProvider(load(app.config))
        real_send = provider.send

        def watched(to, body, url=None):
            now = utcnow()
            expired = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
                Message.claimed_by.is_not(None), Message.state.in_(("queued", "sending")), Message.lease_until < now))
            seen.append((expired, count_in_doubt(), db.session.scalar(sa.select(sa.func.count()).select_from(
                Message).where(Message.state == "sent"))))
            db.session.commit()
            return real_send(to, body, url)

        provider.send = watched
        queue_sms_campaign([c for c, _ in people])
        report = send_sms_due(provider=provider)  # 12 texts at 5 a second outlast the 2 s lease
        assert (report.sent, report.batches) == (12, 1)
        assert [(expired, doubt) for expired, doubt, _ in seen] == [(0, 0)] * 12
        assert [sent for _, _, sent in seen] == list(range(12))  # each "sent" written before the next text
        app.config["SHOPCRM_SEND_CHECKS_MAX_AGE"] = 0.3
        queue_sms_campaign([c for c, _ in people[:4]], name="Again")
        again = send_sms_due(provider=provider)
        assert again.sent == 4 and again.batches >= 2  # the rest was claimed and checked again
    assert sorted(Counter(m["to"] for m in fake.messages).values()) == [1] * 8 + [2] * 4
