"""Who may get a marketing SMS: explicit SMS consent, a usable mobile number, no STOP.

SMS consent is its own: e-mail consent never counts. A customer may be texted when

* the shop's SMS consent column says yes (a mapping's ``sms_consent``, where the shop has one)
  or they ticked "Text messages" on their own page (``crm_sms_consent``, ``opted_in``), and
* their number is not opted out here (a STOP reply, their page, or Twilio refusing it as
  unsubscribed): an opt-out wins over the shop's column, and
* the shop's phone text is a valid mobile number (``phones.normalise_phone``).

Numbers are kept only as a hash (:func:`phone_hash`), like e-mail addresses. Helpers here
never commit.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa

from ...clock import utcnow
from ...extensions import db
from ...models import SmsConsent
from .phones import PhoneCheck, normalise_phone

OPTED_IN, OPTED_OUT = "opted_in", "opted_out"
#: Refusals that cancel a queued SMS (the person or the number changed) rather than suppress it.
CANCELLED_REASONS = ("customer_gone", "phone_changed")
_CHUNK = 500


def phone_hash(e164: str) -> str:
    """The key of a number in shopcrm's tables; ``sms:`` keeps it apart from address hashes."""
    return hashlib.sha256(f"sms:{e164}".encode()).hexdigest()


def states_for(hashes: Iterable[str]) -> dict[str, str]:
    """``opted_in`` / ``opted_out`` per number hash, for those that chose."""
    hashes = sorted({h for h in hashes if h})
    found: dict[str, str] = {}
    for start in range(0, len(hashes), _CHUNK):
        found.update(dict(db.session.execute(sa.select(SmsConsent.phone_hash, SmsConsent.state)
                                             .where(SmsConsent.phone_hash.in_(hashes[start:start + _CHUNK]))).all()))
    return found


def state_of(e164: str) -> str | None:
    return db.session.scalar(sa.select(SmsConsent.state).where(SmsConsent.phone_hash == phone_hash(e164)))


def record(e164: str, state: str, source: str, customer_id: int | None = None) -> bool:
    """Store a number's choice; ``True`` when it changed (a STOP is confirmed only then)."""
    key = phone_hash(e164)
    row = db.session.get(SmsConsent, key)
    if row is None:
        db.session.add(SmsConsent(phone_hash=key, state=state, source=source, customer_id=customer_id,
                                  updated_at=utcnow()))
        return True
    changed = row.state != state
    row.state, row.source, row.updated_at = state, source, utcnow()
    if customer_id is not None:
        row.customer_id = customer_id
    return changed


def number_of(customer: dict | None, region: str) -> PhoneCheck:
    """The customer's :class:`~.phones.PhoneCheck` (E.164 or the reason it is unusable)."""
    return normalise_phone((customer or {}).get("phone"), region)


def numbers_of(customers: dict[int, dict], region: str) -> dict[int, PhoneCheck]:
    """:func:`number_of` for each customer, by id: parsing a number is the dearest part of
    the checks, so a batch does it once per customer, in one go."""
    return {customer_id: number_of(customer, region) for customer_id, customer in customers.items()}


def refusal(customer: dict | None, states: dict[str, str], region: str, queued_phone: str | None = None,
            check: PhoneCheck | None = None) -> str | None:
    """Why this customer may not get a marketing SMS now, as reason words, or ``None``.

    ``states`` comes from :func:`states_for`; ``queued_phone`` is given at send time (the
    number the message was queued for); ``check`` is the customer's :func:`number_of` when
    the caller read it already (a batch reads its customers' numbers once, see
    :func:`numbers_of`)."""
    if customer is None:
        return "customer_gone"
    if check is None:
        check = number_of(customer, region)
    if not check.usable:
        return "phone_changed" if queued_phone is not None else f"no usable phone: {check.reason}"
    if queued_phone is not None and check.e164 != queued_phone:
        return "phone_changed"
    state = states.get(phone_hash(check.e164))
    if state == OPTED_OUT:
        return "sms_opted_out"
    if state != OPTED_IN and not customer.get("sms_consent"):
        return "no_sms_consent"
    return None


def state_for(reason: str) -> str:
    return "cancelled" if reason in CANCELLED_REASONS else "suppressed"
