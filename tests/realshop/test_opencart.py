"""shopcrm against a real OpenCart: every row it reads was written by OpenCart itself.

Per OpenCart release (4.1.0.4 and 3.0.5.0, the unmodified release trees), conftest.py builds the
site once: OpenCart installed with its CLI installer, shopcrm deployed beside it as
docs/OPENCART.md says (SELECT-only user, settings, Apache with mod_php at / and mod_wsgi at /crm,
the beacon edit on the product page), shoppers who register, log in, browse, fill carts and
check out through OpenCart's own pages (a few in Chromium), and the shop owner setting order
statuses in OpenCart's admin. The tests then use shopcrm as a shop owner does: its commands
(as www-data, from the deployment) and its pages under /crm. They never import shopcrm.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from babel.numbers import format_currency
from sklearn.metrics import adjusted_rand_score

from tests.support.apps import CSRF_RE
from tests.support.browser import ARTIFACTS, browser
from tests.support.deploy import Browser
from tests.support.report import report
from tests.support.smtp import body_of

from .harness import CRM_ADMIN_EMAIL, CRM_ADMIN_PASSWORD, PREFIX
from .shoppers import PASSWORD, PERSONAS
from .site import CANCELED, Site

pytestmark = [pytest.mark.slow, pytest.mark.realshop]

ARI_FLOOR = 0.8



class _Cards(HTMLParser):
    """The product cards of a campaign e-mail (``templates/email/blocks/products.html``): picture,
    tracked link, name and price of each, as a mail client sees them."""

    def __init__(self):
        super().__init__()
        self.cards: list[dict] = []
        self.field: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        if tag == "table" and "card" in classes:
            self.cards.append({"image": None, "link": None, "name": "", "price": ""})
        elif self.cards and tag == "img" and "card-image" in classes:
            self.cards[-1]["image"] = attrs.get("src")
        elif self.cards and tag == "a" and "card-name" in classes:
            self.cards[-1]["link"], self.field = attrs.get("href"), "name"
        elif self.cards and tag == "div" and "card-price" in classes:
            self.field = "price"

    def handle_endtag(self, tag):
        if tag in ("a", "div"):
            self.field = None

    def handle_data(self, data):
        if self.field and self.cards:
            self.cards[-1][self.field] += data


class _Brand(HTMLParser):
    def __init__(self):
        super().__init__()
        self.href: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "brand" in (attrs.get("class") or "").split() and self.href is None:
            self.href = attrs.get("href")


def brand_link(page: str) -> str | None:
    """The link of the shop's name or logo at the top of an e-mail (to the shop's home page)."""
    parser = _Brand()
    parser.feed(page)
    return parser.href


def product_cards(page: str) -> list[tuple[str | None, str, str, str]]:
    """(picture, link, name, price) of each product card, entities decoded, whitespace trimmed."""
    parser = _Cards()
    parser.feed(page)
    return [(c["image"], c["link"], " ".join(c["name"].split()), " ".join(c["price"].split()))
            for c in parser.cards if c["link"]]

def tell(site: Site, *lines: str) -> None:
    """Lines for the run's output even when the test passes (printed at its end: support.report)."""
    report(*(f"[realshop OpenCart {site.release.version}] {line}" for line in lines))


def counted_statuses(site: Site) -> set[int]:
    return {int(s) for s in str(site.settings["SHOPCRM_SHOP_ORDER_STATUSES"]).split(",")}


def shop_orders(site: Site) -> list[dict]:
    """OpenCart's orders as it stored them (status 0: checkouts never confirmed)."""
    with site.shop_engine().connect() as conn:
        return [dict(r._mapping) for r in conn.exec_driver_sql(
            f"SELECT order_id, customer_id, email, order_status_id, total, date_added FROM `{PREFIX}order` "
            "WHERE order_status_id > 0 ORDER BY order_id")]


