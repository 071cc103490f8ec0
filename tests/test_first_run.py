"""A new user's first run, for real: `flask --app wsgi shopcrm …` and `python -m shopcrm` as
subprocesses on a fresh, empty instance folder with no SHOPCRM_* variables, gunicorn, and
Apache with mod_wsgi. The first command works, --help works without configuration, and every
configuration problem is one clear line (never a traceback), on the command line and in the
web server's log, with a readable 503 page instead of an error loop."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from shopcrm.errors import ConfigError
from shopcrm.unconfigured import PAGE_STYLE, one_line, unconfigured_app
from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FRESH = "there is no settings file yet"

# every test here but the stand-in app's runs the real commands as child processes
pytestmark = pytest.mark.slow


def run(args: list[str], instance: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """A command in the project folder with a clean environment: only PATH, HOME, the instance folder."""
    clean = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(instance.parent), "LANG": "C.UTF-8",
             "SHOPCRM_INSTANCE_PATH": str(instance), **env}
    return subprocess.run(args, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=timeout)


def flask(instance: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return run([str(BIN / "flask"), "--app", "wsgi", *args], instance, **env)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single line a failed command printed (stderr), checked to be just that."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: shopcrm cannot start: "), output
    return lines[0]


def test_the_first_commands_on_a_fresh_install(tmp_path):
    instance = tmp_path / "instance"  # does not exist yet
    help_ = flask(instance, "shopcrm", "--help")
    assert help_.returncode == 0 and "Traceback" not in help_.stderr, help_.stderr
    assert re.search(r"^\s+init\s+Create the settings file", help_.stdout, re.M)
    assert re.search(r"^\s+segment\s+Run a segmentation", help_.stdout, re.M)
    assert FRESH in help_.stdout  # --help says why the rest does not run yet
    segment_help = flask(instance, "shopcrm", "segment", "--help")
    assert segment_help.returncode == 0 and "--as-of" in segment_help.stdout, segment_help.stderr
    flask_help = flask(instance, "--help")
    assert flask_help.returncode == 0 and re.search(r"^\s+shopcrm\s", flask_help.stdout, re.M), flask_help.stderr

    for command in (["shopcrm", "migrate"], ["shopcrm", "create-user"], ["shopcrm", "campaign", "list"],
                    ["db", "upgrade"]):
        line = one_error_line(flask(instance, *command))
        assert FRESH in line and "flask --app wsgi shopcrm init" in line, (command, line)

    init = flask(instance, "shopcrm", "init")
    settings = instance / "shopcrm.cfg"
    assert init.returncode == 0 and init.stdout.strip() == f"wrote {settings} with a new SECRET_KEY", init
    assert oct(settings.stat().st_mode & 0o777) == "0o600"
    assert re.fullmatch(r"SECRET_KEY = '[0-9a-f]{64}'", settings.read_text().splitlines()[-1])

    migrate = flask(instance, "shopcrm", "migrate")
    assert migrate.returncode == 0 and "shopcrm tables are up to date" in migrate.stdout, migrate.stderr
    again = flask(instance, "shopcrm", "init")
    assert again.returncode == 0 and again.stdout.strip() == f"{settings} exists; left as it is."
    help_ = flask(instance, "shopcrm", "--help")
    assert help_.returncode == 0 and "Not configured yet" not in help_.stdout


def test_init_writes_the_settings_file_that_shopcrm_settings_names(tmp_path):
    """A hosting admin who keeps the settings outside the instance folder: init writes that file,
    and the commands after it read it."""
    instance, settings = tmp_path / "instance", tmp_path / "etc" / "shopcrm" / "crm.cfg"
    line = one_error_line(flask(instance, "shopcrm", "migrate", SHOPCRM_SETTINGS=str(settings)))
    assert f"SHOPCRM_SETTINGS points to '{settings}', which does not exist" in line
    assert "flask --app wsgi shopcrm init" in line
    init = flask(instance, "shopcrm", "init", SHOPCRM_SETTINGS=str(settings))
    assert init.returncode == 0 and init.stdout.strip() == f"wrote {settings} with a new SECRET_KEY", init
    assert oct(settings.stat().st_mode & 0o777) == "0o600" and not (instance / "shopcrm.cfg").exists()
    migrate = flask(instance, "shopcrm", "migrate", SHOPCRM_SETTINGS=str(settings))
    assert migrate.returncode == 0 and "shopcrm tables are up to date" in migrate.stdout, migrate.stderr
    made = run([sys.executable, "-m", "shopcrm", "init"], instance, SHOPCRM_SETTINGS=str(settings))
    assert made.returncode == 0 and made.stdout.strip() == f"{settings} exists; left as it is.", made


def test_python_m_shopcrm_needs_no_configuration_and_fails_in_one_line(tmp_path):
    instance = tmp_path / "elsewhere"
    made = run([sys.executable, "-m", "shopcrm", "init"], instance)
    assert made.returncode == 0 and (instance / "shopcrm.cfg").exists(), made.stderr
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    failed = run([sys.executable, "-m", "shopcrm", "init", str(blocked / "instance")], instance)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert re.fullmatch(rf"shopcrm: cannot write the settings file in {re.escape(str(blocked / 'instance'))} as the "
                        r"user \S+: Not a directory\n", failed.stderr), failed.stderr
    init = flask(blocked / "instance", "shopcrm", "init")  # the same through flask: one line too
    assert init.returncode == 1 and "Traceback" not in init.stderr
    assert re.fullmatch(r"Error: cannot write the settings file in .*/a-file/instance as the user \S+: Not a "
                        r"directory\n", init.stderr), init.stderr
    usage = run([sys.executable, "-m", "shopcrm", "segment"], instance)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: python -m shopcrm init")


@pytest.mark.parametrize("settings,env,expected", [
    ("SECRET_KEY = 'c977914661e33e48af697b938dc5e1a6c6f61bbf0f51416836504eddb52ad940'\nSHOPCRM_K_MIN = 5\nSHOPCRM_K_MAX = 3\n", {},
     "shopcrm cannot start: SHOPCRM_K_MIN and SHOPCRM_K_MAX must be whole numbers with 2 ≤ K_MIN ≤ K_MAX"),
    ("SECRET_KEY = 'c977914661e33e48af697b938dc5e1a6c6f61bbf0f51416836504eddb52ad940'\nSHOPCRM_CURRENCY = 'EUR\n", {}, "has a syntax error on line 2"),
    ("SECRET_KEY = 'c977914661e33e48af697b938dc5e1a6c6f61bbf0f51416836504eddb52ad940'\n\nSHOPCRM_LOCALE = de_DE\n", {}, "fails on line 3: NameError: name 'de_DE' is not defined"),
    ("SECRET_KEY = 'c977914661e33e48af697b938dc5e1a6c6f61bbf0f51416836504eddb52ad940'\n", {"SHOPCRM_MAIL_PORT": "twenty-five"},
     "invalid environment variable(s): SHOPCRM_MAIL_PORT='twenty-five'"),
    ("SECRET_KEY = 'c977914661e33e48af697b938dc5e1a6c6f61bbf0f51416836504eddb52ad940'\n", {"SHOPCRM_DATABASE_URI": "crm.db"}, "a database address cannot be used"),
    ("SECRET_KEY = 'c977914661e33e48af697b938dc5e1a6c6f61bbf0f51416836504eddb52ad940'\n", {"SHOPCRM_SHOP_DATABASE_URI": "postgresql://shop:s3cret-pw@db.test/shop"},
     "a database address needs the Python package 'psycopg', which is not installed"),
    ("SECRET_KEY = 'dev'\n", {}, "SECRET_KEY is missing or too weak for production"),
])
def test_every_configuration_problem_is_one_line(tmp_path, settings, env, expected):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "shopcrm.cfg").write_text(settings)
    line = one_error_line(flask(instance, "shopcrm", "doctor", **env))
    assert expected in line, line
    assert "s3cret-pw" not in line and FRESH not in line


def test_the_stand_in_app_answers_503_and_logs_once(tmp_path, capsys):
    import shopcrm.unconfigured as unconfigured

    unconfigured._logged = False
    app = unconfigured_app(ConfigError("shopcrm cannot start:\n- SECRET_KEY is missing or too weak for production."
                                       "\n- SHOPCRM_MOUNT must start with '/'"), str(tmp_path / "instance"))
    problem = app.config["SHOPCRM_CONFIG_PROBLEM"]
    assert problem == (f"shopcrm cannot start: there is no settings file yet ({tmp_path / 'instance' / 'shopcrm.cfg'}), "
                       "so no SECRET_KEY; on a new install run `flask --app wsgi shopcrm init` (or `python -m shopcrm "
                       "init`), which writes it with a new key; SHOPCRM_MOUNT must start with '/'")
    assert capsys.readouterr().err == problem + "\n"  # made outside a command line: logged at once
    client = app.test_client()
    for path in ("/crm/admin/", "/crm/beacon?c=1", "/"):
        response = client.get(path)
        assert response.status_code == 503 and response.headers["Retry-After"] == "300"
        page = response.get_data(as_text=True)
        assert "<h1>shopcrm is not set up yet</h1>" in page and "flask --app wsgi shopcrm init" in page
        assert "SHOPCRM_MOUNT" not in page  # the problem itself stays in the log: the page is public
    assert capsys.readouterr().err == ""  # once per process, not per request
    digest = base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in response.headers["Content-Security-Policy"]  # the inline style may apply
    assert one_line(ConfigError("SHOPCRM_SETTINGS points to '/x', which does not exist")) == (
        "shopcrm cannot start: SHOPCRM_SETTINGS points to '/x', which does not exist")


def wait_for(url: str, timeout: float = 30) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_gunicorn_serves_the_problem_page_and_logs_one_line_per_worker(tmp_path):
    instance, port = tmp_path / "instance", free_port()
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as errors:
        server = subprocess.Popen([str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", "2", "wsgi:app"], cwd=ROOT,
                                  env={"PATH": f"{BIN}:/usr/bin:/bin", "SHOPCRM_INSTANCE_PATH": str(instance),
                                       "HOME": str(tmp_path)}, stdout=errors, stderr=errors)
        try:
            for _ in range(6):
                status, page = wait_for(f"http://127.0.0.1:{port}/crm/admin/")
                assert status == 503 and "shopcrm is not set up yet" in page
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text()
    assert "Traceback" not in text, text
    problems = [line for line in text.splitlines() if "shopcrm cannot start" in line]
    assert 1 <= len(problems) <= 2 and all(FRESH in line for line in problems), text  # one per worker at most


@pytest.mark.slow
def test_mod_wsgi_serves_the_problem_page_then_starts_once_configured(tmp_path):
    """Apache with mod_wsgi in daemon mode, deploy/apache/shopcrm.conf as shipped, a deployment
    without its settings file: 503 and one line per daemon process in Apache's error log; once
    the settings file is there (and wsgi.py touched, which mod_wsgi reloads on), shopcrm answers."""
    from tests.support.apps import need_service
    from tests.support.deploy import (
        APACHE_MODULES,
        Apache,
        deploy_venv,
        make_deployment,
        missing_prerequisites,
        user_ids,
        write_private,
    )

    missing = missing_prerequisites()
    if missing:
        need_service("Apache with mod_wsgi", "; ".join(missing))
    d = make_deployment(deploy_venv().path)
    apache = None
    try:
        writable = d.base / "data"
        writable.mkdir()
        os.chown(writable, *user_ids())

        def config(run_dir: Path) -> str:
            return (f"LoadModule wsgi_module {APACHE_MODULES}/mod_wsgi.so\nWSGISocketPrefix {run_dir}/wsgi\n"
                    f"Define SHOPCRM_ROOT {d.app}\nDefine SHOPCRM_VENV {d.venv}\n"
                    f"Include {d.app}/deploy/apache/shopcrm.conf\n")

        for attempt in range(3):
            workdir = d.base / f"apache{attempt}"
            apache = Apache(workdir, free_port(), d.shop, config(workdir / "run"))
            try:
                apache.start()
                break
            except AssertionError as exc:
                if "Address already in use" not in str(exc) or attempt == 2:
                    raise
        for _ in range(5):
            status, page = wait_for(f"{apache.url}/crm/admin/login", timeout=60)
            assert status == 503 and "shopcrm is not set up yet" in page, (status, page[:500], apache.logs())
        log = apache.error_log.read_text(errors="replace")
        problems = [line for line in log.splitlines() if "shopcrm cannot start" in line]
        assert 1 <= len(problems) <= 2 and FRESH in problems[0], apache.logs()  # two daemon processes at most
        assert "Traceback" not in log, apache.logs()

        write_private(d.instance / "shopcrm.cfg", f"SECRET_KEY = {os.urandom(32).hex()!r}\n"
                      f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{writable}/crm.db'\n"
                      f"SHOPCRM_SHOP_DATABASE_URI = 'sqlite:///{writable}/shop.db'\n")
        os.utime(d.app / "wsgi.py")
        deadline = time.monotonic() + 60
        while True:
            status, page = wait_for(f"{apache.url}/crm/admin/login", timeout=60)
            if status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == 200 and "shopcrm is not set up yet" not in page, (status, page[:500], apache.logs())
    finally:
        if apache is not None:
            apache.stop()
        shutil.rmtree(d.base, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("width", [1366, 390])
def test_the_problem_page_reads_well_in_a_real_browser(tmp_path, width):
    from tests.support.browser import browser, live_server, screenshot

    app = unconfigured_app(ConfigError("shopcrm cannot start:\n- SECRET_KEY is missing or too weak for production."),
                           str(tmp_path / "instance"))
    with live_server(app) as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": width, "height": 800})
        errors = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        response = page.goto(f"{base}/admin/")
        assert response.status == 503 and page.locator("h1").inner_text() == "shopcrm is not set up yet"
        assert page.evaluate("getComputedStyle(document.querySelector('main')).borderRadius") == "8px"  # CSP let it in
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than a phone
        screenshot(page, f"not-set-up-{width}")
        assert not [e for e in errors if "503" not in e], errors  # the status itself is the only complaint
