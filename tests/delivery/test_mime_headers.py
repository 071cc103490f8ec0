"""Shop data in a header: a control character in a first name (a NUL, an escape sequence, DEL,
C1 controls) never reaches the Subject line of the message the builder puts on the wire."""
from __future__ import annotations

import email
from email import policy

import pytest

from shopcrm.delivery.mime import MailBuilder


@pytest.mark.parametrize("first_name,shown", [
    ("Ann\x00a", "Anna"),
    ("Anna\x00\x00", "Anna"),
    ("An\x1b[31mna", "An[31mna"),
    ("Anna\x7f", "Anna"),
    ("Anna\x01\x02\x03\x08\x0e\x1b", "Anna"),
    ("Ann\x85a", "Ann a"),  # NEL is a line break: a space, like \r\n
    ("Anna\x9b2J", "Anna2J"),  # a C1 control sequence introducer
    ("Ánn\x00a ✿", "Ánna ✿"),  # the non-ASCII path (RFC 2047 encoded words)
    ("Anna\r\nBcc: evil@example.org", "Anna Bcc: evil@example.org"),
    ("Anna \x00 Maria", "Anna Maria"),
])
def test_control_characters_never_reach_the_subject_header(app, first_name, shown):
    with app.app_context():
        message = MailBuilder().build({
            "id": 1, "customer_id": 7, "email": "anna@example.org", "subject": f"Hello {first_name}, 10% off",
            "text": f"Hello {first_name}", "html": "<p>Hello</p>", "unsubscribe_url": "https://crm.test/crm/u/x"})
    head, _, _ = message.data.partition(b"\r\n\r\n")
    assert all(0x20 <= byte < 0x7f for line in head.split(b"\r\n") for byte in line), head
    parsed = email.message_from_bytes(message.data, policy=policy.default)
    assert parsed["Subject"] == f"Hello {shown}, 10% off"
    assert parsed["Bcc"] is None and parsed["To"] == "anna@example.org"
