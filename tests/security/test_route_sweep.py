"""Every route of the URL map, walked as anonymous, viewer, marketer and admin; every POST
without a form token; odd input everywhere. The expectations come from the routes themselves
(``audience_of`` reads each view's role check), so a new route without one fails here."""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from flask import url_for

from shopcrm.extensions import db
from shopcrm.models import Membership, Run
from tests.support.apps import create_user, login
from tests.support.security import HUGE_IDS, ROLES, STATE_CHANGING, allowed, audience_of, token_of

#: The public POSTs that take no form token, on purpose: RFC 8058's one-click unsubscribe
#: (mail clients POST it without a page); its signed token in the URL is the check.
NO_FORM_TOKEN = {"crm_public.unsubscribe",
                 # Twilio's webhooks: Twilio cannot carry a form token; a valid X-Twilio-Signature is
                 # required instead (403 without; tests/public/test_sms_webhooks.py)
                 "crm_public.sms_inbound", "crm_public.sms_status"}
SKIP = {"crm_admin.logout"}  # ends the session; tests/security/test_sessions.py covers it


def rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "crm_public.static"]


def sample_values(app):
    with app.app_context():
        run = Run.current()
        member = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id,
                                                                 Membership.segment_id.is_not(None))).first()
        return {"segment_id": member.segment_id, "customer_id": member.customer_id, "run_id": run.id,
                "user_id": 1, "campaign_id": 1, "message_id": 1, "kind": "abandoned_cart"}


def url_of(app, rule, values, **override):
    args = {}
    for name in rule.arguments:
        is_int = rule._converters[name].__class__.__name__.endswith("IntConverter") or \
            rule._converters[name].__class__.__name__ == "IntegerConverter"
        args[name] = override.get(name, values.get(name, 1) if is_int else values.get(name, "not-a-valid-token"))
    with app.test_request_context(base_url="http://localhost/crm"):
        return url_for(rule.endpoint, **args).replace("http://localhost", "")


@pytest.fixture
def clients(segmented_app):
    """A logged-in browser per role, and an anonymous one."""
    found = {None: segmented_app.test_client()}
    for role in ROLES:
        client = segmented_app.test_client()
        email, password = create_user(segmented_app, email=f"{role}@shop.test", role=role)
        assert login(client, email, password).status_code == 302
        found[role] = client
    return found


def test_every_admin_route_declares_who_may_use_it(segmented_app):
    unchecked = [r.endpoint for r in rules(segmented_app) if audience_of(segmented_app, r.endpoint) is None]
    assert unchecked == [], f"routes without login_required/role_required: {unchecked}"


def test_the_sweep_notices_a_route_without_a_role_check(make_app):
    app = make_app()
    app.add_url_rule("/crm-test/forgotten", "crm_admin.forgotten", lambda: "secret figures")
    assert audience_of(app, "crm_admin.forgotten") is None


