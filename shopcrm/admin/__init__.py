"""The admin panel: shop admins log in, see segments with charts, and look into customers.

Views only read stored results and trigger work; they never compute a segmentation inline.
Each area has its own module; ``NAV`` lists the pages in the top bar with the roles that see them.
"""
from flask import Blueprint, current_app, request, url_for
from flask_login import current_user

from .. import panel_settings
from ..config import TEMPLATE_DIR
from ..formatting import zone_name

bp = Blueprint("crm_admin", __name__, template_folder=str(TEMPLATE_DIR))

# (endpoint, label, roles allowed; empty = every logged-in user)
NAV = (
    ("crm_admin.dashboard", "Dashboard", ()),
    ("crm_admin.customers", "Customers", ()),
    ("crm_admin.segments", "Segments", ()),
    ("crm_admin.campaigns", "Campaigns", ()),
    ("crm_admin.triggers", "Automatic e-mails", ()),
    ("crm_admin.insights", "Insights", ()),
    ("crm_admin.suppressions", "Do not email", ()),
    ("crm_admin.runs", "Analyses", ()),
    ("crm_admin.settings", "Settings", ("admin",)),
    ("crm_admin.users", "Users", ("admin",)),
)
#: Pages that belong to a menu entry (the entry is marked as the current page there).
SECTIONS = {"crm_admin.customer": "crm_admin.customers", "crm_admin.segment": "crm_admin.segments",
            "crm_admin.group": "crm_admin.segments", "crm_admin.run": "crm_admin.runs",
            "crm_admin.campaign": "crm_admin.campaigns", "crm_admin.campaign_new": "crm_admin.campaigns"}


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def customer_link():
    """``customer_url(id)``: a profile's address. Lists of customers link every row; building
    each link through the URL map cost a tenth of a 50-row page, so the map is asked once."""
    if not has_endpoint("crm_admin.customer"):
        return None
    head = url_for("crm_admin.customer", customer_id=0)[:-1]
    return lambda customer_id: f"{head}{int(customer_id)}"


@bp.app_context_processor
def navigation():
    if not current_user.is_authenticated:
        return {"nav_items": [], "has_endpoint": has_endpoint, "nav_current": None}
    items = [(endpoint, label) for endpoint, label, roles in NAV
             if has_endpoint(endpoint) and (not roles or current_user.has_role(*roles))]
    endpoint = request.endpoint or ""
    return {"nav_items": items, "has_endpoint": has_endpoint, "customer_url": customer_link(),
            "nav_current": SECTIONS.get(endpoint, endpoint), "shop_zone": zone_name}


#: Requests that need none of the panel's settings: the view beacon answers without any database
#: read, static files are files.
WITHOUT_SETTINGS = {"crm_public.beacon", "crm_public.static"}


@bp.before_app_request
def _panel_settings() -> None:
    """The settings saved in the panel apply to every request (``panel_settings``)."""
    if request.endpoint not in WITHOUT_SETTINGS:
        panel_settings.apply()


from . import (  # noqa: E402,F401  (routes register on import)
    account,
    auth,
    campaigns,
    customers,
    dashboard,
    errors,
    insights,
    runs,
    segments,
    settings,
    suppressions,
    triggers,
    users,
)
