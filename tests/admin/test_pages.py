"""Admin pages beyond the dashboard: users and roles, segments, customers."""
import csv
import io
import re

import sqlalchemy as sa

from shopcrm.customers.members import csv_safe
from shopcrm.extensions import db
from shopcrm.models import Membership, Run, Segment, User
from tests.support.apps import biggest, create_user, csrf_token, logged_in, login

# --- users and roles -------------------------------------------------------------------------------

def test_admin_creates_users_and_assigns_roles(segmented_app):
    client = logged_in(segmented_app)
    token = csrf_token(client, "/crm/admin/users")
    response = client.post("/crm/admin/users", data={"email": "Mia@Shop.test", "role": "marketer",
                                                      "password": "long-enough-pw", "csrf_token": token})
    assert response.status_code == 302
    with segmented_app.app_context():
        mia = db.session.scalar(sa.select(User).where(User.email == "mia@shop.test"))
        assert mia.role == "marketer" and mia.check_password("long-enough-pw")
        mia_id = mia.id
    response = client.post(f"/crm/admin/users/{mia_id}", data={"role": "viewer", "csrf_token": token})
    assert response.status_code == 302
    with segmented_app.app_context():
        mia = db.session.get(User, mia_id)
        assert mia.role == "viewer" and not mia.active  # the unchecked box deactivates
    marketer = segmented_app.test_client()
    assert "Wrong email or password" in login(marketer, "mia@shop.test", "long-enough-pw").get_data(as_text=True)


