"""The shared fit and predictions of the purchase-count (buy-till-you-die) models.

:class:`CountModel` holds what BG/NBD and Pareto/NBD share: the fit on (frequency, recency, T)
rows, expected purchases, P(alive), P(a purchase within t) as a likelihood ratio, and the median
waiting time to the next purchase. Each model supplies its likelihood and closed forms.

Examples
--------
>>> from huaxiang.models.clv import BetaGeoModel
>>> isinstance(BetaGeoModel(), CountModel)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Self

import numpy as np
import pandas as pd

from huaxiang.models.clv.fitting import MLEModel, unique_rows
from huaxiang.models.clv.special import FloatArray

__all__ = ["CountModel"]


class CountModel(MLEModel):
    """Shared fit and predictions of the purchase-count (BTYD) models."""

    _required = ("customer_id", "frequency", "recency", "T")

    @staticmethod
    def _terms(
        params: Sequence[float] | FloatArray, x: FloatArray, tx: FloatArray, t_age: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(head, a, b)`` of each row's log-likelihood ``head + log(e^a + e^b)``."""
        raise NotImplementedError

    def _loglik(
        self, params: Sequence[float] | FloatArray, x: FloatArray, tx: FloatArray, t_age: FloatArray
    ) -> FloatArray:
        head, a, b = self._terms(params, x, tx, t_age)
        return head + np.logaddexp(a, b)

    def _expected(self, x: FloatArray, tx: FloatArray, t_age: FloatArray, t: float) -> FloatArray:
        raise NotImplementedError

    def _alive(self, x: FloatArray, tx: FloatArray, t_age: FloatArray) -> FloatArray:
        raise NotImplementedError

    def fit(self, data: pd.DataFrame) -> Self:
        """Fit by maximum likelihood; identical (frequency, recency, T) rows are weighted once.

        Parameters
        ----------
        data : pandas.DataFrame
            Columns ``customer_id``, ``frequency``, ``recency``, ``T``.

        Returns
        -------
        self
            With ``params_``, ``log_likelihood_``, ``n_customers_``,
            ``converged_``, ``n_iter_`` and ``fit_seconds_`` set.

        Raises
        ------
        SchemaError
            A column is missing or invalid.
        ModelError
            The optimiser did not converge.
        """
        self._validate_cols(data)
        x, tx, t_age = (data[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
        arrays, _, weights = unique_rows(x, tx, t_age)
        self._maximise(arrays, weights)
        return self

    def _arrays(self, data: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray, pd.Index]:
        self._check_fitted()
        self._validate_cols(data)
        x, tx, t_age = (data[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
        return x, tx, t_age, pd.Index(data["customer_id"], name="customer_id")

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """Expected purchases in ``(T, T + t]``: E[X(t) | frequency, recency, T].

        Parameters
        ----------
        data : pandas.DataFrame
            Columns ``customer_id``, ``frequency``, ``recency``, ``T``.
        t : float
            Horizon, in the time unit of ``recency`` and ``T``.

        Returns
        -------
        pandas.Series
            Indexed by ``customer_id``.
        """
        x, tx, t_age, index = self._arrays(data)
        return pd.Series(self._expected(x, tx, t_age, float(t)), index=index, name="expected_purchases")

    def expected_purchases_and_alive(self, data: pd.DataFrame, t: float) -> pd.DataFrame:
        """:meth:`expected_purchases` and :meth:`expected_probability_alive` in one call.

        The same values; the Pareto/NBD's P(alive) (two hypergeometric functions per customer,
        most of its prediction time) is computed once for both.

        Returns
        -------
        pandas.DataFrame
            Columns ``expected_purchases``, ``probability_alive``, indexed by ``customer_id``.
        """
        x, tx, t_age, index = self._arrays(data)
        alive = self._alive(x, tx, t_age)
        expected = self._expected_given_alive(x, tx, t_age, float(t), alive)
        return pd.DataFrame({"expected_purchases": expected, "probability_alive": alive}, index=index)

    def _expected_given_alive(self, x: FloatArray, tx: FloatArray, t_age: FloatArray, t: float,
                              alive: FloatArray) -> FloatArray:
        """Hook: expected purchases when P(alive) is already known (default: the model's own form)."""
        return self._expected(x, tx, t_age, t)

    def expected_probability_alive(self, data: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still active at ``T``.

        Returns
        -------
        pandas.Series
            In ``[0, 1]``, indexed by ``customer_id``.
        """
        x, tx, t_age, index = self._arrays(data)
        return pd.Series(self._alive(x, tx, t_age), index=index, name="probability_alive")

    def probability_of_purchase_within(self, data: pd.DataFrame, t: float) -> pd.Series:
        """P(at least one purchase in ``(T, T + t]`` | frequency, recency, T).

        Computed as ``1 - L(x, t_x, T + t) / L(x, t_x, T)``: the likelihood of
        the history with the observation window stretched by ``t`` is exactly
        the probability of that history *and* no purchase in ``(T, T + t]``.
        Use ``t = 30 / time_unit_days`` for "probability of purchase in the
        next 30 days".

        Returns
        -------
        pandas.Series
            In ``[0, 1]``, indexed by ``customer_id``.
        """
        x, tx, t_age, index = self._arrays(data)
        params = self._p()
        log_ratio = self._loglik(params, x, tx, t_age + float(t)) - self._loglik(params, x, tx, t_age)
        prob = np.clip(-np.expm1(np.minimum(log_ratio, 0.0)), 0.0, 1.0)
        return pd.Series(prob, index=index, name="probability_of_purchase")

    def expected_days_to_next_purchase(self, data: pd.DataFrame, *, time_unit_days: float = 7.0) -> pd.Series:
        """Median waiting time, in days, to the next purchase of a customer who is still active.

        Definition: conditional on being alive at ``T``, the purchase rate has
        posterior Gamma(r + x, alpha + T) in both models, so the waiting time
        ``W`` to the next purchase has ``P(W > w) = ((alpha+T)/(alpha+T+w))**(r+x)``
        and median ``(alpha + T) * (2**(1/(r+x)) - 1)``. We report the median
        because the mean is infinite whenever ``r + x <= 1`` (most one-off
        buyers) and the unconditional waiting time is infinite for anyone
        who may have churned; combine with :meth:`expected_probability_alive`
        for the churn side. For BG/NBD this is exact (an active customer can
        only drop out right after a purchase); for Pareto/NBD it ignores
        dropout before the next purchase.

        Parameters
        ----------
        data : pandas.DataFrame
            Columns ``customer_id``, ``frequency``, ``recency``, ``T``.
        time_unit_days : float
            Days per time unit of ``recency`` / ``T`` (7 for weeks).

        Returns
        -------
        pandas.Series
            Days, indexed by ``customer_id``.
        """
        x, _, t_age, index = self._arrays(data)
        r, alpha = self.params_["r"], self.params_["alpha"]
        median = (alpha + t_age) * np.expm1(math.log(2.0) / (r + x))
        return pd.Series(median * time_unit_days, index=index, name="days_to_next_purchase")

    def expected_purchases_new_customer(self, t: float) -> float:
        """Expected purchases in ``(0, t]`` of a customer not yet observed: E[X(t)]."""
        raise NotImplementedError
