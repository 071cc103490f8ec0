"""Campaigns and triggers in the admin: create, preview for a real customer, test send over real
SMTP, launch, deliver (as cron would), results, cancel; triggers on and off."""
import re

import sqlalchemy as sa

from shopcrm.campaigns.service import enqueue_due
from shopcrm.delivery.sender import send_due
from shopcrm.extensions import db
from shopcrm.models import Campaign, Membership, Message, Run, Segment, Trigger
from shopcrm.shop import connect_shop, current_mapping, queries
from tests.support.apps import create_user, csrf_token, login
from tests.support.campaigns import use_smtp


def logged_in(app, role="marketer", email=None):
    email, password = create_user(app, email=email or f"{role}@shop.test", role=role)
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    return client, email


def biggest_segment(app):
    with app.app_context():
        seg = db.session.scalars(sa.select(Segment).where(Segment.run_id == Run.current().id)
                                 .order_by(Segment.size.desc())).first()
        return seg.id, seg.size, seg.name


def create(client, **form):
    token = csrf_token(client, "/crm/admin/campaigns/new")
    return client.post("/crm/admin/campaigns/new", data={"csrf_token": token, "template": "segment_offer", **form})


def test_a_campaign_from_draft_to_results(segmented_app, smtp_server):
    use_smtp(segmented_app, smtp_server.port)
    client, email = logged_in(segmented_app)
    segment_id, size, _ = biggest_segment(segmented_app)
    response = create(client, name="Spring picks", segment_ids=str(segment_id), coupon="SPRING")
    assert response.status_code == 302
    page_url = response.headers["Location"]
    page = client.get(page_url).get_data(as_text=True)
    assert f'<strong id="audience">{size}</strong>' in page

    # The preview: the first member of the audience, rendered for real, in a sandboxed frame.
    frame = re.search(r'<iframe class="preview" sandbox[^>]*src="([^"]+)"', page)
    assert frame, page[:3000]
    with segmented_app.app_context():
        first = db.session.scalar(sa.select(Membership.customer_id).where(Membership.segment_id == segment_id)
                                  .order_by(Membership.customer_id))
        with connect_shop() as conn:
            customer = queries.customers_by_ids(conn, current_mapping(), [first])[first]
    preview = client.get(frame.group(1).replace("&amp;", "&"))
    assert preview.status_code == 200 and f"Hello {customer['first_name']}" in preview.get_data(as_text=True)
    assert "script-src" not in preview.headers["Content-Security-Policy"]  # default-src 'none': no scripts
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
    assert "SPRING" in preview.get_data(as_text=True)

    # A test send to the admin's own address, over real SMTP.
    token = csrf_token(client, page_url)
    campaign_id = int(page_url.rsplit("/", 1)[1])
    sent = client.post(f"/crm/admin/campaigns/{campaign_id}/test", data={"csrf_token": token, "customer_id": first})
    assert sent.status_code == 302
    assert [m["to"] for m in smtp_server.messages] == [[email]]
    assert smtp_server.messages[0]["message"]["Subject"].startswith("[TEST]")

    # Launch: nothing is rendered in the request; cron's send run does it.
    client.post(f"/crm/admin/campaigns/{campaign_id}/launch", data={"csrf_token": token})
    with segmented_app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        assert campaign.status == "scheduled"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0
        enqueue_due()
        report = send_due()
    assert report.sent >= 1 and len(smtp_server.messages) == report.sent + 1
    results = client.get(page_url).get_data(as_text=True)
    assert 'id="results"' in results and f"<dt>Sent</dt><dd>{report.sent}</dd>" in results
    listing = client.get("/crm/admin/campaigns").get_data(as_text=True)
    assert "Spring picks" in listing and f'<td class="num">{report.sent}</td>' in listing


def test_scheduling_for_later_and_cancelling(segmented_app):
    client, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    page_url = create(client, name="Later", segment_ids=str(segment_id)).headers["Location"]
    campaign_id = int(page_url.rsplit("/", 1)[1])
    token = csrf_token(client, page_url)
    client.post(f"/crm/admin/campaigns/{campaign_id}/launch", data={"csrf_token": token,
                                                                    "scheduled_at": "2099-01-01T09:30"})
    with segmented_app.app_context():
        assert enqueue_due() == []  # not due yet
        assert db.session.get(Campaign, campaign_id).status == "scheduled"
    page = client.get(page_url).get_data(as_text=True)
    assert "Scheduled for 2099-01-01 09:30" in page
    client.post(f"/crm/admin/campaigns/{campaign_id}/cancel", data={"csrf_token": token})
    with segmented_app.app_context():
        assert db.session.get(Campaign, campaign_id).status == "cancelled"


