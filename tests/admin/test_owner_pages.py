"""The owner's pages: what the dashboard advises (and that its figures are the stored truth),
shop words instead of research words, customers browsed by filters, the profile's e-mail status,
lifetime and timeline, groups as segments, exports for spreadsheets, error pages."""
from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.clock import shop_now, utcnow
from shopcrm.delivery.addresses import address_hash, normalize
from shopcrm.extensions import db
from shopcrm.models import Campaign, Membership, Message, Run, Segment, Suppression
from tests.support.apps import base_config, biggest, csrf_token, dispose, logged_in
from tests.support.campaigns import SHOP_CLOCK, shop_execute

#: Words of the analyses that mean nothing to a shop owner; they stay on the Runs page.
RESEARCH = [re.compile(p, re.I) for p in (r"\bseed (paper )?\d", r"\bRFM\b", r"\bR\d F\d M\d\b", r"silhouette", r"\blift\b",
                                          r"high_value", r"google_ads", r"Negative \(never bought\)",
                                          r"most_growth", r"below_average", r"davies", r"k-means", r"centroid")]


def visible(html: str) -> str:
    """What a reader sees: the text, and the tooltips (title attributes)."""
    titles = " ".join(re.findall(r'title="([^"]*)"', html))
    body = html.split("<body", 1)[-1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split()) + " " + titles


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.split("<body", 1)[-1]).split())


@pytest.fixture
def shop_app(tmp_path, segmented_template, shop_file):
    """The segmented demo reading a shop copy the test may change."""
    shutil.copy(segmented_template, tmp_path / "crm.db")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop_file}"))
    yield app
    dispose(app)


def owner_pages(app) -> list[str]:
    with app.app_context():
        run = Run.current()
        member = db.session.scalar(sa.select(Membership.customer_id).where(
            Membership.run_id == run.id, Membership.frequency >= 3).order_by(Membership.customer_id))
        segment = run.segments[0].id
    return ["/crm/admin/", "/crm/admin/customers", "/crm/admin/customers?sort=recent&risk=yes",
            f"/crm/admin/customers/{member}", "/crm/admin/segments", f"/crm/admin/segments/{segment}",
            "/crm/admin/segments/type/high_value", "/crm/admin/segments/action/reactivation",
            "/crm/admin/segments/risk/yes", "/crm/admin/insights", "/crm/admin/insights?kind=sequence",
            "/crm/admin/settings", "/crm/admin/suppressions", "/crm/admin/account"]


def test_no_owner_page_speaks_research(segmented_app):
    """Customer types, sources, actions and reasons by name; the figures of the mining stay on
    the Runs page (and the test sees that it can tell: the Runs page has them)."""
    client = logged_in(segmented_app)
    for path in owner_pages(segmented_app):
        response = client.get(path)
        assert response.status_code == 200, path
        text = visible(response.get_data(as_text=True))
        found = [p.pattern for p in RESEARCH if p.search(text)]
        assert not found, f"{path} shows {found}"
    with segmented_app.app_context():
        run_id = Run.current().id
    runs = visible(client.get(f"/crm/admin/runs/{run_id}").get_data(as_text=True))
    assert any(p.search(runs) for p in RESEARCH)  # the detector works where the words belong


def test_money_and_numbers_are_written_for_people(segmented_app):
    """Every amount with its currency and separators, rates as percentages; no 109181.43."""
    client = logged_in(segmented_app)
    for path in owner_pages(segmented_app):
        words = text_of(re.sub(r"<option[^>]*>[^<]*</option>", "", client.get(path).get_data(as_text=True)))
        bare = re.findall(r"(?<![\w€$£.,#/-])\d{4,}\.\d{2}(?![\d%])", words)
        assert not bare, f"{path} shows amounts without currency or separators: {bare[:5]}"
        assert not re.search(r"\d\.\d{3,}\b", words), path  # no raw floats like 0.6964
    page = text_of(client.get("/crm/admin/").get_data(as_text=True))
    assert re.search(r"€\d{1,3}(,\d{3})+ they spent in the last 12 months", page)


# --- the dashboard -------------------------------------------------------------------------------------

