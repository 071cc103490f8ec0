"""A local stand-in for Twilio's Messages API, on loopback, for tests and benchmarks.

It speaks the part of the REST API that sending uses, the way Twilio does:
``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth (account SID and
auth token) and form fields ``To``, ``Body``, ``From`` or ``MessagingServiceSid``,
``StatusCallback``; 201 and a Message resource (``sid`` "SM" + 32 hex digits, ``status``
"queued", or "accepted" for a Messaging Service without ``From``); errors as Twilio's JSON
(``code``, ``message``, ``more_info``, ``status``). ``GET .../Messages/{sid}.json`` fetches one.

What a test can arrange (all thread-safe, all undone by :meth:`FakeTwilio.reset`):

* :meth:`refuse` — a number answered with a Twilio error (21211 invalid, 21610 unsubscribed,
  21614 not mobile, ...), every time;
* :meth:`fail_next` — the next N requests answered with 429 (and ``Retry-After``) or a 5xx;
* :meth:`lose_reply` — the next N accepted messages are *stored* and then the reply is lost:
  the connection is closed without an answer (``"drop"``) or the answer comes only after a
  delay (``"delay"``), longer than the client waits;
* :meth:`post_status` — a status callback (delivered, failed, undelivered, ...) to the
  message's ``StatusCallback`` URL, signed with ``X-Twilio-Signature`` as Twilio signs it
  (:meth:`twilio.request_validator.RequestValidator.compute_signature` with the auth token).

Every accepted message is kept in :attr:`messages`, so a test can assert that nothing reached
"Twilio" twice. The server binds to 127.0.0.1 only, each wait is bounded and ends when the
fake stops, and :meth:`stop` (or leaving the ``with`` block) shuts it down.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

from twilio.request_validator import RequestValidator

from shopcrm.delivery.sms.segments import measure

API_VERSION = "2010-04-01"
_MESSAGES = re.compile(rf"/{API_VERSION}/Accounts/(AC[0-9a-f]{{32}})/Messages\.json")
_MESSAGE = re.compile(rf"/{API_VERSION}/Accounts/(AC[0-9a-f]{{32}})/Messages/(SM[0-9a-f]{{32}})\.json")
#: No wait inside the fake lasts longer than this, whatever a test asks.
MAX_WAIT_SECONDS = 30.0

ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "Invalid 'To' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}


SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                 504: "Gateway Timeout"}


def new_account_sid() -> str:
    return "AC" + secrets.token_hex(16)


@dataclass
class _Plan:
    """What the fake does besides accepting messages."""

    refusals: dict[str, tuple[int, int]] = field(default_factory=dict)  # To -> (HTTP status, code)
    failures: list[tuple[int, float | None]] = field(default_factory=list)  # (HTTP status, Retry-After)
    lost: list[tuple[str, float]] = field(default_factory=list)  # ("drop" | "delay", seconds)


class FakeTwilio:
    """The fake API; ``with FakeTwilio() as fake:`` starts it, ``fake.base_url`` is its address."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None):
        self.account_sid = account_sid or new_account_sid()
        self.auth_token = auth_token or secrets.token_hex(16)
        self.messages: list[dict] = []
        self.requests = 0  # POSTs to Messages.json that got past authentication
        self._by_sid: dict[str, dict] = {}
        self._plan = _Plan()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        self._stopping.clear()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            with self._lock:  # idle keep-alive connections: their threads end on the closed socket
                connections, self._connections = list(self._connections), set()
            for connection in connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- arrangements ----------------------------------------------------------------------------

    def refuse(self, to: str, code: int, status: int = 400) -> None:
        """Answer every message to ``to`` with Twilio error ``code``."""
        with self._lock:
            self._plan.refusals[to] = (status, code)

    def fail_next(self, status: int = 429, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (429: code 20429) before anything else."""
        with self._lock:
            self._plan.failures.extend([(status, retry_after)] * times)

    def lose_reply(self, mode: str = "drop", times: int = 1, seconds: float = 0.0) -> None:
        """Store the next ``times`` messages, then close without answering (``drop``) or answer
        after ``seconds`` (``delay``, capped at :data:`MAX_WAIT_SECONDS`)."""
        if mode not in ("drop", "delay"):
            raise ValueError("mode is 'drop' or 'delay'")
        with self._lock:
            self._plan.lost.extend([(mode, min(seconds, MAX_WAIT_SECONDS))] * times)

    def reset(self) -> None:
        with self._lock:
            self._plan = _Plan()
            self.messages.clear()
            self._by_sid.clear()
            self.requests = 0

    def sent_to(self, to: str) -> list[dict]:
        with self._lock:
            return [message for message in self.messages if message["to"] == to]

    # --- status callbacks ------------------------------------------------------------------------

    def status_params(self, sid: str, status: str, error_code: int | None = None) -> dict[str, str]:
        """The form fields of a status callback, as Twilio sends them."""
        with self._lock:
            message = self._by_sid[sid]
            message["status"] = status
        params = {"AccountSid": self.account_sid, "ApiVersion": API_VERSION, "From": message["from"] or "",
                  "MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status,
                  "To": message["to"]}
        if message["messaging_service_sid"]:
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def post_status(self, sid: str, status: str, error_code: int | None = None, url: str | None = None,
                    timeout: float = 5.0) -> int:
        """POST a signed status callback to the message's StatusCallback (or ``url``); the
        receiver's HTTP status."""
        target = url or self._by_sid[sid]["status_callback"]
        if not target:
            raise ValueError(f"message {sid} has no StatusCallback and no url was given")
        params = self.status_params(sid, status, error_code)
        signature = RequestValidator(self.auth_token).compute_signature(target, params)
        request = urllib.request.Request(
            target, data=urlencode(params).encode(), method="POST",
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded",
                     "User-Agent": "TwilioProxy/1.1"})
        try:
            with urllib.request.urlopen(request, timeout=min(timeout, MAX_WAIT_SECONDS)) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # --- used by the handler ---------------------------------------------------------------------

    def _take_failure(self) -> tuple[int, float | None] | None:
        with self._lock:
            return self._plan.failures.pop(0) if self._plan.failures else None

    def _take_lost(self) -> tuple[str, float] | None:
        with self._lock:
            return self._plan.lost.pop(0) if self._plan.lost else None

    def _refusal(self, to: str) -> tuple[int, int] | None:
        with self._lock:
            return self._plan.refusals.get(to)

    def _store(self, account_sid: str, form: dict[str, str]) -> dict:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        sid = "SM" + secrets.token_hex(16)
        service = form.get("MessagingServiceSid")
        body = form.get("Body", "")
        message = {
            "account_sid": account_sid, "api_version": API_VERSION, "body": body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": service, "num_media": "0", "num_segments": str(measure(body).segments),
            "price": None, "price_unit": "USD", "sid": sid,
            "status": "accepted" if service and not form.get("From") else "queued",
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}/Media.json"},
            "to": form["To"], "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json",
            "status_callback": form.get("StatusCallback"),
        }
        with self._lock:
            self.messages.append(message)
            self._by_sid[sid] = message
        return message

    def _count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _message(self, sid: str) -> dict | None:
        with self._lock:
            return self._by_sid.get(sid)

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(min(seconds, MAX_WAIT_SECONDS))


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API offers it
    server_version = "FakeTwilio/1.0"
    # Headers and body leave in one write: written apart, the body would wait for the client's
    # delayed ACK of the headers (Nagle's algorithm), and every call would take 40 ms longer.
    wbufsize = 64 * 1024

    def log_message(self, format, *args):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fake._opened(self.connection)

    def finish(self):
        self.fake._closed(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    # --- answers ---

    def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up waiting (a delayed answer): nothing left to tell it
            self.close_connection = True

    def _error(self, status: int, code: int, message: str | None = None, headers=None) -> None:
        self._json(status, {"code": code, "message": message or ERROR_MESSAGES.get(code, "Error"),
                            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                   headers)

    def _authorised(self, account_sid: str) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        fake = self.fake
        return (secrets.compare_digest(user, fake.account_sid) and secrets.compare_digest(password, fake.auth_token)
                and account_sid == fake.account_sid)

    # --- methods ---

    def do_GET(self):
        match = _MESSAGE.fullmatch(self.path.split("?", 1)[0])
        if not match:
            return self._error(404, 20404)
        if not self._authorised(match.group(1)):
            return self._error(401, 20003)
        message = self.fake._message(match.group(2))
        if message is None:
            return self._error(404, 20404)
        return self._json(200, {k: v for k, v in message.items() if k != "status_callback"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        match = _MESSAGES.fullmatch(self.path.split("?", 1)[0])
        if not match:
            return self._error(404, 20404)
        if not self._authorised(match.group(1)):
            return self._error(401, 20003)
        fake = self.fake
        fake._count_request()
        failure = fake._take_failure()
        if failure is not None:
            status, retry_after = failure
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
            if status == 429:
                return self._error(429, 20429, headers=headers)
            return self._error(status, status, SERVER_ERRORS.get(status, "Server Error"), headers)
        form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        if not form.get("To"):
            return self._error(400, 21604)
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._error(400, 21603)
        if not form.get("Body"):
            return self._error(400, 21602)
        if len(form["Body"]) > 1600:
            return self._error(400, 21617)
        refusal = fake._refusal(form["To"])
        if refusal is not None:
            status, code = refusal
            return self._error(status, code, f"{ERROR_MESSAGES.get(code, 'Error')}: {form['To']}")
        message = fake._store(match.group(1), form)
        lost = fake._take_lost()
        if lost is not None and lost[0] == "drop":
            self.close_connection = True  # stored, and no answer at all: the client sees the socket close
            return None
        if lost is not None:
            fake._wait(lost[1])
            if fake._stopping.is_set():  # stopped meanwhile: the answer is lost for good
                self.close_connection = True
                return None
        payload = {k: v for k, v in message.items() if k != "status_callback"}
        return self._json(201, payload)
