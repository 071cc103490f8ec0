"""The view beacon's rules: what a signed view request is, and when it is refused.

The shop's product page (``deploy/php/shopcrm_beacon.php``) emits
``GET /crm/beacon?c=<customer>&p=<product>&t=<unix time>&n=<nonce>&s=<signature>`` where
``s`` is the lowercase hex HMAC-SHA256, keyed with ``SHOPCRM_BEACON_SECRET``, of the ASCII
string ``f"{c}.{p}.{t}.{n}"``. A request is refused when it is malformed, forged, outside the
time window or replayed (its nonce was seen: the insert fails on a unique key); the rate limit
is ``throttle.WindowLimit``, shared by every process. Nothing here touches Flask or the
database; ``public/beacon.py`` does.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

# Matched with fullmatch: "$" would also accept a final newline ("123\n").
ID = re.compile(r"[1-9][0-9]{0,17}")  # a positive id that fits a signed 64-bit integer
UNIX_TIME = re.compile(r"[0-9]{1,12}")
NONCE = re.compile(r"[0-9a-fA-F]{16,32}")
SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


class BeaconRefused(Exception):
    """A request the beacon does not store: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class SignedView:
    customer_id: int
    product_id: int
    viewed_at: datetime  # naive UTC
    nonce: str  # lower-case


def sign(secret: str, customer_id: int | str, product_id: int | str, unix_time: int | str, nonce: str) -> str:
    """The signature the PHP snippet computes: hex HMAC-SHA256 of ``c.p.t.n``."""
    message = f"{customer_id}.{product_id}.{unix_time}.{nonce}".encode("ascii")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(args: Mapping[str, str], secret: str, window: int, now: float | None = None) -> SignedView:
    """Check a request's query arguments; return the view or raise :class:`BeaconRefused`.

    The cheap checks (shape, then signature, then time) come first, so a flood of junk costs
    neither a database round trip nor more than one HMAC.
    """
    c, p, t, n, s = (args.get(key, "") for key in ("c", "p", "t", "n", "s"))
    if not (ID.fullmatch(c) and ID.fullmatch(p)):
        raise BeaconRefused(400, "malformed customer or product id")
    if not (UNIX_TIME.fullmatch(t) and NONCE.fullmatch(n) and SIGNATURE.fullmatch(s)):
        raise BeaconRefused(400, "malformed time, nonce or signature")
    if not hmac.compare_digest(sign(secret, c, p, t, n), s.lower()):
        raise BeaconRefused(403, "bad signature")
    now = time.time() if now is None else now
    if abs(now - int(t)) > window:
        raise BeaconRefused(403, "stale or future time (check the clocks of the shop and shopcrm servers)")
    viewed_at = datetime.fromtimestamp(int(t), timezone.utc).replace(tzinfo=None)
    return SignedView(int(c), int(p), viewed_at, n.lower())
