"""The sender over a real SMTP server (aiosmtpd on loopback): content, compliance headers,
outages, refusals, the checks before every message, leases, locks and messages in doubt."""
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa

from shopcrm.campaigns.service import cancel, create_campaign, enqueue
from shopcrm.clock import utcnow
from shopcrm.delivery.addresses import address_hash
from shopcrm.delivery.sender import count_in_doubt, in_doubt, resolve_in_doubt, send_due
from shopcrm.delivery.suppression import set_frequency
from shopcrm.errors import CampaignError, RunLocked
from shopcrm.extensions import db
from shopcrm.locks import job_lock
from shopcrm.models import Campaign, Message, SoftBounce, Suppression
from tests.support.apps import dispose
from tests.support.campaigns import (
    DroppingHandler,
    consenting_customers,
    delivered_to,
    make_outbox_app,
    queue_campaign,
    seed_run,
    shop_execute,
    start_smtp,
    states,
    use_smtp,
    writable_shop,
)
from tests.support.smtp import RecordingHandler, body_of, free_port


@pytest.fixture(params=["plain", "pipelining"])
def smtp(request):
    """A recording SMTP server, with and without PIPELINING (the sender's two code paths)."""
    handler, controller = start_smtp(RecordingHandler(), pipelining=request.param == "pipelining")
    yield handler
    controller.stop()


@pytest.fixture(params=["plain", "pipelining"])
def dropping_server(request):
    handler, controller = start_smtp(DroppingHandler(accept=7), pipelining=request.param == "pipelining")
    yield handler
    controller.stop()


def test_delivered_content_and_headers(outbox_app, shop_file, smtp):
    use_smtp(outbox_app, smtp.port)
    people = consenting_customers(shop_file, 5)
    queue_campaign(outbox_app, [c for c, _, _ in people])
    with outbox_app.app_context():
        report = send_due()
        assert report.sent == 5 and report.batches == 1
        rows = {r.email: r for r in db.session.scalars(sa.select(Message))}
    names = {email.lower(): name for _, email, name in people}
    assert sorted(delivered_to(smtp)) == sorted(names)
    for delivered in smtp.messages:
        msg, to = delivered["message"], delivered["to"][0]
        row = rows[to]
        assert delivered["from"] == "shop@shop.test"
        assert msg["From"] == "Test Shop <shop@shop.test>" and msg["To"] == to
        assert msg["Subject"] == row.subject and row.subject.startswith(names[to.lower()])
        assert msg["Message-ID"] == row.message_id and row.message_id.endswith("@shop.test>")
        assert abs(parsedate_to_datetime(msg["Date"]) - datetime.now(timezone.utc)) < timedelta(minutes=5)
        assert msg["MIME-Version"] == "1.0"
        https, mailto = [part.strip(" <>") for part in msg["List-Unsubscribe"].split(",")]
        assert https.startswith("http://crm.test/crm/u/") and mailto == "mailto:shop@shop.test?subject=unsubscribe"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text, html = body_of(msg, "plain"), body_of(msg, "html")
        assert f"Hello {names[to.lower()]}" in text and "TEN" in text and "TEN" in html
        assert "Unsubscribe" in html and https in html  # the visible link is the header's link
        assert "Unsubscribe: " + https in text
        assert "http://crm.test/crm/me/" in html and "http://crm.test/crm/me/" in text  # the shopper's page
    with outbox_app.app_context():
        assert {r.state for r in db.session.scalars(sa.select(Message))} == {"sent"}
        assert send_due().sent == 0  # nothing twice


