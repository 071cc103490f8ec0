"""What a request may be, and how a bad one is answered: body sizes, ids, the client address.

* **Body size.** ``MAX_CONTENT_LENGTH`` (forms) and ``MAX_FORM_MEMORY_SIZE`` (one form field)
  are enforced before anything reads the body: a larger ``Content-Length`` is answered 413
  unread (Werkzeug checks it before parsing; a chunked body is cut off at the limit). A view that
  takes files marks itself with :func:`takes_upload` and gets ``SHOPCRM_MAX_UPLOAD_BYTES``
  instead. The limit is set in a ``before_request`` that runs before the CSRF check, the first
  reader of a form.
* **Ids.** ``<int:…>`` in a URL accepts only what fits a signed 64-bit column (a larger number
  is "not found" rather than an error of the database driver); :func:`parse_id` does the same
  for ids in forms and query strings, and an id too large for SQLite that slipped through
  anyway answers 404 too.
* **Bad requests** answer 4xx with the styled error page, never a traceback; only 500s are
  logged with one.
* **The client address** is ``REMOTE_ADDR``; ``X-Forwarded-For`` counts only through
  ``SHOPCRM_TRUSTED_PROXIES`` (Werkzeug's ``ProxyFix``), never as a client sends it.
"""
from __future__ import annotations

import hashlib
import re

from flask import Flask, current_app, render_template, request, url_for
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

#: The largest id a database column holds (signed 64 bits: MariaDB BIGINT, SQLite INTEGER).
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
#: The limits when the settings leave them empty (shopcrm inside a host app without limits).
DEFAULT_BODY, DEFAULT_FIELD = 2 * 1024 * 1024, 1024 * 1024
#: Blueprints whose requests get shopcrm's limits when it is mounted inside another app.
BLUEPRINTS = ("crm_admin", "crm_public")

MESSAGES = {
    400: "The request could not be understood. If you sent a form, reload the page and try again.",
    403: "You do not have access to this page. Ask the shop's admin if you need it.",
    404: "There is nothing at this address.",
    405: "This address does not take that kind of request.",
    413: "What you sent is too large.",
    414: "This address is too long.",
    429: "Too many requests. Please wait a moment and try again.",
    431: "The request's headers are too large.",
}
CSRF_MESSAGE = "This form has expired or came from another site. Reload the page and send it again."


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` that matches only ids a database can hold (0 … 2⁶³−1)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=MAX_ID if max is None or max > MAX_ID else max, signed=signed)


def parse_id(text: object) -> int | None:
    """A record id from a form or a query string: whole, positive and at most 2⁶³−1; else None."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if 0 < text <= MAX_ID else None
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def takes_upload(view):
    """Mark a view that receives files (a CSV import): its requests may carry up to
    ``SHOPCRM_MAX_UPLOAD_BYTES`` instead of ``MAX_CONTENT_LENGTH``."""
    view.crm_takes_upload = True
    return view


def _apply_limits() -> None:
    """Runs before the CSRF check (the first reader of a form)."""
    if request.blueprint not in BLUEPRINTS:
        return
    config = current_app.config
    view = current_app.view_functions.get(request.endpoint)
    if view is not None and getattr(view, "crm_takes_upload", False):
        request.max_content_length = config["SHOPCRM_MAX_UPLOAD_BYTES"]
    else:
        request.max_content_length = config.get("MAX_CONTENT_LENGTH") or DEFAULT_BODY
    request.max_form_memory_size = config.get("MAX_FORM_MEMORY_SIZE") or DEFAULT_FIELD


def error_page(error: HTTPException):
    """4xx: the styled page, the status, nothing in the log."""
    from flask_wtf.csrf import CSRFError

    code = error.code or 400
    message = MESSAGES.get(code, error.description or "This request cannot be answered.")
    if isinstance(error, CSRFError):
        message = CSRF_MESSAGE
    elif code == 413:
        limit = getattr(request, "max_content_length", None)
        if limit:
            message += f" The limit is {_size(limit)}."
    page = render_template("public/error.html", code=code, message=message, back_url=_admin_home())
    response = current_app.make_response((page, code))
    if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if code == 413:
        response.headers["Connection"] = "close"  # the unread body must not be taken for the next request
    return response


def _admin_home() -> str | None:
    """The dashboard's address when the request was for the admin panel (a matched route or
    not): an admin who mistyped an address gets a way back; a shopper gets none."""
    if "crm_admin.dashboard" not in current_app.view_functions:
        return None
    home = url_for("crm_admin.dashboard")
    inside = home[len(request.script_root):] if home.startswith(request.script_root) else home
    return home if request.blueprint == "crm_admin" or request.path.startswith(inside) else None


def _id_too_large(error: OverflowError):
    """sqlite3 cannot bind an int beyond 64 bits: such an id names no record."""
    from .extensions import db

    db.session.rollback()
    return error_page(NotFound())


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{max(1, limit // 1024)} KB"


def client_identifier() -> str:
    """Flask-Login's session binding ("strong" protection), from the address the proxy setting
    allows (``request.remote_addr``) and the browser; Flask-Login's own reads ``X-Forwarded-For``
    as any client sends it."""
    agent = request.headers.get("User-Agent", "")
    return hashlib.sha512(f"{request.remote_addr}|{agent}".encode("utf-8", "surrogatepass")).hexdigest()


def install(app: Flask) -> None:
    """Called by ``ShopCRM.init_app`` before the blueprints and CSRFProtect are registered."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(_apply_limits)
    for code in MESSAGES:
        app.register_error_handler(code, error_page)
    app.register_error_handler(OverflowError, _id_too_large)


def behind_proxies(app: Flask) -> None:
    """Trust ``X-Forwarded-For``/``-Proto`` from ``SHOPCRM_TRUSTED_PROXIES`` proxies in front
    (0, the default: trust none; 1: Apache's ProxyPass to gunicorn)."""
    hops = app.config.get("SHOPCRM_TRUSTED_PROXIES") or 0
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