def memberships(site: Site, run_id: int) -> dict[int, dict]:
    with site.crm_engine().connect() as conn:
        return {r.customer_id: dict(r._mapping) for r in conn.exec_driver_sql(
            "SELECT customer_id, segment_id, value_type, frequency, monetary, recency_days "
            "FROM crm_membership WHERE run_id = %s", (run_id,))}


def segments(site: Site, run_id: int) -> dict[int, dict]:
    with site.crm_engine().connect() as conn:
        return {r.id: {"name": r.name, "size": r.size, "top": json.loads(r.top) if isinstance(r.top, str) else r.top}
                for r in conn.exec_driver_sql("SELECT id, name, size, top FROM crm_segment WHERE run_id = %s",
                                              (run_id,))}


def run_id_of(output: str) -> int:
    found = re.search(r"run #(\d+) succeeded", output)
    assert found, f"the segmentation did not succeed:\n{output}"
    return int(found.group(1))


@pytest.fixture(scope="module")
def segmented(site: Site) -> dict:
    """The nightly job's command, run now: ``flask shopcrm segment``."""
    started = time.monotonic()
    output = site.flask("segment", "--quiet")
    site.timings["segment"] = round(time.monotonic() - started, 2)
    run_id = run_id_of(output)
    customers = site.customers()
    persona = {customers[s.email]: s.persona for s in site.shoppers if not s.guest}
    members = memberships(site, run_id)
    return {"output": output, "run_id": run_id, "persona": persona, "members": members,
            "segments": segments(site, run_id)}


def segment_of_persona(segmented: dict, persona: str, members: dict[int, dict] | None = None) -> int:
    """The segment most of a persona's customers are in (in the given run's memberships)."""
    members = segmented["members"] if members is None else members
    votes = Counter(m["segment_id"] for cid, m in members.items() if segmented["persona"][cid] == persona)
    return votes.most_common(1)[0][0]


def current_run(site: Site) -> int:
    """The run shopcrm shows: the newest that succeeded."""
    with site.crm_engine().connect() as conn:
        return conn.exec_driver_sql("SELECT MAX(id) FROM crm_run WHERE status = 'succeeded'").scalar()


# --- what OpenCart wrote -------------------------------------------------------------------------------

