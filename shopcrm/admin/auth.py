"""Login, logout and role checks for the admin panel.

Passwords are hashed by Werkzeug (scrypt). A login answers the same, after the same work,
whether or not the address has an account: an unknown address, or a deactivated account, is
checked against a dummy hash, and the message is always "Wrong email or password." Repeated
attempts are throttled per client address and per account with growing waits, never locked
(``login_throttle``); every failed and refused attempt goes to the admin's security list.

A session names the user *and* their session version (``User.get_id``): logging out, a new
password or a deactivation raise the version, which ends every session of that user, a copied
cookie included. Sessions are bound to the client address and browser (Flask-Login's "strong"
protection), with the address the proxy setting allows, never a client's ``X-Forwarded-For``.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from .. import login_throttle
from ..clock import utcnow
from ..extensions import db, login_manager
from ..models import User
from ..request_guard import client_identifier
from . import bp
from .forms import ConfirmForm, LoginForm

#: The browser's device token (``login_throttle``): sent only to the login page, for a year.
DEVICE_COOKIE = "crm_device"
DEVICE_COOKIE_DAYS = 365
WRONG = "Wrong email or password."

login_manager.login_view = "crm_admin.login"
login_manager.login_message = "Please log in to see this page."
login_manager.session_protection = "strong"
# Flask-Login's own identifier reads X-Forwarded-For as the client sends it; this one uses
# request.remote_addr, which ProxyFix sets only for the configured number of trusted proxies.
login_manager._session_identifier_generator = client_identifier

_dummy_hash: str | None = None


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """``<id>.<session version>``: a session from before the last logout, password change or
    deactivation names nobody; so does a bare id (a session from before session versions).'"""
    user_id, dot, version = (session_id or "").partition(".")
    if not dot or not user_id.isdigit() or not version.isdigit() or len(user_id) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or str(user.session_version or 1) != version:
        return None
    return user


def role_required(*roles: str):
    """Login plus one of ``roles`` (admins pass every check); others get 403. The roles are kept
    on the view (``crm_roles``) for the security suite's sweep of the URL map."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.crm_roles = tuple(roles)
        return wrapped

    return decorator


def keep_this_session(user: User) -> None:
    """After the signed-in user changed their own password (which ends all their sessions):
    this browser stays signed in, under the new session version. Call after the commit."""
    login_user(user)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: a login link must not redirect to another site, and
    nothing that could break the Location header (CR, LF, other control characters)."""
    if not target or len(target) > 2000:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target) or "\\" in target:
        return None  # CR/LF would split the header; browsers read "/\\host" as "//host"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _password_matches(user: User | None, password: str) -> bool:
    """One hash check whether or not ``user`` exists, so the time does not tell."""
    global _dummy_hash
    if user is None:
        if _dummy_hash is None:
            _dummy_hash = generate_password_hash("no account has this password")
        check_password_hash(_dummy_hash, password)
        return False
    return user.check_password(password)


def _device_cookie(response, email: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE, login_throttle.new_device_token(current_app.secret_key, email),
        max_age=DEVICE_COOKIE_DAYS * 86400, path=url_for("crm_admin.login"), httponly=True, samesite="Strict",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("crm_admin.dashboard"))
    form = LoginForm()
    status, wait = 200, 0
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        attempt = login_throttle.Attempt(
            client=request.remote_addr or "-", email=email,
            device=login_throttle.device_of(current_app.secret_key, request.cookies.get(DEVICE_COOKIE), email))
        agent = request.headers.get("User-Agent", "")
        wait = login_throttle.check_in(attempt)
        if wait:
            known = db.session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == email))
            login_throttle.record(login_throttle.REFUSED, attempt, agent, known)
            flash(f"Too many attempts. Please wait {login_throttle.wait_text(wait)} and try again.", "error")
            status = 429
        else:
            user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email))
            if _password_matches(user, form.password.data) and user.active:
                login_throttle.succeeded(attempt)
                user.last_login_at = utcnow()
                db.session.commit()
                login_user(user)
                response = redirect(_safe_next(request.args.get("next")) or url_for("crm_admin.dashboard"))
                _device_cookie(response, email)
                return response
            outcome = login_throttle.INACTIVE if user is not None and not user.active else login_throttle.FAILED
            login_throttle.record(outcome, attempt, agent, user.id if user is not None else None)
            flash(WRONG, "error")
    headers = {"Retry-After": str(wait)} if status == 429 else {}
    return render_template("admin/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Ends this session and every other session of the user (a copied cookie included)."""
    ConfirmForm()  # CSRF is checked by CSRFProtect before we get here
    db.session.execute(sa.update(User).where(User.id == current_user.id)
                       .values(session_version=sa.func.coalesce(User.session_version, 1) + 1))
    db.session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("crm_admin.login"))


@bp.app_context_processor
def security_log_helper():
    """``security_log()`` for ``admin/_security_log.html`` (the Users page's security list)."""
    return {"security_log": login_throttle.recent_events, "login_outcomes": login_throttle.OUTCOME_TEXT}
