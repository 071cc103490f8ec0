"""Campaigns and triggers in the admin: a campaign a marketer can follow from draft to sent, a launch
that names its exact audience first, the wording edited without template code, a preview for a
customer found by name or e-mail whose clicks never count, results as counts and rates that
survive the shop being down, triggers on and off."""
import html as htmllib
import re
import shutil

import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.campaigns.service import enqueue_due
from shopcrm.campaigns.targets import audience_count
from shopcrm.delivery.sender import send_due
from shopcrm.extensions import db
from shopcrm.models import Campaign, Click, Membership, Message, Run, Segment, Trigger
from shopcrm.shop import connect_shop, current_mapping, queries
from tests.support.apps import base_config, create_user, csrf_token, dispose, login
from tests.support.browser import browser, live_server, screenshot, sign_in
from tests.support.campaigns import use_smtp
from tests.support.pictures import picture_server
from tests.support.smtp import body_of


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


def status_of(app, campaign_id: int) -> str:
    with app.app_context():
        return db.session.get(Campaign, campaign_id).status


def page_status(page: str) -> str:
    return re.search(r'<span class="status status-(\w+)" id="status">', page).group(1)


def preview_src(page: str) -> str:
    frame = re.search(r'<iframe class="preview" sandbox[^>]*src="([^"]+)"', page)
    assert frame, page[:3000]
    return htmllib.unescape(frame.group(1))


def launch(client, page_url: str, scheduled_at: str = "") -> tuple[int, str]:
    """Click Launch (a GET that asks), read the audience the question names, confirm it."""
    question = client.get(f"{page_url}/launch", query_string={"scheduled_at": scheduled_at})
    assert question.status_code == 200
    text = question.get_data(as_text=True)
    shown = int(re.search(r'<strong id="confirm-audience">([\d,]+)</strong>', text).group(1).replace(",", ""))
    token = csrf_token(client, page_url)
    done = client.post(f"{page_url}/launch", data={"csrf_token": token, "confirmed_audience": str(shown),
                                                    "scheduled_at": scheduled_at}, follow_redirects=True)
    return shown, done.get_data(as_text=True)


