"""Pages for shoppers (no login): unsubscribe links from emails, the view beacon, and the shared
static files."""
from flask import Blueprint

from ..config import STATIC_DIR, TEMPLATE_DIR

bp = Blueprint("crm_public", __name__, template_folder=str(TEMPLATE_DIR), static_folder=str(STATIC_DIR),
               static_url_path="/static")

from . import beacon, sms, views  # noqa: E402,F401