def test_action_cards_count_from_the_run_and_link_to_a_prefilled_campaign(segmented_app):
    client = logged_in(segmented_app)
    with segmented_app.app_context():
        run = Run.current()
        at_risk, spent = db.session.execute(sa.select(sa.func.count(), sa.func.sum(Membership.monetary)).where(
            Membership.run_id == run.id, Membership.churn_risk.is_(True))).one()
        fresh = db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
            Membership.run_id == run.id, Membership.value_type == "new", Membership.frequency == 0))
        best = db.session.scalars(sa.select(Membership.customer_id).where(
            Membership.run_id == run.id, Membership.value_type == "high_value")).all()
    page = client.get("/crm/admin/").get_data(as_text=True)
    card = page.split('id="card-win_back"', 1)[1].split("</article>", 1)[0]
    assert f"<strong>{at_risk:,}</strong> customers at risk of leaving" in card
    assert f"<strong>€{round(spent):,}</strong> they spent" in card
    assert 'href="/crm/admin/campaigns/new?audience=win_back"' in card
    welcome = page.split('id="card-welcome"', 1)[1].split("</article>", 1)[0]
    assert f"<strong>{fresh:,}</strong> new sign-ups have not ordered yet" in welcome
    assert "audience=welcome" in welcome
    carts = page.split('id="card-abandoned_cart"', 1)[1].split("</article>", 1)[0]
    assert 'href="/crm/admin/triggers#abandoned_cart"' in carts and "The cart reminder is off" in carts
    quiet = page.split('id="card-best_customers"', 1)[1].split("</article>", 1)[0]
    assert f"<strong>{len(best):,}</strong> of your {len(best):,} best customers got no e-mail" in quiet
    assert "0 of 4 automatic e-mails are on" in text_of(page)

    # A best customer who got an e-mail last week is no longer "not mailed" (after the minute the figure is kept).
    with segmented_app.app_context():
        campaign = Campaign(name="Last week", target={"value_types": ["high_value"]}, subject="s", html_body="h",
                            text_body="t", status="queued")
        db.session.add(campaign)
        db.session.flush()
        db.session.add(Message(campaign_id=campaign.id, customer_id=best[0], email="x@example.org", subject="Hello",
                               html="", text="", state="sent", sent_at=utcnow() - timedelta(days=7)))
        db.session.commit()
        from shopcrm.customers.figures import kept

        kept().forget()
    page = client.get("/crm/admin/").get_data(as_text=True)
    quiet = page.split('id="card-best_customers"', 1)[1].split("</article>", 1)[0]
    assert f"<strong>{len(best) - 1:,}</strong> of your {len(best):,} best customers" in quiet
    last = page.split('id="last-campaigns"', 1)[1].split("</section>", 1)[0]
    assert "Last week" in last and "Sending" in last  # the state in words, the outbox's figure: 1 sent
    assert re.search(r'<td class="num">1</td>', last)


def test_the_open_carts_card_counts_carts_and_their_value(shop_app, shop_file):
    """Cart lines of the last days whose customer did not order since: counted with their value
    (quantity × price); a cart followed by an order is not open."""
    now = shop_now().replace(microsecond=0)
    products = shop_execute(shop_file, "SELECT product_id, price FROM products WHERE active = 1 LIMIT 3")
    customers = [r[0] for r in shop_execute(shop_file, "SELECT customer_id FROM customers WHERE active = 1 "
                                                       "ORDER BY customer_id LIMIT 3")]
    added = (now - timedelta(hours=5)).strftime(SHOP_CLOCK)
    lines = [(customers[0], products[0][0], 2), (customers[0], products[1][0], 1), (customers[1], products[2][0], 1),
             (customers[2], products[0][0], 1)]
    for cid, pid, qty in lines:
        shop_execute(shop_file, "INSERT INTO cart_items (customer_id, product_id, quantity, added_at) VALUES "
                                "(?, ?, ?, ?)", (cid, pid, qty, added))
    shop_execute(shop_file, "INSERT INTO orders (order_id, customer_id, placed_at, total, status) VALUES "
                            "(9999001, ?, ?, 10, 'complete')", (customers[2], (now - timedelta(hours=1)).strftime(SHOP_CLOCK)))
    price = {pid: float(p) for pid, p in products}
    value = 2 * price[products[0][0]] + price[products[1][0]] + price[products[2][0]]
    page = logged_in(shop_app).get("/crm/admin/").get_data(as_text=True)
    card = page.split('id="card-abandoned_cart"', 1)[1].split("</article>", 1)[0]
    assert "<strong>2</strong> open carts" in card
    assert f"<strong>€{round(value):,}</strong> in these carts" in card


