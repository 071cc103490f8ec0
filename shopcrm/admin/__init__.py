"""The admin panel: shop admins log in, see segments with charts, and look at customers.

Views only read stored results and trigger work; they never compute a segmentation inline.
"""
from flask import Blueprint

from .. import TEMPLATE_DIR

bp = Blueprint("crm_admin", __name__, template_folder=str(TEMPLATE_DIR))

from . import auth, views  # noqa: E402,F401  (routes register on import)
