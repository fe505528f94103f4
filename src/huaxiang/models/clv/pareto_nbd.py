"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), in the stable form of Fader & Hardie (2005).

Likelihood, P(alive) and conditional expectation follow Fader & Hardie, "A note on deriving the
Pareto/NBD model and related expressions", with the hypergeometric term taken on the smaller
``|z|`` depending on whether alpha >= beta.

Examples
--------
>>> ParetoNBDModel(penalizer_coef=0.001)
ParetoNBDModel(penalizer_coef=0.001, max_iter=1000, tol=1e-10)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln

from huaxiang.models.clv.count import CountModel
from huaxiang.models.clv.special import FloatArray, log1mexp, log_hyp2f1_one, one_minus_pow_over

__all__ = ["ParetoNBDModel"]


class ParetoNBDModel(CountModel):
    """Pareto/NBD model (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005 note).

    Purchases follow Poisson(lambda) while alive, lambda ~ Gamma(r, alpha);
    lifetimes are Exponential(mu), mu ~ Gamma(s, beta).

    Parameters
    ----------
    penalizer_coef, max_iter, tol
        As for :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta``.

    Examples
    --------
    >>> import pandas as pd
    >>> from huaxiang.models import ParetoNBDModel
    >>> model = ParetoNBDModel()
    >>> model.params_ = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    >>> one = pd.DataFrame({"customer_id": [1], "frequency": [2], "recency": [30.43], "T": [38.86]})
    >>> round(float(model.expected_probability_alive(one).iloc[0]), 2)
    0.87
    """

    _display_name = "ParetoNBDModel (Pareto/NBD)"
    _param_names = ("r", "alpha", "s", "beta")
    _analytic_gradient = False

    def _initial_log_params(self, arrays: list[FloatArray], weights: FloatArray) -> FloatArray:
        x, _, t_age = arrays
        mean_x = float(np.average(x, weights=weights)) + 0.1
        mean_t = float(np.average(t_age, weights=weights))
        return np.log(np.array([1.0, mean_t / mean_x, 1.0, mean_t]))

    @staticmethod
    def _terms(
        params: Sequence[float] | FloatArray, x: FloatArray, tx: FloatArray, t_age: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(head, log term 1, log term 2)`` of the likelihood (Fader & Hardie Pareto/NBD note).

        ``L = exp(head) * (exp(term1) + exp(term2))`` with term2 = log(s/(r+s+x)) + log A0.
        A0 uses the hypergeometric function with ``z = |alpha-beta| / (max(alpha,beta) + t)``
        in ``[0, 1)``, Euler-transformed to ``2F1(1, .; r+s+x+1; z)`` which is bounded for any x.
        """
        r, alpha, s, beta = params
        rsx = r + s + x
        small_b: float | FloatArray
        if alpha >= beta:
            big, small_b = alpha, s + 1.0
        else:
            big, small_b = beta, r + x
        diff = abs(alpha - beta)

        def log_f(t: FloatArray) -> FloatArray:
            # log[ 2F1(rsx, small_b; rsx+1; z) / (big + t)^rsx ]
            z = diff / (big + t)
            euler = (1.0 - small_b) * np.log1p(-z) + log_hyp2f1_one(rsx + 1.0 - small_b, rsx + 1.0, z)
            return euler - rsx * np.log(big + t)

        l_tx, l_t = log_f(tx), log_f(t_age)
        log_a0 = l_tx + log1mexp(l_t - l_tx)
        head = gammaln(r + x) - gammaln(r) + r * math.log(alpha) + s * math.log(beta)
        term1 = -(r + x) * np.log(alpha + t_age) - s * np.log(beta + t_age)
        term2 = math.log(s) - np.log(rsx) + log_a0
        return head, term1, term2

    def _objective(self, log_params: FloatArray, arrays: list[FloatArray], weights: FloatArray) -> float:
        params = np.exp(log_params)
        x, tx, t_age = arrays
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ll = self._loglik(params, x, tx, t_age)
        value = -float(np.dot(weights, ll)) / float(weights.sum())
        if not np.isfinite(value):
            return 1e300
        return value + self._penalty(params)[0]

    def _alive(self, x: FloatArray, tx: FloatArray, t_age: FloatArray) -> FloatArray:
        """P(alive) from the Fader & Hardie note: exp(term1) / (exp(term1) + exp(term2))."""
        _, term1, term2 = self._terms(self._p(), x, tx, t_age)
        return np.exp(term1 - np.logaddexp(term1, term2))

    def _expected(self, x: FloatArray, tx: FloatArray, t_age: FloatArray, t: float) -> FloatArray:
        """Conditional expectation (Fader & Hardie note): P(alive) (r+x)(β+T)/(α+T) (1 - ((β+T)/(β+T+t))^(s-1))/(s-1)."""
        return self._expected_given_alive(x, tx, t_age, t, self._alive(x, tx, t_age))

    def _expected_given_alive(self, x: FloatArray, tx: FloatArray, t_age: FloatArray, t: float,
                              alive: FloatArray) -> FloatArray:
        r, alpha, s, beta = self._p()
        if t <= 0:
            return np.zeros_like(x)
        log_u = np.log(beta + t_age) - np.log(beta + t_age + t)
        rate = (r + x) * (beta + t_age) / (alpha + t_age)
        return np.maximum(alive * rate * one_minus_pow_over(s - 1.0, log_u), 0.0)

    def expected_purchases_new_customer(self, t: float) -> float:
        """E[X(t)] for a new customer: r β / α · (1 - (β/(β+t))^(s-1)) / (s-1).

        Examples
        --------
        >>> model = ParetoNBDModel()
        >>> model.params_ = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
        >>> round(model.expected_purchases_new_customer(39.0), 3)
        1.213
        """
        r, alpha, s, beta = self._p()
        if t <= 0:
            return 0.0
        log_u = np.log(np.array([beta / (beta + t)]))
        return float(r * beta / alpha * one_minus_pow_over(s - 1.0, log_u)[0])
