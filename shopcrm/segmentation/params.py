"""Every knob of a run, read from the configuration and stored with the run."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class InterestParams:
    """How actions are weighted and decay. Defaults follow seed 000 and the design."""

    weight_view: float = 1.0
    weight_cart: float = 3.0
    weight_purchase: float = 5.0
    half_life_days: float = 30.0
    horizon_days: int = 365


@dataclass(frozen=True)
class OrderParams:
    """The value window and growth window of seed 004, and how far back order lines are read
    (for rules, sequences and product insights)."""

    window_days: int = 365
    growth_days: int = 90
    history_days: int = 730


@dataclass(frozen=True)
class RunParams:
    """Every knob of a run; stored with the run so results can be explained later."""

    interest: InterestParams = field(default_factory=InterestParams)
    orders: OrderParams = field(default_factory=OrderParams)
    level: str = "category"  # interest features: category, brand or both
    algorithm: str = "kmeans"  # or agglomerative
    n_clusters: int | None = None
    k_min: int = 2
    k_max: int = 12
    silhouette_sample: int = 2000
    minibatch_threshold: int = 50_000
    stability_runs: int = 3
    random_state: int = 0
    new_days: int = 90
    growth_ratio: float = 3.0
    churn_gap_factor: float = 3.0
    churn_min_days: int = 30
    rule_min_support: float = 0.0
    rule_min_confidence: float = 0.05
    rule_min_lift: float = 1.0
    rule_min_count: int = 5
    rule_max: int = 5000
    min_customers: int = 10
    threads: int = 1  # BLAS/OpenMP threads for the mining (a cron job beside a web shop stays gentle)
    prediction_horizon_days: int = 90  # expected purchases and value are for this many days ahead
    min_repeat_buyers: int = 200  # below this many repeat buyers no lifetime model is fitted (RFM instead)

    @classmethod
    def from_config(cls, config, **overrides) -> "RunParams":
        c = config
        values = dict(
            interest=InterestParams(
                weight_view=c["SHOPCRM_WEIGHT_VIEW"], weight_cart=c["SHOPCRM_WEIGHT_CART"],
                weight_purchase=c["SHOPCRM_WEIGHT_PURCHASE"], half_life_days=c["SHOPCRM_HALF_LIFE_DAYS"],
                horizon_days=c["SHOPCRM_INTEREST_HORIZON_DAYS"]),
            orders=OrderParams(window_days=c["SHOPCRM_VALUE_WINDOW_DAYS"], growth_days=c["SHOPCRM_GROWTH_DAYS"],
                               history_days=c["SHOPCRM_ORDER_HISTORY_DAYS"]),
            level=c["SHOPCRM_INTEREST_LEVEL"], algorithm=c["SHOPCRM_CLUSTER_ALGORITHM"],
            n_clusters=c["SHOPCRM_N_CLUSTERS"], k_min=c["SHOPCRM_K_MIN"], k_max=c["SHOPCRM_K_MAX"],
            silhouette_sample=c["SHOPCRM_SILHOUETTE_SAMPLE"], minibatch_threshold=c["SHOPCRM_MINIBATCH_THRESHOLD"],
            stability_runs=c["SHOPCRM_STABILITY_RUNS"], random_state=c["SHOPCRM_RANDOM_STATE"],
            new_days=c["SHOPCRM_NEW_DAYS"], growth_ratio=c["SHOPCRM_GROWTH_RATIO"],
            churn_gap_factor=c["SHOPCRM_CHURN_GAP_FACTOR"], churn_min_days=c["SHOPCRM_CHURN_MIN_DAYS"],
            rule_min_support=c["SHOPCRM_RULE_MIN_SUPPORT"], rule_min_confidence=c["SHOPCRM_RULE_MIN_CONFIDENCE"],
            rule_min_lift=c["SHOPCRM_RULE_MIN_LIFT"], rule_min_count=c["SHOPCRM_RULE_MIN_COUNT"],
            rule_max=c["SHOPCRM_RULE_MAX"], threads=c["SHOPCRM_MINING_THREADS"],
            prediction_horizon_days=c["SHOPCRM_PREDICTION_HORIZON_DAYS"],
            min_repeat_buyers=c["SHOPCRM_MIN_REPEAT_BUYERS"],
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict) -> "RunParams":
        """The parameters a run was stored with (keys this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in stored.items() if k in known and k not in ("interest", "orders")}
        for key, kind in (("interest", InterestParams), ("orders", OrderParams)):
            if isinstance(stored.get(key), dict):
                names = {f.name for f in fields(kind)}
                values[key] = kind(**{k: v for k, v in stored[key].items() if k in names})
        return cls(**values)
