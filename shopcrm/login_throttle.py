"""Login throttling, after OWASP's Authentication Cheat Sheet: growing waits instead of a lock.

Every login attempt takes one attempt from two budgets in ``crm_throttle`` (``throttle``), before
the password is checked, so concurrent attempts cannot overrun them:

* the **client address**: :data:`PER_CLIENT` (a guesser trying many accounts from one place);
* the **account** as typed, whether or not it exists (so the answers never tell which addresses
  have an account): :data:`PER_ACCOUNT` from a browser it is not known in, or
  :data:`PER_DEVICE` from a browser that logged into this account before and holds its signed
  *device token* (OWASP's "device cookies").

A budget that is used up makes the next attempt wait, and the wait doubles up to a cap: a
guesser gets a few dozen tries a day, and nothing ever locks an account. A stranger who
hammers the owner's address only slows down strangers: the owner's own browser has a budget of
its own. A successful login forgets the budgets it used; a new password forgets the account's.

Every failed and refused attempt is recorded in ``crm_login_event`` for the admin's security
list, and logged on the ``shopcrm.security`` logger for the hosting admin (fail2ban, say).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

from . import throttle
from .clock import utcnow
from .extensions import db
from .models import LoginEvent

log = logging.getLogger("shopcrm.security")

#: One place (an office shares one address): 20 attempts, then 1 s, 2 s, 4 s … up to 15 minutes.
PER_CLIENT = throttle.Backoff(free=20, first_wait=1, max_wait=900, forget_after=3600)
#: One account from browsers it is not known in: 5 attempts, then 2 s, 4 s … up to 15 minutes.
PER_ACCOUNT = throttle.Backoff(free=5, first_wait=2, max_wait=900, forget_after=3600)
#: One account from one browser it logged in from before.
PER_DEVICE = throttle.Backoff(free=10, first_wait=2, max_wait=900, forget_after=3600)

FAILED, INACTIVE, REFUSED = "failed", "inactive", "refused"
#: What the admin's security list says for each outcome.
OUTCOME_TEXT = {FAILED: "wrong password", INACTIVE: "deactivated account", REFUSED: "asked to wait (too many tries)"}
#: Login events older than this are deleted as new ones come in; the list never grows beyond
#: :data:`MAX_EVENTS` rows either (a flood from many addresses).
KEEP_DAYS = 90
MAX_EVENTS = 10000
PRUNE_EVERY = 50
DEVICE_SALT = "shopcrm-login-device"


@dataclass(frozen=True)
class Attempt:
    """Who tries: the client address (as the proxy setting allows), the address typed (lower
    case), and the device id from a valid device token for that address (or None)."""

    client: str
    email: str
    device: str | None = None

    def budgets(self) -> list[tuple[str, str, throttle.Backoff]]:
        account = (("login-device", f"{self.email}|{self.device}", PER_DEVICE) if self.device
                   else ("login-account", self.email, PER_ACCOUNT))
        return [("login-client", self.client, PER_CLIENT), account]


def check_in(attempt: Attempt, now: int | None = None) -> int:
    """Take an attempt from each budget: 0 when the password may be checked, else the seconds
    to wait. A budget that refuses is not charged; those before it were."""
    for scope, key, backoff in attempt.budgets():
        wait = throttle.reserve(scope, key, backoff, now)
        if wait:
            return wait
    return 0


def succeeded(attempt: Attempt) -> None:
    """The password was right: forget this client's attempts and those of the budget used
    (a device's success does not reset what strangers used up on the account)."""
    for scope, key, _ in attempt.budgets():
        throttle.clear(scope, key)


def forget_account(email: str) -> None:
    """A new password: strangers' attempts on the account no longer make its owner wait
    (in the session's transaction; the caller commits)."""
    throttle.clear("login-account", email.strip().lower(), session=db.session)


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def record(outcome: str, attempt: Attempt, agent: str = "", user_id: int | None = None) -> None:
    """Keep a failed or refused attempt for the admin (committed on its own connection)."""
    now = utcnow()
    row = {"at": now, "outcome": outcome, "email": _printable(attempt.email, 255), "user_id": user_id,
           "client": _printable(attempt.client, 64), "agent": _printable(agent, 255)}
    table = LoginEvent.__table__
    with db.engine.begin() as conn:
        new_id = conn.execute(table.insert().values(**row)).inserted_primary_key[0]
    log.warning("login %s for %r from %s", outcome, row["email"], row["client"])
    if new_id % PRUNE_EVERY == 0:
        _prune(new_id, now)


def _prune(new_id: int, now) -> None:
    """Old events and counters out, now and then, in transactions of their own: under a flood
    of attempts a range DELETE beside the INSERTs could deadlock on MariaDB; a prune that loses
    simply runs next time."""
    table = LoginEvent.__table__
    try:
        with db.engine.begin() as conn:
            conn.execute(table.delete().where(sa.or_(table.c.at < now - timedelta(days=KEEP_DAYS),
                                                     table.c.id <= new_id - MAX_EVENTS)))
        throttle.prune(older_than=2 * 86400)
    except sa.exc.OperationalError as exc:
        log.info("pruning login events skipped this time: %s", exc.orig)


def recent_events(limit: int = 50) -> list[LoginEvent]:
    return db.session.scalars(sa.select(LoginEvent).order_by(LoginEvent.id.desc()).limit(limit)).all()


def _printable(text: str | None, length: int) -> str:
    """Control characters out (the list and the log show what an attacker typed)."""
    return "".join(ch if ch.isprintable() else "?" for ch in (text or ""))[:length]


# --- device tokens: "this browser logged into this account before" -----------------------------------

def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=DEVICE_SALT)


def new_device_token(secret: str, email: str) -> str:
    return _serializer(secret).dumps({"a": throttle.digest(email.strip().lower()), "d": secrets.token_urlsafe(12)})


def device_of(secret: str, token: str | None, email: str) -> str | None:
    """The device id of a token signed for ``email``; None for a missing, forged or other
    account's token."""
    if not token:
        return None
    try:
        data = _serializer(secret).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != throttle.digest(email.strip().lower()):
        return None
    device = data.get("d")
    return device if isinstance(device, str) and 8 <= len(device) <= 64 else None