def test_every_row_was_written_by_opencart(site: Site):
    """The shoppers' visits are in OpenCart's tables as OpenCart writes them, the views only in
    shopcrm's crm_view (through the beacon), and the beacon edit is the guide's."""
    customers = site.customers()
    registered = [s for s in site.shoppers if not s.guest]
    assert sorted(customers) == sorted(s.email for s in registered), "OpenCart's customers are not the shoppers"
    assert len(registered) >= 30 and len({s.persona for s in registered}) >= 3
    with site.shop_engine().connect() as conn:
        newsletter = dict(conn.exec_driver_sql(f"SELECT email, newsletter FROM {PREFIX}customer").all())
        carts = conn.exec_driver_sql(
            f"SELECT customer_id, product_id FROM {PREFIX}cart WHERE customer_id > 0 ORDER BY customer_id").all()
        histories = conn.exec_driver_sql(
            f"SELECT order_id, order_status_id FROM {PREFIX}order_history WHERE comment = %s",
            ("changed by the shop owner",)).all()
        product_report = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {PREFIX}product_report").scalar() \
            if site.release.major >= 4 else None
    assert {e: bool(n) for e, n in newsletter.items()} == {s.email: s.newsletter for s in registered}

    orders = shop_orders(site)
    by_email = defaultdict(list)
    for order in orders:
        by_email[order["email"]].append(order)
    for s in site.shoppers:
        assert len(by_email[s.email]) == len(s.orders), f"{s.email} ({s.behaviour}): {by_email[s.email]}"
        for order in by_email[s.email]:
            assert order["customer_id"] == (0 if s.guest else customers[s.email])
    assert {o["order_id"]: o["order_status_id"] for o in orders} == site.statuses
    assert {(o, st) for o, st in histories} == {(o, st) for o, st in site.statuses.items() if st != 1}
    assert CANCELED in site.statuses.values()

    # Carts: exactly what the shoppers who left them put in; checked-out carts are gone.
    left = sorted((customers[s.email], p) for s in registered for p in s.cart_left)
    assert sorted(carts) == left

    # Views reach shopcrm only through the beacon: one crm_view row per product page a logged-in
    # shopper opened, naming that customer and that product.
    with site.crm_engine().connect() as conn:
        rows = conn.exec_driver_sql("SELECT customer_id, product_id FROM crm_view").all()
    views = defaultdict(Counter)
    for customer_id, product_id in rows:
        views[customer_id][product_id] += 1
    assert dict(views) == {customers[s.email]: Counter(s.viewed) for s in registered}
    assert all(Counter(s.viewed) >= Counter(s.views) for s in registered)
    assert all("logged in" in s.log for s in registered if s.returning)
    if product_report is not None:
        assert product_report == 0, "OpenCart 4's product report is off by default and holds no customer anyway"

    personas = ", ".join(f"{n} {p}" for p, n in Counter(s.persona for s in registered).items())
    tell(site,
         f"{len(registered)} customers ({personas}), "
         f"{sum(s.guest for s in site.shoppers)} guests, {sum(s.chromium for s in site.shoppers)} in Chromium; "
         f"{len(orders)} orders ({dict(Counter(site.statuses.values()))} by status id), {len(carts)} cart lines left, "
         f"{len(rows)} beacon views; requests refused by an OpenCart deadlock and sent again: "
         f"{sum(s.deadlocks for s in site.shoppers)}",
         "beacon edit: " + " | ".join(f"{path}: {text.strip()!r}" for path, text in site.beacon_edit.items()),
         "setup timings (s): " + ", ".join(f"{k} {v}" for k, v in site.timings.items()))


# --- doctor ---------------------------------------------------------------------------------------------

def test_doctor_passes_and_names_what_opencart_cannot_give(site: Site):
    output = site.flask("doctor")
    preset = site.release.preset
    assert f"mapping '{preset}' (preset), table prefix '{PREFIX}'" in output, output
    assert "Result: everything shopcrm needs is there." in output, output
    assert "hint:" not in output, f"doctor suggests another preset for OpenCart {site.release.version}:\n{output}"
    assert re.search(r"access: the database user \S+ can only read the shop database", output), output
    # What OpenCart cannot give, and why.
    assert "OpenCart keeps no per-customer product views" in output
    assert "records no acquisition source" in output
    assert "SEO URLs are not read" in output
    beacon_views = sum(s.beacons for s in site.shoppers)
    assert f"product views (view) from shopcrm's crm_view table (the view beacon): {beacon_views} rows" in output

    report = json.loads(site.flask("doctor", "--json"))
    rows = {e["entity"]: e["rows"] for e in report["entities"]}
    orders = shop_orders(site)
    with site.shop_engine().connect() as conn:
        lines = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM {PREFIX}order_product op JOIN `{PREFIX}order` o ON o.order_id = op.order_id "
            "WHERE o.order_status_id > 0").scalar()
        missing_order_lines = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {PREFIX}order_product").scalar() - lines
    registered = [s for s in site.shoppers if not s.guest]
    assert rows["customer"] == len(registered)
    assert rows["product"] == len(site.catalog)
    assert rows["order"] == sum(1 for o in orders if o["order_status_id"] in counted_statuses(site))
    assert rows["cart_item"] == sum(len(s.cart_left) for s in registered)
    assert rows["view"] == beacon_views
    assert rows["order_line"] == lines + missing_order_lines
    tell(site, "doctor: " + "; ".join(f"{k} {v}" for k, v in rows.items()))


# --- segments, value types, RFM -------------------------------------------------------------------------

