"""A message whose end went out and whose answer never came is *in doubt*, not retried: the
server may have taken it, and a retry would deliver it twice. Real aiosmtpd servers on loopback
store a message and then drop the connection before its 250, or answer only after the
sender's timeout. Each row keeps one Message-ID, which an explicit resend reuses."""
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shopcrm.clock import utcnow
from shopcrm.delivery.sender import count_in_doubt, in_doubt, resolve_in_doubt, send_due
from shopcrm.extensions import db
from shopcrm.models import Message
from tests.support.campaigns import consenting_customers, delivered_to, queue_campaign, start_smtp, states, use_smtp
from tests.support.faults import LateReplyHandler, LostReplyHandler, message_ids


@pytest.fixture
def servers():
    controllers = []

    def start(handler, pipelining: bool):
        handler, controller = start_smtp(handler, pipelining=pipelining)
        controllers.append(controller)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def _due_now():
    """The rows the stopped run gave back wait a minute; the test does not."""
    db.session.execute(sa.update(Message).where(Message.state == "queued").values(
        next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def _rows():
    return db.session.scalars(sa.select(Message).order_by(Message.id)).all()


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_a_reply_lost_after_the_end_leaves_the_message_in_doubt_not_sent_twice(outbox_app, shop_file, servers,
                                                                                pipelining):
    server = servers(LostReplyHandler(lose=3), pipelining)
    use_smtp(outbox_app, server.port)
    people = consenting_customers(shop_file, 5)
    queue_campaign(outbox_app, [c for c, _, _ in people])
    third = people[2][1].lower()
    with outbox_app.app_context():
        first = send_due(batch_size=10)
        assert (first.sent, first.retried, first.in_doubt) == (2, 0, 1), first
        assert any("in doubt" in e for e in first.errors) and any("127.0.0.1" in e and "MAIL_SERVER" in e
                                                                   for e in first.errors), first.errors
        rows = _rows()
        assert [r.state for r in rows] == ["sent", "sent", "sending", "queued", "queued"]
        doubt = rows[2]
        assert doubt.email.lower() == third and doubt.lease_until is None and doubt.reason.startswith("in doubt")
        assert doubt.message_id == message_ids(server)[third][0]  # the Message-ID it went out with is kept
        assert count_in_doubt() == 1 and [r.id for r in in_doubt()] == [doubt.id]  # at once, not after a lease
        doubt_id, doubt_message_id = doubt.id, doubt.message_id

        _due_now()
        second = send_due(batch_size=10)
        assert (second.sent, second.in_doubt) == (2, 1)
        assert send_due().sent == 0
    counts = Counter(delivered_to(server))
    assert len(counts) == 5 and set(counts.values()) == {1}  # 0 duplicates
    assert states(outbox_app) == {"sent": 4, "sending": 1}

    listing = outbox_app.test_cli_runner().invoke(args=["shopcrm", "outbox", "in-doubt"])
    assert f"#{doubt_id}" in listing.output and doubt_message_id in listing.output, listing.output
    assert "1 message(s) in doubt" in listing.output


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_an_answer_slower_than_the_data_timeout_leaves_the_message_in_doubt(outbox_app, shop_file, servers,
                                                                            pipelining):
    server = servers(LateReplyHandler(late=2, delay=3), pipelining)
    use_smtp(outbox_app, server.port, SHOPCRM_SMTP_DATA_TIMEOUT=0.5, SHOPCRM_SMTP_TIMEOUT=5)
    people = consenting_customers(shop_file, 4)
    queue_campaign(outbox_app, [c for c, _, _ in people])
    with outbox_app.app_context():
        started = time.monotonic()
        first = send_due(batch_size=10)
        assert time.monotonic() - started < 3  # gave up after SHOPCRM_SMTP_DATA_TIMEOUT, not SHOPCRM_SMTP_TIMEOUT
        assert (first.sent, first.retried, first.in_doubt) == (1, 0, 1), first
        assert any("SHOPCRM_SMTP_DATA_TIMEOUT" in e for e in first.errors), first.errors
        doubt = _rows()[1]
        assert doubt.state == "sending" and "SHOPCRM_SMTP_DATA_TIMEOUT" in doubt.reason
        time.sleep(2.6)  # the late 250 is sent into a closed connection
        _due_now()
        assert send_due(batch_size=10).sent == 2
    counts = Counter(delivered_to(server))
    assert len(counts) == 4 and set(counts.values()) == {1}
    assert states(outbox_app) == {"sent": 3, "sending": 1}


def test_the_answer_after_the_end_may_take_longer_than_other_answers(outbox_app, shop_file, servers):
    """RFC 5321 4.5.3.2.6: the wait after the final dot has its own, longer setting."""
    server = servers(LateReplyHandler(late=2, delay=1.0), False)
    use_smtp(outbox_app, server.port, SHOPCRM_SMTP_DATA_TIMEOUT=5, SHOPCRM_SMTP_TIMEOUT=0.4)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 3)])
    with outbox_app.app_context():
        report = send_due()
        assert (report.sent, report.in_doubt, report.errors) == (3, 0, [])
    assert states(outbox_app) == {"sent": 3}


@pytest.mark.parametrize("how", ["setting", "admin"])
def test_a_message_in_doubt_sent_again_keeps_its_message_id(outbox_app, shop_file, servers, how):
    server = servers(LostReplyHandler(lose=2), False)
    use_smtp(outbox_app, server.port)
    people = consenting_customers(shop_file, 3)
    queue_campaign(outbox_app, [c for c, _, _ in people])
    second = people[1][1].lower()
    with outbox_app.app_context():
        assert send_due().in_doubt == 1
        _due_now()
        assert send_due().sent == 1 and count_in_doubt() == 1  # off by default: never resent on its own
        doubt = _rows()[1]
        if how == "setting":
            outbox_app.config["SHOPCRM_RESEND_IN_DOUBT"] = True
            report = send_due()
            assert (report.resent_in_doubt, report.sent, report.in_doubt) == (1, 1, 0)
        else:
            resolve_in_doubt(doubt.id, "requeue")
            db.session.commit()
            assert send_due().sent == 1
        db.session.refresh(doubt)
        assert doubt.state == "sent"
        kept = doubt.message_id
    ids = message_ids(server)[second]
    assert len(ids) == 2 and ids[0] == ids[1] == kept  # receivers can drop the copy
    assert all(len(v) == 1 for k, v in message_ids(server).items() if k != second)


def test_resending_in_doubt_gives_up_after_the_last_attempt(outbox_app, shop_file, servers):
    from shopcrm.delivery.sender.session import MAX_ATTEMPTS

    server = servers(LostReplyHandler(lose=1), False)
    use_smtp(outbox_app, server.port, SHOPCRM_RESEND_IN_DOUBT=True)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 1)])
    with outbox_app.app_context():
        assert send_due().in_doubt == 1
        db.session.execute(sa.update(Message).values(attempts=MAX_ATTEMPTS - 1))
        db.session.commit()
        report = send_due()
        assert (report.resent_in_doubt, report.in_doubt) == (0, 1)  # left for an admin
    assert len(server.messages) == 1
