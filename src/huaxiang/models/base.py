"""The estimator base shared by the CLV, churn, anomaly and recommendation models.

In the manner of scikit-learn's ``BaseEstimator``: ``__init__`` is keyword-only and only stores
its arguments; :meth:`Estimator.get_params` reads their names from the ``__init__`` signature, so
``__repr__`` never falls out of step with the parameters; fitted attributes end in ``_`` and
:meth:`Estimator._check_fitted` raises :class:`NotFittedError` (a :class:`ModelError` and a
:class:`SchemaError`, so callers catching either keep working) before a prediction on an
unfitted model.

Examples
--------
>>> class Mean(Estimator):
...     _fitted_attr = "mean_"
...     def __init__(self, *, shift: float = 0.0) -> None:
...         self.shift = shift
...     def fit(self, values: list[float]) -> "Mean":
...         self.mean_ = sum(values) / len(values) + self.shift
...         return self
>>> Mean(shift=1.0)
Mean(shift=1.0)
>>> Mean().get_params()
{'shift': 0.0}
>>> Mean()._check_fitted()
Traceback (most recent call last):
...
huaxiang.models.base.NotFittedError: Mean is not fitted yet; call fit(...) first.
>>> Mean().fit([1.0, 3.0]).mean_
2.0
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from huaxiang.errors import ModelError, SchemaError

__all__ = ["Estimator", "NotFittedError"]


class NotFittedError(ModelError, SchemaError):
    """A model was asked to predict before ``fit``."""


class Estimator:
    """Parameters from the ``__init__`` signature, a ``repr`` of them, and a fitted check.

    Subclasses set ``_fitted_attr`` (the fitted attribute whose presence means "fitted"),
    optionally ``_display_name`` (the name in messages) and ``_fit_hint`` (how to fit).
    """

    _fitted_attr: ClassVar[str] = ""
    _display_name: ClassVar[str] = ""
    _fit_hint: ClassVar[str] = "fit(...)"

    @classmethod
    def _param_names_init(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values()
                if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def get_params(self) -> dict[str, Any]:
        """The ``__init__`` parameters and their current values, in signature order."""
        return {name: getattr(self, name) for name in self._param_names_init()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _name_in_messages(self) -> str:
        return self._display_name or type(self).__name__

    def _check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` has set ``_fitted_attr``."""
        if not self._fitted_attr or not hasattr(self, self._fitted_attr):
            raise NotFittedError(f"{self._name_in_messages()} is not fitted yet; call {self._fit_hint} first.")