def test_smtp_down_mid_batch_is_retried_and_nothing_is_lost(outbox_app, shop_file, dropping_server):
    use_smtp(outbox_app, dropping_server.port)
    people = [c for c, _, _ in consenting_customers(shop_file, 15)]
    queue_campaign(outbox_app, people)
    with outbox_app.app_context():
        first = send_due(batch_size=10)
        assert first.sent == 7 and first.retried == 1 and first.errors  # the 8th was cut off
        assert len(dropping_server.messages) == 7
        counts = states(outbox_app)
        assert counts == {"sent": 7, "queued": 8}
        retry = db.session.scalar(sa.select(Message).where(Message.attempts == 1, Message.state == "queued"))
        assert retry.reason.startswith("retrying: connection lost") and retry.next_attempt_at > utcnow()
        # The rest of the batch was released, not marked: still due (after a short pause).
        released = db.session.scalars(sa.select(Message).where(Message.state == "queued", Message.attempts == 0)).all()
        assert len(released) == 7 and all(r.claimed_by is None for r in released)
        assert send_due().sent == 0  # the server is still down and nothing is due yet

        dropping_server.down, dropping_server.accept = False, 1000  # the server is back
        db.session.execute(sa.update(Message).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        second = send_due(batch_size=10)
        assert second.sent == 8
    assert states(outbox_app) == {"sent": 15}
    counts = Counter(delivered_to(dropping_server))
    assert len(counts) == 15 and set(counts.values()) == {1}  # everyone exactly once


def test_a_permanent_refusal_fails_the_message_and_suppresses_the_address(outbox_app, shop_file, smtp):
    use_smtp(outbox_app, smtp.port)
    people = consenting_customers(shop_file, 6)
    bounced = people[2][1]
    smtp.reject[bounced.lower()] = "550 5.1.1 no such user"
    queue_campaign(outbox_app, [c for c, _, _ in people])
    with outbox_app.app_context():
        report = send_due()
        assert report.sent == 5 and report.failed == 1  # the batch went on after the refusal
        row = db.session.scalar(sa.select(Message).where(Message.email == bounced))
        assert row.state == "failed" and "550" in row.reason
        assert db.session.scalar(sa.select(Suppression.reason).where(
            Suppression.email_hash == address_hash(bounced))) == "hard_bounce"
        # The next campaign does not even queue it.
        again = create_campaign("Again", {"value_types": ["ordinary"]})
        db.session.commit()
        enqueue(again)
        second = db.session.scalar(sa.select(Message).where(Message.campaign_id == again.id, Message.email == bounced))
        assert second.state == "suppressed" and second.reason == "hard_bounce"
    assert bounced.lower() not in delivered_to(smtp)


class ContentRefusingHandler(RecordingHandler):
    """Takes the envelope, then refuses the message itself after its final "." (a spam filter)."""

    def __init__(self, refuse: set[str]):
        super().__init__()
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        if any(address.lower() in self.refuse for address in envelope.rcpt_tos):
            return "554 5.7.1 message refused as spam"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("mode", ["plain", "pipelining"])
def test_a_message_refused_after_its_content_fails_and_the_session_goes_on(outbox_app, shop_file, mode):
    """The server resets its transaction itself after answering the content, so the sender must
    not send RSET: with PIPELINING the next envelope is already on the wire, and an RSET would
    be read as part of the next message while the sender waits for an answer that never comes."""
    people = consenting_customers(shop_file, 6)
    refused = people[2][1]
    handler, controller = start_smtp(ContentRefusingHandler({refused.lower()}), pipelining=mode == "pipelining")
    try:
        use_smtp(outbox_app, handler.port, SHOPCRM_SMTP_TIMEOUT=3)
        queue_campaign(outbox_app, [c for c, _, _ in people])
        with outbox_app.app_context():
            report = send_due()
            assert (report.sent, report.failed, report.retried, report.errors) == (5, 1, 0, [])
            row = db.session.scalar(sa.select(Message).where(Message.email == refused))
            assert row.state == "failed" and "554" in row.reason
    finally:
        controller.stop()
    assert sorted(delivered_to(handler)) == sorted(e.lower() for _, e, _ in people if e != refused)


def test_temporary_refusals_are_retried_and_repeated_ones_suppress(outbox_app, shop_file, smtp):
    use_smtp(outbox_app, smtp.port, SHOPCRM_SOFT_BOUNCE_LIMIT=2)
    people = consenting_customers(shop_file, 3)
    full = people[0][1]
    smtp.reject[full.lower()] = "452 4.2.2 mailbox full"
    queue_campaign(outbox_app, [c for c, _, _ in people])
    with outbox_app.app_context():
        report = send_due()
        assert report.sent == 2 and report.retried == 1
        row = db.session.scalar(sa.select(Message).where(Message.email == full))
        assert row.state == "queued" and row.attempts == 1 and row.next_attempt_at > utcnow() + timedelta(seconds=50)
        assert db.session.get(SoftBounce, address_hash(full)).count == 1
        row.next_attempt_at = utcnow()
        db.session.commit()
        send_due()  # refused a second time: the limit is reached
        db.session.refresh(row)
        assert row.state == "failed" and "repeated temporary refusals" in row.reason
        assert db.session.scalar(sa.select(Suppression.reason).where(
            Suppression.email_hash == address_hash(full))) == "soft_bounce"
    assert full.lower() not in delivered_to(smtp)


def test_unsubscribed_no_consent_and_capped_customers_get_nothing(outbox_app, shop_file, smtp):
    use_smtp(outbox_app, smtp.port, SHOPCRM_FREQUENCY_CAP=2, SHOPCRM_FREQUENCY_CAP_DAYS=7)
    people = consenting_customers(shop_file, 8)
    ids = [c for c, _, _ in people]
    email = {c: e for c, e, _ in people}
    first = queue_campaign(outbox_app, ids, name="First")
    with outbox_app.app_context():
        # Between enqueue and send: one unsubscribes, one withdraws consent in the shop,
        # one asks for at most one email a month on their page, and one already had 2 emails.
        db.session.add(Suppression(email_hash=address_hash(email[ids[0]]), reason="unsubscribed"))
        shop_execute(shop_file, "UPDATE customers SET newsletter = 0 WHERE customer_id = ?", (ids[1],))
        set_frequency(address_hash(email[ids[2]]), "monthly")
        db.session.commit()
        report = send_due()
        assert report.sent == 6 and report.reasons == {"unsubscribed": 1, "no_consent": 1}
        rows = {r.customer_id: r for r in db.session.scalars(sa.select(Message).where(Message.campaign_id == first))}
        assert (rows[ids[0]].state, rows[ids[0]].reason) == ("suppressed", "unsubscribed")
        assert (rows[ids[1]].state, rows[ids[1]].reason) == ("suppressed", "no_consent")
        assert rows[ids[2]].state == "sent"  # their first email this month

        from shopcrm.models import Run

        run = db.session.scalars(sa.select(Run)).first()
        later = {}
        for name in ("Second", "Third"):
            campaign = create_campaign(name, {"run_id": run.id, "value_types": ["ordinary"]})
            db.session.commit()
            enqueue(campaign)
            send_due()
            later[name] = {r.customer_id: (r.state, r.reason) for r in db.session.scalars(
                sa.select(Message).where(Message.campaign_id == campaign.id))}
        assert later["Second"][ids[0]] == ("suppressed", "unsubscribed")  # left out when queued
        assert later["Second"][ids[1]] == ("suppressed", "no_consent")
        assert later["Second"][ids[2]] == ("suppressed", "frequency_cap")  # monthly: one was enough
        assert all(later["Second"][c] == ("sent", None) for c in ids[3:])
        # Two emails within 7 days reach the shop's cap: the third campaign reaches nobody.
        assert all(later["Third"][c] == ("suppressed", "frequency_cap") for c in ids[2:])
    counts = Counter(delivered_to(smtp))
    assert email[ids[0]].lower() not in counts and email[ids[1]].lower() not in counts
    assert counts[email[ids[2]].lower()] == 1
    assert all(counts[email[c].lower()] == 2 for c in ids[3:])  # nobody over the cap


def test_cancelling_a_campaign_stops_its_queued_messages(outbox_app, shop_file, smtp):
    use_smtp(outbox_app, smtp.port)
    campaign_id = queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 6)])
    with outbox_app.app_context():
        assert send_due(max_messages=2).sent == 2
        from shopcrm.models import Campaign

        assert cancel(db.session.get(Campaign, campaign_id)) == 4
        db.session.commit()
        assert send_due().sent == 0
        with pytest.raises(CampaignError, match="cancelled"):
            enqueue(db.session.get(Campaign, campaign_id))
    assert states(outbox_app) == {"sent": 2, "cancelled": 4}
    assert len(smtp.messages) == 2


