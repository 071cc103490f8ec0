"""An outbox row as the bytes that go on the wire: an RFC 5322 message any server accepts.

The SMTP connection is Flask-Mail's; the message is built here rather than by Flask-Mail's
``Message`` for two reasons measured on this project (``bench/bench_send.py``):

* speed: ``Message.as_bytes`` goes through the email package's header registry and costs
  more per message than the whole SMTP exchange with a local relay (docs/BENCHMARKS.md);
* safety: it leaves the bodies 8bit and unwrapped, so a template line longer than 998 bytes
  (a long product description, a minified HTML snippet) makes a strict server refuse the
  message with a 5xx — which would wrongly suppress the recipient.

Here both bodies are quoted-printable (lines of at most 76 characters), every header is
ASCII (RFC 2047 encoded words where needed), lines end in CRLF, and the parts are
``multipart/alternative``: plain text first, HTML second. Every message carries the RFC 8058
one-click unsubscribe headers with an https link and a mailto.
"""
from __future__ import annotations

import binascii
import os
import re
import time
from dataclasses import dataclass
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from flask import current_app

from ..errors import CampaignError
from .links import link_template, unsubscribe_url


@dataclass(frozen=True)
class WireMessage:
    message_id: str
    data: bytes


def _qp(body: str) -> bytes:
    encoded = binascii.b2a_qp(body.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


# Control characters that are not white space (NUL, ESC, DEL, the C1 range …): shop data (a first
# name typed into a shop form) can hold them, and a header must not (RFC 5322 allows none; a NUL
# ends the header for some servers and clients). White-space controls become spaces below.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_WORD_BYTES = 36  # base64: 48 characters; with "=?utf-8?b?…?=" 60, and "Subject: " before the first, 69 ≤ 76 (RFC 2047)


def _header_text(value: str) -> str:
    """A header value: ASCII as it is, anything else as RFC 2047 encoded words ("B" encoding),
    one per folded line, never splitting a character. (``email.header.Header`` does the same,
    at a cost per subject that shows in a send run with a local relay: docs/BENCHMARKS.md.)"""
    value = " ".join(_CONTROLS.sub("", value).split())  # no control character or line break reaches a header
    if value.isascii():
        return value
    words, chunk, size = [], [], 0
    for char in value:
        encoded = char.encode("utf-8")
        if size + len(encoded) > _WORD_BYTES:
            words.append(b"".join(chunk))
            chunk, size = [], 0
        chunk.append(encoded)
        size += len(encoded)
    words.append(b"".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{binascii.b2a_base64(w, newline=False).decode('ascii')}?=" for w in words)


class MailBuilder:
    """Builds the messages of a send run; what is the same for all of them is prepared once."""

    def __init__(self):
        config = current_app.config
        sender = config["MAIL_DEFAULT_SENDER"]
        name, address = sender if isinstance(sender, tuple) else parseaddr(sender)
        if "@" not in address or not address.isascii():
            raise CampaignError(f"MAIL_DEFAULT_SENDER {sender!r} holds no usable email address")
        self.envelope_from = address
        self.domain = address.rsplit("@", 1)[1]
        self.from_header = formataddr((name, address), charset="utf-8")
        self.mailto = config.get("SHOPCRM_UNSUBSCRIBE_MAILTO") or address
        self.unsubscribe = link_template("crm_public.unsubscribe")
        self._date = (None, "")  # (second, Date header): formatting the date costs a fifth of a build

    def date(self) -> str:
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, formatdate(second, localtime=True))
        return self._date[1]

    def build(self, row: dict) -> WireMessage:
        """``row`` holds the outbox columns id, customer_id, email, subject, text, html and
        (rows queued by this version) unsubscribe_url."""
        # one Message-ID per outbox row: a row sent again (in doubt, retried) keeps the one it had
        message_id = row.get("message_id") or make_msgid(idstring=f"m{row['id']}", domain=self.domain)
        link = row.get("unsubscribe_url") or unsubscribe_url(self.unsubscribe, row["customer_id"], row["email"])
        boundary = f"=_shopcrm_{os.urandom(16).hex()}"  # "=_" never occurs in quoted-printable text
        headers = (
            f"From: {self.from_header}",
            f"To: {row['email']}",
            f"Subject: {_header_text(row['subject'])}",
            f"Date: {self.date()}",
            f"Message-ID: {message_id}",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{boundary}"',
            f"List-Unsubscribe: <{link}>, <mailto:{self.mailto}?subject=unsubscribe>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            f"X-Shopcrm-Message: {row['id']}",
        )
        part = ("\r\n--{b}\r\nContent-Type: text/{kind}; charset=\"utf-8\"\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        data = b"".join((
            "\r\n".join(headers).encode("ascii"), b"\r\n",
            part.format(b=boundary, kind="plain").encode("ascii"), _qp(row["text"]),
            part.format(b=boundary, kind="html").encode("ascii"), _qp(row["html"]),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        ))
        return WireMessage(message_id, data)
