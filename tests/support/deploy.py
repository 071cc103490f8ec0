"""Helpers for the deployment test: a cached virtualenv, a deployment copy of the project,
a standalone Apache on a loopback port, commands run as the web server's user, a cookie-jar
HTTP client, and the shipped cron file read the way cron reads it.

Everything here runs real programs (apache2, mod_wsgi, mod_php, gunicorn, flask) and waits for
them with bounded timeouts.
"""
from __future__ import annotations

import fcntl
import glob
import grp
import hashlib
import http.cookiejar
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
SYSTEM_PYTHON = "/usr/bin/python3"
RUN_AS = "www-data"
#: Where built virtualenvs are kept between runs; must be readable by RUN_AS (not under /root).
VENV_CACHE = Path(os.environ.get("SHOPCRM_TEST_DEPLOY_CACHE", "/var/tmp/shopcrm-test-deploy"))
VENV_KEEP_DAYS = 7
#: What a deployment copy leaves out: version control, local virtualenvs, caches, local state.
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "instance", "__pycache__", "*.pyc", ".pytest_cache",
                                     "test-artifacts", ".cache", "tests")


def php_module() -> Path | None:
    found = sorted(APACHE_MODULES.glob("libphp*.so"))
    return found[-1] if found else None


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the deployment test, in words (empty when all is there)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (Apache must start as root to switch to www-data)")
    if not os.access(APACHE_BIN, os.X_OK):
        missing.append(f"{APACHE_BIN} (Debian package apache2)")
    if not (APACHE_MODULES / "mod_wsgi.so").is_file():
        missing.append("mod_wsgi (Debian package libapache2-mod-wsgi-py3)")
    if php_module() is None:
        missing.append("mod_php (Debian package libapache2-mod-php)")
    if not glob.glob("/etc/php/*/apache2/conf.d/*mysqli.ini"):
        missing.append("PHP's mysqli for Apache (Debian package php-mysql)")
    if not os.access(SYSTEM_PYTHON, os.X_OK) or not glob.glob("/usr/lib/python3*/ensurepip/__init__.py"):
        missing.append(f"{SYSTEM_PYTHON} with venv (Debian package python3-venv)")
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        missing.append(f"the {RUN_AS} user")
    if not shutil.which("logrotate"):
        missing.append("logrotate (Debian package logrotate)")
    return missing


# --- processes as the web server's user ----------------------------------------------------------

def user_ids(name: str = RUN_AS) -> tuple[int, int]:
    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def user_env(name: str = RUN_AS, **extra: str) -> dict[str, str]:
    """A clean environment like the one cron or a service manager gives (no SHOPCRM_* leaks)."""
    entry = pwd.getpwnam(name)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": entry.pw_dir, "LOGNAME": name, "USER": name,
           "LANG": "C.UTF-8", "SHELL": "/bin/sh"}
    env.update(extra)
    return env


def run_as(argv: list[str], cwd: Path, timeout: float = 180, env: dict | None = None,
           user: str = RUN_AS) -> subprocess.CompletedProcess:
    """Run a program as ``user`` with no supplementary groups, so root's groups cannot hide a
    permission problem."""
    uid, gid = user_ids(user)
    return subprocess.run(argv, cwd=cwd, env=env or user_env(user), user=uid, group=gid, extra_groups=[],
                          capture_output=True, text=True, timeout=timeout, umask=0o027)


def flask_cli(deployment: "Deployment", *args: str, timeout: float = 300) -> str:
    """``flask --app wsgi shopcrm ARGS`` from the deployment folder, as the docs tell the admin."""
    result = run_as([str(deployment.venv / "bin" / "flask"), "--app", "wsgi", "shopcrm", *args],
                    cwd=deployment.app, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"flask shopcrm {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result.stdout


# --- the virtualenv, built once per requirements.txt ------------------------------------------------

@dataclass
class VenvInfo:
    path: Path
    built: bool
    seconds: float


def _venv_key(requirements: Path) -> str:
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version)"], capture_output=True,
                             text=True, check=True, timeout=30).stdout
    digest = hashlib.sha256(requirements.read_bytes() + version.encode() + platform.machine().encode())
    return digest.hexdigest()[:16]