def test_the_rate_limit_spaces_messages(outbox_app, shop_file, smtp_server):
    import time

    use_smtp(outbox_app, smtp_server.port, SHOPCRM_SEND_RATE=20)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 11)])
    with outbox_app.app_context():
        started = time.monotonic()
        assert send_due().sent == 11
        assert time.monotonic() - started >= 0.5  # 11 messages at 20 per second: 10 gaps of 50 ms


def test_rows_claimed_by_another_sender_wait_for_its_lease(outbox_app, shop_file, smtp_server):
    use_smtp(outbox_app, smtp_server.port)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 4)])
    with outbox_app.app_context():
        ids = db.session.scalars(sa.select(Message.id).order_by(Message.id)).all()
        db.session.execute(sa.update(Message).where(Message.id.in_(ids[:2])).values(
            claimed_by="other-host:123:abc:1", lease_until=utcnow() + timedelta(minutes=5)))
        db.session.commit()
        assert send_due().sent == 2  # the other sender's rows are left alone
        db.session.execute(sa.update(Message).where(Message.id.in_(ids[:2])).values(
            lease_until=utcnow() - timedelta(seconds=1)))  # it died; its lease ran out
        db.session.commit()
        assert send_due().sent == 2
    assert len(smtp_server.messages) == 4 and states(outbox_app) == {"sent": 4}