def test_the_dashboard_answers_when_the_shop_is_down(tmp_path, segmented_template):
    """No shop: the cards that need it say so, the stored figures and the campaigns' outbox
    figures are still there."""
    shutil.copy(segmented_template, tmp_path / "crm.db")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{tmp_path}/no/such/dir/shop.db"))
    try:
        with app.app_context():
            segment = Run.current().segments[0]
            campaign = Campaign(name="Spring offer", target={"segment_ids": [segment.id]}, subject="s",
                                html_body="h", text_body="t", status="queued")
            db.session.add(campaign)
            db.session.flush()
            db.session.add(Message(campaign_id=campaign.id, customer_id=1, email="a@example.org", subject="s",
                                   html="", text="", state="sent", sent_at=utcnow()))
            db.session.commit()
        client = logged_in(app)
        response = client.get("/crm/admin/")
        assert response.status_code == 200
        words = text_of(response.get_data(as_text=True))
        assert "The shop could not be reached, so open carts cannot be counted right now" in words
        assert "customers at risk of leaving" in words and "Revenue in October 2026" in words
        assert "Spring offer" in words and "orders after the e-mail are not counted right now" in words
        assert client.get("/crm/admin/customers").status_code == 200  # names missing, the list still there
    finally:
        dispose(app)


def test_charts_have_axes_units_and_the_running_month_apart(segmented_app):
    page = logged_in(segmented_app).get("/crm/admin/").get_data(as_text=True)
    chart = page.split('id="chart-revenue"', 1)[1].split("</figure>", 1)[0]
    ticks = re.findall(r'class="tick">([^<]+)</text>', chart)
    assert "€0" in ticks and any(t.startswith("€") and t != "€0" for t in ticks)  # a money axis from zero
    assert "Nov 2025" in ticks  # months along the bottom
    assert 'class="point partial"' in chart and "so far" in chart  # November has only begun
    assert chart.count("<polyline") == 1  # the running month is not joined to the line as a collapse
    assert "Revenue per month" in chart and "November 2026 so far" in text_of(chart)
    # a segment keeps its colour on every page
    with segmented_app.app_context():
        segment = Run.current().segments[2]
    from shopcrm.admin.charts import segment_color

    fill = segment_color(segment.label)
    segments_page = logged_in(segmented_app, email="v@shop.test").get("/crm/admin/segments").get_data(as_text=True)
    row = segments_page.split(f'/crm/admin/segments/{segment.id}"', 1)[0].rsplit("<tr>", 1)[1]
    assert f'fill="{fill}"' in row
    pie = page.split('id="chart-segments"', 1)[1].split("</figure>", 1)[0]
    legend_row = pie.split(f'>{segment.name.replace("&", "&amp;")}</a>', 1)[0].rsplit("<tr>", 1)[1]
    assert f'fill="{fill}"' in legend_row


# --- customers -------------------------------------------------------------------------------------------

def listed(html: str) -> list[int]:
    table = html.split('<table class="data customers">', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in re.findall(r'href="/crm/admin/customers/(\d+)"', table)]


