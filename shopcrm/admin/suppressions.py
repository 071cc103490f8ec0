"""The do-not-email list (``customers.suppression_list``): look an address up, add one with a
reason, lift the shop's own blocks and bounces, import and export as CSV. Marketers edit it;
viewers read it."""
from __future__ import annotations

import csv
import io

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from ..customers import suppression_list as service
from ..customers.members import BOM, csv_safe
from ..errors import CampaignError
from ..extensions import db
from ..vocab import SUPPRESSION_LABELS
from . import bp
from .auth import role_required
from .common import as_sentence, page_from_request
from .forms import ConfirmForm

LIST_PAGE = 50
IMPORT_MAX_BYTES = 5 * 1024 * 1024


@bp.route("/suppressions")
@role_required("marketer", "viewer")
def suppressions():
    counts = service.counts()
    reason = request.args.get("reason") if request.args.get("reason") in SUPPRESSION_LABELS else None
    page = page_from_request(counts.get(reason or "all", 0), LIST_PAGE)
    looked_up, lookup_text = None, (request.args.get("address") or "").strip()[:254]
    if lookup_text:
        try:
            looked_up = service.find(lookup_text) or False
        except CampaignError as exc:
            flash(as_sentence(exc), "error")
    return render_template("admin/suppressions.html", entries=service.page_of(page, reason), page=page, counts=counts,
                           reason=reason, labels=SUPPRESSION_LABELS, addable=service.ADDABLE, form=ConfirmForm(),
                           looked_up=looked_up, lookup_text=lookup_text, can_edit=current_user.has_role("marketer"))


@bp.route("/suppressions/add", methods=["POST"])
@role_required("marketer")
def suppression_add():
    ConfirmForm().validate_on_submit()  # CSRF is checked by CSRFProtect before we get here
    address = request.form.get("address", "")
    try:
        added = service.add(address, request.form.get("reason", "manual"))
        db.session.commit()
    except CampaignError as exc:
        db.session.rollback()
        flash(as_sentence(exc), "error")
    else:
        flash(f"{address.strip()} gets no more marketing e-mail." if added else
              f"{address.strip()} was on the list already.", "success")
    return redirect(url_for("crm_admin.suppressions"))


@bp.route("/suppressions/<int:entry_id>/remove", methods=["POST"])
@role_required("marketer")
def suppression_remove(entry_id: int):
    ConfirmForm().validate_on_submit()
    try:
        service.remove(entry_id)
        db.session.commit()
    except CampaignError as exc:
        db.session.rollback()
        flash(as_sentence(exc), "error")
    else:
        flash("Lifted: this address may get marketing e-mail again (if the shopper subscribed).", "success")
    return redirect(url_for("crm_admin.suppressions"))


@bp.route("/suppressions/import", methods=["POST"])
@role_required("marketer")
def suppression_import():
    ConfirmForm().validate_on_submit()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise CampaignError("choose a CSV file to import")
        data = upload.stream.read(IMPORT_MAX_BYTES + 1)
        if len(data) > IMPORT_MAX_BYTES:
            raise CampaignError(f"the file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB; split it")
        report = service.import_csv(data)
        db.session.commit()
    except CampaignError as exc:
        db.session.rollback()
        flash(as_sentence(exc), "error")
        return redirect(url_for("crm_admin.suppressions"))
    flash(f"Imported: {report.added:,} address(es) added, {report.already:,} already on the list"
          + (f", {report.problem_count:,} line(s) skipped." if report.problem_count else "."), "success")
    for problem in report.problems:
        flash(as_sentence(problem), "error")
    if report.problem_count > len(report.problems):
        flash(f"… and {report.problem_count - len(report.problems):,} more line(s) skipped.", "error")
    return redirect(url_for("crm_admin.suppressions"))


@bp.route("/suppressions/export.csv")
@role_required("marketer")
def suppression_export():
    def rows():
        buffer = io.StringIO()
        buffer.write(BOM)
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
        for n, row in enumerate(service.export_rows()):
            writer.writerow([csv_safe(v) for v in row])
            if n % 1000 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        if buffer.getvalue():
            yield buffer.getvalue()

    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="do-not-email.csv"'})
