"""What shoppers reach from an email: one-click unsubscribe, their own page (emails, choices,
data, forget me), tracked links that only lead to the shop, opens, and revenue after a click."""
import json
import re
import shutil
import time
from datetime import timedelta
from types import SimpleNamespace

import itsdangerous.timed
import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.campaigns.results import campaign_results
from shopcrm.campaigns.service import create_campaign, enqueue
from shopcrm.clock import to_shop, utcnow
from shopcrm.delivery.addresses import address_hash
from shopcrm.delivery.sender import send_due
from shopcrm.delivery.tokens import make_token
from shopcrm.extensions import db
from shopcrm.models import Campaign, Click, Membership, Message, Preference, Suppression
from tests.support.apps import CSRF_RE, base_config, dispose
from tests.support.campaigns import SHOP_CLOCK, consenting_customers, queue_campaign, shop_execute


def make(tmp_path, crm_template, shop_file, **settings):
    shutil.copy(crm_template, tmp_path / "crm.db")
    return create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop_file}", **settings))


@pytest.fixture
def app(tmp_path, crm_template, shop_file):
    app = make(tmp_path, crm_template, shop_file)
    yield app
    dispose(app)


@pytest.fixture
def sent(app, shop_file):
    """Three customers who each received one email (delivered as .eml files)."""
    people = consenting_customers(shop_file, 3)
    campaign_id = queue_campaign(app, [c for c, _, _ in people])
    with app.app_context():
        assert send_due().sent == 3
        rows = db.session.scalars(sa.select(Message).order_by(Message.id)).all()
        return SimpleNamespace(campaign_id=campaign_id, rows=[SimpleNamespace(
            id=r.id, customer_id=r.customer_id, email=r.email, subject=r.subject, html=r.html, text=r.text)
            for r in rows])


def path_of(body: str, kind: str) -> str:
    match = re.search(rf"http://crm\.test(/crm/{kind}/[A-Za-z0-9_.\-]+)", body)
    assert match, f"no /{kind}/ link"
    return match.group(1)


def test_one_click_unsubscribe_needs_no_login_no_form_token_and_no_confirmation(app, sent):
    client = app.test_client()
    url = path_of(sent.rows[0].html, "u")
    page = client.get(url)  # a GET (link scanners, previews) changes nothing
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0
    response = client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "You are unsubscribed" in response.get_data(as_text=True)
    with app.app_context():
        hashed = address_hash(sent.rows[0].email)
        assert db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == hashed)) == "unsubscribed"
        again = create_campaign("Again", {"value_types": ["ordinary"]})
        db.session.commit()
        enqueue(again)
        row = db.session.scalar(sa.select(Message).where(Message.campaign_id == again.id,
                                                         Message.customer_id == sent.rows[0].customer_id))
        assert (row.state, row.reason) == ("suppressed", "unsubscribed")
    assert client.post(url.replace("/u/", "/u/x")).status_code == 400  # tampered


def test_the_shopper_sees_their_emails_and_only_theirs(app, sent):
    client = app.test_client()
    mine, other = sent.rows[0], sent.rows[1]
    home = path_of(mine.html, "me")
    assert path_of(mine.text, "me") == home
    page = client.get(home)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and mine.subject.replace("&", "&amp;") in text
    assert other.subject.replace("&", "&amp;") not in text or other.subject == mine.subject
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    view = client.get(f"{home}/emails/{mine.id}")
    assert view.status_code == 200 and "Hello" in view.get_data(as_text=True)
    assert client.get(f"{home}/emails/{other.id}").status_code == 404  # someone else's email
    raw = client.get(f"{home}/emails/{mine.id}/html")
    assert raw.status_code == 200 and raw.get_data(as_text=True) == mine.html
    policy = raw.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy


def test_tampered_expired_and_foreign_tokens_get_a_4xx_page(app, sent, monkeypatch):
    client = app.test_client()
    home = path_of(sent.rows[0].html, "me")
    token = home.rsplit("/", 1)[1]
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.get(f"/crm/me/{tampered}").status_code == 400
    unsubscribe_token = path_of(sent.rows[0].html, "u").rsplit("/", 1)[1]
    assert client.get(f"/crm/me/{unsubscribe_token}").status_code == 400  # made for another purpose
    with app.app_context():
        monkeypatch.setattr(itsdangerous.timed, "time", SimpleNamespace(time=lambda: time.time() - 61 * 86400))
        old = make_token("preferences", {"c": sent.rows[0].customer_id, "h": address_hash(sent.rows[0].email)})
        monkeypatch.undo()
    expired = client.get(f"/crm/me/{old}")
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    for path in ("/emails/1", "/data.json"):
        assert client.get(f"/crm/me/{tampered}{path}").status_code == 400


