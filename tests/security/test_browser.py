"""XSS and SSTI payloads planted in the shop's data, checked where they show: admin pages, the
campaign preview, the e-mail itself and the shopper's area — in Debian's Chromium, where no
dialog may fire and every payload must read as plain text. Also screenshots of the pages this
work changed (login with a wait, the security list, the error pages) at 1366 and 390 px."""
from __future__ import annotations

import email
import re
from email import policy
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import render_template_string

from shopcrm.campaigns.service import create_campaign
from shopcrm.delivery.sender import send_due
from shopcrm.errors import TemplateError
from shopcrm.extensions import db
from shopcrm.models import Message, Segment
from tests.support.apps import create_user
from tests.support.browser import browser, live_server, screenshot
from tests.support.campaigns import consenting_customers, queue_campaign, shop_execute

pytestmark = [pytest.mark.slow, pytest.mark.browser]

FIRST = "<img src=x onerror=alert('first')>{{7*7}}"
LAST = "<script>alert('last')</script>${7*7}"
PRODUCT = "<svg onload=alert('product')>{{ 7*7 }}"
CATEGORY = "\"><img src=y onerror=alert('category')>{% raw %}"
WIDTHS = {"desktop": 1366, "phone": 390}


def plant(shop_file, customer_id: int) -> None:
    """The shop's own data, as any shopper or shop clerk could type it."""
    shop_execute(shop_file, "UPDATE customers SET first_name = ?, last_name = ? WHERE customer_id = ?",
                 (FIRST, LAST, customer_id))
    shop_execute(shop_file, "UPDATE products SET name = ? || name", (PRODUCT + " ",))
    shop_execute(shop_file, "UPDATE categories SET name = ? || name", (CATEGORY + " ",))


class _Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.found.add(tag)
        self.found.update(f"{tag}:{name}" for name, _ in attrs)


def markup_of(html: str) -> set[str]:
    """Every element and element:attribute an HTML document holds, as a browser parses it."""
    parser = _Markup()
    parser.feed(html)
    return parser.found


def log_in(page, base, address, password):
    page.goto(f"{base}/admin/login")
    page.fill("input[name=email]", address)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_planted_payloads_stay_text_in_pages_emails_and_the_shopper_area(outbox_app, shop_file):
    app = outbox_app
    (customer_id, _, _), = consenting_customers(shop_file, 1)
    plant(shop_file, customer_id)
    campaign_id = queue_campaign(app, [customer_id], name="<b>Offer</b> {{ 7*7 }}")
    with app.app_context():
        assert send_due().sent == 1
        message = db.session.scalar(sa.select(Message))
        segment_id = db.session.scalar(sa.select(Segment.id))
        html_body, message_id = message.html, message.id
        # escaped into the stored e-mail, never markup: no element or handler the payloads carry
        # (inside an attribute value a "<" is plain text, and the inliner writes it so)
        assert markup_of(html_body) & {"img:onerror", "svg", "svg:onload", "script"} == set(), markup_of(html_body)
        assert "{{7*7}}" in html_body  # data is never rendered as a template (no SSTI through names)
        with pytest.raises(TemplateError):  # a marketer's template cannot reach Python's internals
            create_campaign("SSTI", {"segment_ids": [segment_id]}, subject="x", text="x",
                            html="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    eml = next(Path(app.config["SHOPCRM_OUTBOX_DIR"]).glob("*.eml"))
    mail_html = email.message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(("html",)).get_content()
    me_path = re.search(r"http://crm\.test(/crm/me/[A-Za-z0-9_.\-]+)", mail_html).group(1)
    address, password = create_user(app, email="owner@shop.test", password="owner-password-1")
    dialogs = []
    with live_server(app) as base, browser() as chromium:
        origin = base[: -len("/crm")]
        page = chromium.new_page(viewport={"width": 1366, "height": 900})
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.set_content(mail_html)  # the e-mail as a mail client shows it: no CSP to help here
        page.wait_for_timeout(300)
        assert FIRST in page.inner_text("body")
        log_in(page, base, address, password)
        visited = {
            "customer": f"{base}/admin/customers/{customer_id}",
            "search": f"{base}/admin/customers?q={customer_id}",
            "segment": f"{base}/admin/segments/{segment_id}",
            "campaign": f"{base}/admin/campaigns/{campaign_id}",
            "preview": f"{base}/admin/campaigns/{campaign_id}/preview.html?customer_id={customer_id}",
            "shopper": f"{origin}{me_path}",
            "shopper-email": f"{origin}{me_path}/emails/{message_id}",
            "shopper-email-html": f"{origin}{me_path}/emails/{message_id}/html",
        }
        texts = {}
        for name, url in visited.items():
            response = page.goto(url)
            assert response.status < 400, (name, response.status)
            page.wait_for_timeout(200)
            texts[name] = page.inner_text("body")
        screenshot(page, "security-shopper-email-payloads")
        page.goto(visited["customer"])
        screenshot(page, "security-customer-payloads")
    assert dialogs == []
    assert FIRST in texts["customer"] and LAST in texts["customer"]  # shown as typed, as text
    assert FIRST in texts["search"] and FIRST in texts["segment"]
    assert "{{7*7}}" in texts["preview"] and "{{7*7}}" in texts["shopper-email-html"]
    assert "Offer</b> {{ 7*7 }}" in texts["campaign"] or "<b>Offer</b>" in texts["campaign"]


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_pages_this_work_changed_look_right(app, device):
    """Screenshots for a person to look at: the login asking to wait, the security list, a 404
    and a 413 page."""
    owner, password = create_user(app, email="owner@shop.test", password="owner-password-1")

    def users_page():
        return render_template_string('{% extends "admin/base.html" %}{% block title %}Users{% endblock %}'
                                      '{% block content %}<h1>Users and roles</h1>'
                                      '{% include "admin/_security_log.html" %}{% endblock %}')

    app.add_url_rule("/crm-test/users", "crm_admin.test_users", users_page)
    with live_server(app) as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": WIDTHS[device], "height": 800})
        for i in range(6):
            page.goto(f"{base}/admin/login")
            page.fill("input[name=email]", "owner@shop.test" if i % 2 else f"guess{i}@example.net")
            page.fill("input[name=password]", f"guess-{i}")
            page.click("input[type=submit]")
        for _ in range(8):  # until asked to wait (on a slow machine a short wait may pass between two tries)
            page.goto(f"{base}/admin/login")
            page.fill("input[name=email]", "nobody@example.net")
            page.fill("input[name=password]", "guess")
            page.click("input[type=submit]")
            if "Too many attempts" in page.inner_text(".flash-error"):
                break
        assert "Too many attempts" in page.inner_text(".flash-error")
        screenshot(page, f"security-login-wait-{device}")
        assert page.evaluate("getComputedStyle(document.querySelector('.flash-error')).display") != "none"
        page.goto(f"{base}/admin/login")
        page.fill("input[name=email]", owner)
        page.fill("input[name=password]", password)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")
        page.goto(f"{base}/crm-test/users")
        assert page.locator("#security table.data tbody tr").count() >= 12
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTHS[device] + 1, "the page scrolls sideways"  # the table scrolls in its card
        screenshot(page, f"security-log-{device}")
        response = page.goto(f"{base}/admin/segments/{2**64}")
        assert response.status == 404 and page.locator("h1").inner_text() in ("Not found", "Page not found")
        assert page.locator("a:has-text('Back to the dashboard')").count() == 1
        screenshot(page, f"security-404-{device}")
