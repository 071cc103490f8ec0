"""Campaigns as a service: create, count the audience, enqueue into the outbox.

Used by the CLI and the admin alike. ``enqueue`` walks the audience in chunks (keyset
pagination on customer id), so memory stays flat for any audience size, and commits after
each chunk. Rows go in through the outbox's unique key (campaign, customer, key): enqueueing
twice, or from two processes at once, never creates a second row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from ..dbutil import insert_ignoring_duplicates
from ..errors import CampaignError
from ..extensions import db
from ..models import VALUE_TYPES, Campaign, Membership, Message, Run, Segment, Suppression, utcnow
from ..shop import connect_shop, current_mapping
from ..shop import queries as shopq
from .addresses import address_hash, normalize
from .recommend import format_price, product_url, recommend
from .templating import CompiledTemplates, default_template
from .links import link_template, unsubscribe_url

CHUNK = 500


@dataclass
class EnqueueReport:
    audience: int = 0
    queued: int = 0
    already_queued: int = 0
    suppressed: dict = field(default_factory=dict)
    customer_gone: int = 0

    def add_suppressed(self, reason: str) -> None:
        self.suppressed[reason] = self.suppressed.get(reason, 0) + 1


def create_campaign(name: str, target: dict, template: str = "segment_offer", coupon: str | None = None,
                    created_by: str | None = None, subject: str | None = None, html: str | None = None,
                    text: str | None = None) -> Campaign:
    """A draft campaign with the shipped template (or the given sources). Not committed."""
    target = _check_target(target)
    sources = default_template(template)
    campaign = Campaign(
        name=name.strip() or "Untitled campaign", target=target, coupon=(coupon or "").strip() or None,
        subject=subject if subject is not None else sources["subject"],
        html_body=html if html is not None else sources["html"],
        text_body=text if text is not None else sources["text"],
        created_by=created_by, status="draft",
    )
    CompiledTemplates(campaign.subject, campaign.html_body, campaign.text_body)  # syntax errors now, not at send
    db.session.add(campaign)
    return campaign


def _check_target(target: dict) -> dict:
    clean: dict = {}
    if target.get("segment_id") is not None:
        segment = db.session.get(Segment, int(target["segment_id"]))
        if segment is None:
            raise CampaignError(f"segment {target['segment_id']} does not exist (it may belong to a pruned run)")
        clean["segment_id"] = segment.id
    if target.get("value_types"):
        unknown = set(target["value_types"]) - set(VALUE_TYPES)
        if unknown:
            raise CampaignError(f"unknown value type(s): {', '.join(sorted(unknown))}")
        clean["value_types"] = sorted(set(target["value_types"]))
    if not clean:
        raise CampaignError("a campaign needs a target: a segment and/or value types")
    return clean


def _target_run(target: dict) -> Run:
    if "segment_id" in target:
        segment = db.session.get(Segment, target["segment_id"])
        if segment is None:
            raise CampaignError("the campaign's segment no longer exists; choose a segment of the current run")
        return segment.run
    run = Run.current()
    if run is None:
        raise CampaignError("there is no segmentation run yet; run `flask shopcrm segment` first")
    return run


def audience_filter(target: dict, run: Run) -> list:
    conditions = [Membership.run_id == run.id]
    if "segment_id" in target:
        conditions.append(Membership.segment_id == target["segment_id"])
    if "value_types" in target:
        conditions.append(Membership.value_type.in_(target["value_types"]))
    return conditions


def audience_count(target: dict) -> int:
    run = _target_run(target)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(*audience_filter(target, run)))


def footer_links(customer_id: int, email: str, unsubscribe_template: str) -> dict:
    return {"unsubscribe_url": unsubscribe_url(unsubscribe_template, customer_id, email), "preferences_url": None,
            "shop_name": current_app.config["SHOPCRM_SHOP_NAME"]}


def customer_context(customer: dict, categories: list[str], products: list[dict], segment_name: str,
                     coupon: str | None) -> dict:
    """The variables an email template sees. Values stay plain text; the HTML template escapes them."""
    config = current_app.config
    base = config["SHOPCRM_SHOP_BASE_URL"]
    first = (customer.get("first_name") or "").strip()
    return {
        "customer": {"first_name": first or "there", "last_name": (customer.get("last_name") or "").strip(),
                     "email": customer.get("email") or ""},
        "segment": {"name": segment_name},
        "top_categories": categories,
        "products": [{"name": str(p["name"] or ""), "price": format_price(p["price"]),
                      "url": product_url(base, p.get("url"))} for p in products],
        "coupon": coupon or "",
        "shop": {"name": config["SHOPCRM_SHOP_NAME"], "url": base},
    }


def _suppressed_hashes(hashes: list[str]) -> dict[str, str]:
    if not hashes:
        return {}
    rows = db.session.execute(sa.select(Suppression.email_hash, Suppression.reason)
                              .where(Suppression.email_hash.in_(hashes)))
    return dict(rows.all())


def enqueue(campaign: Campaign, as_of: datetime | None = None, limit: int | None = None) -> EnqueueReport:
    """Render and queue one message per audience member. Safe to call again: it adds only
    what is missing. Suppressed people get a row too (state ``suppressed`` with the reason),
    so the campaign's results say who was left out and why."""
    if campaign.status == "cancelled":
        raise CampaignError("this campaign was cancelled")
    config = current_app.config
    target = campaign.target or {}
    run = _target_run(target)
    templates = CompiledTemplates(campaign.subject, campaign.html_body, campaign.text_body)
    mapping = current_mapping()
    as_of = as_of or datetime.now()
    unsubscribe_link = link_template("crm_public.unsubscribe")
    segment_names = {s.id: s.name for s in run.segments}
    insert = insert_ignoring_duplicates(Message.__table__, db.engine.dialect.name)
    report = EnqueueReport()
    seen_addresses = set(db.session.scalars(
        sa.select(Message.email).where(Message.campaign_id == campaign.id, Message.state != "suppressed")))
    seen_hashes = {address_hash(e) for e in seen_addresses if e}

    with connect_shop() as shop:
        names = shopq.category_names(shop, mapping)
        popular = shopq.popular_products(shop, mapping, as_of)
        last_id = None
        while True:
            query = (sa.select(Membership.customer_id, Membership.segment_id, Membership.top_categories)
                     .where(*audience_filter(target, run)).order_by(Membership.customer_id).limit(CHUNK))
            if last_id is not None:
                query = query.where(Membership.customer_id > last_id)
            members = db.session.execute(query).all()
            if not members:
                break
            last_id = members[-1].customer_id
            ids = [m.customer_id for m in members]
            report.audience += len(ids)
            existing = set(db.session.scalars(sa.select(Message.customer_id).where(
                Message.campaign_id == campaign.id, Message.dedupe_key == "", Message.customer_id.in_(ids))))
            todo = [m for m in members if m.customer_id not in existing]
            report.already_queued += len(members) - len(todo)
            customers = shopq.customers_by_ids(shop, mapping, [m.customer_id for m in todo])
            bought = shopq.purchased_products(shop, mapping, list(customers))
            hashes = {cid: address_hash(normalize(c.get("email")) or "") for cid, c in customers.items()}
            suppressed = _suppressed_hashes([h for h in hashes.values()])
            rows = []
            for member in todo:
                customer = customers.get(member.customer_id)
                if customer is None:
                    report.customer_gone += 1  # deleted from the shop since the run
                    continue
                row = _message_row(campaign, member, customer, hashes[member.customer_id], suppressed,
                                   seen_hashes, templates, names, popular, bought, segment_names,
                                   unsubscribe_link, config, report)
                rows.append(row)
            if rows:
                result = db.session.execute(insert, rows)
                report.queued += sum(1 for r in rows if r["state"] == "queued")
                del result
            db.session.commit()
            if limit is not None and report.audience >= limit:
                break
    campaign.status = "queued"
    campaign.enqueued_at = campaign.enqueued_at or utcnow()
    db.session.commit()
    return report