def test_segments_recover_the_personas(site: Site, segmented: dict):
    members, persona = segmented["members"], segmented["persona"]
    assert sorted(members) == sorted(persona), "not every OpenCart customer has a membership"
    ids = sorted(members)
    ari = adjusted_rand_score([persona[c] for c in ids], [members[c]["segment_id"] for c in ids])
    listed = ", ".join(f"{seg['name']} ({seg['size']})" for seg in segmented["segments"].values())
    tell(site, f"adjusted Rand index, personas vs segments: {ari:.3f} "
                       f"({len(segmented['segments'])} segments: {listed})")
    assert ari >= ARI_FLOOR, f"ARI {ari:.3f} < {ARI_FLOOR}:\n{segmented['output']}"

    # Segments carry OpenCart's own category names, decoded once (OpenCart stores "&amp;").
    with site.shop_engine().connect() as conn:
        categories = {html.unescape(n) for (n,) in conn.exec_driver_sql(
            f"SELECT name FROM {PREFIX}category_description WHERE language_id = 1")}
    for seg in segmented["segments"].values():
        assert seg["top"] and {t["name"] for t in seg["top"]} <= categories, seg
        assert "&amp;" not in seg["name"]
    expected = {"computers": {"Laptops & Notebooks", "Mac", "Monitors"},
                "phones & cameras": {"Phones & PDAs", "Cameras"},
                "audio & tablets": {"MP3 Players", "Tablets"}}
    assert set(expected) == set(PERSONAS)
    for name, wanted in expected.items():
        top = segmented["segments"][segment_of_persona(segmented, name)]["top"][0]["name"]
        assert top in wanted, f"the {name} shoppers' segment is led by {top!r}"


def test_value_types_and_rfm_follow_the_orders_and_their_statuses(site: Site, segmented: dict):
    """Frequency and spend count only orders in a counted status (the cancelled one does not);
    today every account is new; 120 days on, who never bought is 'negative'."""
    customers = site.customers()
    counted = counted_statuses(site)
    assert CANCELED not in counted
    frequency, monetary, last = Counter(), defaultdict(float), {}
    for order in shop_orders(site):
        if order["customer_id"] and order["order_status_id"] in counted:
            frequency[order["customer_id"]] += 1
            monetary[order["customer_id"]] += float(order["total"])
            last[order["customer_id"]] = max(order["date_added"], last.get(order["customer_id"], order["date_added"]))
    cancelled = {customers[s.email] for s in site.shoppers if s.behaviour == "cancel"}
    assert cancelled and not cancelled & set(frequency), "a cancelled order counted"

    def check(members: dict[int, dict]) -> None:
        for cid, m in members.items():
            assert m["frequency"] == frequency[cid], (cid, m, frequency[cid])
            assert m["monetary"] == pytest.approx(monetary[cid], abs=0.01), (cid, m, monetary[cid])

    now_members = segmented["members"]
    check(now_members)
    assert {m["value_type"] for m in now_members.values()} == {"new"}, "accounts made today are new"

    as_of = datetime.now().replace(microsecond=0) + timedelta(days=120)
    later = memberships(site, run_id_of(site.flask("segment", "--quiet", "--as-of", as_of.isoformat())))
    check(later)
    for cid, m in later.items():
        if frequency[cid]:
            assert m["value_type"] in ("high_value", "ordinary", "below_average"), (cid, m)
            days = (as_of - last[cid]).total_seconds() / 86400
            assert m["recency_days"] == pytest.approx(days, abs=0.5), (cid, m, days)
        else:
            assert m["value_type"] == "negative" and m["recency_days"] is None, (cid, m)
    tell(site, "value types now: " + str(dict(Counter(m["value_type"] for m in now_members.values())))
         + f"; as of {as_of:%Y-%m-%d}: " + str(dict(Counter(m["value_type"] for m in later.values()))))


