"""The first outbox: personalised rendering, idempotent enqueue, delivery over real SMTP or to files."""
import email
from collections import Counter

import pytest
import sqlalchemy as sa

from shopcrm.campaigns.service import audience_count, create_campaign, enqueue
from shopcrm.delivery.addresses import address_hash, normalize
from shopcrm.delivery.sender import send_due
from shopcrm.errors import CampaignError, TemplateError
from shopcrm.extensions import db
from shopcrm.models import Message, Run, Suppression
from shopcrm.shop import connect_shop, current_mapping
from shopcrm.shop import queries as shopq
from tests.support.campaigns import tracked_targets
from tests.support.smtp import body_of


def biggest_segment():
    return max(Run.current().segments, key=lambda s: s.size)


def make_campaign(**kwargs):
    segment = biggest_segment()
    campaign = create_campaign("Test offer", {"segment_id": segment.id}, coupon="SAVE10", **kwargs)
    db.session.commit()
    return campaign, segment


@pytest.mark.parametrize("raw,expected", [
    ("Anna.Smith@Example.COM", "Anna.Smith@example.com"),
    ("  bob@example.org ", "bob@example.org"),
    (None, None), ("", None), ("not-an-email", None), ("jane@", None), ("@x.org", None),
    ("a@@x.org", None), ("a@x", None), ("<script>@x.y", None), ("a b@x.org", None),
])
def test_address_validation(raw, expected):
    assert normalize(raw) == expected


def test_enqueue_is_idempotent_and_skips_invalid_addresses(segmented_app):
    with segmented_app.app_context():
        campaign, segment = make_campaign()
        assert audience_count(campaign.target) == segment.size
        first = enqueue(campaign)
        assert first.audience == segment.size
        assert first.queued > 0 and first.suppressed.get("no_consent", 0) > 0
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
        second = enqueue(campaign)
        assert second.queued == 0 and second.already_queued == count
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == count
        # No row per customer twice; every queued address is valid; invalid ones are never queued.
        rows = db.session.execute(sa.select(Message.customer_id, Message.email, Message.state, Message.reason)).all()
        assert max(Counter(r.customer_id for r in rows).values()) == 1
        for row in rows:
            if row.state == "queued":
                assert normalize(row.email) == row.email
            if row.reason == "invalid_address":
                assert normalize(row.email) is None


def test_invalid_and_duplicate_addresses_of_the_dirty_demo_shop_are_never_queued(segmented_app, demo_shop):
    dirty = demo_shop.info["dirty_email_rows"]
    with segmented_app.app_context():
        everyone = create_campaign("Everyone", {"value_types": ["new", "negative", "most_growth", "high_value",
                                                                "ordinary", "below_average"]})
        db.session.commit()
        report = enqueue(everyone)
        rows = {r.customer_id: r for r in db.session.execute(sa.select(Message)).scalars()}
        bad = set(dirty["null"]) | set(dirty["invalid"])
        assert bad and all(rows[c].state == "suppressed" for c in bad if c in rows)
        assert report.suppressed.get("invalid_address", 0) >= len([c for c in bad if c in rows])
        queued_hashes = Counter(address_hash(r.email) for r in rows.values() if r.state == "queued")
        assert max(queued_hashes.values()) == 1  # one message per address, even when customers share it
        assert report.suppressed.get("duplicate_address", 0) >= 1


