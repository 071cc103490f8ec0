"""How many of the shop's customers an SMS could reach: their phone text read as the sender
would read it (``phones.normalise_phone`` with the default region), counted by outcome.

What ``flask shopcrm doctor`` prints when SMS is on. It reads the phone column of every active
customer once, in chunks (a few bytes each), and counts SMS consent beside it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from ...shop import connect_shop, current_mapping, shop_reads
from .phones import normalise_phone

CHUNK = 5000


@dataclass
class PhoneReach:
    customers: int = 0
    usable: int = 0
    usable_with_consent: int = 0
    reasons: Counter = field(default_factory=Counter)  # why the rest cannot be texted

    def render(self) -> str:
        if not self.customers:
            return "SMS: the shop has no customers to text yet"
        lines = [f"SMS: {self.usable:,} of {self.customers:,} customers have a usable mobile number "
                 f"({self.usable_with_consent:,} of them with SMS consent in the shop)"]
        for reason, count in self.reasons.most_common():
            lines.append(f"  - {count:,} cannot be texted: {reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"customers": self.customers, "usable": self.usable, "usable_with_consent": self.usable_with_consent,
                "reasons": dict(self.reasons)}


def phone_reach(region: str) -> PhoneReach:
    """Count the shop's customers by whether their number can get an SMS."""
    reach = PhoneReach()
    source = current_mapping().source("customer", ("id", "phone", "sms_consent"))
    with shop_reads(), connect_shop() as shop:
        result = shop.execution_options(stream_results=True, yield_per=CHUNK).execute(sa.select(source.c.phone, source.c.sms_consent))
        for phone, sms_consent in result:
            reach.customers += 1
            check = normalise_phone(phone, region)
            if check.usable:
                reach.usable += 1
                reach.usable_with_consent += 1 if sms_consent else 0
            else:
                reach.reasons[check.reason] += 1
    return reach