def test_editing_the_template_and_refusing_bad_input(segmented_app):
    client, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    refused = create(client, name="Nobody", rfm_r_min="9")
    assert refused.status_code == 200 and "rfm.r" in refused.get_data(as_text=True)
    page_url = create(client, name="Edit me", segment_ids=str(segment_id)).headers["Location"]
    token = csrf_token(client, page_url)
    saved = client.post(page_url, data={"csrf_token": token, "name": "Edited", "segment_ids": str(segment_id),
                                        "subject": "Hi {{ customer.first_name }}", "html_body": "<p>{{ coupon }}</p>",
                                        "text_body": "{{ coupon }}", "coupon": "X1"}, follow_redirects=True)
    assert "Saved." in saved.get_data(as_text=True)
    evil = client.post(page_url, data={"csrf_token": token, "name": "Edited", "segment_ids": str(segment_id),
                                       "subject": "{{ customer.__class__.__mro__ }}", "html_body": "x",
                                       "text_body": "x"}, follow_redirects=True)
    assert "Saved." not in evil.get_data(as_text=True)
    with segmented_app.app_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name == "Edited"))
        assert campaign.subject == "Hi {{ customer.first_name }}" and campaign.coupon == "X1"


def test_viewers_see_campaigns_but_change_nothing(segmented_app):
    marketer, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    page_url = create(marketer, name="Look only", segment_ids=str(segment_id)).headers["Location"]
    viewer, _ = logged_in(segmented_app, role="viewer")
    page = viewer.get(page_url).get_data(as_text=True)
    assert "Look only" in page and "Launch" not in page and "Send a test" not in page
    assert viewer.get("/crm/admin/campaigns/new").status_code == 403


def test_new_campaign_for_a_segment_from_the_segment_page(segmented_app):
    client, _ = logged_in(segmented_app)
    segment_id, _, name = biggest_segment(segmented_app)
    segment_page = client.get(f"/crm/admin/segments/{segment_id}").get_data(as_text=True)
    link = f"/crm/admin/campaigns/new?segment_id={segment_id}"
    assert link in segment_page
    form = client.get(link).get_data(as_text=True)
    assert f'name="segment_ids" value="{segment_id}" checked' in form


def test_triggers_are_switched_on_with_parameters(segmented_app):
    client, _ = logged_in(segmented_app)
    page = client.get("/crm/admin/triggers").get_data(as_text=True)
    assert page.count('<section class="card" id="trigger-') == 4
    token = csrf_token(client, "/crm/admin/triggers")
    client.post("/crm/admin/triggers/abandoned_cart", data={"csrf_token": token, "enabled": "y", "hours": "6",
                                                            "max_age_days": "7", "window_days": "7",
                                                            "coupon": "COMEBACK"})
    bad = client.post("/crm/admin/triggers/browse_abandonment", data={
        "csrf_token": token, "enabled": "y", "min_views": "2", "lookback_hours": "2", "quiet_hours": "5",
        "recent_order_days": "10", "window_days": "14"}, follow_redirects=True)
    assert "quiet_hours must be shorter" in bad.get_data(as_text=True)
    with segmented_app.app_context():
        triggers = {t.kind: t for t in db.session.scalars(sa.select(Trigger))}
        assert triggers["abandoned_cart"].enabled and triggers["abandoned_cart"].params["hours"] == 6
        assert triggers["abandoned_cart"].campaign.coupon == "COMEBACK"
        assert not triggers["browse_abandonment"].enabled
    viewer, _ = logged_in(segmented_app, role="viewer")
    viewer_page = viewer.get("/crm/admin/triggers").get_data(as_text=True).split("<main", 1)[1]
    assert "/crm/admin/triggers/abandoned_cart" not in viewer_page  # no forms for viewers
    assert "hours after the last cart change: 6" in viewer_page
