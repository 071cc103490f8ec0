"""Triggers choose the channel too: an abandoned-cart trigger set to SMS queues texts (only for
numbers with SMS consent), and a purchase after the reminder was queued cancels the text."""
from __future__ import annotations

import shutil

import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.campaigns.service import set_channel
from shopcrm.campaigns.triggers import configure, run_triggers
from shopcrm.delivery.sms.sender import send_sms_due
from shopcrm.extensions import db
from shopcrm.models import Message, Trigger
from tests.support.apps import DEMO_NOW, base_config, dispose
from tests.support.campaigns import SHOP_CLOCK, shop_execute
from tests.support.sms import sms_settings


def test_an_abandoned_cart_trigger_on_sms_texts_and_a_purchase_cancels(tmp_path, segmented_template, shop_file, fake):
    shutil.copy(segmented_template, tmp_path / "crm.db")
    shop_execute(shop_file, "UPDATE customers SET telephone = '0151 ' || (10000000 + customer_id), "
                            "sms_optin = customer_id % 2")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop_file}",
                                 SHOPCRM_FREQUENCY_CAP=0, **sms_settings(fake)))
    try:
        with app.app_context():
            configure("abandoned_cart", enabled=True)
            trigger = db.session.scalar(sa.select(Trigger).where(Trigger.kind == "abandoned_cart"))
            set_channel(trigger.campaign, "sms", "Hi {{ customer.first_name }}, your cart is waiting")
            db.session.commit()
            report = run_triggers(now=DEMO_NOW)["abandoned_cart"]
            rows = db.session.scalars(sa.select(Message)).all()
            assert rows and {r.channel for r in rows} == {"sms"}
            queued = [r for r in rows if r.state == "queued"]
            assert queued and {r.customer_id % 2 for r in queued} == {1}  # SMS consent only
            assert report["suppressed"].get("no_sms_consent", 0) == sum(r.customer_id % 2 == 0 for r in rows)
            assert all(r.stop_if_ordered_since is not None and "your cart is waiting" in r.text for r in queued)
            buyer = queued[0]
            shop_execute(shop_file, "INSERT INTO orders (order_id, customer_id, placed_at, total, status) "
                                    "VALUES (990001, ?, ?, 42.0, 'complete')",
                         (buyer.customer_id, DEMO_NOW.strftime(SHOP_CLOCK)))
            sent = send_sms_due()
            assert sent.sent == len(queued) - 1 and sent.reasons == {"bought_meanwhile": 1}
            db.session.refresh(buyer)
            assert (buyer.state, buyer.reason) == ("cancelled", "bought_meanwhile")
        assert buyer.phone not in {m["to"] for m in fake.messages}
    finally:
        dispose(app)
