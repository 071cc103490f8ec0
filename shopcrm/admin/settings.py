"""Settings (admins only): the mapping doctor's report and the view beacon's instructions.

The doctor reads the shop with bounded queries, but on a large shop they add up to seconds
(about 5 s for 100k customers and 5M views). So a page view never runs it: the last report is
stored in ``crm_state`` and shown with its time, for every worker process alike. It runs when
an admin asks ("Check again"), on the very first visit, and with ``flask shopcrm doctor``; one
check at a time (a lock), so visitors arriving together do not all start one.
"""
from __future__ import annotations

import json
import os
import smtplib

from flask import current_app, flash, redirect, render_template, url_for

from ..clock import to_shop
from ..delivery.transport import make_channel
from ..extensions import db
from ..locks import try_acquire
from ..models import State
from ..shop.doctor import report_for_app
from . import bp
from .auth import role_required
from .forms import ConfirmForm

STATE_NAME = "doctor"
CHECK_TTL = 300  # seconds the check's lock lives if its process dies while checking


def store_report(report) -> dict:
    """The report as plain JSON (samples may hold dates and decimals), stored for every process."""
    data = json.loads(json.dumps(report.to_dict(), default=str))
    State.write(STATE_NAME, data)
    db.session.commit()
    return data


def check_shop() -> dict | None:
    """Run the doctor now and store its report; ``None`` when another check is running."""
    lease = try_acquire("doctor", CHECK_TTL)
    if lease is None:
        return None
    try:
        return store_report(report_for_app())
    finally:
        lease.release()


def stored_report() -> tuple[dict | None, str | None]:
    """The last report and when it was made (shop time), checking the shop on the first visit."""
    row = State.read(STATE_NAME)
    if row is None:
        data = check_shop()
        row = State.read(STATE_NAME) if data is not None else None
    if row is None:
        return None, None
    return row.data, f"{to_shop(row.updated_at):%Y-%m-%d %H:%M:%S}"


@bp.route("/settings")
@role_required("admin")
def settings():
    report, checked_at = stored_report()
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
