"""BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", *Marketing Science* 24(2).

Examples
--------
>>> BetaGeoModel()
BetaGeoModel(penalizer_coef=0.0, max_iter=1000, tol=1e-10)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import betaln, digamma, gammaln, hyp2f1

from huaxiang.errors import ModelError
from huaxiang.models.clv.count import CountModel
from huaxiang.models.clv.fitting import unique_rows
from huaxiang.models.clv.special import FloatArray

__all__ = ["BetaGeoModel"]


class BetaGeoModel(CountModel):
    """BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005).

    Purchases follow Poisson(lambda) while alive, lambda ~ Gamma(r, alpha);
    after each purchase the customer drops out with probability p,
    p ~ Beta(a, b).

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty ``c * sum(theta**2)`` on the parameters added to the mean
        negative log-likelihood (as in lifetimes). 0 = plain MLE.
    max_iter : int
        L-BFGS-B iteration limit.
    tol : float
        Relative tolerance on the objective.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
    n_customers_ : int
    converged_ : bool
    n_iter_ : int
    fit_seconds_ : float

    Examples
    --------
    >>> import pandas as pd
    >>> from huaxiang.models import BetaGeoModel
    >>> model = BetaGeoModel()
    >>> model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # published CDNOW fit
    >>> one = pd.DataFrame({"customer_id": [1], "frequency": [2], "recency": [30.43], "T": [38.86]})
    >>> round(float(model.expected_purchases(one, 39).iloc[0]), 3)
    1.226
    """

    _display_name = "BetaGeoModel (BG/NBD)"
    _param_names = ("r", "alpha", "a", "b")

    def _initial_log_params(self, arrays: list[FloatArray], weights: FloatArray) -> FloatArray:
        x, _, t_age = arrays
        mean_x = float(np.average(x, weights=weights)) + 0.1
        mean_t = float(np.average(t_age, weights=weights))
        return np.log(np.array([1.0, mean_t / mean_x, 1.0, 1.0]))

    @staticmethod
    @staticmethod
    def _terms(
        params: Sequence[float] | FloatArray,
        x: FloatArray,
        tx: FloatArray,
        t_age: FloatArray,
        by_x: tuple[FloatArray, NDArray[np.intp]] | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(head, A2, A3)`` of the FHL (2005) individual likelihood: ``LL = head + log(e^A2 + e^A3)``.

        The special functions depend on x only; they are evaluated once per
        distinct frequency (``by_x`` = unique values and inverse index).
        """
        r, alpha, a, b = params
        xu, inv = by_x if by_x is not None else np.unique(x, return_inverse=True)
        xm = np.maximum(xu, 1.0)  # A3 only exists for x > 0; keep its arguments valid
        head = (gammaln(r + xu) - gammaln(r) + r * math.log(alpha))[inv]
        beta2 = (betaln(a, b + xu) - betaln(a, b))[inv]
        beta3 = np.where(xu > 0, betaln(a + 1.0, b + xm - 1.0) - betaln(a, b), -np.inf)[inv]
        a2 = beta2 - (r + x) * np.log(alpha + t_age)
        a3 = beta3 - (r + x) * np.log(alpha + tx)
        return head, a2, a3

    def _objective(
        self, log_params: FloatArray, arrays: list[FloatArray], weights: FloatArray
    ) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        r, alpha, a, b = params
        x, tx, t_age, xu, inv_f = arrays
        inv = inv_f.astype(np.intp)
        head, a2, a3 = self._terms(params, x, tx, t_age, (xu, inv))
        lse = np.logaddexp(a2, a3)
        w2 = np.exp(a2 - lse)
        w3 = 1.0 - w2
        total_w = weights.sum()
        ll = float(np.dot(weights, head + lse)) / total_w
        # digamma terms, once per distinct x
        xm = np.maximum(xu, 1.0)
        ps_ab = digamma(a + b)
        ps_abx = digamma(a + b + xu)
        dr = (digamma(r + xu) - digamma(r))[inv]
        da2 = (ps_ab - ps_abx)[inv]
        db2 = (digamma(b + xu) - ps_abx + ps_ab - digamma(b))[inv]
        db3 = (digamma(b + xm - 1.0) - ps_abx + ps_ab - digamma(b))[inv]
        log_t, log_tx = np.log(alpha + t_age), np.log(alpha + tx)
        g_r = dr + math.log(alpha) - w2 * log_t - w3 * log_tx
        g_alpha = r / alpha - (r + x) * (w2 / (alpha + t_age) + w3 / (alpha + tx))
        g_a = da2 + w3 / a
        g_b = w2 * db2 + w3 * db3
        grad = np.array([np.dot(weights, g) for g in (g_r, g_alpha, g_a, g_b)]) / total_w * params
        pen, pen_grad = self._penalty(params)
        return -ll + pen, -grad + pen_grad

    def _prepare(self, arrays: list[FloatArray]) -> list[FloatArray]:
        xu, inv = np.unique(arrays[0], return_inverse=True)
        return [*arrays, xu, inv.astype(np.float64)]

    def _alive_log_odds(self, x: FloatArray, tx: FloatArray, t_age: FloatArray) -> FloatArray:
        r, alpha, a, b = self._p()
        xm = np.maximum(x, 1.0)
        log_odds = np.log(a / (b + xm - 1.0)) + (r + x) * (np.log(alpha + t_age) - np.log(alpha + tx))
        return np.where(x > 0, log_odds, -np.inf)

    def _alive(self, x: FloatArray, tx: FloatArray, t_age: FloatArray) -> FloatArray:
        return np.exp(-np.logaddexp(0.0, self._alive_log_odds(x, tx, t_age)))

    def _bracket(self, x: FloatArray, t_age: FloatArray, t: float) -> FloatArray:
        """``(1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)) / (a-1)`` via Euler's transform.

        ``2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)`` turns the product
        into ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, which stays near 1
        for large x instead of overflowing. Depends on (x, T) only, so it is
        evaluated once per distinct pair.
        """
        r, alpha, a, b = self._p()
        (xu, tu), inverse, _ = unique_rows(x, t_age)
        z = t / (alpha + tu + t)
        log1mz = np.log1p(-z)
        f = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + xu - 1.0, z)
        if abs(a - 1.0) < 1e-10:
            raise ModelError(f"{self._display_name}: a = 1 makes E[X(t)] singular; refit with penalizer_coef > 0.")
        out = (1.0 - np.exp((a - 1.0) * log1mz) * f) / (a - 1.0)
        return out[inverse]

    def _expected(self, x: FloatArray, tx: FloatArray, t_age: FloatArray, t: float) -> FloatArray:
        """Fader, Hardie & Lee (2005) eq. (10)."""
        _, _, a, b = self._p()
        if t <= 0:
            return np.zeros_like(x)
        lead = (a + b + x - 1.0) * self._bracket(x, t_age, t)
        return np.maximum(lead * np.exp(-np.logaddexp(0.0, self._alive_log_odds(x, tx, t_age))), 0.0)

    def probability_of_purchase_within(self, data: pd.DataFrame, t: float) -> pd.Series:
        """P(at least one purchase in ``(T, T + t]``) = P(alive) (1 - ((α+T)/(α+T+t))^(r+x)).

        The closed form of the likelihood ratio described in the base class:
        an active BG/NBD customer cannot drop out before the next purchase.

        Examples
        --------
        >>> import pandas as pd
        >>> model = BetaGeoModel()
        >>> model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> one = pd.DataFrame({"customer_id": [1], "frequency": [0], "recency": [0.0], "T": [38.86]})
        >>> 0 < float(model.probability_of_purchase_within(one, 30 / 7).iloc[0]) < 0.1
        True
        """
        x, tx, t_age, index = self._arrays(data)
        r, alpha, _, _ = self._p()
        none_if_alive = (r + x) * (np.log(alpha + t_age) - np.log(alpha + t_age + float(t)))
        prob = self._alive(x, tx, t_age) * -np.expm1(none_if_alive)
        return pd.Series(np.clip(prob, 0.0, 1.0), index=index, name="probability_of_purchase")

    def expected_purchases_new_customer(self, t: float) -> float:
        """E[X(t)] for a new customer (FHL 2005).

        Examples
        --------
        >>> model = BetaGeoModel()
        >>> model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> model.expected_purchases_new_customer(0.0)
        0.0
        """
        _, _, a, b = self._p()
        if t <= 0:
            return 0.0
        bracket = self._bracket(np.zeros(1), np.zeros(1), float(t))
        return float(max((a + b - 1.0) * bracket[0], 0.0))