def test_a_campaign_from_draft_to_sent_over_real_smtp(segmented_app, smtp_server):
    use_smtp(segmented_app, smtp_server.port)
    client, email = logged_in(segmented_app)
    segment_id, size, _ = biggest_segment(segmented_app)
    response = create(client, name="Spring picks", segment_ids=str(segment_id), coupon="SPRING")
    assert response.status_code == 302
    page_url = response.headers["Location"]
    campaign_id = int(page_url.rsplit("/", 1)[1])
    page = client.get(page_url).get_data(as_text=True)
    assert f'<strong id="audience">{size:,}</strong>' in page
    assert page_status(page) == "draft" and '<li class="current" aria-current="step">Draft</li>' in page
    assert 'id="cancel"' not in page  # a draft was never launched: nothing to cancel

    # The preview: the first member of the audience, rendered for real, as a sandboxed document.
    with segmented_app.app_context():
        first = db.session.scalar(sa.select(Membership.customer_id).where(Membership.segment_id == segment_id)
                                  .order_by(Membership.customer_id))
        with connect_shop() as conn:
            customer = queries.customers_by_ids(conn, current_mapping(), [first])[first]
    preview = client.get(preview_src(page))
    shown = preview.get_data(as_text=True)
    assert preview.status_code == 200 and f"Hello {customer['first_name']}" in shown and "SPRING" in shown
    policy = preview.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "script-src" not in policy  # default-src 'none': no scripts either
    assert "frame-ancestors 'self'" in policy

    # A test send to the admin's own address, over real SMTP; its links are not tracked.
    token = csrf_token(client, page_url)
    sent = client.post(f"{page_url}/test", data={"csrf_token": token, "customer_id": first})
    assert sent.status_code == 302
    assert [m["to"] for m in smtp_server.messages] == [[email]]
    test_mail = smtp_server.messages[0]["message"]
    assert test_mail["Subject"].startswith("[TEST]") and "/crm/c/" not in body_of(test_mail, "html")

    # Launch asks first, with the exact audience; nothing happens until it is confirmed.
    question = client.get(f"{page_url}/launch").get_data(as_text=True)
    assert f'<strong id="confirm-audience">{size:,}</strong>' in question
    assert f"Yes, send to {size:,} customers" in question and status_of(segmented_app, campaign_id) == "draft"
    confirmed, page = launch(client, page_url)
    assert confirmed == size and f"Launched now to {size:,} customers" in page
    assert page_status(page) == "scheduled" and 'id="cancel"' in page
    with segmented_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0  # nothing rendered in a request
        enqueue_due()  # what cron's send run does first
    page = client.get(page_url).get_data(as_text=True)
    assert page_status(page) == "sending" and 'id="cancel"' in page and 'id="launch"' not in page
    with segmented_app.app_context():
        report = send_due()
    assert report.sent >= 1 and len(smtp_server.messages) == report.sent + 1
    page = client.get(page_url).get_data(as_text=True)
    assert page_status(page) == "sent" and status_of(segmented_app, campaign_id) == "sent"
    assert 'id="cancel"' not in page and 'id="launch"' not in page  # a sent campaign offers neither
    assert '<li class="current" aria-current="step">Sent</li>' in page and "Last e-mail sent" in page
    assert f'<strong id="delivered">{report.sent:,}</strong>' in page and f"<dt>Sent</dt><dd>{report.sent:,}</dd>" in page
    listing = client.get("/crm/admin/campaigns").get_data(as_text=True)
    assert "Spring picks" in listing and f'<td class="num">{report.sent:,}</td>' in listing
    assert '<span class="status status-sent">Sent</span>' in listing
    refused = client.post(f"{page_url}/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert "already sent" in refused.get_data(as_text=True) and status_of(segmented_app, campaign_id) == "sent"


def test_launch_asks_again_when_the_audience_changed(segmented_app):
    client, _ = logged_in(segmented_app)
    segment_id, size, _ = biggest_segment(segmented_app)
    page_url = create(client, name="Careful", segment_ids=str(segment_id)).headers["Location"]
    campaign_id = int(page_url.rsplit("/", 1)[1])
    token = csrf_token(client, page_url)
    unconfirmed = client.post(f"{page_url}/launch", data={"csrf_token": token})
    assert unconfirmed.status_code == 200 and 'id="confirm-launch"' in unconfirmed.get_data(as_text=True)
    assert status_of(segmented_app, campaign_id) == "draft"  # a bare POST only asks
    stale = client.post(f"{page_url}/launch", data={"csrf_token": token, "confirmed_audience": str(size + 7)})
    text = stale.get_data(as_text=True)
    assert stale.status_code == 200 and f"changed to {size} customers" in text
    assert f'<strong id="confirm-audience">{size:,}</strong>' in text and status_of(segmented_app, campaign_id) == "draft"
    confirmed, _ = launch(client, page_url)
    assert confirmed == size and status_of(segmented_app, campaign_id) == "scheduled"


def test_scheduling_for_later_and_cancelling(segmented_app):
    client, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    page_url = create(client, name="Later", segment_ids=str(segment_id)).headers["Location"]
    campaign_id = int(page_url.rsplit("/", 1)[1])
    question = client.get(f"{page_url}/launch", query_string={"scheduled_at": "2099-01-01T09:30"})
    assert "1 Jan 2099, 09:30" in question.get_data(as_text=True)
    launch(client, page_url, "2099-01-01T09:30")
    with segmented_app.app_context():
        assert enqueue_due() == []  # not due yet
        assert db.session.get(Campaign, campaign_id).status == "scheduled"
    page = client.get(page_url).get_data(as_text=True)
    assert "Sends 1 Jan 2099, 09:30" in page
    token = csrf_token(client, page_url)
    client.post(f"{page_url}/cancel", data={"csrf_token": token})
    assert status_of(segmented_app, campaign_id) == "cancelled"
    page = client.get(page_url).get_data(as_text=True)
    assert 'class="current cancelled"' in page and 'id="launch"' not in page and 'id="cancel"' not in page


def test_the_wording_is_edited_without_template_code_and_round_trips(segmented_app):
    client, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    page_url = create(client, name="Words", segment_ids=str(segment_id)).headers["Location"]
    form = client.get(page_url).get_data(as_text=True)
    for field in ("subject", "preheader", "heading", "intro", "button", "products", "coupon"):
        assert f'name="{field}"' in form, field
    assert "Template code (advanced)" in form and "as shipped" in form
    html_before = re.search(r'name="html_body"[^>]*>(.*?)</textarea>', form, re.S).group(1)
    token = csrf_token(client, page_url)
    wording = {"subject": "Winter is here, {{ customer.first_name }}", "preheader": "Warm picks inside",
               "heading": "Cosy <b>winter</b>, {{ customer.first_name }}",
               "intro": "First paragraph.\r\n\r\nSecond paragraph for {{ shop.name }}.", "button": "Get warm",
               "products": "2", "coupon": "WARM5", "name": "Words", "has_target": "y", "segment_ids": str(segment_id),
               "html_body": htmllib.unescape(html_before),
               "text_body": htmllib.unescape(re.search(r'name="text_body"[^>]*>(.*?)</textarea>', form, re.S).group(1))}
    saved = client.post(page_url, data={"csrf_token": token, **wording}, follow_redirects=True)
    page = saved.get_data(as_text=True)
    assert "Saved." in page
    assert 'value="Warm picks inside"' in page and 'value="Get warm"' in page and 'value="WARM5"' in page
    assert "First paragraph.\n\nSecond paragraph for {{ shop.name }}.</textarea>" in page
    assert re.search(r'name="products" min="0" max="12" value="2"', page) and "as shipped" in page  # code untouched
    with segmented_app.app_context():
        campaign = db.session.get(Campaign, int(page_url.rsplit("/", 1)[1]))
        assert campaign.content["heading"] == "Cosy <b>winter</b>, {{ customer.first_name }}"
        assert campaign.content["products"] == 2 and campaign.subject == wording["subject"]
    shown = client.get(preview_src(page)).get_data(as_text=True)
    assert "Cosy &lt;b&gt;winter&lt;/b&gt;, " in shown and "<p style=" in shown and "Second paragraph for Demo Shop." in shown
    assert re.search(r'class="preheader"[^>]*>Warm picks inside', shown)
    assert len(re.findall(r'class="button"', shown)) == 1 and ">Get warm</a>" in shown
    assert len(re.findall(r'class="card-button"', shown)) == 2 and "WARM5" in shown

    for bad, message in (({"products": "99"}, "from 0 to 12"), ({"heading": "x" * 151}, "at most 150 fit"),
                         ({"subject": "{{ customer.__class__.__mro__ }}"}, "not allowed"),
                         ({"intro": "{{ nope.missing }}"}, "unknown variable")):
        refused = client.post(page_url, data={"csrf_token": token, **wording, **bad}, follow_redirects=True)
        assert message in refused.get_data(as_text=True) and "Saved." not in refused.get_data(as_text=True)
    with segmented_app.app_context():
        campaign = db.session.get(Campaign, int(page_url.rsplit("/", 1)[1]))
        assert campaign.content["products"] == 2 and campaign.subject == wording["subject"]  # nothing lost

    # The template code stays an advanced option, and the shipped template can be put back.
    edited = client.post(page_url, data={"csrf_token": token, **wording, "html_body": "<p>{{ content.heading }}</p>"},
                         follow_redirects=True).get_data(as_text=True)
    assert "— edited" in edited and 'id="reset-template"' in edited
    back = client.post(f"{page_url}/template/reset", data={"csrf_token": token}, follow_redirects=True)
    assert "as shipped" in back.get_data(as_text=True)
    with segmented_app.app_context():
        campaign = db.session.get(Campaign, int(page_url.rsplit("/", 1)[1]))
        assert "blocks/products.html" in campaign.html_body and campaign.content["button"] == "Get warm"


def test_a_preview_click_never_counts_as_the_customers(segmented_app):
    """An admin clicking around in a preview (or a test e-mail) must not add a click to the customer's
    timeline or to the campaign's results: previews carry no tracked link and no open pixel."""
    client, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    page_url = create(client, name="Clicks", segment_ids=str(segment_id)).headers["Location"]
    campaign_id = int(page_url.rsplit("/", 1)[1])
    launch(client, page_url)
    with segmented_app.app_context():
        enqueue_due()
        assert send_due().sent > 0
        delivered = db.session.scalars(sa.select(Message).where(Message.campaign_id == campaign_id,
                                                                Message.state == "sent").order_by(Message.id)).first()
        customer_id, delivered_html = delivered.customer_id, delivered.html
    segmented_app.config["SHOPCRM_TRACK_OPENS"] = True

    def clicks_seen():
        with segmented_app.app_context():
            count = db.session.scalar(sa.select(sa.func.count()).select_from(Click))
            row = db.session.get(Message, delivered.id)
            state = (count, row.click_count, row.opened_at)
        timeline = client.get(f"/crm/admin/customers/{customer_id}").get_data(as_text=True)
        results = client.get(page_url).get_data(as_text=True)
        clicked = re.search(r'<strong id="clicked">(\d+)</strong>', results).group(1)
        return state, timeline.count('class="event event-click"'), clicked

    before = clicks_seen()
    assert before == ((0, 0, None), 0, "0")
    page = client.get(f"{page_url}?customer_id={customer_id}").get_data(as_text=True)
    preview = client.get(preview_src(page)).get_data(as_text=True)
    links = {htmllib.unescape(u) for u in re.findall(r'(?:href|src)="([^"]+)"', preview)}
    assert links and not [u for u in links if "/crm/c/" in u or "/crm/o/" in u]  # nothing tracked, no pixel
    assert any(u.startswith("https://shop.test/product.php") for u in links)  # straight to the shop
    for url in links:  # follow whatever points at shopcrm, as a browser would
        if url.startswith("http://crm.test/"):
            client.get(url.removeprefix("http://crm.test"))
    assert clicks_seen() == before
    # the measurement itself works: the customer's own e-mail does count
    own = re.search(r'href="http://crm\.test(/crm/c/[^"]+)"', delivered_html).group(1)
    assert client.get(own).status_code == 302
    assert clicks_seen()[1:] == (1, "1")


def test_the_preview_picks_a_customer_by_name_or_email(segmented_app, demo_shop_file):
    from tests.support.campaigns import shop_execute

    client, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    page_url = create(client, name="Whom", segment_ids=str(segment_id)).headers["Location"]
    cid, first, last, email = shop_execute(demo_shop_file, "SELECT customer_id, first_name, last_name, email FROM "
                                                           "customers WHERE email LIKE '%@example.%' AND first_name "
                                                           "NOT LIKE '%<%' ORDER BY customer_id LIMIT 1 OFFSET 40")[0]
    by_email = client.get(page_url, query_string={"customer": email}).get_data(as_text=True)
    assert f"customer_id={cid}" in preview_src(by_email) and email in by_email
    by_name = client.get(page_url, query_string={"customer": f"{first} {last}"}).get_data(as_text=True)
    src = preview_src(by_name)
    namesakes = shop_execute(demo_shop_file, "SELECT customer_id FROM customers WHERE first_name = ? AND last_name = ?",
                             (first, last))
    assert int(re.search(r"customer_id=(\d+)", src).group(1)) in {int(r[0]) for r in namesakes}
    assert f"Hello {first}" in client.get(src).get_data(as_text=True)
    by_number = client.get(page_url, query_string={"customer": f"#{cid}"}).get_data(as_text=True)
    assert f"customer_id={cid}" in preview_src(by_number)
    nobody = client.get(page_url, query_string={"customer": "zzqxnobody"}).get_data(as_text=True)
    assert "Nobody found for “zzqxnobody”" in nobody and 'iframe class="preview"' in nobody


def test_a_new_campaign_starts_from_a_ready_made_audience(segmented_app):
    client, _ = logged_in(segmented_app)
    form = client.get("/crm/admin/campaigns/new?audience=win_back").get_data(as_text=True)
    assert 'value="Win back customers about to leave"' in form
    assert '<option value="win_back" selected>' in form and '<option value="yes" selected>At risk of leaving</option>' in form
    assert 'id="audience-why"' in form
    token = csrf_token(client, "/crm/admin/campaigns/new")
    made = client.post("/crm/admin/campaigns/new", data={"csrf_token": token, "name": "Win back customers about to leave",
                                                         "template": "win_back", "churn_risk": "yes"})
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert 'value="We miss you, {{ customer.first_name }}"' in page and "at risk of leaving" in page
    assert client.get("/crm/admin/campaigns/new?audience=nonsense").status_code == 200  # an unknown key: a blank form


def test_the_campaign_page_survives_the_shop_being_down(segmented_app, tmp_path):
    client, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    page_url = create(client, name="Down", segment_ids=str(segment_id)).headers["Location"]
    campaign_id = int(page_url.rsplit("/", 1)[1])
    launch(client, page_url)
    with segmented_app.app_context():
        enqueue_due()
        sent = send_due().sent
        own = db.session.scalars(sa.select(Message.html).where(Message.campaign_id == campaign_id,
                                                               Message.state == "sent")).first()
    client.get(re.search(r'href="http://crm\.test(/crm/c/[^"]+)"', own).group(1))
    dispose(segmented_app)
    shutil.copy(tmp_path / "crm.db", tmp_path / "crm_copy.db")
    down = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'crm_copy.db'}",
                                  SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{tmp_path / 'no' / 'such' / 'shop.db'}"))
    try:
        viewer, _ = logged_in(down, role="viewer")
        response = viewer.get(page_url)
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert 'id="orders-error"' in page and "cannot reach the shop database" in page
        assert f'<strong id="delivered">{sent:,}</strong>' in page and '<strong id="clicked">1</strong>' in page
        shown = down.test_cli_runner().invoke(args=["shopcrm", "campaign", "show", str(campaign_id)])
        assert shown.exit_code == 0, shown.output
        assert f"delivered: {sent:,}" in shown.output and "clicked: 1 people" in shown.output
        assert "orders and revenue could not be counted: cannot reach the shop database" in shown.output
        assert "{" not in shown.output and "Traceback" not in shown.output
    finally:
        dispose(down)


