"""SMS through Twilio's Messages API with the official ``twilio`` package, and webhook signatures.

Pointing the client elsewhere (a local fake in tests): Twilio's Python library builds every
URL as ``https://api.twilio.com/...`` and has no base-URL option; ``region``/``edge`` only
change the host *within* twilio.com. Its documented extension point is the ``http_client``
argument of :class:`twilio.rest.Client` (Twilio's "custom HTTP client" guide uses it for
proxies). :class:`RoutedHttpClient` is such a client: a subclass of
:class:`twilio.http.http_client.TwilioHttpClient` whose ``request`` swaps scheme and host for
``SHOPCRM_TWILIO_API_URL`` and otherwise leaves the library's request (path, form fields,
Basic auth, headers) untouched. Without that setting it rewrites nothing.

It also keeps each thread's last answer, because :class:`TwilioRestException` drops the
response headers and with them ``Retry-After``.

A failed send becomes one of :mod:`.provider`'s errors. The line between "temporary, not
sent" and "in doubt" is whether the request can have reached Twilio: a refused or timed-out
*connection* cannot have; a read timeout, a dropped connection or an unreadable answer after
the request went out can, and so can an HTTP 504 (a gateway that stopped waiting for the API).
The client is built with no automatic retries (requests' default
for plain adapters, and Twilio's adapter is used without ``max_retries``), so one call is one
request and a retry is always the caller's decision.
"""
from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .provider import SmsInDoubt, SmsPermanentError, SmsSetupError, SmsTemporaryError
from .settings import SmsSettings

__all__ = ["SIGNATURE_SETTINGS_HEADER", "RoutedHttpClient", "TwilioProvider", "valid_signature"]


#: The recipient replied STOP (or another opt-out word) to this sender.
UNSUBSCRIBED = 21610
#: Errors about the account or the sender: every message would fail alike.
SETUP_CODES = frozenset({
    10001,  # account not active
    20003,  # authentication failed
    20005,  # account not active
    20404,  # resource not found (wrong account SID)
    21212,  # invalid 'From' number
    21601,  # 'From' is not an SMS-capable number of this account
    21603,  # 'From' or MessagingServiceSid required
    21606,  # 'From' cannot send messages (to this destination)
    21705,  # invalid Messaging Service
})
#: Rate limiting: Twilio answers HTTP 429 with this code.
TOO_MANY_REQUESTS = 20429
#: Other 5xx answers say the API did not take the message; a gateway timeout does not know.
GATEWAY_TIMEOUT = 504


class RoutedHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sending to ``base_url`` instead of ``https://*.twilio.com``."""

    def __init__(self, base_url: str | None = None, timeout: float | None = None):
        super().__init__(pool_connections=True, timeout=timeout)
        self.base_url = base_url
        self._local = threading.local()

    def route(self, url: str) -> str:
        if not self.base_url:
            return url
        target, original = urlsplit(self.base_url), urlsplit(url)
        return urlunsplit((target.scheme, target.netloc, original.path, original.query, original.fragment))

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self._local.response = None
        response = super().request(method, self.route(url), params=params, data=data, headers=headers,
                                   auth=auth, timeout=timeout, allow_redirects=allow_redirects)
        self._local.response = response
        return response

    @property
    def last_response(self):
        """This thread's last answer (a :class:`twilio.http.response.Response`), if one came."""
        return getattr(self._local, "response", None)