def test_messages_are_personalised(segmented_app):
    with segmented_app.app_context():
        campaign, segment = make_campaign()
        enqueue(campaign)
        row = db.session.scalars(sa.select(Message).where(Message.state == "queued").order_by(Message.id)).first()
        with connect_shop() as conn:
            customer = shopq.customers_by_ids(conn, current_mapping(), [row.customer_id])[row.customer_id]
            bought = shopq.purchased_products(conn, current_mapping(), [row.customer_id]).get(row.customer_id, set())
            products = shopq.products_by_ids(conn, current_mapping(), range(1000, 1300))
        assert row.subject.startswith(customer["first_name"])
        assert f"Hello {customer['first_name']}" in row.text
        assert segment.top[0]["name"].replace("&", "&amp;") in row.html
        assert "SAVE10" in row.html and "SAVE10" in row.text
        targets = tracked_targets(row.html)  # shop links go through the signed click redirect
        assert targets == tracked_targets(row.text)
        linked = [pid for pid in products if f"https://shop.test/product.php?id={pid}" in targets]
        assert 1 <= len(linked) <= 4  # links built from the shop's base URL
        assert not set(linked) & bought  # nothing they already bought
        assert all(products[p]["active"] == 1 and products[p]["price"] > 0 for p in linked)
        assert "product.php?id=" not in row.html  # no untracked shop link left
        assert "http://crm.test/crm/u/" in row.html and "Unsubscribe" in row.html


def test_html_in_product_names_is_escaped(segmented_app):
    with segmented_app.app_context():
        campaign = create_campaign("x", {"segment_id": biggest_segment().id},
                                   html="{% for p in products %}<p>{{ p.name }}</p>{% endfor %}{{ customer.first_name }}",
                                   text="{{ customer.first_name }}", subject="Hi")
        from shopcrm.campaigns.outbox import customer_context
        from shopcrm.campaigns.templating import CompiledTemplates

        context = customer_context({"first_name": "<b>Eve</b>"}, [], [
            {"name": "<script>alert('xss')</script> Trail shoe", "price": 10, "url": "javascript:alert(1)"}], "", None)
        rendered = CompiledTemplates(campaign.subject, campaign.html_body, campaign.text_body).render(
            context, {"unsubscribe_url": "https://x/u/t", "preferences_url": None, "shop_name": "S"})
        assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
        assert "&lt;b&gt;Eve&lt;/b&gt;" in rendered.html
        assert context["products"][0]["url"] == "https://shop.test/"  # no javascript: links


def test_sandbox_refuses_python_internals(segmented_app):
    escape = "{{ customer.__class__.__mro__[1].__subclasses__() }}"
    with segmented_app.app_context():
        with pytest.raises(TemplateError, match="not allowed"):  # refused when the admin saves it
            create_campaign("x", {"segment_id": biggest_segment().id}, subject="Hi", html=escape, text="x")
        campaign = create_campaign("x", {"segment_id": biggest_segment().id}, subject="Hi", html="Hi", text="x")
        campaign.html_body = escape  # and at render time, if it got into the database another way
        db.session.commit()
        with pytest.raises(TemplateError, match="not allowed|unknown variable"):
            enqueue(campaign)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0
    with segmented_app.app_context(), pytest.raises(TemplateError, match="line 1"):
        create_campaign("x", {"segment_id": biggest_segment().id}, subject="{% if %}", html="x", text="x")


def test_campaign_needs_a_real_target(segmented_app):
    with segmented_app.app_context():
        with pytest.raises(CampaignError):
            create_campaign("x", {})
        with pytest.raises(CampaignError):
            create_campaign("x", {"segment_id": 987654})
        with pytest.raises(CampaignError):
            create_campaign("x", {"value_types": ["vip"]})


