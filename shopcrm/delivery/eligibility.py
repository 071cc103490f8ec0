"""Who may get marketing e-mail: one rule, applied when a message is queued and again right
before it is sent, with the same reason words both times.

A shop customer may be mailed when they are still in the shop, their address is a valid one
(and, at send time, still the one the message was queued for), they gave consent, and the
address is not on the suppression list. Each refusal has a reason word (stored on the outbox
row) and the state the row takes: a message for a customer who is gone or changed address is
``cancelled``; one refused for consent or suppression is ``suppressed``.
"""
from __future__ import annotations

from .addresses import address_hash, normalize

#: The state an outbox row takes for each refusal of this rule (suppression reasons: "suppressed").
CANCELLED_REASONS = ("customer_gone", "address_changed")


def address_of(customer: dict | None) -> tuple[str | None, str]:
    """The customer's normalised address and its hash ("" when there is none)."""
    email = normalize((customer or {}).get("email"))
    return email, address_hash(email) if email else ""


def refusal(customer: dict | None, suppressed: dict[str, str], queued_hash: str | None = None) -> str | None:
    """Why this shop customer may not be mailed now, as a reason word, or ``None`` if they may.

    ``suppressed`` maps address hashes to their suppression reason (``suppression.reasons_for``);
    ``queued_hash`` is given at send time: the address the message was queued for.
    """
    if customer is None:
        return "customer_gone"
    email, email_hash = address_of(customer)
    if email is None:
        return "address_changed" if queued_hash is not None else "invalid_address"
    if queued_hash is not None and email_hash != queued_hash:
        return "address_changed"
    if not customer.get("consent"):
        return "no_consent"
    return suppressed.get(email_hash)


def state_for(reason: str) -> str:
    return "cancelled" if reason in CANCELLED_REASONS else "suppressed"


def send_verdict(customer: dict | None, queued_hash: str, suppressed: dict[str, str]) -> tuple[str, str] | None:
    """The rule at send time, as the (state, reason) the outbox row takes; ``None``: it may go."""
    reason = refusal(customer, suppressed, queued_hash)
    return None if reason is None else (state_for(reason), reason)
