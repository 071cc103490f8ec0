"""The WSGI entry point.

mod_wsgi looks for ``application``; ``flask --app wsgi`` and gunicorn (``wsgi:app``) use ``app``.
Settings come from the instance file (``SHOPCRM_SETTINGS`` or ``instance/shopcrm.cfg``) and
``SHOPCRM_*`` environment variables; see docs/CONFIGURATION.md.
"""
from shopcrm import create_app

application = create_app()
app = application
