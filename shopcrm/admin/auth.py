"""Login, logout and role checks for the admin panel.

Passwords are hashed by Werkzeug (scrypt). After ``MAX_FAILURES`` wrong passwords in a row an
account is locked for ``LOCK_MINUTES``; the login page says so without telling an attacker
whether the address exists.
"""
from __future__ import annotations

from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..clock import utcnow
from ..extensions import db, login_manager
from ..models import User
from . import bp
from .forms import ConfirmForm, LoginForm

MAX_FAILURES = 5
LOCK_MINUTES = 15

login_manager.login_view = "crm_admin.login"
login_manager.login_message = "Please log in to see this page."
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


def role_required(*roles: str):
    """Login plus one of ``roles`` (admins pass every check); others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: a login link must not redirect to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("crm_admin.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email))
        now = utcnow()
        if user is not None and user.locked_until and user.locked_until > now:
            flash("Too many failed attempts. Try again in a few minutes.", "error")
        elif user is not None and user.active and user.check_password(form.password.data):
            user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("crm_admin.dashboard"))
        else:
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILURES:
                    user.locked_until, user.failed_logins = now + timedelta(minutes=LOCK_MINUTES), 0
                db.session.commit()
            flash("Wrong email or password.", "error")
    return render_template("admin/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    ConfirmForm()  # CSRF is checked by CSRFProtect before we get here
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("crm_admin.login"))