def test_of_two_rows_a_stopped_sender_left_sending_the_earlier_is_settled_as_sent(outbox_app, shop_file, smtp):
    """A claim's later row became "sending" only after the 250 for the earlier one was read:
    the earlier one was delivered, the later one alone is in doubt."""
    from shopcrm.campaigns.results import campaign_results

    use_smtp(outbox_app, smtp.port)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 5)])
    with outbox_app.app_context():
        rows = db.session.scalars(sa.select(Message).order_by(Message.id)).all()
        gone = utcnow() - timedelta(seconds=1)
        for row, token in zip(rows[:3], ("dead:1", "dead:1", "other:7")):
            row.state, row.claimed_by, row.claimed_at, row.lease_until = "sending", token, gone, gone
        db.session.commit()
        assert count_in_doubt() == 2  # dead:1's later row and other:7's only row, before any settling
        assert campaign_results(db.session.get(Campaign, rows[0].campaign_id))["in_doubt"] == 2
        report = send_due()
        assert report.sent == 2 and report.in_doubt == 2
        settled = db.session.get(Message, rows[0].id)
        assert (settled.state, settled.sent_at) == ("sent", gone)  # when it was handed over
        assert "recorded after its sender stopped" in settled.reason
        assert [r.id for r in in_doubt()] == [rows[1].id, rows[2].id]
        resolve_in_doubt(rows[1].id, "sent")
        db.session.commit()
        assert [r.id for r in in_doubt()] == [rows[2].id]
    assert len(smtp.messages) == 2  # nothing of the three was sent again


def test_a_message_left_sending_is_reported_in_doubt_and_never_resent(outbox_app, shop_file, smtp):
    use_smtp(outbox_app, smtp.port)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 3)])
    with outbox_app.app_context():
        row = db.session.scalars(sa.select(Message).order_by(Message.id)).first()
        row.state, row.claimed_by, row.lease_until = "sending", "dead:1:x:1", utcnow() - timedelta(seconds=1)
        db.session.commit()
        report = send_due()
        assert report.sent == 2 and report.in_doubt == 1 and count_in_doubt() == 1
        assert [r.id for r in in_doubt()] == [row.id]
        with pytest.raises(CampaignError, match="decide"):
            resolve_in_doubt(row.id, "maybe")
        resolve_in_doubt(row.id, "requeue")  # the admin decides to send it again
        db.session.commit()
        assert send_due().sent == 1
        with pytest.raises(CampaignError, match="not in doubt"):
            resolve_in_doubt(row.id, "sent")
    assert len(smtp.messages) == 3


def test_two_cron_runs_never_overlap(outbox_app, shop_file):
    with outbox_app.app_context():
        with job_lock("send", ttl=60):
            with pytest.raises(RunLocked, match="another 'send' job is running"):
                send_due()
            send_due(worker="second")  # a deliberately added parallel sender has its own lock
    runner = outbox_app.test_cli_runner()
    with outbox_app.app_context(), job_lock("send", ttl=60):
        result = runner.invoke(args=["shopcrm", "send"])
    assert result.exit_code != 0 and "another 'send' job is running" in result.output


def test_an_unreachable_server_loses_nothing(outbox_app, shop_file):
    use_smtp(outbox_app, free_port())  # nobody listens there
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 3)])
    with outbox_app.app_context():
        report = send_due()
        assert report.sent == 0 and "cannot connect" in report.errors[0]
        rows = db.session.scalars(sa.select(Message)).all()
        assert {(r.state, r.attempts, r.claimed_by) for r in rows} == {("queued", 0, None)}
        assert all(r.next_attempt_at > utcnow() for r in rows)  # tried again by the next run


