"""Email addresses: what counts as valid, and the hash shopcrm keys suppressions on."""
from __future__ import annotations

import hashlib
import re

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}$")


def normalize(address: object) -> str | None:
    """The address as it should be sent to, or ``None`` when it is not a usable address.

    Shop data holds NULLs, blanks, typos and HTML; only a plain ``local@domain.tld`` passes.
    The domain is lower-cased (it is case-insensitive); the local part is kept as written.
    """
    if not isinstance(address, str):
        return None
    address = address.strip()
    if len(address) > 254 or not _ADDRESS.match(address):
        return None
    local, _, domain = address.rpartition("@")
    if len(local) > 64:
        return None
    return f"{local}@{domain.lower()}"


def address_hash(address: str) -> str:
    """A stable key for an address: case-insensitive, so BOB@x.org and bob@x.org are one person."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()
