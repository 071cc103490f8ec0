"""The logged-in user's own account: change the password (every role may)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import accounts
from ..errors import AccountError
from ..extensions import db
from . import bp
from .auth import keep_this_session
from .common import as_sentence
from .forms import ConfirmForm


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = ConfirmForm()
    if request.method == "POST":
        form.validate_on_submit()  # CSRF is checked by CSRFProtect before we get here
        try:
            accounts.change_own_password(current_user, request.form.get("current", ""), request.form.get("new", ""),
                                         request.form.get("repeated", ""))
        except AccountError as exc:
            db.session.rollback()
            flash(as_sentence(exc), "error")
        else:
            db.session.commit()
            # A password change ends the user's other sessions; this one, just proven by the
            # current password, goes on under the new session version.
            keep_this_session(current_user._get_current_object())
            flash("Your password is changed. Use the new one next time you log in.", "success")
            return redirect(url_for("crm_admin.account"))
    return render_template("admin/account.html", form=form, min_password=accounts.MIN_PASSWORD)