def test_choices_on_the_page_need_a_form_token_and_take_effect(app, sent):
    client = app.test_client()
    mine = sent.rows[0]
    home = path_of(mine.html, "me")
    hashed = address_hash(mine.email)
    forged = client.post(f"{home}/subscription", data={"action": "unsubscribe"})  # from another site: no token
    assert forged.status_code == 400
    token = CSRF_RE.search(client.get(home).get_data(as_text=True)).group(1)
    client.post(f"{home}/subscription", data={"action": "unsubscribe", "csrf_token": token})
    with app.app_context():
        assert db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == hashed)) == "unsubscribed"
    assert "Subscribe again" in client.get(home).get_data(as_text=True)
    client.post(f"{home}/subscription", data={"action": "resubscribe", "csrf_token": token})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0
    client.post(f"{home}/frequency", data={"frequency": "weekly", "csrf_token": token})
    with app.app_context():
        assert db.session.get(Preference, hashed).frequency == "weekly"
        db.session.add(Suppression(email_hash=hashed, reason="hard_bounce"))
        db.session.commit()
    page = client.get(home).get_data(as_text=True)
    assert "Subscribe again" not in page and "hard bounce" in page
    refused = client.post(f"{home}/subscription", data={"action": "resubscribe", "csrf_token": token},
                          follow_redirects=True)
    assert "cannot be resubscribed" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == hashed)) == "hard_bounce"


def test_download_my_data_and_forget_me(app, sent, shop_file):
    from shopcrm.models import ProductView

    client = app.test_client()
    mine = sent.rows[0]
    home = path_of(mine.html, "me")
    with app.app_context():  # what the view beacon recorded about them
        db.session.add(ProductView(customer_id=mine.customer_id, product_id=1104, viewed_at=utcnow(), nonce="b" * 32))
        db.session.commit()
    click = client.get(path_of(mine.html, "c"))
    assert click.status_code == 302
    data = client.get(f"{home}/data.json")
    assert data.headers["Content-Disposition"].startswith("attachment;")
    export = json.loads(data.get_data(as_text=True))
    assert export["customer_id"] == mine.customer_id and export["shop_profile"]["email"] == mine.email
    assert [e["subject"] for e in export["emails"]] == [mine.subject] and len(export["clicks"]) == 1
    assert export["segmentation"][0]["interest_segment"] == "Hand-made segment"
    assert [v["product"] for v in export["product_views"]] == [1104]

    token = CSRF_RE.search(client.get(home).get_data(as_text=True)).group(1)
    unconfirmed = client.post(f"{home}/forget", data={"csrf_token": token}, follow_redirects=True)
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    gone = client.post(f"{home}/forget", data={"csrf_token": token, "confirm": "yes"})
    assert gone.status_code == 200 and "erased" in gone.get_data(as_text=True)
    hashed = address_hash(mine.email)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
            sa.or_(Message.customer_id == mine.customer_id, Message.email_hash == hashed))) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
            Membership.customer_id == mine.customer_id)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Click)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductView)) == 0
        assert db.session.scalar(sa.select(Suppression.reason).where(Suppression.email_hash == hashed)) == "forgotten"
        # The shop still has them (shopcrm never writes there): a new run would find them again,
        # and the hashed suppression keeps every campaign away.
        from tests.support.campaigns import seed_run

        _, segment = seed_run([mine.customer_id])
        again = create_campaign("After forgetting", {"segment_ids": [segment.id]})
        db.session.commit()
        enqueue(again)
        row = db.session.scalar(sa.select(Message).where(Message.campaign_id == again.id))
        assert (row.state, row.reason, row.subject) == ("suppressed", "forgotten", "")
    assert "None yet" in client.get(home).get_data(as_text=True)
    assert shop_execute(shop_file, "SELECT COUNT(*) FROM customers WHERE customer_id = ?", (mine.customer_id,)) == [(1,)]


