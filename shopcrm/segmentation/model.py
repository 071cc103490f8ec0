"""What a run keeps to place customers who sign up before the next run: its stored model.

The document (``crm_insight`` named ``model``) holds the feature order the segments were
built on, the fitted value classifier, RFM scorer and churn gap rule (each serialised by the
estimator itself, ``mining.stored``), the median order value the actions compare with, and
the lifetime part: the fitted BG/NBD and Gamma-Gamma models (absent when the shop had too few
repeat buyers) with the horizon they predict for, and the churn ranking newcomers are scored
by with its scale and threshold (``mining.churn.RankedChurn``; the repurchase classifier is
never stored, see ``mining.forecast``).

Runs stored before the estimators serialised themselves used another layout; it is read too.
Runs stored before the lifetime part have none: their newcomers get the gap rule's churn
score, as those runs gave their own customers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mining import BetaGeoModel, ChurnScorer, GammaGammaModel, RFMScorer, ValueTypeClassifier
from ..mining.churn import RankedChurn
from .params import RunParams


@dataclass
class RunModel:
    level: str
    features: list[tuple[str, int]]  # (kind, shop id) per feature column: ("category", 3), ("brand", 7)
    value: ValueTypeClassifier
    rfm: RFMScorer
    churn: ChurnScorer
    median_order_value: float
    ranked_churn: RankedChurn | None = None  # how newcomers' churn is scored (None: the gap rule, older runs)
    purchases: BetaGeoModel | None = None
    values: GammaGammaModel | None = None
    horizon_days: float = 90.0

    def to_dict(self) -> dict:
        data = {"level": self.level, "features": [{"kind": k, "id": i} for k, i in self.features],
                "value_classifier": self.value.to_dict(), "rfm_scorer": self.rfm.to_dict(),
                "churn_scorer": self.churn.to_dict(), "median_order_value": self.median_order_value}
        if self.ranked_churn is not None:
            data["lifetime"] = {
                "ranked_churn": self.ranked_churn.to_dict(), "horizon_days": self.horizon_days,
                "purchases": self.purchases.to_dict() if self.purchases is not None else None,
                "values": self.values.to_dict() if self.values is not None else None,
            }
        return data

    @classmethod
    def from_dict(cls, data: dict, params: RunParams) -> "RunModel":
        features = [(f["kind"], int(f["id"])) for f in data["features"]]
        if "value_classifier" in data:
            value = ValueTypeClassifier.from_dict(data["value_classifier"])
            rfm = RFMScorer.from_dict(data["rfm_scorer"])
            churn = ChurnScorer.from_dict(data["churn_scorer"])
        else:
            value, rfm, churn = cls._legacy(data, params)
        model = cls(level=data["level"], features=features, value=value, rfm=rfm, churn=churn,
                    median_order_value=data["median_order_value"])
        lifetime = data.get("lifetime")
        if lifetime:
            model.ranked_churn = RankedChurn.from_dict(lifetime["ranked_churn"])
            model.horizon_days = float(lifetime["horizon_days"])
            model.purchases = BetaGeoModel.from_dict(lifetime["purchases"]) if lifetime.get("purchases") else None
            model.values = GammaGammaModel.from_dict(lifetime["values"]) if lifetime.get("values") else None
        return model

    @staticmethod
    def _legacy(data: dict, params: RunParams):
        """The first layout: fitted values under their own keys, parameters from the run's params."""
        stored = data["value"]
        value = ValueTypeClassifier(new_days=params.new_days, growth_days=params.orders.growth_days,
                                    growth_ratio=params.growth_ratio, window_days=params.orders.window_days)
        value.z_mean_, value.z_std_ = np.array(stored["z_mean"]), np.array(stored["z_std"])
        value.cluster_centers_ = np.array(stored["centers"]).reshape(-1, 3)
        value.rank_of_label_ = np.array(stored["rank_of_label"], dtype=np.int64)
        rfm = RFMScorer(ties="mid_rank")
        rfm.edges_ = np.array(data["rfm_edges"])
        churn = ChurnScorer(gap_factor=params.churn_gap_factor, min_days=params.churn_min_days)
        churn.store_gap_ = float(data["churn_store_gap"])
        return value, rfm, churn