def test_viewers_see_campaigns_but_change_nothing(segmented_app):
    marketer, _ = logged_in(segmented_app)
    segment_id, _, _ = biggest_segment(segmented_app)
    page_url = create(marketer, name="Look only", segment_ids=str(segment_id)).headers["Location"]
    viewer, _ = logged_in(segmented_app, role="viewer")
    page = viewer.get(page_url).get_data(as_text=True)
    assert "Look only" in page and 'id="launch"' not in page and "Send a test" not in page and 'id="save"' not in page
    assert viewer.get("/crm/admin/campaigns/new").status_code == 403
    assert viewer.get(f"{page_url}/launch").status_code == 403
    assert viewer.post(f"{page_url}/template/reset").status_code in (400, 403)


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
    for kind in ("run_offer", "abandoned_cart", "browse_abandonment", "win_back"):  # the panel links to #<kind>
        assert f'<section class="card trigger" id="{kind}">' in page
    token = csrf_token(client, "/crm/admin/triggers")
    saved = client.post("/crm/admin/triggers/abandoned_cart", data={"csrf_token": token, "enabled": "y", "hours": "6",
                                                                    "max_age_days": "7", "window_days": "7",
                                                                    "coupon": "COMEBACK"})
    assert saved.headers["Location"].endswith("/crm/admin/triggers#abandoned_cart")
    bad = client.post("/crm/admin/triggers/browse_abandonment", data={
        "csrf_token": token, "enabled": "y", "min_views": "2", "lookback_hours": "2", "quiet_hours": "5",
        "recent_order_days": "10", "window_days": "14"}, follow_redirects=True)
    assert "Trigger browse_abandonment: quiet_hours must be shorter" in bad.get_data(as_text=True)
    for absurd in ("NaN", "inf", "1e308"):
        refused = client.post("/crm/admin/triggers/win_back", data={
            "csrf_token": token, "enabled": "y", "window_days": absurd}, follow_redirects=True)
        assert "must be a whole number from 1 to 365" in refused.get_data(as_text=True), absurd
    with segmented_app.app_context():
        triggers = {t.kind: t for t in db.session.scalars(sa.select(Trigger))}
        assert triggers["abandoned_cart"].enabled and triggers["abandoned_cart"].params["hours"] == 6
        assert triggers["abandoned_cart"].campaign.coupon == "COMEBACK"
        assert not triggers["browse_abandonment"].enabled and not triggers["win_back"].enabled
        assert triggers["win_back"].params["window_days"] == 60
    viewer, _ = logged_in(segmented_app, role="viewer")
    viewer_page = viewer.get("/crm/admin/triggers").get_data(as_text=True).split("<main", 1)[1]
    assert "/crm/admin/triggers/abandoned_cart" not in viewer_page  # no forms for viewers
    assert "hours after the last cart change: 6" in viewer_page