def _message_row(campaign, member, customer, email_hash, suppressed, seen_hashes, templates, names, popular,
                 bought, segment_names, unsubscribe_link, config, report) -> dict:
    email = normalize(customer.get("email"))
    reason = None
    if email is None:
        reason = "invalid_address"
    elif not customer.get("consent"):
        reason = "no_consent"
    elif email_hash in suppressed:
        reason = suppressed[email_hash]
    elif email_hash in seen_hashes:
        reason = "duplicate_address"
    row = {"campaign_id": campaign.id, "customer_id": member.customer_id, "dedupe_key": "",
           "email": email or str(customer.get("email") or "")[:255], "created_at": utcnow(),
           "next_attempt_at": utcnow(), "attempts": 0}
    if reason is not None:
        report.add_suppressed(reason)
        return {**row, "subject": "", "html": "", "text": "", "state": "suppressed", "reason": reason}
    seen_hashes.add(email_hash)
    top = [int(x) for x in (member.top_categories or "").split(",") if x]
    products = recommend(top, popular, bought.get(member.customer_id, set()), config["SHOPCRM_RECOMMENDATIONS"])
    context = customer_context(customer, [names.get(c, f"Category {c}") for c in top[:2]], products,
                               segment_names.get(member.segment_id, ""), campaign.coupon)
    rendered = templates.render(context, footer_links(member.customer_id, email, unsubscribe_link))
    return {**row, "subject": rendered.subject, "html": rendered.html, "text": rendered.text, "state": "queued",
            "reason": None}
