"""The bytes a message goes out as: address quoting in SMTP commands, dot-stuffing, encoded
subjects — each against the standard library's own rule, and a delivery over real SMTP."""
import re
import smtplib
from email.header import decode_header, make_header

import pytest

from shopcrm.campaigns.service import create_campaign, enqueue
from shopcrm.delivery.mime import _header_text
from shopcrm.delivery.sender import send_due
from shopcrm.delivery.transport import dot_stuffed, quote_address
from shopcrm.extensions import db
from tests.support.campaigns import consenting_customers, seed_run, start_smtp, use_smtp
from tests.support.smtp import RecordingHandler, body_of


@pytest.mark.parametrize("address", ["anna@example.com", "o'neil+news@shop.example.org", "ÿlva@exämple.de",
                                     "a.b-c_d@sub.example.co.uk"])
def test_plain_addresses_are_quoted_as_smtplib_quotes_them(address):
    assert quote_address(address) == smtplib.quoteaddr(address) == f"<{address}>"


@pytest.mark.parametrize("address", ["Anna <anna@example.com>", "anna@example.com\r\nRCPT TO:<x@evil.test>",
                                     "anna smith@example.com", '"anna smith"@example.com', "<anna@example.com>"])
def test_anything_else_goes_through_smtplib(address):
    quoted = quote_address(address)
    assert quoted == smtplib.quoteaddr(address)
    assert "\r" not in quoted and "\n" not in quoted


@pytest.mark.parametrize("data", [b"", b".", b"..", b".top\r\nmiddle\r\n.dot\r\n..two\r\n", b"no dots\r\n",
                                  b"a\r\n.\r\nb", b"\n.\n.", b"x.\r\n y\r\n."])
def test_dot_stuffing_follows_rfc_5321(data):
    assert dot_stuffed(data) == re.sub(rb"(?m)^\.", b"..", data)


@pytest.mark.parametrize("subject", ["Plain ascii, 20 % off", "Łukasz, “Kitchen” picks — only today ✿",
                                     "ä" * 120, "𝒜nna's 🎁 " * 12, "x" * 35 + "é" * 3])
def test_subjects_are_encoded_words_that_decode_back(subject):
    header = _header_text(subject)
    assert str(make_header(decode_header(header))) == " ".join(subject.split())  # one line, spaces kept single
    assert header.isascii()
    lines = header.split("\r\n ")
    assert all("\r" not in line and "\n" not in line for line in lines)
    assert all(len("Subject: " + line) <= 76 for line in lines)


@pytest.mark.parametrize("pipelining", [False, True])
def test_dots_and_a_long_non_ascii_subject_arrive_intact(outbox_app, shop_file, pipelining):  # noqa: F811
    handler, controller = start_smtp(RecordingHandler(), pipelining=pipelining)
    try:
        use_smtp(outbox_app, handler.port)
        people = consenting_customers(shop_file, 2)
        subject = "{{ customer.first_name }}, “Küchen” — ✿ " + "Frühling " * 8
        text = ".first line starts with a dot\n..and this one with two\nHello {{ customer.first_name }}\n.\n"
        with outbox_app.app_context():
            _, segment = seed_run([c for c, _, _ in people])
            campaign = create_campaign("Dots", {"segment_ids": [segment.id]}, subject=subject, text=text)
            db.session.commit()
            assert enqueue(campaign).queued == 2
            assert send_due().sent == 2
        names = {email.lower(): name for _, email, name in people}
        assert len(handler.messages) == 2
        for delivered in handler.messages:
            message = delivered["message"]
            name = names[delivered["to"][0].lower()]
            assert message["Subject"].split() == f"{name}, “Küchen” — ✿ {'Frühling ' * 8}".split()
            body = body_of(message, "plain").replace("\r\n", "\n")
            assert body.startswith(".first line starts with a dot\n..and this one with two\n")
            assert f"Hello {name}\n.\n" in body
    finally:
        controller.stop()