# --- campaigns ------------------------------------------------------------------------------------------

def _mails_to(site: Site, since: int) -> dict[str, EmailMessage]:
    mails = {}
    for entry in site.smtp.messages[since:]:
        for to in entry["to"]:
            assert to not in mails, f"{to} got two messages"
            mails[to] = entry["message"]
    return mails


def _campaign(site: Site, name: str, segment_id: int) -> tuple[int, dict[str, EmailMessage], str]:
    created = site.flask("campaign", "create", "--name", name, "--segment", str(segment_id))
    campaign_id = int(re.search(r"campaign #(\d+) created", created).group(1))
    site.flask("campaign", "launch", str(campaign_id), "--yes")
    before = len(site.smtp.messages)
    sent = site.flask("send")
    return campaign_id, _mails_to(site, before), sent


def _product_rows(site: Site) -> dict[str, dict]:
    with site.shop_engine().connect() as conn:
        return {html.unescape(r.name): dict(r._mapping) for r in conn.exec_driver_sql(
            f"SELECT p.product_id, pd.name, p.price, p.image FROM {PREFIX}product p "
            f"JOIN {PREFIX}product_description pd ON pd.product_id = p.product_id AND pd.language_id = 1")}


def test_campaign_mail_shows_opencart_products_and_its_links_lead_into_the_shop(site: Site, segmented: dict):
    customers = site.customers()
    members_now = memberships(site, current_run(site))
    segment_id = segment_of_persona(segmented, "phones & cameras", members_now)
    members = {cid for cid, m in members_now.items() if m["segment_id"] == segment_id}
    by_id = {customers[s.email]: s for s in site.shoppers if not s.guest}
    consenting = {by_id[c].email for c in members if by_id[c].newsletter}
    assert consenting and len(consenting) < len(members), "the segment needs shoppers with and without the box ticked"

    campaign_id, mails, sent = _campaign(site, "Phones week", segment_id)
    assert set(mails) == consenting, f"{sent}\nexpected {sorted(consenting)}, got {sorted(mails)}"

    products, web = _product_rows(site), Browser(site.apache.url.rstrip("/"))
    currency, locale = site.settings["SHOPCRM_CURRENCY"], site.settings["SHOPCRM_LOCALE"]
    checked_links, checked_images, landed_on = 0, 0, {}
    for address, mail in mails.items():
        page = body_of(mail, "html")
        rows = product_cards(page)
        assert rows, f"no products in the mail to {address}:\n{page[:3000]}"
        for image, link, name, price in rows:
            product = products.get(name)
            assert product, f"{name!r} is not an OpenCart product"
            assert price == format_currency(float(product["price"]), currency, locale=locale)
            assert image == f"{site.shop.url}image/{product['image']}"
            if image not in landed_on:
                answer = web.get(urlsplit(image).path)
                assert answer.status == 200 and answer.header("Content-Type") == "image/jpeg", image
                landed_on[image] = answer
            checked_images += 1
            landed = _follow_click(site, web, link, landed_on)
            assert f"product_id={product['product_id']}" in landed.url and html.escape(name, quote=False) in landed.body
            checked_links += 1
        shop_link = brand_link(page)
        assert shop_link, page[:2000]
        home = _follow_click(site, web, shop_link, landed_on)
        assert home.url.rstrip("/") == site.shop.url.rstrip("/") or "common/home" in home.url

    # The unsubscribe link (List-Unsubscribe, as mail clients use it) stops further mail.
    leaver = min(mails)
    unsubscribe = re.search(r"<(https?://[^>]+/crm/u/[^>]+)>", mails[leaver]["List-Unsubscribe"]).group(1)
    page = web.get(urlsplit(unsubscribe).path)
    assert page.status == 200 and "<form" in page.body
    assert web.post(urlsplit(unsubscribe).path, {}).status == 200
    _, again, sent_again = _campaign(site, "Phones week, part two", segment_id)
    assert set(again) == consenting - {leaver}, sent_again
    tell(site, f"campaign #{campaign_id} to segment #{segment_id}: {len(mails)} mails "
                       f"({len(members) - len(consenting)} members without newsletter got none), "
                       f"{checked_links} product links and {checked_images} images checked; "
                       f"after {leaver} unsubscribed, the next campaign went to {len(again)}")


