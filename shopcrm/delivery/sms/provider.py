"""What the outbox needs from an SMS provider, and how a failed send is classified.

``send(to, body, status_callback_url)`` returns the provider's message id, or raises one of
the errors below. The outbox decides by class alone, so each class says what is known:

* :class:`SmsTemporaryError` — the provider did not take the message and may take it later
  (429, 5xx, or no connection at all). ``retry_after`` is the provider's own wait when it gave
  one. ``request_sent`` is False when no connection could be made: nothing can have arrived.
* :class:`SmsInDoubt` — the request went out and no answer came (a read timeout, the connection
  dropped, a reply that cannot be read, a gateway timeout). The provider may have queued the message; sending it
  again may text the shopper twice. It must not be retried blindly.
* :class:`SmsPermanentError` — this message will never be taken as it is (an invalid or
  unreachable number, a recipient who replied STOP, a body the provider refuses).
  ``opted_out`` tells the outbox to record the number as unsubscribed.
* :class:`SmsSetupError` — the account or sender is wrong (credentials, sender number, a
  Messaging Service that does not exist): every message would fail alike, so the run should
  stop and the admin be told, rather than failing each message.
"""
from __future__ import annotations

from typing import Protocol


class SmsError(Exception):
    """A send that did not yield a message id. ``code`` is the provider's error code, ``status``
    the HTTP status (both None when no answer came)."""

    def __init__(self, reason: str, *, code: int | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status


class SmsTemporaryError(SmsError):
    def __init__(self, reason: str, *, code: int | None = None, status: int | None = None,
                 retry_after: float | None = None, request_sent: bool = True):
        super().__init__(reason, code=code, status=status)
        self.retry_after = retry_after
        self.request_sent = request_sent


class SmsInDoubt(SmsError):
    """Sent, unanswered: the provider may or may not have the message."""


class SmsPermanentError(SmsError):
    def __init__(self, reason: str, *, code: int | None = None, status: int | None = None,
                 opted_out: bool = False):
        super().__init__(reason, code=code, status=status)
        self.opted_out = opted_out


class SmsSetupError(SmsError):
    """The provider refuses the account or sender, not this message."""


class SmsProvider(Protocol):
    """One way to send an SMS. Implementations are safe to share between threads."""

    def send(self, to: str, body: str, status_callback_url: str | None = None) -> str:
        """Hand one SMS to the provider: its message id, or one of the :class:`SmsError` classes.

        ``to`` is E.164 (see :mod:`.phones`); ``status_callback_url`` is where the provider
        reports delivery (None: no reports).
        """
        ...
