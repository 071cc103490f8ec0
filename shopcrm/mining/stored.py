"""Estimators that store their fitted state in a run and come back from it.

A run keeps its fitted value clusters, RFM edges and churn gap so that customers who sign up
between runs are placed exactly as the run would have placed them. Each estimator says which
of its fitted attributes make up that state (``fitted_state``); ``to_dict`` writes them with
the estimator's parameters (scikit-learn's ``get_params``) as JSON-ready values, and
``from_dict`` rebuilds a fitted estimator. The layout lives here, next to the estimators,
and nowhere else.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator


def _plain(value: Any) -> Any:
    """A fitted attribute as JSON: arrays keep their shape and dtype (an empty (0, 3) array
    must come back as (0, 3)), scalars stay scalars."""
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "dtype": value.dtype.str, "values": value.ravel().tolist()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict) and {"shape", "dtype", "values"} <= value.keys():
        return np.asarray(value["values"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    return value


class StoredEstimator(BaseEstimator):
    """scikit-learn's estimator conventions plus a fitted state that serialises itself."""

    #: The fitted attributes (names ending in ``_``) another process needs to predict.
    fitted_state: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"params": self.get_params(), "fitted": {name: _plain(getattr(self, name)) for name in self.fitted_state}}

    @classmethod
    def from_dict(cls, data: dict):
        """A fitted estimator, as ``to_dict`` described it."""
        estimator = cls(**data.get("params", {}))
        for name in cls.fitted_state:
            setattr(estimator, name, _restored(data["fitted"][name]))
        return estimator