def _causes(exc: BaseException):
    """``exc`` and every exception nested in it (urllib3 nests its cause in args, ``reason``
    and ``__cause__``/``__context__``)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        for linked in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _connection_never_made(exc: BaseException) -> bool:
    """Whether a requests error happened before the request could reach the server."""
    return isinstance(exc, requests.exceptions.ConnectTimeout) or any(
        isinstance(cause, (NewConnectionError, ConnectTimeoutError)) for cause in _causes(exc))


def _retry_after(response) -> float | None:
    """Seconds from a Retry-After header (the delta form; an HTTP date is ignored)."""
    if response is None:
        return None
    value = next((v for k, v in (response.headers or {}).items() if k.lower() == "retry-after"), None)
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def classify_refusal(status: int, code: int | None, message: str, retry_after: float | None = None):
    """The :mod:`.provider` error for an HTTP error answer from Twilio."""
    reason = f"Twilio answered {status}" + (f" with error {code}" if code and code != status else "") \
        + (f": {message}" if message else "")
    if status == GATEWAY_TIMEOUT:  # the front end gave up waiting for the API, which may have queued it
        return SmsInDoubt(reason, code=code, status=status)
    if status == 429 or code == TOO_MANY_REQUESTS or status >= 500:
        return SmsTemporaryError(reason, code=code, status=status, retry_after=retry_after)
    if status in (401, 403, 404) or code in SETUP_CODES:
        return SmsSetupError(reason, code=code, status=status)
    return SmsPermanentError(reason, code=code, status=status, opted_out=code == UNSUBSCRIBED)


def _message_of(exc: TwilioException) -> str:
    if isinstance(exc, TwilioServiceException):
        return exc.detail or exc.title
    text = getattr(exc, "msg", "") or ""
    return text.replace("Unable to create record: ", "", 1)


class TwilioProvider:
    """:class:`.provider.SmsProvider` on Twilio; one per process, safe to share between threads."""

    def __init__(self, settings: SmsSettings, http_client: RoutedHttpClient | None = None):
        self.settings = settings
        self.http_client = http_client or RoutedHttpClient(settings.api_url, timeout=settings.timeout)
        # The environment mapping is not empty, so the library never falls back to os.environ
        # for TWILIO_EDGE / TWILIO_REGION: everything comes from shopcrm's settings.
        self.client = Client(settings.account_sid, settings.auth_token, http_client=self.http_client,
                             environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""})
        self._messages = self.client.api.v2010.accounts(settings.account_sid).messages

    def send(self, to: str, body: str, status_callback_url: str | None = None) -> str:
        fields: dict[str, Any] = {"to": to, "body": body}
        if self.settings.sender:
            fields["from_"] = self.settings.sender
        if self.settings.messaging_service_sid:
            fields["messaging_service_sid"] = self.settings.messaging_service_sid
        if status_callback_url:
            fields["status_callback"] = status_callback_url
        try:
            message = self._messages.create(**fields)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify_refusal(int(exc.status), exc.code, _message_of(exc),
                                   _retry_after(self.http_client.last_response)) from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise SmsSetupError(f"Twilio's address is wrong: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(exc)):
                raise SmsSetupError(f"Twilio's certificate was refused (nothing was sent): {exc}") from exc
            if _connection_never_made(exc):
                raise SmsTemporaryError(f"could not connect to Twilio: {exc}", request_sent=False) from exc
            raise SmsInDoubt(f"no answer from Twilio after the request was sent: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise SmsInDoubt(f"Twilio's answer could not be read: {exc}") from exc
        if not message.sid:
            raise SmsInDoubt("Twilio accepted the request but named no message id")
        return message.sid


def valid_signature(auth_token: str, public_url: str, params: Mapping[str, Any] | None,
                    signature: str | None, signature_settings: str | None = None) -> bool:
    """Whether a webhook request (inbound SMS or status callback) was signed by Twilio.

    ``public_url`` is the address Twilio was given, with its query string, as Twilio called it
    (``https://shop.example/crm/sms/status?m=12``), not the one the app sees behind Apache;
    ``params`` the POSTed form fields (a dict or Werkzeug's MultiDict), ``signature`` the
    ``X-Twilio-Signature`` header and ``signature_settings`` the
    ``X-Twilio-Webhooks-Signature-Settings`` header if present (it names the algorithm).
    A missing signature is not valid.
    """
    if not signature or not auth_token:
        return False
    algorithm = get_signature_algorithm(signature_settings)
    return RequestValidator(auth_token).validate(public_url, params or {}, signature, algorithm)
