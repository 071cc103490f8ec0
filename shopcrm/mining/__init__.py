"""Pure computation on arrays: numpy, SciPy and scikit-learn only.

Nothing here imports Flask or SQLAlchemy (a test checks it). Classes follow scikit-learn's
estimator conventions: parameters in ``__init__``, work in ``fit``, results in attributes that
end with an underscore.
"""
from .backtest import auc, capture, choose_ranking, churn_backtest, top_share, value_backtest
from .churn import ChurnScorer, recommend_actions
from .groups import location_source_groups
from .interests import InterestSegmenter, interest_features, normalize_rows
from .lifetime import BetaGeoModel, GammaGammaModel, TooFewRepeatBuyers, expected_value
from .naming import segment_names
from .occasions import LifetimeInputs, future_activity, lifetime_inputs
from .quality import clustering_scores, migration, stability
from .rfm import RFMScorer
from .rules import PairRules, SequenceRules
from .value_types import PurchaseHistory, ValueTypeClassifier

__all__ = ["ChurnScorer", "InterestSegmenter", "PairRules", "PurchaseHistory",
           "RFMScorer", "SequenceRules", "ValueTypeClassifier", "clustering_scores", "interest_features",
           "location_source_groups", "migration", "normalize_rows", "recommend_actions", "segment_names",
           "stability"]
__all__ += ["BetaGeoModel", "GammaGammaModel", "LifetimeInputs", "TooFewRepeatBuyers", "auc", "capture",
            "choose_ranking", "churn_backtest", "expected_value", "future_activity", "lifetime_inputs",
            "top_share", "value_backtest"]