@pytest.mark.browser
def test_a_meta_refresh_in_a_preview_navigates_nobody(segmented_app):
    """A marketer's <meta http-equiv="refresh"> must not take the admin who opens the preview elsewhere:
    the preview is served with Content-Security-Policy: sandbox (checked in a real Chromium)."""
    email, password = create_user(segmented_app, email="owner@shop.test", password="owner-password-1",
                                  role="marketer")
    segment_id, _, _ = biggest_segment(segmented_app)
    with live_server(segmented_app) as base, browser() as chromium:
        with segmented_app.app_context():
            from shopcrm.campaigns.service import create_campaign

            trap = (f'<meta http-equiv="refresh" content="0;url={base}/admin/campaigns?navigated=1">'
                    '<p id="body">{{ content.heading }}</p><script>document.title = "script ran"</script>')
            campaign = create_campaign("Trap", {"segment_ids": [segment_id]}, html=trap)
            db.session.commit()
            campaign_id = campaign.id
        page = chromium.new_page(viewport={"width": 1366, "height": 900})
        sign_in(page, base, email, password)
        preview_url = f"{base}/admin/campaigns/{campaign_id}/preview.html"
        page.goto(preview_url)  # opened on its own, not in the page's sandboxed frame
        page.wait_for_timeout(2500)
        assert page.url == preview_url and "navigated" not in page.url
        assert page.title() != "script ran" and "Picked for you" in page.inner_text("#body")
        page.goto(f"{base}/admin/campaigns/{campaign_id}")
        page.wait_for_timeout(2500)
        assert page.url.endswith(f"/admin/campaigns/{campaign_id}")
        frame = page.frame_locator("iframe.preview")
        assert "Picked for you" in frame.locator("#body").inner_text()
        screenshot(page, "campaign-preview-trap-desktop")


