"""Gamma-Gamma: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value".

Examples
--------
>>> GammaGammaModel()
GammaGammaModel(penalizer_coef=0.0, max_iter=1000, tol=1e-10)
"""

from __future__ import annotations

import math
from typing import Self

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from huaxiang.errors import ModelError, SchemaError
from huaxiang.models.clv.fitting import MLEModel, unique_rows, validate_cols
from huaxiang.models.clv.special import FloatArray

__all__ = ["GammaGammaModel"]


class GammaGammaModel(MLEModel):
    """Gamma-Gamma model of average spend per transaction (Fader & Hardie 2013).

    Each transaction value ~ Gamma(p, nu), nu ~ Gamma(q, gamma). Fits **only
    on repeat buyers** (``frequency > 0``): ``monetary_value`` is the mean of
    the repeat purchases, undefined for one-off buyers, whose rows are
    ignored by :meth:`fit` (``n_customers_`` counts the rows used). Assumes
    spend is independent of purchase frequency.

    Parameters
    ----------
    penalizer_coef, max_iter, tol
        As for :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``gamma``.

    Examples
    --------
    >>> import pandas as pd
    >>> from huaxiang.models import GammaGammaModel
    >>> model = GammaGammaModel()
    >>> model.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    >>> one = pd.DataFrame({"customer_id": [1, 2], "frequency": [0, 2], "monetary_value": [0.0, 22.35]})
    >>> [round(v, 2) for v in model.expected_spend(one)]
    [35.22, 24.66]
    """

    _display_name = "GammaGammaModel (Gamma-Gamma)"
    _param_names = ("p", "q", "gamma")
    _required = ("customer_id", "frequency", "monetary_value")

    def _validate_cols(self, data: pd.DataFrame) -> None:
        validate_cols(data, self._required, self._display_name)
        repeat = data["frequency"].to_numpy() > 0
        bad = repeat & ~(data["monetary_value"].to_numpy(dtype=np.float64) > 0)
        if bad.any():
            first_id = data["customer_id"].iloc[[int(bad.argmax())]].tolist()[0]
            raise SchemaError(
                f"{self._display_name}: monetary_value must be > 0 for repeat buyers (frequency > 0); "
                f"{int(bad.sum())} row(s) are not (first: customer_id={first_id!r}). Drop zero-value "
                "transactions before averaging, or exclude those customers."
            )

    def _initial_log_params(self, arrays: list[FloatArray], weights: FloatArray) -> FloatArray:
        _, m = arrays
        return np.log(np.array([1.0, 2.0, float(np.average(m, weights=weights))]))

    def _objective(
        self, log_params: FloatArray, arrays: list[FloatArray], weights: FloatArray
    ) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        p, q, gam = params
        x, m, log_m, xu, inv_f = arrays
        inv = inv_f.astype(np.intp)
        pxu = p * xu
        ps_pxq_u = digamma(pxu + q)
        # special functions depend on x only: once per distinct frequency
        lg = (gammaln(pxu + q) - gammaln(pxu) + pxu * np.log(xu))[inv]
        px = p * x
        log_den = np.log(gam + m * x)
        ll = lg - gammaln(q) + q * math.log(gam) + (px - 1.0) * log_m - (px + q) * log_den
        g_p = x * ((ps_pxq_u - digamma(pxu) + np.log(xu))[inv] + log_m - log_den)
        g_q = ps_pxq_u[inv] - digamma(q) + math.log(gam) - log_den
        g_g = q / gam - (px + q) / (gam + m * x)
        total_w = float(weights.sum())
        grad = np.array([np.dot(weights, g) for g in (g_p, g_q, g_g)]) / total_w * params
        pen, pen_grad = self._penalty(params)
        return -float(np.dot(weights, ll)) / total_w + pen, -grad + pen_grad

    def _prepare(self, arrays: list[FloatArray]) -> list[FloatArray]:
        xu, inv = np.unique(arrays[0], return_inverse=True)
        return [*arrays, np.log(arrays[1]), xu, inv.astype(np.float64)]

    def fit(self, data: pd.DataFrame) -> Self:
        """Fit on the repeat buyers (``frequency > 0``) of ``data``.

        Parameters
        ----------
        data : pandas.DataFrame
            Columns ``customer_id``, ``frequency``, ``monetary_value``.

        Returns
        -------
        self

        Raises
        ------
        SchemaError
            Missing column, or ``monetary_value <= 0`` for a repeat buyer.
        ModelError
            No repeat buyers, or the optimiser did not converge.
        """
        self._validate_cols(data)
        repeat = data["frequency"].to_numpy() > 0
        if not repeat.any():
            raise ModelError(f"{self._display_name} needs repeat buyers (frequency > 0); the data has none.")
        x = data["frequency"].to_numpy(dtype=np.float64)[repeat]
        m = data["monetary_value"].to_numpy(dtype=np.float64)[repeat]
        arrays, _, weights = unique_rows(x, m)
        self._maximise(arrays, weights)
        return self

    def expected_spend(self, data: pd.DataFrame) -> pd.Series:
        """E[M | p, q, gamma, m_x, x] = p (gamma + x m_x) / (p x + q - 1) (Fader & Hardie 2013).

        A weighted mean of the population mean ``p gamma / (q - 1)`` and the
        customer's own ``m_x``; one-off buyers (``x = 0``) get the population
        mean whatever their ``monetary_value``.

        Returns
        -------
        pandas.Series
            Indexed by ``customer_id``.
        """
        p, q, gam = self._p()
        if q <= 1.0:
            raise ModelError(f"{self._display_name}: q = {q:.3g} <= 1, the expected spend is infinite.")
        validate_cols(data, self._required, self._display_name)
        x = data["frequency"].to_numpy(dtype=np.float64)
        m = np.where(x > 0, data["monetary_value"].to_numpy(dtype=np.float64), 0.0)
        spend = p * (gam + x * m) / (p * x + q - 1.0)
        return pd.Series(
            spend, index=pd.Index(data["customer_id"], name="customer_id"), name="expected_spend"
        )