def _follow_click(site: Site, web: Browser, link: str, landed: dict):
    """A link in a mail: shopcrm's click redirect, then the shop's page (which must answer 200;
    each shop page is fetched once, ``landed`` keeps them)."""
    path = urlsplit(link)
    assert link.startswith(site.shop.url + "crm/c/"), f"not a tracked shop link: {link}"
    redirect = web.get(path.path + (f"?{path.query}" if path.query else ""))
    assert redirect.status == 302, (link, redirect.status)
    target = redirect.header("Location")
    assert target.startswith(site.shop.url), f"the click redirect leaves the shop: {target}"
    if target not in landed:
        page = web.get(target[len(site.shop.url.rstrip("/")):])
        assert page.status == 200, (target, page.status)
        landed[target] = type(page)(page.status, page.headers, page.body, target)
    return landed[target]


def test_abandoned_cart_reminder_for_the_cart_left_in_opencart(site: Site, segmented: dict):
    customers = site.customers()
    with site.shop_engine().connect() as conn:
        newest = conn.exec_driver_sql(f"SELECT MAX(date_added) FROM {PREFIX}cart WHERE customer_id > 0").scalar()
    site.flask("triggers", "set", "abandoned_cart", "--enable", "--param", "hours=1")
    report = site.flask("triggers", "run", "--now", (newest + timedelta(hours=2)).isoformat())
    before = len(site.smtp.messages)
    site.flask("send")
    mails = _mails_to(site, before)
    leavers = [s for s in site.shoppers if s.cart_left]
    expected = {s.email for s in leavers if s.newsletter}
    assert expected and set(mails) == expected, f"{report}\nexpected {sorted(expected)}, got {sorted(mails)}"
    names = {p["product_id"]: n for n, p in _product_rows(site).items()}
    for s in leavers:
        if s.email in mails:
            page = body_of(mails[s.email], "html")
            assert all(html.escape(names[p], quote=False) in page for p in s.cart_left), page[:2000]
    buyers = {s.email for s in site.shoppers if s.orders}
    assert not buyers & set(mails)
    assert all(customers[s.email] for s in leavers)
    tell(site, f"abandoned cart: {report.strip()}; reminders to {len(mails)} of {len(leavers)} "
                       "carts (the others did not tick the newsletter box)")


# --- the admin panel beside the shop ----------------------------------------------------------------------

def _admin_login(web: Browser) -> str:
    page = web.wait_for("/crm/admin/login")
    token = CSRF_RE.search(page.body)
    assert token, page.body[:2000]
    done = web.post("/crm/admin/login", {"email": CRM_ADMIN_EMAIL, "password": CRM_ADMIN_PASSWORD,
                                         "csrf_token": token.group(1)})
    assert done.status == 302, done.body[:2000]
    dashboard = web.get("/crm/admin/")
    assert dashboard.status == 200
    return dashboard.body