def test_send_delivers_over_smtp(segmented_app, smtp_server):
    segmented_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    from shopcrm.extensions import mail

    mail.init_app(segmented_app)
    with segmented_app.app_context():
        campaign, _ = make_campaign()
        report = enqueue(campaign)
        sent = send_due(batch_size=40)
        assert sent.sent == report.queued and sent.batches == -(-report.queued // 40)
        assert len(smtp_server.messages) == report.queued
        rows = {r.email: r for r in db.session.scalars(sa.select(Message).where(Message.state == "sent"))}
        assert len(rows) == report.queued
        for delivered in smtp_server.messages:
            msg = delivered["message"]
            row = rows[delivered["to"][0]]
            assert msg["To"] == row.email and msg["Subject"] == row.subject
            assert row.subject.split(",")[0] in body_of(msg, "plain")  # the first name
            assert msg["List-Unsubscribe"].startswith("<http://crm.test/crm/u/")
            assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert msg["Message-ID"] == row.message_id and msg["Date"]
        assert send_due().sent == 0  # nothing is sent twice


def test_send_without_smtp_writes_eml_files(segmented_app, tmp_path):
    with segmented_app.app_context():
        campaign, _ = make_campaign()
        report = enqueue(campaign)
        sent = send_due()
        files = sorted((tmp_path / "outbox").glob("*.eml"))
        assert sent.sent == report.queued == len(files)
        msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
        row = db.session.scalar(sa.select(Message).where(Message.email == msg["To"]))
        assert row.state == "sent" and msg["Subject"] == row.subject


def test_one_click_unsubscribe_stops_the_next_send(segmented_app, smtp_server):
    segmented_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    from shopcrm.extensions import mail

    mail.init_app(segmented_app)
    client = segmented_app.test_client()
    with segmented_app.app_context():
        campaign, _ = make_campaign()
        enqueue(campaign)
        send_due(max_messages=1)
        first = smtp_server.messages[0]["message"]
        links = [part.strip(" <>") for part in first["List-Unsubscribe"].split(",")]
        assert links[1] == "mailto:shop@shop.test?subject=unsubscribe"
        url = links[0].replace("http://crm.test", "")
        # RFC 8058: a POST with this body, no cookies, no CSRF token, no confirmation.
        response = client.post(url, data="List-Unsubscribe=One-Click",
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200 and "unsubscribed" in response.get_data(as_text=True)
        assert db.session.scalar(sa.select(Suppression.reason)) == "unsubscribed"
        # A second campaign to the same people: this address is now suppressed at enqueue.
        again = create_campaign("Again", campaign.target)
        db.session.commit()
        enqueue(again)
        row = db.session.scalar(sa.select(Message).where(Message.campaign_id == again.id,
                                                         Message.email == first["To"]))
        assert row.state == "suppressed" and row.reason == "unsubscribed"


def test_unsubscribe_between_enqueue_and_send_is_honoured(segmented_app, smtp_server):
    segmented_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    from shopcrm.extensions import mail

    mail.init_app(segmented_app)
    with segmented_app.app_context():
        campaign, _ = make_campaign()
        enqueue(campaign)
        target = db.session.scalars(sa.select(Message).where(Message.state == "queued")).first()
        db.session.add(Suppression(email_hash=address_hash(target.email), reason="unsubscribed"))
        db.session.commit()
        send_due()
        db.session.refresh(target)
        assert target.state == "suppressed"
        assert target.email not in [m["to"][0] for m in smtp_server.messages]


def test_tampered_unsubscribe_token_is_refused(segmented_app):
    client = segmented_app.test_client()
    response = client.post("/crm/u/not-a-real-token")
    assert response.status_code == 400
    with segmented_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0


def test_enqueue_and_send_commands(segmented_app):
    runner = segmented_app.test_cli_runner()
    with segmented_app.app_context():
        segment_id = biggest_segment().id
    created = runner.invoke(args=["shopcrm", "campaign", "create", "--name", "CLI", "--segment", str(segment_id)])
    assert created.exit_code == 0 and "campaign #1 created" in created.output
    queued = runner.invoke(args=["shopcrm", "campaign", "enqueue", "1"])
    assert queued.exit_code == 0 and "queued" in queued.output
    sent = runner.invoke(args=["shopcrm", "send"])
    assert sent.exit_code == 0 and "sent " in sent.output
    missing = runner.invoke(args=["shopcrm", "campaign", "enqueue", "99"])
    assert missing.exit_code != 0 and "no campaign #99" in missing.output
