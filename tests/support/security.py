"""Helpers of the security suite (tests/security): who may open a route, real servers over real
sockets, and raw HTTP that a normal client library would refuse to send."""
from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from tests.support.apps import CSRF_RE, TEST_SECRET
from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("viewer", "marketer", "admin")
#: Public routes: shoppers' pages behind a signed token, the beacon behind a signed request.
PUBLIC_BLUEPRINT = "crm_public."
#: Open to anyone by design.
OPEN_ENDPOINTS = {"crm_admin.login", "index"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
HUGE_IDS = (2**63, 2**64, 10**30)


def audience_of(app, endpoint: str):
    """Who a route is for, read from its view: ``"public"``, ``"open"``, ``"logged-in"`` (Flask-
    Login's ``login_required`` alone), a tuple of roles (``role_required``), or None: an admin
    route without any check, which the sweep reports."""
    if endpoint.startswith(PUBLIC_BLUEPRINT):
        return "public"
    if endpoint in OPEN_ENDPOINTS:
        return "open"
    view = app.view_functions[endpoint]
    roles = getattr(view, "crm_roles", None)
    if roles is not None:
        return tuple(roles)
    code = getattr(view, "__code__", None)
    if code is not None and code.co_name == "decorated_view" and code.co_filename.endswith(
            os.path.join("flask_login", "utils.py")):
        return "logged-in"
    return None


def allowed(audience, role: str | None, method: str) -> bool:
    """Whether ``role`` (None: anonymous) may use the route with ``method``; viewers never change anything."""
    if audience in ("public", "open"):
        return True
    if role is None:
        return False
    if method in STATE_CHANGING and role == "viewer" and audience != "logged-in":
        return False
    if audience == "logged-in":
        return True
    return role == "admin" or role in audience


def token_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


# --- a real gunicorn ------------------------------------------------------------------------------------

@contextmanager
def gunicorn(tmp_path: Path, crm_db: Path, shop_db: Path, workers: int = 1, **env):
    """gunicorn (sync workers) serving ``create_app()`` on a free loopback port; yields
    ``(port, master pid)``. Stopped with SIGTERM to its own pid, then waited for."""
    port = free_port()
    environment = {**os.environ, "SHOPCRM_ENV": "testing", "SHOPCRM_SECRET_KEY": TEST_SECRET,
                   "SHOPCRM_INSTANCE_PATH": str(tmp_path / "instance"),
                   "SHOPCRM_DATABASE_URI": f"sqlite:///{crm_db}", "SHOPCRM_SHOP_DATABASE_URI": f"sqlite:///{shop_db}",
                   "PYTHONPATH": str(ROOT), **env}
    log = open(tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--timeout", "30", "--graceful-timeout", "5", "shopcrm:create_app()"],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
                time.sleep(0.2)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def worker_pids(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def raw_request(port: int, head: str, body_size: int, chunk: int = 64 * 1024, timeout: float = 20.0,
                chunked: bool = False) -> tuple[int, int, float, bytes]:
    """Send ``head``, then up to ``body_size`` bytes of body, stopping as soon as the server
    answers (or stops reading: its buffers full); returns (status, body bytes handed to the
    kernel, seconds until the answer, the answer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    started, sent, answer = time.monotonic(), 0, b""
    try:
        sock.sendall(head.encode("latin-1"))
        sock.settimeout(1.0)
        block = b"x" * chunk
        while sent < body_size and time.monotonic() - started < timeout:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered (or closed) before the body was sent
            piece = block[: min(chunk, body_size - sent)]
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            except (socket.timeout, BrokenPipeError, ConnectionResetError):
                break  # it stopped reading
            sent += len(piece)
        if chunked and sent >= body_size:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(timeout)
        while b"\r\n\r\n" not in answer and time.monotonic() - started < timeout:
            try:
                data = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not data:
                break
            answer += data
        elapsed = time.monotonic() - started
        sock.settimeout(0.5)
        try:
            while data := sock.recv(65536):  # the rest of the answer (its page)
                answer += data
        except (socket.timeout, ConnectionResetError, OSError):
            pass
    finally:
        sock.close()
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return (int(match.group(1)) if match else 0), sent, elapsed, answer