def test_admin_panel_and_the_shop_share_one_site(site: Site, segmented: dict):
    """A shopper's OpenCart session and the owner's shopcrm login in one browser: the admin
    pages show OpenCart's category names; the shop keeps working; the cookies do not meet."""
    web = Browser(site.apache.url.rstrip("/"))
    shopper = next(s for s in site.shoppers if s.behaviour == "abandon")
    lang = "&language=en-gb" if site.release.major >= 4 else ""
    if site.release.major >= 4:
        form = web.get(f"/index.php?route=account/login{lang}").body
        action = html.unescape(re.search(r'id="form-login" action="([^"]+)"', form).group(1))
        assert "redirect" in json.loads(web.post(re.sub(r"^https?://[^/]+", "", action),
                                                 {"email": shopper.email, "password": PASSWORD}).body)
    else:
        assert web.post("/index.php?route=account/login", {"email": shopper.email, "password": PASSWORD}).status == 302

    dashboard = _admin_login(web)
    run_id = current_run(site)
    current = segments(site, run_id)
    for seg in current.values():
        assert html.escape(seg["name"], quote=False) in dashboard, f"{seg['name']!r} is not on the dashboard"
    assert "&amp;amp;" not in dashboard
    segment_id = segment_of_persona(segmented, "phones & cameras", memberships(site, run_id))
    page = web.get(f"/crm/admin/segments/{segment_id}")
    assert page.status == 200 and html.escape(current[segment_id]["name"], quote=False) in page.body
    export = web.get(f"/crm/admin/segments/{segment_id}/export.csv")
    assert export.status == 200, export.status
    rows = list(csv.DictReader(io.StringIO(export.body.lstrip("\ufeff"))))  # the byte-order mark Excel needs
    assert len(rows) == current[segment_id]["size"]
    customers = site.customers()
    emails = {v: k for k, v in customers.items()}
    assert {r["E-mail"] for r in rows} <= set(customers), rows[:3]
    assert all(emails[int(r["Customer number"])] == r["E-mail"] for r in rows)
    assert {r["Segment"] for r in rows} == {current[segment_id]["name"]}

    # The shop still knows its shopper, and the two sets of cookies keep to their own paths.
    cookies = {(c.name, c.path) for c in web.jar}
    crm_cookies = {c for c in cookies if c[0] in ("session", "shopcrm_remember")}
    shop_cookies = {c for c in cookies if c[0] == "OCSESSID"}
    assert crm_cookies and all(path == "/crm" for _, path in crm_cookies), cookies
    assert shop_cookies and all(path == "/" for _, path in shop_cookies), cookies
    home = web.get(f"/index.php?route=common/home{lang}")  # its header offers "Logout" to a logged-in shopper
    assert home.status == 200 and "route=account/logout" in home.body, "the shopper was logged out of the shop"
    cart = web.post(f"/index.php?route={site.release.route('checkout/cart.add')}{lang}",
                    {"product_id": str(site.catalog["iPod Touch"]), "quantity": "1"})
    assert "success" in json.loads(cart.body), cart.body[:500]
    assert web.get(f"/index.php?route=checkout/cart{lang}").status == 200
    tell(site, "cookies: " + ", ".join(f"{n} (path {p})" for n, p in sorted(cookies)))


def test_admin_pages_in_chromium(site: Site, segmented: dict):
    """The owner's view of it, as screenshots at desktop and phone width (test-artifacts/), and
    the shop's home page in the same browser afterwards."""
    shots = []
    names = [seg["name"] for seg in segments(site, current_run(site)).values()]
    with browser() as chromium:
        context = chromium.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.goto(f"{site.apache.url}/crm/admin/login")
        page.fill("input[name=email]", CRM_ADMIN_EMAIL)
        page.fill("input[name=password]", CRM_ADMIN_PASSWORD)
        with page.expect_navigation():
            page.click("input[type=submit]")
        assert page.url.rstrip("/").endswith("/crm/admin"), page.url
        for width, height in ((1366, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.reload()
            text = page.inner_text("body")
            assert all(name in text for name in names), f"segments missing at {width} px: {names}"
            name = f"realshop-oc{site.release.major}-crm-dashboard-{width}"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            shots.append(f"test-artifacts/{name}.png")
        shop = page.goto(f"{site.apache.url}/index.php?route=common/home")
        assert shop.status == 200 and page.locator("#logo").count() == 1, "the shop's home page after /crm"
        context.close()
    tell(site, "screenshots: " + ", ".join(shots))
