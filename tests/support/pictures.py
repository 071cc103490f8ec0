"""A picture server on loopback: the demo shop's product image paths answered with a drawing per
product, and a logo, so e-mails and pages with pictures can be looked at (and screenshotted) with
no network."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COLOURS = ("#3b82f6", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316", "#64748b")


class Pictures(BaseHTTPRequestHandler):
    """Any /img/p<N>.jpg as a square drawing of product N; /logo.svg as a wordmark."""

    def do_GET(self):  # noqa: N802 - the http.server interface
        match = re.fullmatch(r"/img/p(\d+)\.jpg", self.path)
        if match:
            n = int(match.group(1))
            body = (f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"><rect width="400" height="400" '
                    f'fill="{COLOURS[n % len(COLOURS)]}"/><circle cx="200" cy="170" r="90" fill="#ffffff" '
                    f'fill-opacity=".35"/><text x="200" y="330" font-size="56" font-family="Arial" fill="#fff" '
                    f'text-anchor="middle">#{n}</text></svg>')
        elif self.path == "/logo.svg":
            body = ('<svg xmlns="http://www.w3.org/2000/svg" width="220" height="48"><rect width="48" height="48" rx="10" '
                    'fill="#0b69a3"/><text x="24" y="33" font-size="26" font-family="Arial" fill="#fff" '
                    'text-anchor="middle">D</text><text x="60" y="33" font-size="24" font-family="Arial" '
                    'font-weight="bold" fill="#111827">Demo Shop</text></svg>')
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "image/svg+xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextmanager
def picture_server():
    """Yields the server's base URL (use it as SHOPCRM_SHOP_BASE_URL); ``logo.svg`` is the logo."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pictures)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)
