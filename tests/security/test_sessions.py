"""Sessions end when they should: a captured cookie is dead after logout, after a new password
and after a deactivation; the binding to the client uses the address the proxy setting allows,
never a client's X-Forwarded-For."""
from __future__ import annotations

import sqlalchemy as sa
from flask_login import login_user

from shopcrm import accounts
from shopcrm.extensions import db
from shopcrm.models import User
from tests.support.apps import create_user, csrf_token, login

DASHBOARD = "/crm/admin/"


def session_cookie(client):
    """The session cookie, wherever it is scoped (the whole site, or shopcrm's mount only)."""
    for path in ("/", "/crm", "/crm/"):
        cookie = client.get_cookie("session", path=path)
        if cookie is not None:
            return cookie
    raise AssertionError("no session cookie")


def captured(app, client):
    """A second browser holding a copy of ``client``'s session cookie (what a thief would have)."""
    thief = app.test_client()
    cookie = session_cookie(client)
    thief.set_cookie("session", cookie.value, domain=cookie.domain or "localhost", path=cookie.path or "/")
    return thief


def signed_in(response) -> bool:
    return response.status_code == 200


def test_a_captured_cookie_is_dead_after_logout(app):
    email, password = create_user(app)
    owner = app.test_client()
    assert login(owner, email, password).status_code == 302
    thief = captured(app, owner)
    assert signed_in(thief.get(DASHBOARD))  # the copy works while the owner is logged in
    assert owner.post("/crm/admin/logout", data={"csrf_token": csrf_token(owner, DASHBOARD)}).status_code == 302
    response = thief.get(DASHBOARD)
    assert response.status_code == 302 and "/crm/admin/login" in response.headers["Location"]


def test_logout_ends_the_users_other_sessions_too(app):
    email, password = create_user(app)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, email, password)
    login(phone, email, password)
    laptop.post("/crm/admin/logout", data={"csrf_token": csrf_token(laptop, DASHBOARD)})
    assert phone.get(DASHBOARD).status_code == 302


def test_a_password_reset_by_the_admin_ends_the_users_sessions(app):
    admin = app.test_client()
    login(admin, *create_user(app, email="admin@shop.test"))
    email, password = create_user(app, email="marketer@shop.test", role="marketer")
    marketer = app.test_client()
    login(marketer, email, password)
    stolen = captured(app, marketer)
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == email))
    token = csrf_token(admin, "/crm/admin/users")
    assert admin.post(f"/crm/admin/users/{user_id}/password",
                      data={"csrf_token": token, "password": "a-new-long-password"}).status_code == 302
    assert marketer.get(DASHBOARD).status_code == 302 and stolen.get(DASHBOARD).status_code == 302
    assert signed_in(admin.get(DASHBOARD))  # the admin's own session is another user's
    assert login(marketer, email, "a-new-long-password").status_code == 302


def test_changing_ones_own_password_can_keep_this_browser_signed_in(app):
    """What the panel's "change my password" does: accounts.set_password, commit, keep_this_session."""
    from shopcrm.admin.auth import keep_this_session

    email, _ = create_user(app)
    with app.test_request_context("/crm/admin/"):
        user = db.session.scalar(sa.select(User).where(User.email == email))
        login_user(user)
        old_id = user.get_id()
        accounts.set_password(user, "another-long-password")
        db.session.commit()
        assert user.get_id() != old_id
        keep_this_session(user)
        from flask import session

        assert session["_user_id"] == user.get_id()


def test_a_deactivated_users_sessions_end_at_once(app):
    login(app.test_client(), *create_user(app, email="admin@shop.test"))
    email, password = create_user(app, email="viewer@shop.test", role="viewer")
    viewer = app.test_client()
    login(viewer, email, password)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        accounts.change_role(user, "viewer", False)
        db.session.commit()
    assert viewer.get(DASHBOARD).status_code == 302
    with app.app_context():  # and coming back does not revive the old session
        user = db.session.scalar(sa.select(User).where(User.email == email))
        accounts.change_role(user, "viewer", True)
        db.session.commit()
    assert viewer.get(DASHBOARD).status_code == 302


def test_a_session_from_before_session_versions_names_nobody(app):
    """Sessions made before this change hold a bare id: after the upgrade they name nobody (one
    new login each), as do malformed or oversized ids."""
    from shopcrm.admin.auth import load_user

    create_user(app)
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert load_user(user.get_id()) is user
        for stale in (str(user.id), f"{user.id}.{user.session_version + 1}", f"{user.id}.x", "1" * 40 + ".1", ""):
            assert load_user(stale) is None, stale


def test_the_binding_ignores_a_forged_x_forwarded_for(app):
    """Without trusted proxies (the default) the session is bound to REMOTE_ADDR: a thief who
    sends the owner's address in X-Forwarded-For gains nothing, the owner's own header changes nothing."""
    email, password = create_user(app)
    owner = app.test_client()
    owner.environ_base.update(REMOTE_ADDR="192.0.2.10")
    assert login(owner, email, password).status_code == 302
    assert signed_in(owner.get(DASHBOARD, headers={"X-Forwarded-For": "198.51.100.99"}))
    thief = captured(app, owner)
    thief.environ_base.update(REMOTE_ADDR="203.0.113.66")
    assert thief.get(DASHBOARD, headers={"X-Forwarded-For": "192.0.2.10"}).status_code == 302


def test_behind_one_trusted_proxy_the_binding_uses_the_address_the_proxy_saw(make_app):
    app = make_app(SHOPCRM_TRUSTED_PROXIES=1)
    email, password = create_user(app)
    owner = app.test_client()
    owner.environ_base.update(REMOTE_ADDR="127.0.0.1")  # every request comes from the proxy
    proxy = {"X-Forwarded-For": "192.0.2.10"}
    token = csrf_token(owner, "/crm/admin/login")
    assert owner.post("/crm/admin/login", headers=proxy,
                      data={"email": email, "password": password, "csrf_token": token}).status_code == 302
    assert signed_in(owner.get(DASHBOARD, headers=proxy))
    thief = captured(app, owner)
    thief.environ_base.update(REMOTE_ADDR="127.0.0.1")
    assert thief.get(DASHBOARD, headers={"X-Forwarded-For": "203.0.113.66"}).status_code == 302
    # a client prepending its own entry does not change what the proxy appended last
    assert signed_in(owner.get(DASHBOARD, headers={"X-Forwarded-For": "203.0.113.66, 192.0.2.10"}))


def test_admin_pages_are_not_stored_by_caches(app):
    email, password = create_user(app)
    client = app.test_client()
    login(client, email, password)
    assert client.get(DASHBOARD).headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/crm/static/crm.css").headers.get("Cache-Control", "")
