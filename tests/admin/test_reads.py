"""How the admin pages read: what they reuse within a request or for a few seconds, and that
what they show is still right (rules strongest first, campaign figures, one shop connection)."""
import re

import sqlalchemy as sa
from sqlalchemy import event

from shopcrm.extensions import db
from shopcrm.models import Membership, Message, Rule, Run
from shopcrm.shop import current_mapping, shop_engine
from tests.support.apps import create_user, csrf_token, login
from tests.support.campaigns import consenting_customers, queue_campaign


def logged_in(app, role="marketer"):
    email, password = create_user(app, email=f"{role}@shop.test", role=role)
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    return client


RULE_ROW = re.compile(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\">([\d,]+)</td>\s*"
                      r"<td class=\"num\">(\d+)%</td><td class=\"num\">([\d.,]+)×</td></tr>")


def test_rules_are_listed_strongest_first_and_counted(segmented_app):
    client = logged_in(segmented_app, "viewer")
    with segmented_app.app_context():
        run = Run.current()
        stored = db.session.execute(sa.select(Rule.id, Rule.count, Rule.confidence, Rule.lift).where(
            Rule.run_id == run.id, Rule.kind == "product")).all()
    assert len(stored) > 25, "the demo shop should give more than one page of product rules"
    # the order the page promises, computed here from all the rules
    expected = sorted(stored, key=lambda r: (-r.confidence, -r.lift, -r.id))
    pages = -(-len(stored) // 25)
    shown = []
    for number in range(1, pages + 1):
        page = client.get(f"/crm/admin/insights?kind=product&page={number}").get_data(as_text=True)
        assert f"Page {number} of {pages}" in page
        shown += RULE_ROW.findall(page)
    assert len(shown) == len(stored)
    assert [int(r[2].replace(",", "")) for r in shown] == [r.count for r in expected]
    assert [int(r[3]) for r in shown] == [round(100 * r.confidence) for r in expected]
    assert [float(r[4].replace(",", "")) for r in shown] == [round(r.lift, 1) for r in expected]

    # A run stored before runs counted their rules: the page counts them itself.
    with segmented_app.app_context():
        run = Run.current()
        run.counts = {k: v for k, v in run.counts.items() if k != "rules"}
        db.session.commit()
    page = client.get("/crm/admin/insights?kind=product").get_data(as_text=True)
    assert f"Page 1 of {pages}" in page


def test_a_large_campaigns_figures_are_reused_for_a_few_seconds(segmented_app, demo_shop_file):
    app = segmented_app
    ids = [c for c, _, _ in consenting_customers(demo_shop_file, 6)]
    campaign_id = queue_campaign(app, ids)
    app.config.update(SHOPCRM_RESULTS_CACHE_FROM=5, SHOPCRM_RESULTS_MAX_AGE=3600)
    client = logged_in(app)
    url = f"/crm/admin/campaigns/{campaign_id}"

    def figures():
        page = client.get(url).get_data(as_text=True)
        sent = re.search(r"<dt>Sent</dt><dd>(\d+)</dd>", page).group(1)
        cancelled = re.search(r"<dt>Cancelled</dt><dd>(\d+)", page).group(1)
        listing = client.get("/crm/admin/campaigns").get_data(as_text=True)
        row = re.search(rf'campaigns/{campaign_id}">[^<]*</a>.*?<td class="num">(\d+)</td>', listing, re.S)
        return int(sent), int(cancelled), int(row.group(1)), page

    def deliver_one():  # as a sender records a delivery
        with app.app_context():
            first = db.session.scalar(sa.select(Message.id).where(Message.campaign_id == campaign_id,
                                                                  Message.state == "queued").order_by(Message.id))
            db.session.execute(sa.update(Message).where(Message.id == first).values(state="sent"))
            db.session.commit()

    sent, cancelled, listed, page = figures()
    assert (sent, cancelled, listed) == (0, 0, 0)
    assert "Counted at" in page and "counted again at most every 3600 s" in page
    deliver_one()
    assert figures()[:3] == (0, 0, 0)  # the figures counted a moment ago, page and list alike

    app.config["SHOPCRM_RESULTS_MAX_AGE"] = 0  # aged out: counted again
    assert figures()[:3] == (1, 0, 1)

    app.config["SHOPCRM_RESULTS_MAX_AGE"] = 3600
    figures()  # kept again
    token = csrf_token(client, url)
    assert client.post(f"{url}/cancel", data={"csrf_token": token}).status_code == 302
    assert figures()[:3] == (1, 5, 1)  # a change made from the page is shown at once

    app.config["SHOPCRM_RESULTS_CACHE_FROM"] = 1000  # a campaign this small is counted every time
    with app.app_context():
        db.session.execute(sa.update(Message).where(Message.campaign_id == campaign_id, Message.state == "cancelled")
                           .values(state="sent"))
        db.session.commit()
    sent, cancelled, listed, page = figures()
    assert (sent, cancelled, listed) == (6, 0, 6)
    assert "counted again at most" not in page


def test_a_page_reads_the_shop_through_one_connection(segmented_app):
    client = logged_in(segmented_app, "viewer")
    with segmented_app.app_context():
        run = Run.current()
        customer_id = db.session.scalar(sa.select(Membership.customer_id).where(
            Membership.run_id == run.id, Membership.frequency > 0).order_by(Membership.customer_id))
        engine = shop_engine()
    checkouts = []
    listener = lambda *args: checkouts.append(1)  # noqa: E731
    event.listen(engine, "checkout", listener)
    try:
        page = client.get(f"/crm/admin/customers/{customer_id}")
        assert page.status_code == 200
        profile = page.get_data(as_text=True)
        assert "order #" in profile and "viewed " in profile  # the shop's rows, orders and views alike
        assert len(checkouts) == 1  # customer row, history and category names share it
        assert engine.pool.checkedout() == 0  # and it went back when the request ended
    finally:
        event.remove(engine, "checkout", listener)


def test_the_current_run_is_asked_once_per_request_and_every_time_elsewhere(segmented_app):
    with segmented_app.app_context():
        first = Run.current()
        newer = Run(kind="segmentation", status="succeeded", requested_by="test", counts={})
        db.session.add(newer)
        db.session.commit()
        assert Run.current().id == newer.id != first.id  # a command that has just stored a run sees it
        with segmented_app.test_request_context("/crm/admin/"):
            seen = Run.current()
            db.session.add(Run(kind="segmentation", status="succeeded", requested_by="test", counts={}))
            db.session.commit()
            assert Run.current() is seen  # within one request, one answer
        assert Run.current().id > newer.id


def test_mapping_sources_are_built_once_per_entity_and_columns(app):
    with app.app_context():
        mapping = current_mapping()
        assert mapping.source("customer", ("id", "email")) is mapping.source("customer", ("id", "email"))
        assert mapping.source("customer", ("id", "email")) is not mapping.source("customer", ("id",))
        assert [c.name for c in mapping.source("customer", ("id", "email")).c] == ["id", "email"]