def test_customers_browse_without_a_search(segmented_app):
    client = logged_in(segmented_app, role="viewer")
    with segmented_app.app_context():
        run = Run.current()
        everyone = db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                                     .where(Membership.run_id == run.id))
        top = db.session.scalars(sa.select(Membership.customer_id).where(Membership.run_id == run.id)
                                 .order_by(Membership.monetary.desc(), Membership.customer_id.desc()).limit(100)).all()
    first = client.get("/crm/admin/customers").get_data(as_text=True)
    assert f"<strong>{everyone:,}</strong> customer(s)" in first
    assert listed(first) == list(top[:50])  # the best customers first
    second = client.get("/crm/admin/customers?page=2").get_data(as_text=True)
    assert listed(second) == list(top[50:100])
    # pages past the middle are read from the other end of the index: the same customers, in the same order
    with segmented_app.app_context():
        ordered = db.session.scalars(sa.select(Membership.customer_id).where(Membership.run_id == run.id)
                                     .order_by(Membership.monetary.desc(), Membership.customer_id.desc())).all()
        by_order = db.session.scalars(sa.select(Membership.customer_id).where(
            Membership.run_id == run.id, Membership.recency_days.is_not(None))
            .order_by(Membership.recency_days, Membership.customer_id)).all()
    pages = -(-everyone // 50)
    for number in (pages // 2, pages // 2 + 1, pages - 1, pages):
        shown = listed(client.get(f"/crm/admin/customers?page={number}").get_data(as_text=True))
        assert shown == list(ordered[(number - 1) * 50:number * 50]), number
    last = -(-len(by_order) // 50)
    shown = listed(client.get(f"/crm/admin/customers?sort=recent&page={last}").get_data(as_text=True))
    assert shown == list(by_order[(last - 1) * 50:]) and 0 < len(shown) <= 50


@pytest.mark.parametrize("args,condition", [
    ({"type": "high_value"}, lambda m: m.value_type == "high_value"),
    ({"risk": "yes", "sort": "recent"}, lambda m: m.churn_risk and m.recency_days is not None),
    ({"country": "DE", "last": "90"}, lambda m: m.country == "DE" and m.recency_days is not None
     and 30 < m.recency_days <= 90),
    ({"last": "never", "sort": "newest"}, lambda m: m.recency_days is None),
    ({"action": "reactivation"}, lambda m: m.action == "reactivation"),
    ({"sort": "recent"}, lambda m: m.recency_days is not None),
    ({"segment": "none"}, lambda m: m.segment_id is None),
])
def test_customers_filter_and_sort(segmented_app, args, condition):
    client = logged_in(segmented_app, role="viewer")
    with segmented_app.app_context():
        members = db.session.scalars(sa.select(Membership).where(Membership.run_id == Run.current().id)).all()
        matching = [m for m in members if condition(m)]
    sort = args.get("sort", "revenue")
    key = {"revenue": lambda m: (-m.monetary, -m.customer_id), "recent": lambda m: (m.recency_days, m.customer_id),
           "newest": lambda m: -m.customer_id}[sort]
    expected = [m.customer_id for m in sorted(matching, key=key)]
    page = client.get("/crm/admin/customers", query_string=args).get_data(as_text=True)
    assert f"<strong>{len(matching):,}</strong> customer(s)" in page
    assert listed(page) == expected[:50]
    if len(expected) > 50:  # the pager keeps the filters
        assert listed(client.get("/crm/admin/customers", query_string={**args, "page": 2}).get_data(as_text=True)) \
            == expected[50:100]


def test_a_filter_value_that_does_not_exist_says_so(segmented_app):
    client = logged_in(segmented_app, role="viewer")
    page = client.get("/crm/admin/customers?type=platinum&segment=99999").get_data(as_text=True)
    assert "Unknown customer type &#39;platinum&#39;; showing every type." in page
    assert "There is no segment &#39;99999&#39; in the current analysis" in page
    assert listed(page)  # everyone is listed instead


def test_the_profile_tells_the_email_status_lifetime_and_groups_a_days_views(shop_app, shop_file):
    rows = shop_execute(shop_file, "SELECT c.customer_id, c.email, COUNT(o.order_id), SUM(o.total) FROM customers c "
                                   "JOIN orders o ON o.customer_id = c.customer_id AND o.status IN "
                                   "('complete', 'processing') WHERE c.active = 1 AND c.newsletter = 1 "
                                   "AND c.email LIKE '%_@_%.%' GROUP BY c.customer_id HAVING COUNT(*) >= 3 "
                                   "ORDER BY c.customer_id LIMIT 2")
    (cid, email, orders, total), (other, other_email, _, _) = rows
    client = logged_in(shop_app, role="viewer")
    page = client.get(f"/crm/admin/customers/{cid}").get_data(as_text=True)
    status = page.split('id="email-status">', 1)[1].split("</dd>", 1)[0]
    assert ">Subscribed<" in status
    words = text_of(page)
    assert f"€{total:,.2f} spent in all {orders} orders in all" in words

    # An unsubscribe (on their page, or the one-click link) wins over the shop's newsletter flag.
    with shop_app.app_context():
        db.session.add(Suppression(email_hash=address_hash(normalize(email)), reason="unsubscribed",
                                   created_at=utcnow() - timedelta(days=3)))
        db.session.add(Suppression(email_hash=address_hash(normalize(other_email)), reason="hard_bounce"))
        db.session.commit()
    status = client.get(f"/crm/admin/customers/{cid}").get_data(as_text=True).split('id="email-status">', 1)[1]
    assert ">Unsubscribed<" in status.split("</dd>")[0] and " since " in status.split("</dd>")[0]
    bounced = client.get(f"/crm/admin/customers/{other}").get_data(as_text=True).split('id="email-status">', 1)[1]
    assert "Bounced (address does not exist)" in bounced.split("</dd>")[0]

    # Forty views in one afternoon are one line of the timeline.
    products = [r[0] for r in shop_execute(shop_file, "SELECT product_id FROM products LIMIT 8")]
    day = (shop_now() + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    for n in range(40):
        shop_execute(shop_file, "INSERT INTO product_views (customer_id, product_id, viewed_at) VALUES (?, ?, ?)",
                     (cid, products[n % 8], (day + timedelta(minutes=n)).strftime(SHOP_CLOCK)))
    page = client.get(f"/crm/admin/customers/{cid}").get_data(as_text=True)
    first_day = page.split('<h3 class="day">', 2)[1]
    assert first_day.count('class="event event-view"') == 1
    assert "viewed 8 products:" in first_day and "(5×)" in first_day and "and 4 more" in first_day


# --- groups beyond interests -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,key,column,value", [
    ("type", "high_value", Membership.value_type, "high_value"),
    ("action", "reactivation", Membership.action, "reactivation"),
    ("risk", "yes", Membership.churn_risk, True),
])
def test_groups_are_segments_with_members_and_revenue(segmented_app, kind, key, column, value):
    client = logged_in(segmented_app, role="viewer")
    with segmented_app.app_context():
        run = Run.current()
        ids = db.session.scalars(sa.select(Membership.customer_id).where(Membership.run_id == run.id, column == value)
                                 .order_by(Membership.monetary.desc(), Membership.customer_id.desc())).all()
        revenue = db.session.scalar(sa.select(sa.func.sum(Membership.monetary)).where(Membership.run_id == run.id,
                                                                                      column == value))
    # by spend (a customer type's own default is its value order: see the test below)
    page = client.get(f"/crm/admin/segments/{kind}/{key}?sort=revenue").get_data(as_text=True)
    assert listed(page) == list(ids[:50])
    words = text_of(page)
    assert f"{len(ids):,} customers" in words and f"€{round(revenue):,} spent in the last 12 months" in words
    overview = text_of(client.get("/crm/admin/segments").get_data(as_text=True))
    assert f"{len(ids):,}" in overview and f"€{round(revenue):,}" in overview
    assert client.get(f"/crm/admin/segments/{kind}/nonsense").status_code == 404


def test_a_segment_page_shows_its_brands_revenue_and_types(segmented_app):
    client = logged_in(segmented_app, role="viewer")
    seg_id, size, run_id = biggest(segmented_app)
    with segmented_app.app_context():
        revenue = db.session.scalar(sa.select(sa.func.sum(Membership.monetary)).where(
            Membership.run_id == run_id, Membership.segment_id == seg_id))
        from shopcrm.models import Insight

        label = db.session.get(Segment, seg_id).label
        brands = next(s for s in Insight.of(run_id, "segments") if s["label"] == label)["top_brands"]
    page = client.get(f"/crm/admin/segments/{seg_id}").get_data(as_text=True)
    assert brands and all(b["name"].replace("&", "&amp;") in page.split('id="segment-brands"', 1)[1] for b in brands)
    assert f"€{round(revenue):,} spent in the last 12 months" in text_of(page)


# --- exports -----------------------------------------------------------------------------------------------

def test_exports_open_right_in_a_spreadsheet(shop_app, shop_file):
    """A byte-order mark (Excel reads UTF-8 then: José stays José), names instead of ids, the e-mail status."""
    client = logged_in(shop_app, role="marketer")
    seg_id, size, _ = biggest(shop_app)
    with shop_app.app_context():
        member = db.session.scalar(sa.select(Membership.customer_id).where(Membership.segment_id == seg_id)
                                   .order_by(Membership.customer_id))
    shop_execute(shop_file, "UPDATE customers SET first_name = 'José', last_name = 'Łukasz-Søren' "
                            "WHERE customer_id = ?", (member,))
    raw = client.get(f"/crm/admin/segments/{seg_id}/export.csv").data
    assert raw.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == size
    mine = next(r for r in rows if r["Customer number"] == str(member))
    assert (mine["First name"], mine["Last name"]) == ("José", "Łukasz-Søren")
    categories = {r[0] for r in shop_execute(shop_file, "SELECT name FROM categories")}
    assert all(not re.fullmatch(r"[\d,\s]*", r["Interested in"]) for r in rows if r["Interested in"])
    assert {name.strip() for r in rows for name in r["Interested in"].split(",") if name.strip()} <= categories
    assert {r["Customer type"] for r in rows} <= {"New sign-ups", "Never bought", "Growing", "Best customers",
                                                   "Regulars", "Occasional buyers"}
    assert {"Subscribed", "Not subscribed to the newsletter"} <= {r["Can we e-mail?"] for r in rows}
    group = client.get("/crm/admin/segments/type/high_value/export.csv").data.decode("utf-8-sig")
    assert {r["Customer type"] for r in csv.DictReader(io.StringIO(group))} == {"Best customers"}
    assert logged_in(shop_app, role="viewer", email="v@shop.test").get(
        "/crm/admin/segments/type/high_value/export.csv").status_code == 403


# --- errors, the shopper's pages -----------------------------------------------------------------------------

def test_error_pages_keep_the_menu(segmented_app, monkeypatch):
    viewer = logged_in(segmented_app, role="viewer")
    missing = viewer.get("/crm/admin/customers/987654321")
    assert missing.status_code == 404
    assert "Page not found" in missing.get_data(as_text=True) and 'aria-label="Main"' in missing.get_data(as_text=True)
    nowhere = viewer.get("/crm/admin/no-such-page")
    assert nowhere.status_code == 404 and 'aria-label="Main"' in nowhere.get_data(as_text=True)
    forbidden = viewer.get("/crm/admin/users")
    assert forbidden.status_code == 403 and "Not for your role" in forbidden.get_data(as_text=True)
    assert "Back to the dashboard" in forbidden.get_data(as_text=True)

    from shopcrm.admin import insights

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(insights, "rule_total", broken)
    segmented_app.config["PROPAGATE_EXCEPTIONS"] = False
    failed = viewer.get("/crm/admin/insights")
    assert failed.status_code == 500
    body = failed.get_data(as_text=True)
    assert "Something went wrong" in body and 'aria-label="Main"' in body and "RuntimeError" not in body
    outside = segmented_app.test_client().get("/crm/nothing-here")
    assert outside.status_code == 404 and "Demo Shop" in outside.get_data(as_text=True)


def test_marketers_and_viewers_see_no_admin_menu_entries(segmented_app):
    page = logged_in(segmented_app, role="viewer").get("/crm/admin/").get_data(as_text=True)
    assert "/crm/admin/settings" not in page and "/crm/admin/users" not in page
    assert "/crm/admin/suppressions" in page and "/crm/admin/account" in page
    assert "Prepare a win-back e-mail" not in page  # viewers read; only marketers start campaigns


def test_csrf_token_is_on_every_owner_form(segmented_app):
    client = logged_in(segmented_app)
    for path in ("/crm/admin/settings", "/crm/admin/suppressions", "/crm/admin/account"):
        assert csrf_token(client, path)


def test_a_customer_type_lists_its_most_valuable_members_first(segmented_app):
    """Each value type's members come in the run's value order (predicted value, or the RFM score
    where the shop's past says it catches more): segmentation.ranking.member_order."""
    from shopcrm.segmentation.ranking import member_order

    page = logged_in(segmented_app).get("/crm/admin/segments/type/high_value").get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'href="/crm/admin/customers/(\d+)"', page)]
    with segmented_app.app_context():
        run = Run.current()
        expected = db.session.scalars(sa.select(Membership.customer_id).where(
            Membership.run_id == run.id, Membership.value_type == "high_value").order_by(*member_order(run))
            .limit(len(dict.fromkeys(shown)))).all()
    assert shown and list(dict.fromkeys(shown)) == expected


@pytest.mark.parametrize("kind,key", [("type", "ordinary"), ("type", "negative"), ("action", "reactivation")])
def test_every_page_of_a_group_in_value_order_lists_each_member_once(segmented_app, kind, key):
    """The value order read backwards for the pages past the middle (an index range) gives the same
    pages as read forwards: every member once, in the order of member_order, never-buyers last."""
    from shopcrm.segmentation.ranking import member_order

    client = logged_in(segmented_app)
    with segmented_app.app_context():
        run = Run.current()
        column = Membership.value_type if kind == "type" else Membership.action
        expected = db.session.scalars(sa.select(Membership.customer_id).where(
            Membership.run_id == run.id, column == key).order_by(*member_order(run))).all()
    shown, page = [], 1
    while len(shown) < len(expected) and page < 100:
        html = client.get(f"/crm/admin/segments/{kind}/{key}?sort=value&page={page}").get_data(as_text=True)
        shown += list(dict.fromkeys(int(i) for i in re.findall(r'href="/crm/admin/customers/(\d+)"', html)))
        page += 1
    assert len(expected) > 60 and shown == expected
