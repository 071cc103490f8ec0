"""Users and roles (seed 001: the admin assigns roles). Admins only."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for

from .. import accounts
from ..errors import AccountError
from ..extensions import db
from ..models import User
from ..vocab import ROLES
from . import bp
from .auth import role_required
from .common import as_sentence
from .forms import NewUserForm, PasswordForm, UserForm

ROLE_HELP = {
    "admin": "everything, including users and settings",
    "marketer": "segments, customers, campaigns and triggers",
    "viewer": "reads everything, changes nothing",
}


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(form.email.data, form.role.data, form.password.data)
        except AccountError as exc:
            flash(as_sentence(exc), "error")
        else:
            db.session.commit()
            flash(f"Created {user.email} ({user.role}).", "success")
            return redirect(url_for("crm_admin.users"))
    all_users = db.session.scalars(sa.select(User).order_by(User.email)).all()
    return render_template("admin/users.html", users=all_users, form=form, roles=ROLES, role_help=ROLE_HELP,
                           user_form=UserForm(), password_form=PasswordForm())


@bp.route("/users/<int:user_id>", methods=["POST"])
@role_required("admin")
def user_update(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm()
    if not form.validate_on_submit():
        flash("Choose a valid role.", "error")
        return redirect(url_for("crm_admin.users"))
    try:
        accounts.change_role(user, form.role.data, bool(form.active.data))
    except AccountError as exc:
        flash(as_sentence(exc), "error")
        return redirect(url_for("crm_admin.users"))
    db.session.commit()
    flash(f"Updated {user.email}: {user.role}, {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("crm_admin.users"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@role_required("admin")
def user_password(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = PasswordForm()
    try:
        if not form.validate_on_submit():
            raise AccountError(f"use a password of at least {accounts.MIN_PASSWORD} characters")
        accounts.set_password(user, form.password.data)
    except AccountError:
        flash(f"Passwords must be at least {accounts.MIN_PASSWORD} characters.", "error")
    else:
        db.session.commit()
        flash(f"New password set for {user.email}.", "success")
    return redirect(url_for("crm_admin.users"))
