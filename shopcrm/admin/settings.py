"""Settings (admins only): the shop's name, currency and formats, the e-mails' sender and
tracking (``panel_settings``: stored in ``crm_setting``, laid over the instance file), the mail
server check, the mapping doctor's last report (``health``) and the view beacon's instructions."""
from __future__ import annotations

import os
import smtplib

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import panel_settings
from ..delivery.transport import make_channel
from ..errors import ConfigError
from ..health import check_shop, last_report
from . import bp
from .auth import role_required
from .common import as_sentence
from .forms import ConfirmForm


def _form_values(form) -> dict:
    """The editable settings as the form sent them (the sender from its two fields)."""
    values = {}
    for item in panel_settings.editable():
        if item.key == "MAIL_DEFAULT_SENDER":
            values[item.key] = panel_settings.sender(form.get("sender_name", ""), form.get("sender_address", ""))
        elif item.kind == "bool":
            values[item.key] = form.get(item.key) == "y"
        else:
            values[item.key] = form.get(item.key, "")
    return values


def _page(posted: dict | None = None, status: int = 200):
    report, checked_utc = last_report()
    config = current_app.config
    beacon_url = config["SHOPCRM_PUBLIC_URL"].rstrip("/") + "/beacon"
    items = panel_settings.describe()
    sender_name, sender_address = panel_settings.sender_parts(config.get("MAIL_DEFAULT_SENDER"))
    if posted:
        sender_name, sender_address = posted.get("sender_name", ""), posted.get("sender_address", "")
        for row in items:
            if row["item"].kind == "bool":
                row["value"] = posted.get(row["item"].key) == "y"
            elif row["item"].key in posted:
                row["value"] = posted[row["item"].key]
    return render_template("admin/settings.html", report=report, checked_at=checked_utc, form=ConfirmForm(),
                           beacon_on=bool(config.get("SHOPCRM_BEACON_SECRET")), beacon_url=beacon_url,
                           mail_server=config.get("MAIL_SERVER"), outbox_dir=config.get("SHOPCRM_OUTBOX_DIR"),
                           items=items, sender_name=sender_name, sender_address=sender_address,
                           locales=panel_settings.LOCALES, currencies=panel_settings.CURRENCIES,
                           zones=panel_settings.zones()), status


@bp.route("/settings")
@role_required("admin")
def settings():
    return _page()


@bp.route("/settings/shop", methods=["POST"])
@role_required("admin")
def settings_save():
    """Save the panel's settings: all of them or none, each checked; a refused value keeps what
    the admin typed on the page with the reason."""
    ConfirmForm().validate_on_submit()  # CSRF is checked by CSRFProtect before we get here
    try:
        changed = panel_settings.save(_form_values(request.form), by=current_user.email)
    except ConfigError as exc:
        flash(as_sentence(exc), "error")
        return _page(request.form.to_dict(), 400)
    labels = {item.key: item.label for item in panel_settings.editable()}
    flash(("Saved: " + ", ".join(labels[k] for k in changed) + ".") if changed else "Nothing changed.", "success")
    return redirect(url_for("crm_admin.settings"))


@bp.route("/settings/shop/reset", methods=["POST"])
@role_required("admin")
def settings_reset():
    """Forget one panel value: the settings file's applies again."""
    ConfirmForm().validate_on_submit()
    try:
        panel_settings.reset(request.form.get("key", ""))
    except ConfigError as exc:
        flash(as_sentence(exc), "error")
    else:
        flash("Back to the value of the settings file.", "success")
    return redirect(url_for("crm_admin.settings"))


@bp.route("/settings/mail-test", methods=["POST"])
@role_required("admin")
def settings_mail_test():
    """Open a session with the mail server (with its timeout) and close it again; a bounded
    check, so it may run in the request. Nothing is sent."""
    ConfirmForm().validate_on_submit()
    config = current_app.config
    channel = make_channel()
    try:
        channel.open()
        if config.get("MAIL_SERVER"):
            flash(f"The mail server {config['MAIL_SERVER']}:{config['MAIL_PORT']} accepted a session"
                  f"{' and the login' if config.get('MAIL_USERNAME') else ''}.", "success")
        else:
            probe = os.path.join(config["SHOPCRM_OUTBOX_DIR"], ".write-test")
            with open(probe, "w", encoding="utf-8"):
                pass
            os.unlink(probe)
            flash(f"No SMTP server is set; .eml files can be written to {config['SHOPCRM_OUTBOX_DIR']}.", "success")
    except (OSError, smtplib.SMTPException) as exc:
        flash(f"The mail check failed: {exc.__class__.__name__}: {exc}", "error")
    finally:
        channel.close()
    return redirect(url_for("crm_admin.settings"))


@bp.route("/settings/doctor", methods=["POST"])
@role_required("admin")
def settings_doctor():
    ConfirmForm().validate_on_submit()
    report = check_shop()
    if report is None:
        flash("A check of the shop database is already running; its report appears here when it is done.",
              "success")
    else:
        flash("The shop database was checked again." if report["ok"] else
              "The check found problems; see below.", "success" if report["ok"] else "error")
    return redirect(url_for("crm_admin.settings"))
