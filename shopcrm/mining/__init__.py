"""Pure computation on arrays: numpy, SciPy and scikit-learn only.

Nothing here imports Flask or SQLAlchemy (a test checks it). Classes follow scikit-learn's
estimator conventions: parameters in ``__init__``, work in ``fit``, results in attributes that
end with an underscore.

The names below are loaded when first used (PEP 562's module ``__getattr__``): importing one
module of the package (``mining.features`` for the view beacon, say) does not load
scikit-learn, which every web worker and every cron command would otherwise import without
ever fitting anything.
"""
from __future__ import annotations

from importlib import import_module

#: Where each public name lives.
_HOMES = {
    "auc": "backtest", "capture": "backtest", "choose_ranking": "backtest", "churn_backtest": "backtest",
    "top_share": "backtest", "value_backtest": "backtest",
    "ChurnScorer": "churn", "recommend_actions": "churn",
    "location_source_groups": "groups",
    "InterestSegmenter": "interests", "interest_features": "interests", "normalize_rows": "interests",
    "BetaGeoModel": "lifetime", "GammaGammaModel": "lifetime", "TooFewRepeatBuyers": "lifetime",
    "expected_value": "lifetime",
    "segment_names": "naming",
    "LifetimeInputs": "occasions", "future_activity": "occasions", "lifetime_inputs": "occasions",
    "clustering_scores": "quality", "migration": "quality", "stability": "quality",
    "RFMScorer": "rfm",
    "PairRules": "rules", "SequenceRules": "rules",
    "PurchaseHistory": "value_types", "ValueTypeClassifier": "value_types",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
