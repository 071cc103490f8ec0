"""Users and roles (seed 001: the admin assigns roles). Admins only."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for

from ..extensions import db
from ..models import User
from ..vocab import ROLES
from . import bp
from .auth import role_required
from .forms import NewUserForm, PasswordForm, UserForm

ROLE_HELP = {
    "admin": "everything, including users and settings",
    "marketer": "segments, customers, campaigns and triggers",
    "viewer": "reads everything, changes nothing",
}


def _active_admins() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)
                             .where(User.role == "admin", User.active.is_(True)))


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = NewUserForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if db.session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == email)):
            flash(f"{email} already has an account.", "error")
        else:
            user = User(email=email, role=form.role.data, active=True)
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.commit()
            flash(f"Created {email} ({form.role.data}).", "success")
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
    losing_admin = user.role == "admin" and user.active and (form.role.data != "admin" or not form.active.data)
    if losing_admin and _active_admins() <= 1:
        flash("There must always be at least one active admin.", "error")
        return redirect(url_for("crm_admin.users"))
    user.role, user.active = form.role.data, bool(form.active.data)
    db.session.commit()
    flash(f"Updated {user.email}: {user.role}, {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("crm_admin.users"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@role_required("admin")
def user_password(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = PasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
        flash(f"New password set for {user.email}.", "success")
    else:
        flash("Passwords must be at least 10 characters.", "error")
    return redirect(url_for("crm_admin.users"))
