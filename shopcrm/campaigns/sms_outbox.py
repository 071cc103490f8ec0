"""Writing SMS into the outbox, beside or instead of e-mail (``Campaign.channel``).

One SMS row per candidate and occasion, under the same unique keys as e-mail (the channel is
part of the first, the number's hash is the second's ``send_key``), so writing an occasion
twice adds nothing. A candidate who may not be texted still gets a row, ``suppressed`` with the
reason (``no_sms_consent``, ``sms_opted_out``, ``no usable phone: not a mobile number``, ...),
so the enqueue report and the customer's page say why; a number that cannot be parsed or is not
a mobile is never queued.

The row's ``email_hash`` is the customer's address hash (their number's when they have no
valid address): the frequency cap and the shopper's chosen frequency, which count per address,
then count e-mail and SMS together.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..clock import utcnow
from ..dbutil import insert_ignoring_duplicates
from ..delivery.clicks import SMS_LINK_PREFIX, LinkTracker
from ..delivery.eligibility import address_of
from ..delivery.sms import consent
from ..delivery.sms.settings import load as load_sms_settings
from ..errors import CampaignError, ConfigError
from ..extensions import db
from ..models import Campaign, Message, Run
from ..shop import current_mapping
from ..shop import queries as shopq
from .outbox import Candidate, EnqueueReport, OutboxWriter, current_shop, not_yet_written, taken_send_keys
from .sms_content import SmsTemplate

CHANNELS = ("email", "sms", "both")


def sms_region() -> str:
    """The default region for reading the shop's numbers; CampaignError when SMS is off."""
    try:
        return load_sms_settings(current_app.config).default_region
    except ConfigError as exc:
        raise CampaignError(f"this campaign sends SMS, but {exc}") from exc


class SmsOutboxWriter:
    """Renders and inserts one campaign's SMS, a chunk of candidates at a time."""

    def __init__(self, campaign: Campaign, shop: sa.Connection, run: Run | None, send_at: datetime | None = None,
                 address_window: timedelta | None = None, track: bool = True):
        self.campaign, self.shop, self.run = campaign, shop, run
        self.mapping = current_mapping()
        self.region = sms_region()
        self.template = SmsTemplate(campaign.sms_body)
        self.send_at, self.address_window = send_at, address_window
        self.tracker = LinkTracker() if track else None
        self.shop_info = current_shop()
        self.segment_names = {s.id: s.name for s in run.segments} if run is not None else {}
        self.insert = insert_ignoring_duplicates(Message.__table__, db.engine.dialect.name)
        self.report = EnqueueReport()

    def _taken(self, hashes: list[str], keys: set[str]) -> tuple[set[tuple[str, str]], set[str]]:
        return taken_send_keys(self.campaign.id, hashes, keys, self.address_window)

    def link(self, candidate: Candidate) -> str:
        """The shop's home page as a short tracked link of this customer."""
        url = self.shop_info["url"]
        if self.tracker is None:
            return url
        ident = {"c": self.campaign.id, "k": candidate.customer_id, "d": SMS_LINK_PREFIX + candidate.dedupe_key}
        return self.tracker.rewrite("", url, ident)[1]

    def body(self, candidate: Candidate, customer: dict) -> str:
        context = {"customer": {"first_name": (customer.get("first_name") or "").strip() or "there",
                                "last_name": (customer.get("last_name") or "").strip()},
                   "shop": self.shop_info, "coupon": self.campaign.coupon or "",
                   "segment": {"name": self.segment_names.get(candidate.segment_id, "")}}
        return self.template.render(context, self.link(candidate))

    def write(self, candidates: list[Candidate]) -> None:
        """Render and insert the SMS for these candidates (not committed: the caller's chunk commits)."""
        todo = not_yet_written(self.report, self.campaign.id, "sms", candidates)
        if not todo:
            return
        customers = shopq.customers_by_ids(self.shop, self.mapping, [c.customer_id for c in todo])
        numbers = {cid: consent.number_of(c, self.region) for cid, c in customers.items()}
        hashes = {cid: consent.phone_hash(n.e164) for cid, n in numbers.items() if n.usable}
        states = consent.states_for(hashes.values())
        taken, recent = self._taken(sorted(set(hashes.values())), {c.dedupe_key for c in todo})
        rows, now = [], utcnow()
        for candidate in todo:
            customer = customers.get(candidate.customer_id)
            if customer is None:
                self.report.customer_gone += 1
                continue
            reason = consent.refusal(customer, states, self.region, check=numbers[candidate.customer_id])
            key = hashes.get(candidate.customer_id)
            if reason is None and ((candidate.dedupe_key, key) in taken or key in recent):
                reason = "duplicate_phone"
            _, address_hash = address_of(customer)
            row = {"campaign_id": self.campaign.id, "customer_id": candidate.customer_id,
                   "dedupe_key": candidate.dedupe_key, "channel": "sms", "email": "",
                   "email_hash": address_hash or key or "", "phone": numbers[candidate.customer_id].e164,
                   "created_at": now, "next_attempt_at": self.send_at or now, "attempts": 0,
                   "stop_if_ordered_since": candidate.stop_if_ordered_since, "click_count": 0,
                   "subject": "", "html": "", "unsubscribe_url": None}
            if reason is not None:
                self.report.add_suppressed(reason)
                rows.append({**row, "send_key": None, "text": "", "state": "suppressed", "reason": reason[:255]})
                continue
            rows.append({**row, "send_key": key, "text": self.body(candidate, customer), "state": "queued",
                         "reason": None})
            taken.add((candidate.dedupe_key, key))
        if rows:
            db.session.execute(self.insert, rows)
            self.report.queued += sum(1 for r in rows if r["state"] == "queued")


class ChannelWriter:
    """The writers a campaign's channel asks for, behind the one ``write``/``report`` the
    campaign and trigger services use. With both channels the e-mail report carries the SMS
    report as ``report.sms``."""

    def __init__(self, campaign: Campaign, shop: sa.Connection, run: Run | None, **options):
        channel = campaign.channel or "email"
        if channel not in CHANNELS:
            raise CampaignError(f"unknown channel {channel!r}; choose {', '.join(CHANNELS)}")
        self.email = OutboxWriter(campaign, shop, run, **options) if channel in ("email", "both") else None
        self.sms = None
        if channel in ("sms", "both"):
            self.sms = SmsOutboxWriter(campaign, shop, run, send_at=options.get("send_at"),
                                       address_window=options.get("address_window"))
        if self.email is not None and self.sms is not None:
            self.email.report.sms = self.sms.report
        self.report = self.email.report if self.email is not None else self.sms.report

    def write(self, candidates: list[Candidate]) -> None:
        if self.sms is not None:
            self.sms.write(candidates)  # committed with the e-mail chunk, or below
        if self.email is not None:
            self.email.write(candidates)
        db.session.commit()


def make_writer(campaign: Campaign, shop: sa.Connection, run: Run | None, **options):
    """The plain e-mail writer for an e-mail campaign (unchanged), else a :class:`ChannelWriter`."""
    if (campaign.channel or "email") == "email":
        return OutboxWriter(campaign, shop, run, **options)
    return ChannelWriter(campaign, shop, run, **options)