def deploy_venv(requirements: Path = PROJECT_ROOT / "requirements.txt") -> VenvInfo:
    """A virtualenv made from Debian's python3 (the Python mod_wsgi is built for) with
    ``pip install -r requirements.txt``, cached in VENV_CACHE under a key of the requirements
    and the interpreter. Concurrent test runs wait for each other on a file lock."""
    started = time.monotonic()
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    os.chmod(VENV_CACHE, 0o755)
    key = _venv_key(requirements)
    venv = VENV_CACHE / f"venv-{key}"
    marker = venv / ".complete"
    with open(VENV_CACHE / f"venv-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            os.utime(marker)
            return VenvInfo(venv, False, time.monotonic() - started)
        shutil.rmtree(venv, ignore_errors=True)
        for argv in ([SYSTEM_PYTHON, "-m", "venv", str(venv)],
                     [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                      "-r", str(requirements)]):
            result = subprocess.run(argv, capture_output=True, text=True, timeout=1200, umask=0o022)
            if result.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                raise AssertionError(f"building the deployment virtualenv failed: {' '.join(argv)}\n"
                                     f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        seconds = time.monotonic() - started
        marker.write_text(f"built in {seconds:.1f} s from {requirements}\n")
    _prune_old_venvs(keep=venv)
    return VenvInfo(venv, True, seconds)


def _prune_old_venvs(keep: Path) -> None:
    """Drop cached virtualenvs nobody used for VENV_KEEP_DAYS (other requirements.txt versions)."""
    cutoff = time.time() - VENV_KEEP_DAYS * 86400
    for old in VENV_CACHE.glob("venv-*"):
        if old == keep or not old.is_dir():
            continue
        marker = old / ".complete"
        if marker.exists() and marker.stat().st_mtime > cutoff:
            continue
        with open(f"{old}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being built or used right now
            shutil.rmtree(old, ignore_errors=True)


# --- a deployment copy -----------------------------------------------------------------------------

@dataclass
class Deployment:
    """The layout docs/DEPLOY.md describes, under a temporary base instead of /srv/shopcrm."""

    base: Path
    venv: Path

    @property
    def app(self) -> Path:
        return self.base / "app"

    @property
    def instance(self) -> Path:
        return self.app / "instance"

    @property
    def logs(self) -> Path:
        return self.base / "log"

    @property
    def shop(self) -> Path:
        return self.base / "shop"


def make_deployment(venv: Path) -> Deployment:
    """Copy the project where the web server's user can read it (not under /root, and not under
    pytest's 0700 temporary folder), with the permissions docs/DEPLOY.md prescribes."""
    base = Path(tempfile.mkdtemp(prefix="shopcrm-deploy-", dir="/tmp"))
    os.chmod(base, 0o755)
    deployment = Deployment(base=base, venv=venv)
    shutil.copytree(PROJECT_ROOT, deployment.app, ignore=COPY_IGNORE)
    for path in [deployment.app, *deployment.app.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        os.chmod(path, mode | (0o755 if path.is_dir() else 0o644))
    _, gid = user_ids()
    uid, _ = user_ids()
    deployment.instance.mkdir(mode=0o750)
    os.chown(deployment.instance, 0, gid)
    deployment.logs.mkdir(mode=0o750)
    os.chown(deployment.logs, uid, gid)
    shutil.copytree(PROJECT_ROOT / "deploy" / "demo-php-shop", deployment.shop)
    # The view beacon goes next to the shop's product page, as docs/DEPLOY.md describes.
    shutil.copy(PROJECT_ROOT / "deploy" / "php" / "shopcrm_beacon.php", deployment.shop)
    os.chmod(deployment.shop, 0o755)
    return deployment


def write_private(path: Path, text: str, group_readable_by: str = RUN_AS) -> None:
    """A file only root and the given user's group can read (settings with passwords)."""
    path.write_text(text, encoding="utf-8")
    os.chown(path, 0, user_ids(group_readable_by)[1])
    os.chmod(path, 0o640)


def php_string(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- a standalone Apache --------------------------------------------------------------------------

MAIN_CONFIG = """\
# A standalone Apache for one test: its own PID file, logs and port; never the system config.
ServerRoot "/etc/apache2"
DefaultRuntimeDir {run}
PidFile {run}/httpd.pid
Mutex file:{run} default
ErrorLog {logs}/error.log
LogLevel info
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
User {user}
Group {group}
Timeout 60

LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 16
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule php_module {php_module}
{extra_modules}
TypesConfig /etc/mime.types
LogFormat "%h %t \\"%r\\" %>s %b handler=%R" deploytest
CustomLog {logs}/access.log deploytest

# The shop's own site, as a hosting admin has it; shopcrm's file below does not change it.
<VirtualHost 127.0.0.1:{port}>
    DocumentRoot {shop}
    DirectoryIndex index.php
    <Directory {shop}>
        Require all granted
    </Directory>
    <FilesMatch "\\.php$">
        SetHandler application/x-httpd-php
    </FilesMatch>
</VirtualHost>

{shopcrm}
"""


class Apache:
    """``apache2 -f httpd.conf`` on a loopback port, stopped through its own PID file."""

    def __init__(self, workdir: Path, port: int, shop: Path, shopcrm_config: str, extra_modules=()):
        self.workdir, self.port = workdir, port
        self.run_dir, self.log_dir = workdir / "run", workdir / "logs"
        for folder in (self.run_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o755)
        self.conf = workdir / "httpd.conf"
        module_lines = "\n".join(f"LoadModule {name}_module {APACHE_MODULES}/{file}" for name, file in extra_modules)
        self.conf.write_text(MAIN_CONFIG.format(
            run=self.run_dir, logs=self.log_dir, port=port, user=RUN_AS, group=grp.getgrgid(user_ids()[1]).gr_name,
            modules=APACHE_MODULES, php_module=php_module(), extra_modules=module_lines, shop=shop,
            shopcrm=shopcrm_config))
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.log_dir / "error.log"

    @property
    def access_log(self) -> Path:
        return self.log_dir / "access.log"

    def logs(self, lines: int = 80) -> str:
        """The end of Apache's error log, for assertion messages."""
        try:
            tail = self.error_log.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            tail = ["(no error log written)"]
        return f"\n--- {self.error_log} (last {lines} lines) ---\n" + "\n".join(tail)

    def _apache(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([APACHE_BIN, "-f", str(self.conf), *args], capture_output=True, text=True,
                              timeout=timeout, env={"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"})

    def start(self, timeout: float = 60) -> None:
        check = self._apache("-t")
        assert check.returncode == 0, f"apache2 -t rejects the configuration:\n{check.stderr}\n{self.conf.read_text()}"
        started = self._apache("-k", "start")
        assert started.returncode == 0, f"apache2 -k start failed:\n{started.stderr}{self.logs()}"
        deadline = time.monotonic() + timeout
        pid_file = self.run_dir / "httpd.pid"
        while time.monotonic() < deadline:
            if pid_file.exists() and pid_file.read_text().strip() and port_open(self.port):
                self.pid = int(pid_file.read_text())
                return
            time.sleep(0.1)
        raise AssertionError(f"Apache did not answer on port {self.port} within {timeout} s{self.logs()}")

    def children(self) -> list[int]:
        """PIDs whose parent is this Apache (its PHP workers and the mod_wsgi daemons)."""
        return [pid for pid, ppid, _ in processes() if ppid == self.pid]

    def stop(self, timeout: float = 30) -> list[int]:
        """Stop Apache by the PID in its own PID file; return the PIDs that were running under it."""
        if self.pid is None:
            return []
        family = [self.pid, *self.children()]
        pid_file = self.run_dir / "httpd.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else self.pid
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(alive(p) for p in family):
            time.sleep(0.1)
        for straggler in [p for p in family if alive(p)]:
            os.kill(straggler, signal.SIGKILL)
        self.pid = None
        return family


def processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        found.append((int(entry.name), ppid, cmdline))
    return found


def process_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for process {pid}")


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode} before listening on {port}")
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on port {port} within {timeout} s")


# --- HTTP with a cookie jar -------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: dict
    body: str
    url: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Browser:
    """Requests with cookies kept between them; redirects are returned, not followed."""

    base: str
    timeout: float = 30
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, path: str, data: dict | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        url = self.base + path
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=self.timeout) as reply:
                return Response(reply.status, dict(reply.headers), reply.read().decode("utf-8", "replace"), url)
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read().decode("utf-8", "replace"), url)

    def get(self, path: str) -> Response:
        return self.request(path)

    def post(self, path: str, data: dict) -> Response:
        return self.request(path, data)

    def wait_for(self, path: str, status: int = 200, timeout: float = 90) -> Response:
        """Poll until ``path`` answers ``status`` (the daemon may still be importing numpy)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.get(path)
                if last.status == status:
                    return last
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last = exc
            time.sleep(0.3)
        raise AssertionError(f"{path} did not answer {status} within {timeout} s; last answer: {last!r}")


# --- the shipped cron file ---------------------------------------------------------------------------

@dataclass
class CronJob:
    schedule: str
    user: str
    command: str


@dataclass
class CronFile:
    env: dict[str, str]
    jobs: list[CronJob]

    def job(self, word: str) -> CronJob:
        matches = [j for j in self.jobs if re.search(rf"\b{re.escape(word)}\b", j.command)]
        assert len(matches) == 1, f"expected one cron job for {word!r}, found {matches}"
        return matches[0]


CRON_FIELD = r"(\*(/\d+)?|\d+(-\d+)?(,\d+(-\d+)?)*(/\d+)?)"
CRON_SCHEDULE = re.compile(rf"^({CRON_FIELD}\s+){{5}}")


def read_cron_file(path: Path) -> CronFile:
    """Parse an /etc/cron.d file: NAME=value lines and "m h dom mon dow user command" lines."""
    env, jobs = {}, []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if assignment:
            env[assignment.group(1)] = assignment.group(2)
            continue
        schedule = CRON_SCHEDULE.match(line)
        assert schedule, f"{path}:{number}: neither a variable nor a cron.d job line: {raw!r}"
        user, command = line[schedule.end():].split(None, 1)
        assert "%" not in command, f"{path}:{number}: cron turns % into a newline: {raw!r}"
        jobs.append(CronJob(schedule.group(0).strip(), user, command))
    return CronFile(env, jobs)


def run_cron_job(cron: CronFile, job: CronJob, overrides: dict[str, str], timeout: float = 300):
    """Run a job as cron would: ``/bin/sh -c COMMAND`` as the job's user, with the file's
    variables (some replaced by ``overrides``) in a clean environment."""
    env = user_env(job.user, **{**cron.env, **overrides})
    return run_as([env.get("SHELL", "/bin/sh"), "-c", job.command], cwd=Path(user_env(job.user)["HOME"]),
                  timeout=timeout, env=env, user=job.user)
