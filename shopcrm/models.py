"""shopcrm's own tables. Every one is prefixed ``crm_``; shopcrm owns nothing else.

Timestamps are naive UTC (``utcnow``). Helpers here never commit: the service that calls
them (a pipeline run, an enqueue, a send batch, a form handler) decides when to commit.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from flask import g, has_request_context
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db

ROLES = ("admin", "marketer", "viewer")

# The six customer types of seed 004, in the order their rules are applied.
VALUE_TYPES = ("new", "negative", "most_growth", "high_value", "ordinary", "below_average")
VALUE_TYPE_LABELS = {
    "new": "New",
    "negative": "Negative (never bought)",
    "most_growth": "Most growth",
    "high_value": "High value",
    "ordinary": "Ordinary",
    "below_average": "Below average",
}
POTENTIAL_PROFITABLE = ("high_value", "most_growth", "new")

RUN_STATES = ("queued", "running", "succeeded", "failed")
MESSAGE_STATES = ("queued", "sending", "sent", "failed", "suppressed", "cancelled")
CAMPAIGN_STATES = ("draft", "scheduled", "queued", "cancelled", "trigger")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class User(UserMixin, db.Model):
    __tablename__ = "crm_user"

    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(255), nullable=False, unique=True)
    password_hash = sa.Column(sa.String(255), nullable=False)
    role = sa.Column(sa.String(16), nullable=False, default="viewer")
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    last_login_at = sa.Column(sa.DateTime)
    failed_logins = sa.Column(sa.Integer, nullable=False, default=0)
    locked_until = sa.Column(sa.DateTime)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return bool(self.active)

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


class Run(db.Model):
    """One segmentation run. Its results become current only when it succeeds."""

    __tablename__ = "crm_run"

    id = sa.Column(sa.Integer, primary_key=True)
    kind = sa.Column(sa.String(32), nullable=False, default="segmentation")
    status = sa.Column(sa.String(16), nullable=False, default="queued", index=True)
    requested_by = sa.Column(sa.String(255))
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    started_at = sa.Column(sa.DateTime)
    finished_at = sa.Column(sa.DateTime)
    as_of = sa.Column(sa.DateTime)
    params = sa.Column(sa.JSON)
    timings = sa.Column(sa.JSON)
    counts = sa.Column(sa.JSON)
    quality = sa.Column(sa.JSON)
    error = sa.Column(sa.Text)

    segments = db.relationship("Segment", back_populates="run", cascade="all, delete-orphan",
                               order_by="Segment.label")

    @classmethod
    def current(cls) -> "Run | None":
        """The newest run that succeeded: what the admin and campaigns read.

        Asked once per web request (a page may ask from several places; runs finish in the
        cron job, never inside a request); elsewhere, e.g. in a command that has just run a
        segmentation, asked every time."""
        if has_request_context():
            if "current_run" not in g:
                g.current_run = cls._newest()
            return g.current_run
        return cls._newest()

    @classmethod
    def _newest(cls) -> "Run | None":
        return db.session.scalars(
            sa.select(cls).where(cls.status == "succeeded", cls.kind == "segmentation").order_by(cls.id.desc()).limit(1)
        ).first()


class Segment(db.Model):
    __tablename__ = "crm_segment"

    id = sa.Column(sa.Integer, primary_key=True)
    run_id = sa.Column(sa.Integer, sa.ForeignKey("crm_run.id", ondelete="CASCADE"), nullable=False, index=True)
    label = sa.Column(sa.Integer, nullable=False)
    name = sa.Column(sa.String(255), nullable=False)
    size = sa.Column(sa.Integer, nullable=False, default=0)
    top = sa.Column(sa.JSON)  # [{"id": category id, "name": ..., "share": 0.42}, ...]
    centroid = sa.Column(sa.JSON)  # interest shares per feature column, in the run's feature order

    run = db.relationship("Run", back_populates="segments")

    __table_args__ = (sa.UniqueConstraint("run_id", "label"),)


class Membership(db.Model):
    """One customer in one run: their interest segment, value type and RFM figures."""

    __tablename__ = "crm_membership"

    run_id = sa.Column(sa.Integer, sa.ForeignKey("crm_run.id", ondelete="CASCADE"), primary_key=True)
    customer_id = sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    segment_id = sa.Column(sa.Integer, sa.ForeignKey("crm_segment.id", ondelete="CASCADE"))
    value_type = sa.Column(sa.String(16), nullable=False)
    recency_days = sa.Column(sa.Float)
    frequency = sa.Column(sa.Integer, nullable=False, default=0)
    monetary = sa.Column(sa.Float, nullable=False, default=0.0)
    top_categories = sa.Column(sa.String(255))  # category ids, most interesting first, comma-separated
    top_brands = sa.Column(sa.String(255))  # brand ids, most interesting first, comma-separated
    value_rank = sa.Column(sa.SmallInteger)  # seed 004 cluster rank: 0 high, 1 average, 2 low; NULL never bought
    rfm_r = sa.Column(sa.SmallInteger)  # classic RFM scores 1..5 (store-relative quantiles); NULL never bought
    rfm_f = sa.Column(sa.SmallInteger)
    rfm_m = sa.Column(sa.SmallInteger)
    churn_score = sa.Column(sa.Float)  # seed 003: a score in [0, 1], higher = more at risk
    churn_risk = sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    action = sa.Column(sa.String(32))  # seed 003: one recommended action per customer
    country = sa.Column(sa.String(64))  # copied from the shop at run time for groups and targeting
    region = sa.Column(sa.String(64))
    city = sa.Column(sa.String(64))
    source = sa.Column(sa.String(64))

    __table_args__ = (
        sa.Index("ix_crm_membership_run_segment", "run_id", "segment_id", "customer_id"),
        sa.Index("ix_crm_membership_run_value", "run_id", "value_type", "customer_id"),
        sa.Index("ix_crm_membership_customer", "customer_id", "run_id"),
        sa.Index("ix_crm_membership_run_action", "run_id", "action", "customer_id"),
        sa.Index("ix_crm_membership_run_country", "run_id", "country", "customer_id"),
        sa.Index("ix_crm_membership_run_source", "run_id", "source", "customer_id"),
    )

    def top_category_ids(self) -> list[int]:
        return [int(x) for x in (self.top_categories or "").split(",") if x]


class Campaign(db.Model):
    """A campaign, or the standing campaign of a trigger (``kind`` names the trigger).

    ``target`` is a stored-results filter (see ``campaigns.targets``). Manual campaigns go
    draft → scheduled (launched, waiting for ``scheduled_at``) → queued (rendered into the
    outbox) and may be cancelled at any point; a trigger's campaign stays ``trigger`` and
    only holds the template its messages are rendered from.
    """

    __tablename__ = "crm_campaign"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(255), nullable=False)
    kind = sa.Column(sa.String(32), nullable=False, default="campaign", server_default="campaign")
    status = sa.Column(sa.String(16), nullable=False, default="draft")
    target = sa.Column(sa.JSON, nullable=False)  # e.g. {"segment_ids": [3]} or {"value_types": [...]}
    subject = sa.Column(sa.Text, nullable=False)
    html_body = sa.Column(sa.Text, nullable=False)
    text_body = sa.Column(sa.Text, nullable=False)
    coupon = sa.Column(sa.String(64))
    created_by = sa.Column(sa.String(255))
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    scheduled_at = sa.Column(sa.DateTime)  # UTC; when a launched campaign is rendered and sent
    enqueued_at = sa.Column(sa.DateTime)
    cancelled_at = sa.Column(sa.DateTime)


class Message(db.Model):
    """The outbox: one row per (campaign, customer, trigger key), never two.

    ``send_key`` holds the address hash while the row may still be delivered, so the second
    unique key allows one message per address and occasion even when two shop customers share
    an address (suppressed rows carry NULL there and do not count). ``lease_until`` is the
    claim of a sender: rows it claimed but has not started stay ``queued`` and go back to the
    pool when the lease runs out; a row in ``sending`` whose lease ran out was handed to the
    mail server by a sender that died before recording the answer: it is *in doubt*.
    ``stop_if_ordered_since`` (shop clock) cancels a trigger message if the customer orders
    after that moment.
    """

    __tablename__ = "crm_message"

    id = sa.Column(sa.Integer, primary_key=True)
    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("crm_campaign.id", ondelete="CASCADE"), nullable=False)
    customer_id = sa.Column(sa.BigInteger, nullable=False)
    dedupe_key = sa.Column(sa.String(64), nullable=False, default="")
    email = sa.Column(sa.String(255), nullable=False)
    email_hash = sa.Column(sa.String(64), nullable=False, default="", server_default="")
    send_key = sa.Column(sa.String(64))
    subject = sa.Column(sa.Text, nullable=False)
    html = sa.Column(sa.Text, nullable=False)
    text = sa.Column(sa.Text, nullable=False)
    unsubscribe_url = sa.Column(sa.Text)  # signed at enqueue; the List-Unsubscribe header's https link
    state = sa.Column(sa.String(16), nullable=False, default="queued")
    reason = sa.Column(sa.String(255))
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    next_attempt_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    claimed_by = sa.Column(sa.String(64))
    claimed_at = sa.Column(sa.DateTime)
    lease_until = sa.Column(sa.DateTime)
    stop_if_ordered_since = sa.Column(sa.DateTime)
    sent_at = sa.Column(sa.DateTime)
    message_id = sa.Column(sa.String(255))
    clicked_at = sa.Column(sa.DateTime)
    click_count = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    opened_at = sa.Column(sa.DateTime)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "customer_id", "dedupe_key", name="uq_crm_message_once"),
        sa.UniqueConstraint("campaign_id", "dedupe_key", "send_key", name="uq_crm_message_address"),
        sa.Index("ix_crm_message_due", "state", "next_attempt_at"),
        sa.Index("ix_crm_message_customer", "customer_id", "created_at"),
        sa.Index("ix_crm_message_address", "email_hash", "sent_at"),
        # every figure of the campaign list and results pages is counted from this index alone
        sa.Index("ix_crm_message_campaign_stats", "campaign_id", "state", "reason", "clicked_at", "click_count",
                 "opened_at"),
    )


class Suppression(db.Model):
    """Addresses that must never be mailed again, kept only as a hash of the address."""

    __tablename__ = "crm_suppression"

    id = sa.Column(sa.Integer, primary_key=True)
    email_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    reason = sa.Column(sa.String(32), nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class Lock(db.Model):
    """A named lease so that two processes (or machines) never run the same job at once."""

    __tablename__ = "crm_lock"

    name = sa.Column(sa.String(64), primary_key=True)
    owner = sa.Column(sa.String(64), nullable=False)
    acquired_at = sa.Column(sa.DateTime, nullable=False)
    expires_at = sa.Column(sa.DateTime, nullable=False)


class Rule(db.Model):
    """An association or sequence rule found by a run (seed 002): antecedent → consequent.

    ``kind`` is ``product`` (bought together), ``category`` (bought together, by category) or
    ``sequence`` (bought the antecedent, later bought the consequent). Ids are shop ids.
    """

    __tablename__ = "crm_rule"

    id = sa.Column(sa.Integer, primary_key=True)
    run_id = sa.Column(sa.Integer, sa.ForeignKey("crm_run.id", ondelete="CASCADE"), nullable=False)
    kind = sa.Column(sa.String(16), nullable=False)
    antecedent = sa.Column(sa.BigInteger, nullable=False)
    consequent = sa.Column(sa.BigInteger, nullable=False)
    count = sa.Column(sa.Integer, nullable=False)  # baskets (or customers, for sequences) with both
    support = sa.Column(sa.Float, nullable=False)
    confidence = sa.Column(sa.Float, nullable=False)
    lift = sa.Column(sa.Float, nullable=False)

    __table_args__ = (
        sa.UniqueConstraint("run_id", "kind", "antecedent", "consequent", name="uq_crm_rule_pair"),
        sa.Index("ix_crm_rule_lookup", "run_id", "kind", "antecedent", "confidence"),
        # the insights page lists a run's rules of one kind, strongest first: a range of this, read backwards
        sa.Index("ix_crm_rule_rank", "run_id", "kind", "confidence", "lift", "id"),
    )


class Insight(db.Model):
    """A named JSON document a run produced, read by the admin pages as it is: the figures
    behind seed 004's charts, the location and source groups, per-segment tops, and the
    fitted model that places new customers between runs."""

    __tablename__ = "crm_insight"

    id = sa.Column(sa.Integer, primary_key=True)
    run_id = sa.Column(sa.Integer, sa.ForeignKey("crm_run.id", ondelete="CASCADE"), nullable=False)
    name = sa.Column(sa.String(64), nullable=False)
    data = sa.Column(sa.JSON, nullable=False)

    __table_args__ = (sa.UniqueConstraint("run_id", "name", name="uq_crm_insight_name"),)

    @classmethod
    def of(cls, run_id: int, name: str):
        """The document ``name`` of a run, or None."""
        return db.session.scalar(sa.select(cls.data).where(cls.run_id == run_id, cls.name == name))

    @classmethod
    def several(cls, run_id: int, names: tuple[str, ...]) -> dict:
        """The documents ``names`` of a run that exist, by name: one query for a page that draws many."""
        return dict(db.session.execute(sa.select(cls.name, cls.data).where(cls.run_id == run_id,
                                                                            cls.name.in_(names))).all())


class State(db.Model):
    """A named JSON document shared by every process, outside any run (the doctor's last
    report), so a page shows it without recomputing it."""

    __tablename__ = "crm_state"

    name = sa.Column(sa.String(64), primary_key=True)
    data = sa.Column(sa.JSON, nullable=False)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    @classmethod
    def read(cls, name: str) -> "State | None":
        return db.session.get(cls, name)

    @classmethod
    def write(cls, name: str, data) -> "State":
        """Insert or replace (not committed)."""
        row = db.session.get(cls, name) or cls(name=name)
        row.data, row.updated_at = data, utcnow()
        db.session.add(row)
        return row


class SearchWord(db.Model):
    """One word of one customer's name or e-mail address (see ``shopcrm.search``): the index
    that finds customers by name without scanning the shop. Personal data: "forget me" erases it."""

    __tablename__ = "crm_search_word"

    # Words are stored normalised (lower case, no accents) and compared byte for byte: under a
    # case- or accent-insensitive collation two distinct words of one customer could collide.
    word = sa.Column(sa.String(64).with_variant(sa.String(64, collation="utf8mb4_bin"), "mysql", "mariadb"),
                     primary_key=True)
    customer_id = sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    # The customer's interest segment in the run current when the index was built: a search
    # inside a segment is then a range of one index, not a join with 100k memberships.
    segment_id = sa.Column(sa.Integer)

    __table_args__ = (sa.Index("ix_crm_search_word_customer", "customer_id", "word"),
                      sa.Index("ix_crm_search_word_segment", "segment_id", "word", "customer_id"))
