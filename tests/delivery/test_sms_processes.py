"""The SMS sender as a real process (``flask shopcrm send --channel sms``) against the loopback
fake of Twilio, killed with SIGKILL in the middle of a batch: no number is texted twice, at
most one message is in doubt, and the rest goes out on the next run."""
from __future__ import annotations

import os
import signal
from collections import Counter

import pytest
import sqlalchemy as sa

from shopcrm.delivery.sender import count_in_doubt, in_doubt
from shopcrm.delivery.sms.sender import send_sms_due
from shopcrm.extensions import db
from shopcrm.models import Message
from tests.fakes.twilio_api import FakeTwilio
from tests.support.apps import dispose
from tests.support.campaigns import make_outbox_app, process_env, start_sender, states, wait_until, writable_shop
from tests.support.sms import give_phones, queue_sms_campaign, sms_settings

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["sqlite", "mariadb"])
def test_a_killed_sms_sender_texts_nobody_twice_and_leaves_at_most_one_in_doubt(kind, tmp_path, demo_shop_file,
                                                                               mariadb_database):
    shop = writable_shop(tmp_path, demo_shop_file)
    url = mariadb_database() if kind == "mariadb" else f"sqlite:///{tmp_path / 'crm_proc.db'}"
    with FakeTwilio() as fake:
        settings = sms_settings(fake, SHOPCRM_SMS_SEND_RATE=40.0)  # 25 ms a message: the kill lands mid-batch
        app = make_outbox_app(tmp_path, url, shop, **settings)
        people = give_phones(shop, 40)
        with app.app_context():
            queue_sms_campaign([c for c, _ in people])
        env = process_env(tmp_path, url, shop, 1, SHOPCRM_SEND_LEASE_SECONDS=3,
                          **{key: ("" if value is None else value) for key, value in settings.items()})
        sender = start_sender(env, "--channel", "sms", "--batch-size", "10")
        try:
            assert wait_until(lambda: len(fake.messages) >= 15, timeout=60), sender.poll()
            os.kill(sender.pid, signal.SIGKILL)  # mid-campaign, mid-batch
            sender.wait(timeout=10)
        finally:
            if sender.poll() is None:
                sender.kill()
        assert sender.returncode == -signal.SIGKILL
        before = states(app)
        assert before.get("sending", 0) <= 1 and before.get("queued", 0) > 0, before
        with app.app_context():
            doubtful = [r.phone for r in in_doubt()]
            assert len(doubtful) <= 1
            report = send_sms_due()  # the next run: the dead sender's claims are taken over at once
            assert report.in_doubt == len(doubtful) == count_in_doubt()
            left = db.session.scalars(sa.select(Message.phone).where(Message.state != "sent")).all()
            db.session.commit()
            assert left == doubtful  # everything else was sent
        texted = Counter(m["to"] for m in fake.messages)
        assert max(texted.values()) == 1  # nobody twice at the "Twilio" API
        assert set(texted) | set(doubtful) == {e for _, e in people}
        dispose(app)
