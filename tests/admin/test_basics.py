"""The first admin pages: login required, segments with an offline chart, paginated members."""
import re

import sqlalchemy as sa

from shopcrm.extensions import db
from shopcrm.models import Run, Segment, User
from tests.support.apps import create_user, csrf_token, login


def test_anonymous_users_are_sent_to_login(segmented_app):
    client = segmented_app.test_client()
    with segmented_app.app_context():
        segment_id = Run.current().segments[0].id
    for path in ("/crm/admin/", f"/crm/admin/segments/{segment_id}"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/crm/admin/login" in response.headers["Location"]


def test_admin_sees_segments_and_an_offline_chart(segmented_app):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    assert login(client, email, password).status_code == 302
    page = client.get("/crm/admin/").get_data(as_text=True)
    with segmented_app.app_context():
        for segment in Run.current().segments:
            assert segment.name.replace("&", "&amp;") in page
    assert '<svg viewBox="0 0 200 200"' in page and "<path d=" in page  # server-drawn pie
    assert "http://" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", page.split("<body>")[1])  # no CDN
    assert "Growing" in page and "Occasional buyers" in page  # value-type chart, in the owner's words


def test_segment_members_paginate(segmented_app):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    login(client, email, password)
    with segmented_app.app_context():
        segment = db.session.scalars(sa.select(Segment).order_by(Segment.size.desc())).first()
        size, segment_id = segment.size, segment.id
    first = client.get(f"/crm/admin/segments/{segment_id}").get_data(as_text=True)
    second = client.get(f"/crm/admin/segments/{segment_id}?page=2").get_data(as_text=True)
    rows = lambda html: re.findall(r"/crm/admin/customers/(\d+)\">#", html)  # noqa: E731
    assert len(rows(first)) == 50 and len(rows(second)) == 50
    assert not set(rows(first)) & set(rows(second))
    assert f"Page 1 of {-(-size // 50)}" in first
    assert client.get("/crm/admin/segments/999999").status_code == 404


def test_wrong_password_is_refused_and_repeated_failures_make_the_next_attempt_wait(segmented_app, monkeypatch):
    from shopcrm import login_throttle, throttle

    # a first wait longer than the test: a slow machine must not outwait it between two attempts
    monkeypatch.setattr(login_throttle, "PER_ACCOUNT", throttle.Backoff(5, 600, 900, 3600))
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    for _ in range(5):
        response = login(client, email, "nope-nope-nope")
        assert response.status_code == 200 and "Wrong email or password" in response.get_data(as_text=True)
    response = login(client, email, password)  # the right password, but it must wait now (tests/security)
    assert response.status_code == 429 and "Too many attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1
    with segmented_app.app_context():
        assert db.session.scalar(sa.select(User.last_login_at)) is None


def test_login_without_csrf_token_is_rejected(segmented_app):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    response = client.post("/crm/admin/login", data={"email": email, "password": password})
    assert response.status_code == 400


def test_login_does_not_redirect_to_another_site(segmented_app):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    token = csrf_token(client, "/crm/admin/login")
    response = client.post("/crm/admin/login?next=https://evil.example/", data={
        "email": email, "password": password, "csrf_token": token})
    assert response.headers["Location"] == "/crm/admin/"


def test_logout_needs_a_post_with_csrf(segmented_app):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    login(client, email, password)
    assert client.get("/crm/admin/logout").status_code == 405
    assert client.post("/crm/admin/logout").status_code == 400
    token = csrf_token(client, "/crm/admin/")
    assert client.post("/crm/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/crm/admin/").status_code == 302


def test_create_user_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["shopcrm", "create-user", "--email", "Boss@Shop.test", "--role", "admin",
                                 "--password", "a-long-enough-password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert user.email == "boss@shop.test" and user.role == "admin"
        assert user.password_hash != "a-long-enough-password" and user.check_password("a-long-enough-password")
    short = runner.invoke(args=["shopcrm", "create-user", "--email", "x@shop.test", "--password", "short"])
    assert short.exit_code != 0 and "at least 10" in short.output


def test_the_command_line_keeps_the_panels_account_rules(app):
    """One set of rules: addresses compare without case, and the last active admin stays an admin."""
    runner = app.test_cli_runner()
    create = ["shopcrm", "create-user", "--password", "a-long-enough-password"]
    assert runner.invoke(args=[*create, "--email", "Boss@Shop.test", "--role", "admin"]).exit_code == 0
    again = runner.invoke(args=[*create, "--email", "BOSS@shop.TEST", "--role", "admin"])
    assert again.exit_code == 0 and "updated user boss@shop.test" in again.output
    demoted = runner.invoke(args=[*create, "--email", "boss@shop.test", "--role", "viewer"])
    assert demoted.exit_code != 0 and "at least one active admin" in demoted.output
    with app.app_context():
        assert [(u.email, u.role) for u in db.session.scalars(sa.select(User))] == [("boss@shop.test", "admin")]
    assert runner.invoke(args=[*create, "--email", "second@shop.test", "--role", "admin"]).exit_code == 0
    assert runner.invoke(args=[*create, "--email", "Boss@shop.test", "--role", "viewer"]).exit_code == 0
