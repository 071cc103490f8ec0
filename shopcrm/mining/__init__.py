"""Pure computation on arrays: numpy, SciPy and scikit-learn only.

Nothing here imports Flask or SQLAlchemy (a test checks it). Classes follow scikit-learn's
estimator conventions: parameters in ``__init__``, work in ``fit``, results in attributes that
end with an underscore.
"""
from .churn import ChurnScorer, recommend_actions
from .groups import location_source_groups
from .interests import InterestSegmenter, interest_features, normalize_rows
from .naming import segment_names
from .quality import clustering_scores, migration, stability
from .rfm import RFMScorer
from .rules import PairRules, SequenceRules
from .value_types import PurchaseHistory, ValueTypeClassifier

__all__ = ["ChurnScorer", "InterestSegmenter", "PairRules", "PurchaseHistory",
           "RFMScorer", "SequenceRules", "ValueTypeClassifier", "clustering_scores", "interest_features",
           "location_source_groups", "migration", "normalize_rows", "recommend_actions", "segment_names",
           "stability"]
