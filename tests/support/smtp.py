"""A real SMTP server on loopback for the tests (aiosmtpd), and reading what it received."""
from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    """An aiosmtpd handler that keeps every message, and can be told to refuse some."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.reject = {}  # address -> SMTP reply, e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.reject.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message})
        return "250 Message accepted for delivery"


def body_of(message, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""