def test_tracked_links_lead_only_to_the_shop(app, sent):
    client = app.test_client()
    mine = sent.rows[0]
    link = path_of(mine.html, "c")
    response = client.get(link)
    assert response.status_code == 302 and response.headers["Location"].startswith("https://shop.test/")
    with app.app_context():
        row = db.session.get(Message, mine.id)
        assert row.click_count == 1 and row.clicked_at is not None
        assert db.session.scalar(sa.select(Click.url)) == response.headers["Location"]
        foreign = make_token("click", {"c": sent.campaign_id, "k": mine.customer_id, "d": "",
                                       "u": "https://evil.example/phish"})
        lookalike = make_token("click", {"c": sent.campaign_id, "k": mine.customer_id, "d": "",
                                         "u": "https://shop.test.evil.example/"})
        scheme = make_token("click", {"c": sent.campaign_id, "k": mine.customer_id, "d": "",
                                      "u": "javascript:alert(1)//shop.test/"})
    for token in (foreign, lookalike, scheme):
        refused = client.get(f"/crm/c/{token}")
        assert refused.status_code == 400 and "Location" not in refused.headers
    assert client.get(link[:-4] + "AAAA").status_code == 400  # tampered
    with app.app_context():
        assert db.session.get(Message, mine.id).click_count == 1  # refused links record nothing


def test_orders_after_a_click_are_attributed_last_touch_within_the_window(app, sent, shop_file):
    client = app.test_client()
    first, second = sent.rows[0], sent.rows[1]
    client.get(path_of(first.html, "c"))
    client.get(path_of(second.html, "c"))
    with app.app_context():
        clicked = {c.customer_id: c.clicked_at for c in db.session.scalars(sa.select(Click))}
    order = "INSERT INTO orders (order_id, customer_id, placed_at, total, status) VALUES (?, ?, ?, ?, ?)"
    soon = to_shop(clicked[first.customer_id] + timedelta(days=2)).strftime(SHOP_CLOCK)
    late = to_shop(clicked[first.customer_id] + timedelta(days=9)).strftime(SHOP_CLOCK)
    shop_execute(shop_file, order, (990101, first.customer_id, soon, 120.50, "complete"))
    shop_execute(shop_file, order, (990102, first.customer_id, late, 999.0, "complete"))  # outside 5 days
    shop_execute(shop_file, order, (990103, second.customer_id, soon, 80.0, "cancelled"))  # not a sale
    with app.app_context():
        results = campaign_results(db.session.get(Campaign, sent.campaign_id))
        assert results["clicked"] == 2 and results["clicks"] == 2 and results["states"] == {"sent": 3}
        assert (results["orders"], results["revenue"]) == (1, 120.5)
        assert results["opened"] is None  # opens are not tracked by default
        # A click on a later campaign's email takes the credit for orders after it (last touch).
        later = create_campaign("Later", {"value_types": ["ordinary"]})
        db.session.commit()
        enqueue(later)
        row = db.session.scalar(sa.select(Message).where(Message.campaign_id == later.id,
                                                         Message.customer_id == first.customer_id))
        db.session.add(Click(message_id=row.id, campaign_id=later.id, customer_id=first.customer_id, url="x",
                             clicked_at=clicked[first.customer_id] + timedelta(days=1)))
        db.session.commit()
        assert campaign_results(db.session.get(Campaign, sent.campaign_id))["orders"] == 0
        assert campaign_results(db.session.get(Campaign, later.id))["revenue"] == 120.5
    result = app.test_cli_runner().invoke(args=["shopcrm", "campaign", "show", str(sent.campaign_id)])
    assert "clicked: 2" in result.output


def test_opens_are_tracked_only_when_switched_on(tmp_path, crm_template, shop_file):
    app = make(tmp_path, crm_template, shop_file, SHOPCRM_TRACK_OPENS=True)
    try:
        queue_campaign(app, [c for c, _, _ in consenting_customers(shop_file, 1)])
        with app.app_context():
            row = db.session.scalars(sa.select(Message)).first()
            pixel = path_of(row.html, "o")
        response = app.test_client().get(pixel)
        assert response.status_code == 200 and response.mimetype == "image/gif"
        assert app.test_client().get("/crm/o/forged.gif").status_code == 200  # images always load
        with app.app_context():
            assert db.session.scalars(sa.select(Message)).first().opened_at is not None
    finally:
        dispose(app)
