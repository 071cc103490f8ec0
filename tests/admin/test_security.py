"""Every rule in the URL map, walked as an anonymous visitor, a viewer, and without CSRF tokens.

New routes are covered automatically: a view added without ``login_required``/``role_required``
or reachable by a viewer with a state-changing method makes these tests fail.
"""
import re

import pytest
import sqlalchemy as sa

from shopcrm.extensions import db
from shopcrm.models import Membership, Run
from tests.support.apps import create_user, csrf_token, login

# Routes meant for people without an admin login; each must refuse bad input with a 4xx.
PUBLIC_ENDPOINTS_PREFIX = "crm_public."
LOGIN_ENDPOINTS = {"crm_admin.login"}
# Every role changes its own password (proving the current one): tested in test_owner_pages.
OWN_ACCOUNT_ENDPOINTS = {"crm_admin.account"}
PIXEL_ENDPOINTS = {"crm_public.opened"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def sample_values(app):
    """Real ids for URL parameters, so views get past their 404 checks."""
    with app.app_context():
        run = Run.current()
        member = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id,
                                                                 Membership.segment_id.is_not(None))).first()
        return {"segment_id": member.segment_id, "customer_id": member.customer_id, "run_id": run.id,
                "user_id": 1, "campaign_id": 1, "message_id": 1, "trigger_id": 1}


def build_url(app, rule, values):
    args = {}
    for name in rule.arguments:
        converter = rule._converters[name].__class__.__name__
        args[name] = values.get(name, 1) if converter in ("IntegerConverter", "BoundedIntConverter") else "not-a-valid-token"
    with app.test_request_context(base_url="http://localhost/crm"):
        from flask import url_for

        return url_for(rule.endpoint, **args).replace("http://localhost", "")


def admin_rules(app):
    return [r for r in app.url_map.iter_rules()
            if not r.endpoint.endswith("static") and r.endpoint != "index"]


def test_every_route_is_covered_by_the_walk(segmented_app):
    endpoints = {r.endpoint for r in admin_rules(segmented_app)}
    assert {"crm_admin.dashboard", "crm_admin.segment", "crm_admin.users", "crm_public.unsubscribe"} <= endpoints


def test_anonymous_visitors_get_no_data_anywhere(segmented_app):
    client = segmented_app.test_client()
    values = sample_values(segmented_app)
    for rule in admin_rules(segmented_app):
        url = build_url(segmented_app, rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            where = f"{method} {url} ({rule.endpoint})"
            if rule.endpoint in LOGIN_ENDPOINTS:
                assert response.status_code in (200, 400), where
                continue
            if rule.endpoint in PIXEL_ENDPOINTS:
                # An open-tracking pixel always answers with the same tiny image, and records nothing.
                assert response.status_code == 200 and response.mimetype == "image/gif", where
                assert len(response.get_data()) < 100, where
                continue
            if rule.endpoint.startswith(PUBLIC_ENDPOINTS_PREFIX):
                # Public views need a valid signed token or signed request: a made-up one is refused.
                assert 400 <= response.status_code < 500, where
                continue
            if method in STATE_CHANGING:
                assert response.status_code in (302, 400, 401, 403, 404), where
            else:
                assert response.status_code in (302, 401, 404), where
            if response.status_code == 302:
                assert "/crm/admin/login" in response.headers["Location"], where


def test_viewers_cannot_change_anything(segmented_app):
    email, password = create_user(segmented_app, email="viewer@shop.test", role="viewer")
    client = segmented_app.test_client()
    login(client, email, password)
    token = csrf_token(client, "/crm/admin/")
    values = sample_values(segmented_app)
    checked = 0
    for rule in admin_rules(segmented_app):
        if not rule.endpoint.startswith("crm_admin.") or rule.endpoint in (
                LOGIN_ENDPOINTS | OWN_ACCOUNT_ENDPOINTS | {"crm_admin.logout"}):
            continue
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            url = build_url(segmented_app, rule, values)
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 403, f"{method} {url} ({rule.endpoint}) gave {response.status_code}"
            checked += 1
    assert checked >= 3  # users, user update, user password at least


def test_posts_without_a_csrf_token_are_rejected(segmented_app):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    login(client, email, password)
    values = sample_values(segmented_app)
    for rule in admin_rules(segmented_app):
        if rule.endpoint.startswith(PUBLIC_ENDPOINTS_PREFIX):
            continue  # public POSTs authenticate by signed token (RFC 8058 one-click has no form token)
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            url = build_url(segmented_app, rule, values)
            response = client.open(url, method=method, data={"anything": "1"})
            assert response.status_code == 400, f"{method} {url} ({rule.endpoint}) gave {response.status_code}"


@pytest.mark.parametrize("path", ["/crm/admin/", "/crm/admin/login", "/crm/admin/segments", "/crm/admin/campaigns/new",
                                  "/crm/admin/customers", "/crm/admin/runs", "/crm/admin/triggers"])
def test_pages_send_security_headers_and_no_inline_code(segmented_app, path):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    login(client, email, password)
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script would be blocked by the CSP"
    assert not re.search(r"\sstyle=\"", html), "inline style attributes would be blocked by the CSP"
    assert not re.search(r"\son[a-z]+=\"", html), "inline event handlers would be blocked by the CSP"


def test_session_cookie_flags(segmented_app):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    response = login(client, email, password)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure_client = segmented_app.test_client()
    page = secure_client.get("/crm/admin/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    over_https = secure_client.post("/crm/admin/login", base_url="https://localhost",
                                    headers={"Referer": "https://localhost/crm/admin/login"},
                                    data={"email": email, "password": password, "csrf_token": token})
    assert over_https.status_code == 302
    cookie = next(c for c in over_https.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie
