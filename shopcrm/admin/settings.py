"""Settings (admins only): the mapping doctor's last report (``shop.doctor_report``), the view
beacon's instructions, a test e-mail."""
from __future__ import annotations

import os
import smtplib

from flask import current_app, flash, redirect, render_template, url_for

from ..clock import to_shop
from ..delivery.transport import make_channel
from ..health import check_shop, last_report
from . import bp
from .auth import role_required
from .forms import ConfirmForm


@bp.route("/settings")
@role_required("admin")
def settings():
    report, checked_utc = last_report()
    checked_at = f"{to_shop(checked_utc):%Y-%m-%d %H:%M:%S}" if checked_utc else None
    config = current_app.config
    beacon_url = config["SHOPCRM_PUBLIC_URL"].rstrip("/") + "/beacon"
    return render_template("admin/settings.html", report=report, checked_at=checked_at, form=ConfirmForm(),
                           beacon_on=bool(config.get("SHOPCRM_BEACON_SECRET")), beacon_url=beacon_url,
                           mail_server=config.get("MAIL_SERVER"), outbox_dir=config.get("SHOPCRM_OUTBOX_DIR"))


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
