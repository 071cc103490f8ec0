"""Error pages inside the panel: the menu stays, and the page says what happened and where to go.

Errors raised by the panel's own views (a page of someone else's role, a customer who does not
exist, a bug) are handled by the blueprint. An address under the panel that matches no page has
no blueprint yet when Flask handles it, so a 404 for the whole app is handled here too: under
the panel's prefix it gets this page, elsewhere the shopper's plain one.
"""
from __future__ import annotations

from flask import render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ..extensions import db
from . import bp

MESSAGES = {
    403: ("Not for your role", "Your account cannot open this page. An admin can change your role on the Users page."),
    404: ("Page not found", "This page does not exist, or what it showed is gone (a customer deleted in the shop, "
                            "a segment of an analysis that was cleared away)."),
    405: ("Not like this", "This address is not meant to be opened this way. Use the buttons on the pages."),
    500: ("Something went wrong", "The page could not be shown. Nothing you entered was lost; try again in a moment. "
                                  "If it keeps happening, the hosting admin finds the details in the server's log."),
}


def error_page(code: int):
    title, text = MESSAGES.get(code, ("Something went wrong", ""))
    return render_template("admin/error.html", code=code, title=title, text=text), code


def _code(error) -> int:
    return error.code if isinstance(error, HTTPException) and error.code else 500


@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(405)
def _panel_error(error):
    return error_page(_code(error))


@bp.errorhandler(500)
def _panel_failure(error):
    db.session.rollback()
    return error_page(500)


def _in_panel() -> bool:
    prefix = url_for("crm_admin.dashboard").rstrip("/")
    path = request.script_root + request.path
    return path == prefix or path.startswith(prefix + "/")


@bp.app_errorhandler(404)
def _not_found(error):
    """A 404 anywhere: the panel's page under the panel's prefix, the shopper's plain one elsewhere."""
    if _in_panel():
        return error_page(404)
    return render_template("public/error.html", code=404,
                           message="This page does not exist. The link may be old or mistyped."), 404