@pytest.mark.browser
@pytest.mark.parametrize("device,width", [("desktop", 1366), ("phone", 390)])
def test_the_campaign_pages_in_a_real_browser(segmented_app, device, width):
    """New campaign from a ready-made audience, the draft with its form and preview, the launch
    question, the sent campaign with its results, the triggers: readable at both widths."""
    email, password = create_user(segmented_app, email="marketer@shop.test", password="marketer-password-1",
                                  role="marketer")
    with picture_server() as pictures, live_server(segmented_app) as base, browser() as chromium:
        segmented_app.config.update(SHOPCRM_SHOP_ADDRESS="Demo Shop GmbH, Hauptstraße 1, 10115 Berlin",
                                    SHOPCRM_SHOP_BASE_URL=pictures, SHOPCRM_SHOP_LOGO_URL=f"{pictures}logo.svg")
        page = chromium.new_page(viewport={"width": width, "height": 900})
        errors = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        sign_in(page, base, email, password)

        def wide_enough(name):
            screenshot(page, f"{name}-{device}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, name

        page.goto(f"{base}/admin/campaigns/new?audience=best_customers")
        wide_enough("campaign-new")
        page.fill("input[name=coupon]", "THANKYOU")
        page.click("button:has-text('Save draft')")
        page.wait_for_selector("#preview iframe.preview")
        page.fill("input[name=heading]", "A thank-you, {{ customer.first_name }}")
        page.click("#save")
        page.wait_for_selector(".flash-success:has-text('Saved')")
        frame = page.frame_locator("iframe.preview")
        assert "A thank-you, " in frame.locator("h1").inner_text() and "THANKYOU" in frame.locator("body").inner_text()
        wide_enough("campaign-draft")
        audience = page.inner_text("#audience")
        page.click("#launch")
        page.wait_for_selector("#confirm-launch")
        assert page.inner_text("#confirm-audience") == audience
        wide_enough("campaign-launch")
        page.click("#confirm-launch")
        page.wait_for_selector(".flash-success:has-text('Launched')")
        assert page.inner_text("#status").lower() == "scheduled"
        with segmented_app.app_context():
            enqueue_due()
            send_due()
        page.reload()
        assert page.inner_text("#status").lower() == "sent" and page.locator("#cancel").count() == 0
        assert page.inner_text("#delivered") != "0"
        page.frame_locator("iframe.preview").locator("h1").wait_for()
        wide_enough("campaign-sent")
        page.goto(f"{base}/admin/triggers#abandoned_cart")
        wide_enough("triggers")
        assert not errors, errors


def test_predicted_best_customers_survive_the_form(segmented_app):
    """The "predicted best" audience is a target the form shows and saves back (a field for the share)."""
    client, _ = logged_in(segmented_app)
    form = client.get("/crm/admin/campaigns/new?audience=predicted_best").get_data(as_text=True)
    assert 'name="predicted_top_percent" value="10"' in form
    token = csrf_token(client, "/crm/admin/campaigns/new")
    made = client.post("/crm/admin/campaigns/new", data={"csrf_token": token, "name": "Best ahead",
                                                         "template": "segment_offer", "predicted_top_percent": "10"})
    assert made.status_code == 302
    with segmented_app.app_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name == "Best ahead"))
        assert campaign.target == {"predicted_top_percent": 10.0}
        buyers = db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
            Membership.run_id == Run.current().id, Membership.expected_value.is_not(None)))
        assert 0 < audience_count(campaign.target) <= buyers // 10 + 5
