"""shopcrm's entry point for mod_wsgi on Windows (deploy/apache/shopcrm-xampp-windows.conf).

mod_wsgi on Windows starts Python from its installation, not from the virtualenv, so this
file adds the virtualenv's packages and the shopcrm folder to the path, then loads the app
from wsgi.py. The virtualenv is the folder "venv" next to the shopcrm folder (C:/shopcrm/venv
for C:/shopcrm/app), or the one named by the SHOPCRM_VENV environment variable (set it in
Windows' system environment, where the Apache service sees it). Settings come from
instance/shopcrm.cfg in the shopcrm folder, as everywhere.
"""
import os
import site
import sys
import sysconfig
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("SHOPCRM_VENV") or APP_ROOT.parent / "venv")

_packages = Path(sysconfig.get_path("purelib", scheme="venv", vars={"base": str(VENV), "platbase": str(VENV)}))
if not _packages.is_dir():
    raise RuntimeError(f"shopcrm: no virtualenv packages at {_packages}; set SHOPCRM_VENV to the virtualenv folder")
site.addsitedir(str(_packages))
sys.path.insert(0, str(APP_ROOT))

from wsgi import application  # noqa: E402,F401  (needs the paths above; mod_wsgi looks for it)
