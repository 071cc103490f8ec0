"""Pure computation on arrays: numpy and scikit-learn only.

Nothing here imports Flask or SQLAlchemy (a test checks it). Classes follow scikit-learn's
estimator conventions: parameters in ``__init__``, work in ``fit``, results in attributes that
end with an underscore.
"""
from .interests import InterestSegmenter, normalize_rows
from .naming import segment_names
from .value_types import PurchaseHistory, ValueTypeClassifier

__all__ = ["InterestSegmenter", "normalize_rows", "segment_names", "PurchaseHistory", "ValueTypeClassifier"]