def test_each_role_gets_what_the_routes_declare(segmented_app, clients):
    values = sample_values(segmented_app)
    tokens = {role: token_of(client.get("/crm/admin/").get_data(as_text=True))
              for role, client in clients.items() if role}
    checked, problems = 0, []
    for rule in rules(segmented_app):
        if rule.endpoint in SKIP:
            continue
        audience = audience_of(segmented_app, rule.endpoint)
        url = url_of(segmented_app, rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role, client in clients.items():
                data = {"csrf_token": tokens[role]} if role and method in STATE_CHANGING else None
                response = client.open(url, method=method, data=data)
                status, where = response.status_code, f"{method} {url} as {role or 'anonymous'}: {response.status_code}"
                response.close()  # a streamed answer (the CSV export) holds its context until closed
                checked += 1
                if audience in ("public", "open"):
                    if status >= 500:
                        problems.append(where)
                elif allowed(audience, role, method):
                    if status in (401, 403) or status >= 500 or (
                            status == 302 and "/admin/login" in response.headers.get("Location", "")):
                        problems.append(where + " (should be allowed)")
                elif role is None:
                    if not (status == 302 and "/crm/admin/login" in response.headers["Location"]) and not (
                            method in STATE_CHANGING and status == 400):
                        problems.append(where + " (should send to the login)")
                elif status != 403:
                    problems.append(where + " (should be 403)")
    assert problems == []
    assert checked > 150


def test_every_post_refuses_without_a_form_token(segmented_app, clients):
    values = sample_values(segmented_app)
    checked = 0
    for rule in rules(segmented_app):
        if rule.endpoint in NO_FORM_TOKEN:
            continue
        for method in sorted(rule.methods & STATE_CHANGING):
            url = url_of(segmented_app, rule, values)
            for role, client in clients.items():
                response = client.open(url, method=method, data={"anything": "1"})
                assert response.status_code == 400, f"{method} {url} as {role}: {response.status_code}"
                assert "This form has expired" in response.get_data(as_text=True)
                checked += 1
    assert checked >= 4 * 15


def test_the_one_click_unsubscribe_still_needs_its_signed_token(segmented_app):
    response = segmented_app.test_client().post("/crm/u/forged-token", data={"List-Unsubscribe": "One-Click"})
    assert 400 <= response.status_code < 500


@pytest.fixture
def quiet_app(make_app, segmented_template, demo_shop_file, tmp_path):
    """The segmented data, not in TESTING mode: an error becomes a 500 page and a logged traceback,
    as in production, instead of an exception in the test."""
    import shutil

    app = make_app(TESTING=False)
    shutil.copy(segmented_template, tmp_path / "crm.db")  # before the first connection
    return app


def test_odd_input_gets_a_4xx_page_and_never_a_traceback(quiet_app, caplog):
    app = quiet_app
    admin = app.test_client()
    login(admin, *create_user(app, email="admin@shop.test"))
    anonymous = app.test_client()
    token = token_of(admin.get("/crm/admin/").get_data(as_text=True))
    values = sample_values(app)
    odd_query = {"page": str(10**30), "segment_id": str(2**64), "customer_id": str(2**63), "q": "\x00\r\n%00",
                 "kind": "\r\nX: y", "next": "/\r\nSet-Cookie: a=b"}
    odd_form = {"csrf_token": token, "segment_ids": [str(2**64), "-1", "abc"], "customer_id": str(10**40),
                "name": "n\x00ame\r\n", "email": "a\x00@b.c", "password": "\x00" * 12, "role": "admin\r\n",
                "frequency": "\x00", "scheduled_at": "9999-99-99T99:99"}
    answers, caplog_level = [], logging.ERROR
    caplog.set_level(logging.WARNING)
    for rule in rules(app):
        if rule.endpoint in SKIP:
            continue
        int_args = [a for a in rule.arguments if rule._converters[a].__class__.__name__.endswith("Converter")
                    and "Int" in rule._converters[a].__class__.__name__]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for client in (admin, anonymous):
                url = url_of(app, rule, values)
                if method in STATE_CHANGING:
                    answers.append((f"{method} {url}", client.open(url, method=method, data=odd_form)))
                else:
                    answers.append((f"{method} {url}?odd", client.open(url, method=method, query_string=odd_query)))
                answers[-1][1].get_data()
                answers[-1][1].close()
                for name in int_args:
                    for huge in HUGE_IDS:
                        huge_url = url_of(app, rule, values, **{name: 7777777}).replace("/7777777", f"/{huge}")
                        response = client.open(huge_url, method=method, data=odd_form if method == "POST" else None)
                        answers.append((f"{method} {huge_url}", response))
                        assert response.status_code == 404, (huge_url, response.status_code)
    for path in ("/crm/admin/segments/1%00", "/crm/admin/%0d%0aX:%20y", "/crm/me/%00/emails/1",
                 "/crm/admin/customers/" + "9" * 5000):
        answers.append((path, admin.get(path)))
    big = "x" * (10 * 1024 * 1024)
    for url in ("/crm/admin/login", "/crm/admin/users", "/crm/admin/campaigns/new"):
        answers.append((f"POST {url} 10 MB", admin.post(url, data={"csrf_token": token, "pad": big})))
        assert answers[-1][1].status_code == 413
    for url in ("/crm/me/not-a-token/forget", "/crm/u/not-a-token"):  # refused on the token, body unread
        answers.append((f"POST {url} 10 MB", anonymous.post(url, data={"csrf_token": token, "pad": big})))
        assert answers[-1][1].status_code in (400, 404, 413)
    failures = [(where, r.status_code) for where, r in answers if not 200 <= r.status_code < 500]
    assert failures == []
    for where, response in answers:
        if response.status_code >= 400 and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            assert "crm.css" in page and "<h1>" in page and "Traceback" not in page, where
    logged = [r for r in caplog.records if r.levelno >= caplog_level or r.exc_info]
    assert logged == [], [r.getMessage() for r in logged]
    assert len(answers) > 150
