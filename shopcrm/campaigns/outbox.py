"""Writing the outbox: render one message per candidate and insert it under the unique keys.

Campaigns and triggers both come here with a chunk of :class:`Candidate` (a customer, the
occasion's dedupe key and, for triggers, the products the email is about). For each chunk the
writer reads what it needs in a handful of bounded queries (the customers, their purchases,
suppressions, association rules), renders, and inserts with one statement that skips rows
whose unique key exists — so writing the same occasion twice, or from two processes, adds
nothing — then commits. Memory stays flat: nothing outlives its chunk except caches of
products and categories, which are bounded by the shop's catalogue.

A row is written for every candidate still in the shop, with the state ``suppressed`` and a
reason when the person must not get it (no valid address, no consent, on the suppression
list, or another customer with the same address already has this message), so the results
say who was left out and why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..clock import shop_now, utcnow
from ..dbutil import insert_ignoring_duplicates
from ..delivery.addresses import normalize
from ..delivery.clicks import LinkTracker
from ..delivery.eligibility import address_of, refusal
from ..delivery.links import FooterLinks
from ..delivery.suppression import reasons_for
from ..errors import CampaignError
from ..extensions import db
from ..models import Campaign, Message, Rule, Run
from ..shop import current_mapping
from ..shop import queries as shopq
from . import content as content_fields
from .recommend import best_categories, format_price, image_url, product_url, recommend, related, sellable
from .templating import CompiledTemplates, Rendered, shop_context

CHUNK = 500
RULES_PER_PRODUCT = 5


def not_yet_written(report: "EnqueueReport", campaign_id: int, channel: str, candidates: list) -> list:
    """The ``candidates`` this campaign has not yet written on ``channel`` (a run again, a
    trigger's next round), counted into ``report``."""
    ids = sorted({c.customer_id for c in candidates})
    rows = db.session.execute(sa.select(Message.customer_id, Message.dedupe_key).where(
        Message.campaign_id == campaign_id, Message.channel == channel, Message.customer_id.in_(ids)))
    existing = {(int(cid), key) for cid, key in rows}
    todo = [c for c in candidates if (c.customer_id, c.dedupe_key) not in existing]
    report.audience += len(candidates)
    report.already_queued += len(candidates) - len(todo)
    return todo


def taken_send_keys(campaign_id: int, hashes: list[str], keys: set[str],
                    window: timedelta | None) -> tuple[set[tuple[str, str]], set[str]]:
    """For the send keys ``hashes`` (hashed addresses or numbers): the (occasion, key) pairs this
    campaign already wrote for one of ``keys`` (by another customer), and the keys it wrote to
    within ``window`` (triggers)."""
    if not hashes:
        return set(), set()
    taken = {(key, h) for key, h in db.session.execute(sa.select(Message.dedupe_key, Message.send_key).where(
        Message.campaign_id == campaign_id, Message.send_key.in_(hashes), Message.dedupe_key.in_(keys)))}
    recent: set[str] = set()
    if window is not None:
        recent = set(db.session.scalars(sa.select(Message.send_key).where(
            Message.campaign_id == campaign_id, Message.send_key.in_(hashes),
            Message.created_at >= utcnow() - window)))
    return taken, recent


@dataclass
class Candidate:
    """One customer for one occasion. ``cart`` holds (product id, quantity) pairs and
    ``viewed`` a product id: the products a triggered email is about."""

    customer_id: int
    dedupe_key: str = ""
    segment_id: int | None = None
    top_categories: tuple[int, ...] = ()
    cart: tuple[tuple[int, int], ...] = ()
    viewed: int | None = None
    stop_if_ordered_since: datetime | None = None

    @property
    def trigger_products(self) -> set[int]:
        return {pid for pid, _ in self.cart} | ({self.viewed} if self.viewed is not None else set())


@dataclass
class EnqueueReport:
    audience: int = 0
    queued: int = 0
    already_queued: int = 0
    suppressed: dict = field(default_factory=dict)
    customer_gone: int = 0
    sms: EnqueueReport | None = None  # the SMS part of a campaign sent on both channels

    def add_suppressed(self, reason: str) -> None:
        self.suppressed[reason] = self.suppressed.get(reason, 0) + 1

    def as_dict(self) -> dict:
        found = {"audience": self.audience, "queued": self.queued, "already_queued": self.already_queued,
                 "suppressed": dict(self.suppressed), "customer_gone": self.customer_gone}
        if self.sms is not None:
            found["sms"] = self.sms.as_dict()
        return found


def customer_context(customer: dict, categories: list[str], products: list[dict], segment_name: str,
                     coupon: str | None, cart: list[dict] = (), viewed: dict | None = None,
                     presented: bool = False) -> dict:
    """The variables an email template sees. Values stay plain text; the HTML template escapes them.
    ``products`` are shop rows, or (``presented``) already as ``present_product`` makes them."""
    config = current_app.config
    base = config["SHOPCRM_SHOP_BASE_URL"]
    first = (customer.get("first_name") or "").strip()
    return {
        "customer": {"first_name": first or "there", "last_name": (customer.get("last_name") or "").strip(),
                     "email": customer.get("email") or ""},
        "segment": {"name": segment_name},
        "top_categories": categories,
        "products": list(products) if presented else [present_product(p, base) for p in products],
        "coupon": coupon or "",
        "shop": current_shop(),
        "cart": list(cart),
        "viewed": viewed,
    }


def current_shop() -> dict:
    """The shop as templates see it: name, address, logo (settings) and its home page."""
    config = current_app.config
    return shop_context(config["SHOPCRM_SHOP_NAME"], config["SHOPCRM_SHOP_BASE_URL"],
                        config.get("SHOPCRM_SHOP_LOGO_URL"), config.get("SHOPCRM_SHOP_ADDRESS"))


def present_product(product: dict, base_url: str, quantity: int = 1) -> dict:
    return {"name": str(product.get("name") or ""),
            "price": format_price(product.get("price")),
            "url": product_url(base_url, product.get("url")), "image_url": image_url(base_url, product.get("image_url")),
            "quantity": int(quantity or 1)}


class OutboxWriter:
    """Renders and inserts one campaign's messages, a chunk of candidates at a time.

    ``track=False`` (the admin's preview and test e-mails) leaves links untracked and adds no
    open pixel: a click or an open there must never count as the customer's."""

    def __init__(self, campaign: Campaign, shop: sa.Connection, run: Run | None, as_of: datetime | None = None,
                 send_at: datetime | None = None, address_window: timedelta | None = None,
                 popular: dict[int, list[dict]] | None = None, track: bool = True):
        self.config = current_app.config
        self.campaign, self.shop, self.run = campaign, shop, run
        self.mapping = current_mapping()
        self.content = content_fields.of(campaign)
        self.product_count = self.content.product_count(self.config["SHOPCRM_RECOMMENDATIONS"])
        self.templates = CompiledTemplates(campaign.subject, campaign.html_body, campaign.text_body,
                                           self.content.as_dict())
        self.track = track
        self.as_of = as_of or shop_now()
        self.send_at = send_at
        self.address_window = address_window
        self.category_names = shopq.category_names(shop, self.mapping)
        # a year of sales per category: read once per writer, or handed in by the preview's cache
        self.popular = popular if popular is not None else shopq.popular_products(shop, self.mapping, self.as_of)
        self.products: dict[int, dict] = {int(p["id"]): p for ps in self.popular.values() for p in ps}
        self.best_categories = best_categories(self.popular)
        self.presented: dict[tuple[int, int], dict] = {}
        self.segment_names = {s.id: s.name for s in run.segments} if run is not None else {}
        self.footer = FooterLinks()
        self.tracker = LinkTracker() if track else None
        self.insert = insert_ignoring_duplicates(Message.__table__, db.engine.dialect.name)
        self.report = EnqueueReport()

    # --- reads for one chunk ------------------------------------------------------------------

    def _taken_addresses(self, hashes: list[str], keys: set[str]) -> tuple[set[tuple[str, str]], set[str]]:
        """Addresses that already have this occasion's message (by another customer), and
        those mailed by this campaign within the address window (triggers)."""
        return taken_send_keys(self.campaign.id, hashes, keys, self.address_window)

    def _product(self, pid: int) -> dict | None:
        return self.products.get(pid)

    def _present(self, pid: int, quantity: int = 1) -> dict:
        """A product as templates see it, made once per writer (links and prices repeat across
        thousands of emails). Templates cannot change it: the sandbox is immutable."""
        key = (pid, int(quantity or 1))
        if key not in self.presented:
            if len(self.presented) > 50_000:
                self.presented.clear()
            self.presented[key] = present_product(self.products[pid], self.config["SHOPCRM_SHOP_BASE_URL"], quantity)
        return self.presented[key]

    def _load_products(self, ids: set[int]) -> None:
        missing = {pid for pid in ids if pid not in self.products}
        if missing:
            self.products.update(shopq.products_by_ids(self.shop, self.mapping, missing))

    def _rules(self, antecedents: set[int]) -> dict[int, list[tuple[int, float]]]:
        """Association rules of the run (products bought together), strongest first."""
        if self.run is None or not antecedents:
            return {}
        found: dict[int, list[tuple[int, float]]] = {}
        for batch in shopq.chunks(sorted(antecedents)):
            rows = db.session.execute(
                sa.select(Rule.antecedent, Rule.consequent, Rule.confidence)
                .where(Rule.run_id == self.run.id, Rule.kind == "product", Rule.antecedent.in_(batch))
                .order_by(Rule.antecedent, Rule.confidence.desc()))
            for antecedent, consequent, confidence in rows:
                bucket = found.setdefault(int(antecedent), [])
                if len(bucket) < RULES_PER_PRODUCT:
                    bucket.append((int(consequent), float(confidence)))
        return found

    # --- one chunk ---------------------------------------------------------------------------

    def write(self, candidates: list[Candidate]) -> None:
        """Render and insert the messages for these candidates, then commit."""
        todo = not_yet_written(self.report, self.campaign.id, "email", candidates)
        if not todo:
            return
        customers = shopq.customers_by_ids(self.shop, self.mapping, [c.customer_id for c in todo])
        addresses = {cid: address_of(c) for cid, c in customers.items()}
        hashes = {cid: h for cid, (_, h) in addresses.items() if h}
        suppressed = reasons_for(hashes.values())
        taken, recent = self._taken_addresses(sorted(set(hashes.values())), {c.dedupe_key for c in todo})
        bought = shopq.purchased_products(self.shop, self.mapping, list(customers))
        owned = set().union(*bought.values(), *(c.trigger_products for c in todo))
        rules = self._rules(owned)
        self._load_products({pid for pairs in rules.values() for pid, _ in pairs} |
                            set().union(*(c.trigger_products for c in todo)))
        rows = []
        for candidate in todo:
            customer = customers.get(candidate.customer_id)
            if customer is None:
                self.report.customer_gone += 1  # deleted from the shop since the run
                continue
            email, email_hash = addresses[candidate.customer_id]
            reason = refusal(customer, suppressed)
            if reason is None and ((candidate.dedupe_key, email_hash) in taken or email_hash in recent):
                reason = "duplicate_address"
            rows.append(self._row(candidate, customer, email, email_hash, reason,
                                  bought.get(candidate.customer_id, set()), rules))
            if reason is None:
                taken.add((candidate.dedupe_key, email_hash))
        if rows:
            db.session.execute(self.insert, rows)
            self.report.queued += sum(1 for r in rows if r["state"] == "queued")
        db.session.commit()

    def preview(self, candidate: Candidate, notice: str | None = None) -> Rendered:
        """Render one candidate without writing anything (the admin's preview; build the writer
        with ``track=False``). ``notice`` is shown on top, e.g. that the cart is an example."""
        customer = shopq.customers_by_ids(self.shop, self.mapping, [candidate.customer_id]).get(candidate.customer_id)
        if customer is None:
            raise CampaignError(f"customer {candidate.customer_id} is not in the shop")
        bought = shopq.purchased_products(self.shop, self.mapping, [candidate.customer_id]).get(
            candidate.customer_id, set())
        rules = self._rules(bought | candidate.trigger_products)
        self._load_products({pid for pairs in rules.values() for pid, _ in pairs} | candidate.trigger_products)
        email = normalize(customer.get("email")) or "preview@invalid.example"
        return Rendered(*self._render(candidate, customer, email, bought, rules, notice=notice)[:3])

    def _row(self, candidate: Candidate, customer: dict, email: str | None, email_hash: str, reason: str | None,
             bought: set[int], rules: dict) -> dict:
        now = utcnow()
        row = {"campaign_id": self.campaign.id, "customer_id": candidate.customer_id,
               "dedupe_key": candidate.dedupe_key, "email": email or str(customer.get("email") or "")[:255],
               "email_hash": email_hash, "created_at": now, "next_attempt_at": self.send_at or now, "attempts": 0,
               "stop_if_ordered_since": candidate.stop_if_ordered_since, "click_count": 0}
        if reason is not None:
            self.report.add_suppressed(reason)
            return {**row, "send_key": None, "subject": "", "html": "", "text": "", "unsubscribe_url": None,
                    "state": "suppressed", "reason": reason}
        subject, html, text, unsubscribe = self._render(candidate, customer, email, bought, rules)
        return {**row, "send_key": email_hash, "subject": subject, "html": html, "text": text,
                "unsubscribe_url": unsubscribe, "state": "queued", "reason": None}

    def _render(self, candidate: Candidate, customer: dict, email: str, bought: set[int],
                rules: dict, notice: str | None = None) -> tuple[str, str, str, str]:
        """Subject, HTML, text and the unsubscribe link of one message."""
        exclude = candidate.trigger_products
        cart = [self._present(pid, qty) for pid, qty in candidate.cart if sellable(self.products.get(pid))]
        viewed = self._product(candidate.viewed) if candidate.viewed is not None else None
        categories = list(candidate.top_categories) or sorted(
            {int(self.products[pid]["category_id"]) for pid in exclude
             if self.products.get(pid) and self.products[pid].get("category_id") is not None})
        paired = related(bought | exclude, rules, self.products)
        products = recommend(categories, self.popular, bought, self.product_count, exclude=exclude, paired=paired,
                             fallback=self.best_categories)
        context = customer_context(customer, [self.category_names.get(c, f"Category {c}") for c in categories[:2]],
                                   [self._present(int(p["id"])) for p in products],
                                   self.segment_names.get(candidate.segment_id, ""), self.campaign.coupon,
                                   cart=cart, viewed=self._present(int(viewed["id"])) if viewed else None,
                                   presented=True)
        ident = {"c": self.campaign.id, "k": candidate.customer_id, "d": candidate.dedupe_key}
        footer = self.footer.for_message(candidate.customer_id, email, ident)
        if self.tracker is None:
            footer["open_pixel_url"] = None
        rendered = self.templates.render(context, {**footer, "notice": notice})
        if self.tracker is None:
            return rendered.subject, rendered.html, rendered.text, footer["unsubscribe_url"]
        html, text = self.tracker.rewrite(rendered.html, rendered.text, ident)
        return rendered.subject, html, text, footer["unsubscribe_url"]
