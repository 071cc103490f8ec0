"""A real HTTP server for the app and a real headless Chromium (Debian's, driven by Playwright).

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` through
``executable_path``. Screenshots go to ``test-artifacts/`` (ignored by git).
"""
from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.serving import make_server

from tests.support.apps import need_service
from tests.support.smtp import free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


@contextmanager
def live_server(app):
    """Serve ``app`` on a free loopback port in a thread; yields the base URL (with /crm)."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/crm"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def chromium_path() -> str:
    configured = os.environ.get("SHOPCRM_TEST_CHROMIUM")
    for candidate in ([configured] if configured else []) + list(CHROMIUM_CANDIDATES):
        if candidate and shutil.which(candidate):
            return candidate
    need_service("Chromium", "no chromium binary found (apt-get install chromium)")


@contextmanager
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need_service("Playwright", "the playwright package is not installed (requirements-dev.txt)")
    executable = chromium_path()
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


#: A transparent 1x1 GIF: what an image from outside the loopback shows in a test browser.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def loopback_only(page_or_context) -> None:
    """Nothing leaves the loopback: images from other hosts (a shop's product images in an
    email preview) get a blank pixel, anything else from them is refused."""
    def handle(route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        elif route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/gif", body=PIXEL)
        else:
            route.abort()

    page_or_context.route("**/*", handle)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, base: str, email: str, password: str) -> None:
    """Log in through the panel's login form, as a user does, and wait for the dashboard."""
    page.goto(f"{base}/admin/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
