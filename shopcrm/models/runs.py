"""A segmentation run and what it stores: segments, memberships, rules, insights, the search index."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_request_context

from ..clock import utcnow
from ..extensions import db


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
    last_order = sa.Column(sa.SmallInteger)  # recency_days's bucket: vocab.LAST_ORDER_CODES
    frequency = sa.Column(sa.Integer, nullable=False, default=0)
    monetary = sa.Column(sa.Float, nullable=False, default=0.0)
    top_categories = sa.Column(sa.String(255))  # category ids, most interesting first, comma-separated
    top_brands = sa.Column(sa.String(255))  # brand ids, most interesting first, comma-separated
    value_rank = sa.Column(sa.SmallInteger)  # seed 004 cluster rank: 0 high, 1 average, 2 low; NULL never bought
    rfm_r = sa.Column(sa.SmallInteger)  # classic RFM scores 1..5 (store-relative quantiles); NULL never bought
    rfm_f = sa.Column(sa.SmallInteger)
    rfm_m = sa.Column(sa.SmallInteger)
    churn_score = sa.Column(sa.Float)  # seed 003: 0..1, the buyer's place in the chosen churn ranking (mining.churn)
    churn_risk = sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    action = sa.Column(sa.String(32))  # seed 003: one recommended action per customer
    country = sa.Column(sa.String(64))  # copied from the shop at run time for groups and targeting
    region = sa.Column(sa.String(64))
    city = sa.Column(sa.String(64))
    source = sa.Column(sa.String(64))
    # Predicted over the run's horizon (quality["lifetime"]["horizon_days"], 90 days by default); NULL when the
    # customer never bought or the shop had too few repeat buyers for the models (mining.forecast).
    p_alive = sa.Column(sa.Float)  # BG/NBD: the chance the customer is still a customer
    expected_orders = sa.Column(sa.Float)  # purchase occasions (a day's orders) expected in the horizon
    expected_value = sa.Column(sa.Float)  # revenue expected in the horizon (expected orders × Gamma-Gamma value)

    __table_args__ = (
        sa.Index("ix_crm_membership_run_segment", "run_id", "segment_id", "customer_id"),
        sa.Index("ix_crm_membership_run_value", "run_id", "value_type", "customer_id"),
        sa.Index("ix_crm_membership_customer", "customer_id", "run_id"),
        sa.Index("ix_crm_membership_run_action", "run_id", "action", "customer_id"),
        # a country's customers, and among them those of one last-order bucket (the one filter
        # the run's cube cannot count: customers.browse); in customer order within a bucket, so a
        # run writes it at the end of 5 ranges per country
        sa.Index("ix_crm_membership_run_country", "run_id", "country", "last_order", "customer_id"),
        sa.Index("ix_crm_membership_run_source", "run_id", "source", "customer_id"),
        # The panel's customer list: biggest spenders first (overall, per type, per action, at risk
        # or not) and latest order first, each a range of one index read backwards or forwards.
        sa.Index("ix_crm_membership_run_spend", "run_id", "monetary", "customer_id"),
        sa.Index("ix_crm_membership_run_type_spend", "run_id", "value_type", "monetary", "customer_id"),
        sa.Index("ix_crm_membership_run_action_spend", "run_id", "action", "monetary", "customer_id"),
        sa.Index("ix_crm_membership_run_risk_spend", "run_id", "churn_risk", "monetary", "customer_id"),
        sa.Index("ix_crm_membership_run_recency", "run_id", "recency_days", "customer_id"),
        sa.Index("ix_crm_membership_run_risk_recency", "run_id", "churn_risk", "recency_days", "customer_id"),
        # a customer type's members, most valuable first (segmentation.ranking.member_order)
        sa.Index("ix_crm_membership_run_type_value", "run_id", "value_type", "expected_value", "customer_id"),
    )

    def top_category_ids(self) -> list[int]:
        return [int(x) for x in (self.top_categories or "").split(",") if x]


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
