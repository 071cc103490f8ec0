"""The WSGI entry point.

mod_wsgi looks for ``application``; ``flask --app wsgi`` and gunicorn (``wsgi:app``) use ``app``.
Settings come from the instance file (``SHOPCRM_SETTINGS`` or ``instance/shopcrm.cfg``) and
``SHOPCRM_*`` environment variables; see docs/CONFIGURATION.md.

A configuration shopcrm refuses (on a fresh install: no SECRET_KEY yet) does not end in a
traceback: a minimal app takes its place (``shopcrm.unconfigured``), with which
``flask --app wsgi shopcrm init`` and ``--help`` work, every other command prints the problem in
one line, and a web server answers 503 and logs the problem once.
"""
from shopcrm import create_app
from shopcrm.errors import ConfigError

try:
    application = create_app()
except ConfigError as error:
    from shopcrm.unconfigured import unconfigured_app

    application = unconfigured_app(error)
app = application
