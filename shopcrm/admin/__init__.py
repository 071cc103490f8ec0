"""The admin panel: shop admins log in, see segments with charts, and look into customers.

Views only read stored results and trigger work; they never compute a segmentation inline.
Each area has its own module; ``NAV`` lists the pages in the top bar with the roles that see them.
"""
from flask import Blueprint, current_app, url_for
from flask_login import current_user

from ..config import TEMPLATE_DIR

bp = Blueprint("crm_admin", __name__, template_folder=str(TEMPLATE_DIR))

# (endpoint, label, roles allowed; empty = every logged-in user)
NAV = (
    ("crm_admin.dashboard", "Dashboard", ()),
    ("crm_admin.segments", "Segments", ()),
    ("crm_admin.customers", "Customers", ()),
    ("crm_admin.insights", "Insights", ()),
    ("crm_admin.runs", "Runs", ()),
    ("crm_admin.campaigns", "Campaigns", ()),
    ("crm_admin.triggers", "Triggers", ()),
    ("crm_admin.settings", "Settings", ("admin",)),
    ("crm_admin.users", "Users", ("admin",)),
)


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
        return {"nav_items": [], "has_endpoint": has_endpoint}
    items = [(endpoint, label) for endpoint, label, roles in NAV
             if has_endpoint(endpoint) and (not roles or current_user.has_role(*roles))]
    return {"nav_items": items, "has_endpoint": has_endpoint, "customer_url": customer_link()}


from . import auth, campaigns, customers, dashboard, insights, runs, segments, settings, triggers, users  # noqa: E402,F401  (routes register on import)
