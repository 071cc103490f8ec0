"""The checks before sending, read once per batch: is each claimed row still wanted now?

Who may be mailed at all is :mod:`shopcrm.delivery.eligibility` (the same rule the outbox
writer applied when it queued the row); on top of it, at send time: the campaign may have been
cancelled, the customer may have bought meanwhile (triggered reminders), the frequency cap.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ...extensions import db
from ...models import Campaign
from ...shop import connect_shop, shop_reads
from ...shop.activity import SendLookups
from ...vocab import REMINDER_KINDS
from ..eligibility import send_verdict
from ..suppression import FrequencyCap, reasons_for, soft_bounced


@dataclass
class BatchFacts:
    """What the checks before sending need, read once per batch."""

    campaigns: dict
    customers: dict
    suppressed: dict
    soft: set
    ordered: dict
    cap: FrequencyCap


def read_facts(rows: list[dict], lookups: SendLookups) -> BatchFacts:
    """Campaign states, suppressions, soft bounces and the cap from shopcrm's database; the
    customers (address, consent) and their latest orders from the shop. A shop that cannot be
    reached raises :class:`~shopcrm.errors.ShopUnavailable` (the batch then waits)."""
    hashes = {r["email_hash"] for r in rows}
    campaign_ids = {r["campaign_id"] for r in rows}
    campaigns = {c.id: (c.status, c.kind) for c in
                 db.session.execute(sa.select(Campaign.id, Campaign.status, Campaign.kind)
                                    .where(Campaign.id.in_(campaign_ids)))}
    cap = FrequencyCap()
    cap.load(hashes)
    facts = BatchFacts(campaigns, {}, reasons_for(hashes), soft_bounced(hashes), {}, cap)
    db.session.commit()
    customer_ids = [r["customer_id"] for r in rows]
    watched = [r for r in rows if r["stop_if_ordered_since"] is not None]
    with shop_reads(), connect_shop() as shop:
        facts.customers = lookups.customers(shop, customer_ids)
        if watched:
            facts.ordered = lookups.latest_orders(shop, [r["customer_id"] for r in watched],
                                                  min(r["stop_if_ordered_since"] for r in watched))
    return facts


def verdict(row: dict, facts: BatchFacts, exempt_reminders: bool) -> tuple[str, str] | None:
    """Why this row must not go out now, as (state, reason); ``None`` if it may."""
    status, kind = facts.campaigns.get(row["campaign_id"], ("cancelled", None))
    if status == "cancelled":
        return "cancelled", "campaign_cancelled"
    refused = send_verdict(facts.customers.get(row["customer_id"]), row["email_hash"], facts.suppressed)
    if refused is not None:
        return refused
    since, ordered = row["stop_if_ordered_since"], facts.ordered.get(row["customer_id"])
    if since is not None and ordered is not None and ordered >= since:
        return "cancelled", "bought_meanwhile"
    if not (exempt_reminders and kind in REMINDER_KINDS) and facts.cap.blocks(row["email_hash"]):
        return "suppressed", "frequency_cap"
    return None
