"""Customer lifetime value: a count model's discounted monthly purchases times Gamma-Gamma spend.

Examples
--------
>>> from huaxiang.models.clv.lifetime_value import expected_clv
>>> expected_clv.__name__
'expected_clv'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from huaxiang.models.clv.beta_geo import BetaGeoModel
from huaxiang.models.clv.fitting import validate_cols
from huaxiang.models.clv.gamma_gamma import GammaGammaModel
from huaxiang.models.clv.pareto_nbd import ParetoNBDModel

__all__ = ["expected_clv"]


def expected_clv(
    count_model: BetaGeoModel | ParetoNBDModel,
    spend_model: GammaGammaModel,
    data: pd.DataFrame,
    *,
    horizon_months: int = 12,
    discount_rate_monthly: float = 0.01,
    time_unit_days: float = 7.0,
    days_per_month: float = 30.0,
) -> pd.Series:
    """Discounted expected customer lifetime value over ``horizon_months``.

    ``CLV = sum_{m=1..H} E[spend] * (E[X(m M)] - E[X((m-1) M)]) / (1 + d)^m``
    with ``M = days_per_month / time_unit_days`` model time units per month,
    ``E[X(t)]`` the count model's conditional expected purchases in
    ``(T, T+t]`` and ``E[spend]`` the Gamma-Gamma conditional expected spend —
    lifetimes' ``customer_lifetime_value`` recipe (which uses 30 days per month
    for daily data and 4.345 weeks for weekly data; pass
    ``days_per_month=30.415`` to reproduce the latter). Each month's increment
    is clipped at 0, so CLV is never negative.

    Parameters
    ----------
    count_model : BetaGeoModel or ParetoNBDModel
        Fitted purchase-count model.
    spend_model : GammaGammaModel
        Fitted spend model.
    data : pandas.DataFrame
        ``customer_id``, ``frequency``, ``recency``, ``T``, ``monetary_value``.
    horizon_months : int
        Months to sum over.
    discount_rate_monthly : float
        Monthly discount rate ``d``.
    time_unit_days : float
        Days per time unit of ``recency``/``T`` (7 for weeks).
    days_per_month : float
        Days in a month.

    Returns
    -------
    pandas.Series
        CLV in the currency of ``monetary_value``, indexed by ``customer_id``.

    Examples
    --------
    >>> import pandas as pd
    >>> from huaxiang.models import BetaGeoModel, GammaGammaModel, expected_clv
    >>> bg, gg = BetaGeoModel(), GammaGammaModel()
    >>> bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    >>> gg.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    >>> one = pd.DataFrame({"customer_id": [1], "frequency": [2], "recency": [30.43], "T": [38.86],
    ...                     "monetary_value": [22.35]})
    >>> float(expected_clv(bg, gg, one).iloc[0]) > 0
    True
    """
    if horizon_months < 1:
        raise ValueError(f"horizon_months must be >= 1, got {horizon_months}")
    validate_cols(data, ("customer_id", "frequency", "recency", "T", "monetary_value"), "expected_clv")
    spend = spend_model.expected_spend(data).to_numpy()
    x, tx, t_age, index = count_model._arrays(data)
    month = days_per_month / time_unit_days
    clv = np.zeros(len(x))
    previous = np.zeros(len(x))
    for m in range(1, horizon_months + 1):
        current = count_model._expected(x, tx, t_age, m * month)
        clv += spend * np.maximum(current - previous, 0.0) / (1.0 + discount_rate_monthly) ** m
        previous = current
    return pd.Series(clv, index=index, name="clv")