def test_send_command_reports(outbox_app, shop_file, smtp_server):
    use_smtp(outbox_app, smtp_server.port)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 3)])
    runner = outbox_app.test_cli_runner()
    result = runner.invoke(args=["shopcrm", "send", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "sent 3," in result.output
    status = runner.invoke(args=["shopcrm", "outbox", "status"])
    assert "3 sent" in status.output and "in doubt: 0" in status.output


def test_launch_schedules_and_send_renders_when_due(outbox_app, shop_file, smtp_server):
    from shopcrm.campaigns.service import launch
    from shopcrm.models import Campaign

    use_smtp(outbox_app, smtp_server.port)
    ids = [c for c, _, _ in consenting_customers(shop_file, 3)]
    with outbox_app.app_context():
        _, segment = seed_run(ids)
        later = create_campaign("Later", {"segment_ids": [segment.id]})
        now = create_campaign("Now", {"segment_ids": [segment.id]})
        db.session.commit()
        launch(later, utcnow() + timedelta(hours=2))
        launch(now)
        db.session.commit()
        later_id, now_id = later.id, now.id
        with pytest.raises(CampaignError, match="cannot be launched again"):
            now.status = "queued"
            launch(now)
        db.session.rollback()
    result = outbox_app.test_cli_runner().invoke(args=["shopcrm", "send"])
    assert result.exit_code == 0, result.output
    assert f"campaign #{now_id} rendered: queued 3" in result.output and "sent 3," in result.output
    with outbox_app.app_context():
        assert db.session.get(Campaign, later_id).status == "scheduled"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                                 .where(Message.campaign_id == later_id)) == 0


class UnsubscribingHandler(RecordingHandler):
    """While accepting the second message, the fourth recipient unsubscribes (in the crm database)."""

    def __init__(self, crm_file, victim: str):
        super().__init__()
        self.crm_file, self.victim = crm_file, victim

    async def handle_DATA(self, server, session, envelope):
        if len(self.messages) == 1:
            import sqlite3

            con = sqlite3.connect(self.crm_file)
            con.execute("INSERT INTO crm_suppression (email_hash, reason, created_at) VALUES (?, 'unsubscribed', "
                        "'2026-01-01 00:00:00')", (address_hash(self.victim),))
            con.commit()
            con.close()
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("mode", ["plain", "pipelining"])
def test_an_unsubscribe_during_a_batch_stops_the_very_next_message(outbox_app, shop_file, tmp_path, mode):
    people = consenting_customers(shop_file, 6)
    victim = people[3][1]
    handler, controller = start_smtp(UnsubscribingHandler(tmp_path / "crm.db", victim), pipelining=mode == "pipelining")
    try:
        use_smtp(outbox_app, handler.port)
        queue_campaign(outbox_app, [c for c, _, _ in people])
        with outbox_app.app_context():
            report = send_due(batch_size=10)  # one batch: the check is per message, not per batch
            assert report.sent == 5 and report.reasons == {"unsubscribed": 1}
            row = db.session.scalar(sa.select(Message).where(Message.email == victim))
            assert (row.state, row.reason) == ("suppressed", "unsubscribed")
    finally:
        controller.stop()
    assert victim.lower() not in delivered_to(handler) and len(handler.messages) == 5


def test_a_test_send_goes_to_the_admin_not_the_customer(outbox_app, shop_file, smtp_server):
    from shopcrm.campaigns.service import send_test

    use_smtp(outbox_app, smtp_server.port)
    customer, email, name = consenting_customers(shop_file, 1)[0]
    with outbox_app.app_context():
        _, segment = seed_run([customer])
        campaign = create_campaign("Preview me", {"segment_ids": [segment.id]}, coupon="TRY")
        db.session.commit()
        message_id = send_test(campaign, customer, "marketing@shop.test")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0  # not in the outbox
        with pytest.raises(CampaignError, match="not an email address"):
            send_test(campaign, customer, "nobody")
    [delivered] = smtp_server.messages
    assert delivered["to"] == ["marketing@shop.test"] and delivered["message"]["Message-ID"] == message_id
    assert delivered["message"]["Subject"].startswith(f"[TEST] {name}")
    assert "TRY" in body_of(delivered["message"], "plain")


class SessionLimitHandler(RecordingHandler):
    """A relay that takes at most ``limit`` MAIL FROM per session, then answers 421 (as Exim's
    smtp_accept_max_per_connection does), and refuses the content for ``refuse_content``."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.sessions: list[int] = []  # MAIL FROM accepted, per session in order
        self.refuse_content: set[str] = set()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not hasattr(session, "number"):
            session.number = len(self.sessions)
            self.sessions.append(0)
        if self.sessions[session.number] >= self.limit:
            return "421 4.7.0 too many messages in this session"
        self.sessions[session.number] += 1
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(a.lower() in self.refuse_content for a in envelope.rcpt_tos):
            return "554 5.7.1 message refused"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("kind,mode", [("sqlite", "plain"), ("sqlite", "pipelining"), ("mariadb", "plain"),
                                       ("mariadb", "pipelining")])
def test_a_relay_that_limits_messages_per_session(kind, mode, tmp_path, demo_shop_file, mariadb_database):
    shop = writable_shop(tmp_path, demo_shop_file)
    app = make_outbox_app(tmp_path, mariadb_database() if kind == "mariadb" else f"sqlite:///{tmp_path / 'l.db'}",
                          shop)
    people = consenting_customers(shop, 7)
    email = [e.lower() for _, e, _ in people]
    handler, controller = start_smtp(SessionLimitHandler(3), pipelining=mode == "pipelining")
    try:
        use_smtp(app, handler.port)
        queue_campaign(app, [c for c, _, _ in people])
        with app.app_context():
            # One session per batch: the relay's 421 on the fourth MAIL FROM stops the run.
            stopped = send_due()
            assert stopped.sent == 3 and any("421" in e for e in stopped.errors)
            db.session.execute(sa.update(Message).where(Message.state == "queued")
                               .values(next_attempt_at=utcnow() - timedelta(seconds=1)))  # past the backoff
            db.session.commit()
            # With MAIL_MAX_EMAILS at the relay's limit the rest goes out in one batch over two
            # sessions. A refused recipient still counts as a MAIL FROM in its session, and the
            # content refused for the session's last message is read before its QUIT.
            handler.reject[email[3]] = "550 5.1.1 no such user"
            handler.refuse_content.add(email[5])
            app.config["MAIL_MAX_EMAILS"] = 3
            report = send_due()
            assert (report.sent, report.failed, report.errors, report.batches) == (2, 2, [], 1)
            rows = {r.email.lower(): (r.state, r.reason) for r in db.session.scalars(sa.select(Message))}
    finally:
        controller.stop()
        dispose(app)
    assert [rows[e][0] for e in email] == ["sent"] * 3 + ["failed", "sent", "failed", "sent"]
    assert rows[email[3]][1].startswith("rejected: 550") and rows[email[5]][1].startswith("rejected: 554")
    assert sorted(delivered_to(handler)) == sorted(email[:3] + [email[4], email[6]])  # each exactly once
    assert handler.sessions == [3, 3, 1]


class ConsentWithdrawingHandler(RecordingHandler):
    """While accepting the first message, the last customer withdraws consent in the shop."""

    def __init__(self, shop_file, customer_id: int):
        super().__init__()
        self.shop_file, self.customer_id = shop_file, customer_id

    async def handle_DATA(self, server, session, envelope):
        if not self.messages:
            shop_execute(self.shop_file, "UPDATE customers SET newsletter = 0 WHERE customer_id = ?",
                         (self.customer_id,))
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("max_age,reaches", [(60, True), (0, False)])
def test_a_batch_whose_checks_are_too_old_is_checked_anew(outbox_app, shop_file, max_age, reaches):
    """Consent, addresses and "bought meanwhile" are read once per batch; SHOPCRM_SEND_CHECKS_MAX_AGE
    bounds how old they may be when a message goes out (a rate limit makes batches long)."""
    people = consenting_customers(shop_file, 4)
    handler, controller = start_smtp(ConsentWithdrawingHandler(shop_file, people[-1][0]))
    try:
        use_smtp(outbox_app, handler.port, SHOPCRM_SEND_CHECKS_MAX_AGE=max_age)
        queue_campaign(outbox_app, [c for c, _, _ in people])
        with outbox_app.app_context():
            report = send_due()
            last = db.session.scalar(sa.select(Message).where(Message.customer_id == people[-1][0]))
    finally:
        controller.stop()
    if reaches:  # within a minute of the batch's checks: the change is not seen yet
        assert report.batches == 1 and report.sent == 4 and last.state == "sent"
    else:  # every message after the first is claimed and checked anew
        assert report.batches == 4 and report.sent == 3 and report.reasons == {"no_consent": 1}
        assert (last.state, last.reason) == ("suppressed", "no_consent")
    assert (people[-1][1].lower() in delivered_to(handler)) == reaches