def test_invalid_new_users_are_refused_with_a_reason(segmented_app):
    client = logged_in(segmented_app)
    token = csrf_token(client, "/crm/admin/users")
    page = client.post("/crm/admin/users", data={"email": "not-an-address", "role": "viewer", "password": "short",
                                                  "csrf_token": token}).get_data(as_text=True)
    assert "Enter a valid email address" in page and "between 10 and 256 characters" in page
    with segmented_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_the_last_admin_cannot_be_demoted(segmented_app):
    client = logged_in(segmented_app)
    token = csrf_token(client, "/crm/admin/users")
    with segmented_app.app_context():
        me = db.session.scalar(sa.select(User.id))
    page = client.post(f"/crm/admin/users/{me}", data={"role": "viewer", "active": "y", "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "at least one active admin" in page
    with segmented_app.app_context():
        assert db.session.get(User, me).role == "admin"


def test_users_page_is_for_admins_only(segmented_app):
    for role in ("marketer", "viewer"):
        client = logged_in(segmented_app, role=role)
        assert client.get("/crm/admin/users").status_code == 403
        assert "/crm/admin/users" not in client.get("/crm/admin/").get_data(as_text=True)  # not in the menu


def test_admin_resets_a_password(segmented_app):
    client = logged_in(segmented_app)
    create_user(segmented_app, email="v@shop.test", password="old-password-1", role="viewer")
    with segmented_app.app_context():
        uid = db.session.scalar(sa.select(User.id).where(User.email == "v@shop.test"))
    token = csrf_token(client, "/crm/admin/users")
    client.post(f"/crm/admin/users/{uid}/password", data={"password": "new-password-22", "csrf_token": token})
    with segmented_app.app_context():
        assert db.session.get(User, uid).check_password("new-password-22")


# --- segments --------------------------------------------------------------------------------------

def test_segments_list_and_search(segmented_app):
    client = logged_in(segmented_app, role="viewer")
    listing = client.get("/crm/admin/segments").get_data(as_text=True)
    with segmented_app.app_context():
        for segment in Run.current().segments:
            assert f"/crm/admin/segments/{segment.id}" in listing
    seg_id, _, run_id = biggest(segmented_app)
    with segmented_app.app_context():
        member = db.session.scalar(sa.select(Membership.customer_id).where(
            Membership.run_id == run_id, Membership.segment_id == seg_id).order_by(Membership.customer_id).offset(7))
    from shopcrm.shop import connect_shop, current_mapping, queries

    with segmented_app.app_context(), connect_shop() as conn:
        email = queries.customers_by_ids(conn, current_mapping(), [member])[member]["email"]
    page = client.get(f"/crm/admin/segments/{seg_id}", query_string={"q": email}).get_data(as_text=True)
    assert re.findall(r"/crm/admin/customers/(\d+)\">#", page) == [str(member)]
    nobody = client.get(f"/crm/admin/segments/{seg_id}", query_string={"q": "zzz-nobody"}).get_data(as_text=True)
    assert "No members match" in nobody


def test_member_search_by_name_counts_every_matching_member(segmented_app, monkeypatch):
    """A common first name matches many shop customers: every one of them who is in the
    segment is counted (not only those among a first page of shop matches), and when the
    search stops at its cap the page says so."""
    from shopcrm.customers import members as segments_module
    from shopcrm.shop import connect_shop

    client = logged_in(segmented_app, role="viewer")
    seg_id, _, run_id = biggest(segmented_app)
    with segmented_app.app_context(), connect_shop() as conn:
        name, = conn.execute(sa.text("SELECT first_name FROM customers WHERE first_name IS NOT NULL "
                                     "GROUP BY first_name ORDER BY COUNT(*) DESC LIMIT 1")).one()
        matching = {int(i) for i in conn.execute(sa.text(
            "SELECT customer_id FROM customers WHERE active = 1 AND (first_name LIKE :p OR last_name LIKE :p "
            "OR email LIKE :p)"), {"p": f"%{name}%"}).scalars()}
        members = set(db.session.scalars(sa.select(Membership.customer_id).where(
            Membership.run_id == run_id, Membership.segment_id == seg_id)))
    expected = len(matching & members)
    assert 0 < expected < len(matching)
    page = client.get(f"/crm/admin/segments/{seg_id}", query_string={"q": name}).get_data(as_text=True)
    assert f"{expected} member(s) match" in page and "among the first" not in page
    monkeypatch.setattr(segments_module, "SEARCH_LIMIT", 5)
    capped = client.get(f"/crm/admin/segments/{seg_id}", query_string={"q": name}).get_data(as_text=True)
    assert "among the first 5 customers" in capped


def test_segment_export_streams_every_member_as_csv(segmented_app):
    client = logged_in(segmented_app, role="marketer")
    seg_id, size, _ = biggest(segmented_app)
    response = client.get(f"/crm/admin/segments/{seg_id}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == size
    assert len({r["Customer number"] for r in rows}) == size
    assert all(r["Customer type"] for r in rows)
    # the same figures as `flask shopcrm export customers`: segment, RFM, churn, predictions, action
    with segmented_app.app_context():
        members = {m.customer_id: m for m in db.session.scalars(sa.select(Membership).where(
            Membership.run_id == Run.current().id, Membership.segment_id == seg_id))}
        name = db.session.get(Segment, seg_id).name
    for r in rows:
        m = members[int(r["Customer number"])]
        assert r["Segment"] == name and r["Recency score (1-5)"] == ("" if m.rfm_r is None else str(m.rfm_r))
        assert r["Expected spend (next period)"] == ("" if m.expected_value is None else f"{m.expected_value:.2f}")
        assert r["At risk of leaving"] == ("" if m.churn_score is None else ("yes" if m.churn_risk else "no"))
    assert any(r["Expected spend (next period)"] for r in rows) and any(r["Recommended action"] for r in rows)
    viewer = logged_in(segmented_app, role="viewer", email="v2@shop.test")
    assert viewer.get(f"/crm/admin/segments/{seg_id}/export.csv").status_code == 403


def test_csv_cells_cannot_carry_formulas():
    assert csv_safe("=HYPERLINK(\"http://evil\")") == "'=HYPERLINK(\"http://evil\")"
    assert csv_safe("+31 20 123") == "'+31 20 123" and csv_safe("@cmd") == "'@cmd"
    assert csv_safe("anna@example.org") == "anna@example.org" and csv_safe(None) == ""


# --- customers -------------------------------------------------------------------------------------

def a_buyer(app):
    with app.app_context():
        return db.session.scalar(sa.select(Membership.customer_id).where(
            Membership.run_id == Run.current().id, Membership.frequency >= 3, Membership.segment_id.is_not(None))
            .order_by(Membership.customer_id))


def test_customer_search_finds_by_name_and_email(segmented_app):
    client = logged_in(segmented_app, role="viewer")
    page = client.get("/crm/admin/customers", query_string={"q": "Müller"}).get_data(as_text=True)
    found = re.findall(r"/crm/admin/customers/(\d+)\">", page)
    assert found and "Müller" in page
    none = client.get("/crm/admin/customers", query_string={"q": "%"}).get_data(as_text=True)
    assert "Nobody matches" in none  # LIKE wildcards are searched literally


def test_customer_search_by_address_start_domain_and_id(segmented_app):
    """An address is matched from its start (the shop's e-mail index serves it), in any case;
    "@domain" anywhere; a number finds that customer id too."""
    from shopcrm.shop import connect_shop

    with segmented_app.app_context(), connect_shop() as conn:
        rows = conn.execute(sa.text("SELECT customer_id, email FROM customers WHERE email LIKE '%_@_%' "
                                    "ORDER BY customer_id")).mappings().all()
    with_email = [dict(r) for r in rows if r["email"].isascii() and r["email"] == r["email"].strip()]
    target = with_email[len(with_email) // 2]
    client = logged_in(segmented_app, role="viewer")

    def ids(q):
        page = client.get("/crm/admin/customers", query_string={"q": q}).get_data(as_text=True)
        return {int(x) for x in re.findall(r"/crm/admin/customers/(\d+)\">", page)}

    head = target["email"].split("@")[0]
    assert target["customer_id"] in ids(target["email"].upper())
    assert target["customer_id"] in ids(head + "@")
    assert target["customer_id"] not in ids(head[1:] + "@")  # from the start only
    domain = "@" + target["email"].split("@")[1]
    assert target["customer_id"] in ids(domain) or len(ids(domain)) == 100  # a page of the domain's customers
    assert target["customer_id"] in ids(str(target["customer_id"]))


def test_customer_profile_shows_interests_value_type_and_timeline(segmented_app, demo_shop):
    customer_id = a_buyer(segmented_app)
    client = logged_in(segmented_app, role="viewer")
    page = client.get(f"/crm/admin/customers/{customer_id}").get_data(as_text=True)
    assert "Earlier analyses" in page and "Timeline" in page
    assert page.count('class="event event-order"') >= 3
    assert 'class="event event-view"' in page
    with segmented_app.app_context():
        membership = db.session.get(Membership, (Run.current().id, customer_id))
        segment = db.session.get(Segment, membership.segment_id)
    assert segment.name.replace("&", "&amp;") in page
    assert client.get("/crm/admin/customers/987654321").status_code == 404


def test_shop_html_is_escaped_on_the_profile(segmented_app, demo_shop):
    """The demo shop has a product named <script>...: whoever viewed it shows it escaped."""
    products = demo_shop.tables["products"]
    evil = int(products["product_id"][0])
    views = demo_shop.tables["product_views"]
    viewer_id = next(int(c) for c, p in zip(views["customer_id"], views["product_id"]) if p == evil and c is not None)
    client = logged_in(segmented_app, role="viewer")
    page = client.get(f"/crm/admin/customers/{viewer_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; Trail shoe" in page
    assert "<script>alert" not in page


def test_beacon_views_appear_on_the_timeline(segmented_app, demo_shop):
    from datetime import datetime, timedelta, timezone

    from shopcrm.models import ProductView

    customer_id = a_buyer(segmented_app)
    products = demo_shop.tables["products"]
    product_id, name = int(products["product_id"][30]), str(products["name"][30])
    seen_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) + timedelta(days=2)  # newest event
    with segmented_app.app_context():
        db.session.add(ProductView(customer_id=customer_id, product_id=product_id, viewed_at=seen_at,
                                   nonce="a" * 32))
        db.session.commit()
    client = logged_in(segmented_app, role="viewer")
    page = client.get(f"/crm/admin/customers/{customer_id}").get_data(as_text=True)
    first_day, first_event = page.split('<h3 class="day">', 1)[1].split("</li>", 1)[0].split("</h3>", 1)
    assert "event-view" in first_event and f"viewed {name}" in first_event
    local = seen_at.replace(tzinfo=timezone.utc).astimezone()  # the shop's zone: this server's (none is set)
    assert f">{local:%H:%M}</time>" in first_event  # shown in local time like the shop's own events
    from babel.dates import format_date

    assert first_day == format_date(local.date(), "medium", locale="en_GB")  # the default SHOPCRM_LOCALE


# --- settings --------------------------------------------------------------------------------------

def test_settings_show_the_doctor_report_to_admins_only(segmented_app):
    client = logged_in(segmented_app)
    page = client.get("/crm/admin/settings").get_data(as_text=True)
    assert "Everything shopcrm needs is there" in page
    assert page.count('<tr class="status-') == 8  # one row per logical entity
    assert "<td>product views" in page and "<td>orders" in page
    assert "View beacon" in page and "is <strong>off</strong>" in page
    token = csrf_token(client, "/crm/admin/settings")
    assert client.post("/crm/admin/settings/doctor", data={"csrf_token": token}).status_code == 302
    for role in ("marketer", "viewer"):
        assert logged_in(segmented_app, role=role).get("/crm/admin/settings").status_code == 403


def test_the_doctor_runs_once_and_every_visit_reads_its_stored_report(segmented_app, monkeypatch):
    """On a large shop the doctor takes seconds: page views read the stored report; only the
    first visit, "Check again" and the CLI run it, and never two at once."""
    from shopcrm import health as settings_module
    from shopcrm.locks import try_acquire
    from shopcrm.models import State

    calls = []
    real = settings_module.report_for_app

    def counted():
        calls.append(1)
        return real()

    monkeypatch.setattr(settings_module, "report_for_app", counted)
    client = logged_in(segmented_app)
    for _ in range(3):
        assert "Everything shopcrm needs is there" in client.get("/crm/admin/settings").get_data(as_text=True)
    assert len(calls) == 1
    with segmented_app.app_context():
        stored = State.read("doctor")
        assert stored.data["ok"] is True and len(stored.data["entities"]) == 8
    token = csrf_token(client, "/crm/admin/settings")
    again = client.post("/crm/admin/settings/doctor", data={"csrf_token": token}, follow_redirects=True)
    assert "checked again" in again.get_data(as_text=True) and len(calls) == 2
    with segmented_app.app_context():
        lease = try_acquire("doctor", 60)  # a check running elsewhere
        try:
            busy = client.post("/crm/admin/settings/doctor", data={"csrf_token": token}, follow_redirects=True)
        finally:
            lease.release()
    assert "already running" in busy.get_data(as_text=True) and len(calls) == 2
    with segmented_app.app_context():
        db.session.delete(State.read("doctor"))
        db.session.commit()
        lease = try_acquire("doctor", 60)
        try:  # first visit while another process checks: say so, start nothing
            page = client.get("/crm/admin/settings").get_data(as_text=True)
        finally:
            lease.release()
    assert "check of the shop database is running" in page and len(calls) == 2
    result = segmented_app.test_cli_runner().invoke(args=["shopcrm", "doctor"])
    assert result.exit_code == 0, result.output
    with segmented_app.app_context():
        assert State.read("doctor") is not None


def test_settings_report_a_broken_shop_readably(make_app, tmp_path):
    import sqlite3

    broken = tmp_path / "broken_shop.db"
    sqlite3.connect(broken).execute("CREATE TABLE customers (customer_id INTEGER PRIMARY KEY)").connection.close()
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{broken}")
    client = logged_in(app)
    page = client.get("/crm/admin/settings").get_data(as_text=True)
    assert "cannot segment this shop until the problems below are fixed" in page
    assert "has no column `email`" in page and "does not exist in the shop database" in page
    assert "Traceback" not in page


def test_emails_and_clicks_appear_on_the_timeline(segmented_app):
    from shopcrm.campaigns.service import create_campaign
    from shopcrm.models import Click, Message

    customer_id = a_buyer(segmented_app)
    with segmented_app.app_context():
        segment = db.session.scalars(sa.select(Segment).where(Segment.run_id == Run.current().id)).first()
        campaign = create_campaign("Timeline test", {"segment_ids": [segment.id]})
        db.session.flush()
        message = Message(campaign_id=campaign.id, customer_id=customer_id, email="x@example.org",
                          subject="Your <b>running</b> picks", html="", text="", state="sent")
        db.session.add(message)
        db.session.flush()
        db.session.add(Click(message_id=message.id, campaign_id=campaign.id, customer_id=customer_id,
                             url="https://shop.test/product.php?id=1001"))
        db.session.commit()
    client = logged_in(segmented_app, role="viewer")
    page = client.get(f"/crm/admin/customers/{customer_id}").get_data(as_text=True)
    assert 'class="event event-email"' in page and "Your &lt;b&gt;running&lt;/b&gt; picks" in page
    assert 'class="event event-click"' in page and "clicked https://shop.test/product.php?id=1001" in page


def test_settings_check_the_mail_server(segmented_app, smtp_server):
    from tests.support.campaigns import use_smtp

    client = logged_in(segmented_app)
    token = csrf_token(client, "/crm/admin/settings")
    without = client.post("/crm/admin/settings/mail-test", data={"csrf_token": token}, follow_redirects=True)
    assert ".eml files can be written to" in without.get_data(as_text=True)
    use_smtp(segmented_app, smtp_server.port)
    ok = client.post("/crm/admin/settings/mail-test", data={"csrf_token": token}, follow_redirects=True)
    assert f"127.0.0.1:{smtp_server.port} accepted a session" in ok.get_data(as_text=True)
    assert smtp_server.messages == []  # a check, nothing sent
    from tests.support.smtp import free_port

    use_smtp(segmented_app, free_port())  # nobody listens there
    down = client.post("/crm/admin/settings/mail-test", data={"csrf_token": token}, follow_redirects=True)
    assert "The mail check failed: ConnectionRefusedError" in down.get_data(as_text=True)
