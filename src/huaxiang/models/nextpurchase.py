"""Next purchase: P(a purchase within the next ``window`` days) and the expected days until it.

Both come from one distribution of one fitted BTYD count model
(:class:`~huaxiang.models.clv.BetaGeoModel` or :class:`~huaxiang.models.clv.ParetoNBDModel`):
``F(w)`` = P(a purchase within ``w`` days), the model's ``probability_of_purchase_within``
(it includes the chance that the customer has lapsed). ``p_purchase`` is ``F(window)`` and the
days to the next purchase are the median of the same distribution, the ``w`` with ``F(w) = 0.5``,
capped at ``cap_days`` when ``F`` stays below one half that long. So the two agree:
``p_purchase >= 0.5`` exactly when the days are ``<= window``. (The median *given that the customer
is still active*, :meth:`~huaxiang.models.clv.CountModel.expected_days_to_next_purchase`, ignores
lapsing: a customer likely gone got "15 days" beside "7% within 30 days".)
:func:`evaluate_next_purchase` checks the probability against what happened after a past cut-off,
against a recency baseline.

Examples
--------
>>> import pandas as pd
>>> from huaxiang.models import BetaGeoModel
>>> bg = BetaGeoModel()
>>> bg.params_ = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}   # CDNOW, in days
>>> data = pd.DataFrame({"customer_id": [1, 2], "frequency": [5, 1], "recency": [250.0, 10.0],
...                      "T": [270.0, 270.0]})
>>> out = predict_next_purchase(bg, data, window_days=30)
>>> list(out.columns)
['p_purchase', 'expected_days_to_next_purchase']
>>> bool(out["p_purchase"].iloc[0] > out["p_purchase"].iloc[1])
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from huaxiang.models.clv import BetaGeoModel, ParetoNBDModel

__all__ = ["CAP_DAYS", "evaluate_next_purchase", "median_days_to_purchase", "predict_next_purchase"]

CAP_DAYS = 365.0
"""Days to the next purchase when the purchase probability stays below one half for a year."""


def _p_within(model: BetaGeoModel | ParetoNBDModel, x: Any, tx: Any, t_age: Any, t: Any) -> Any:
    """P(a purchase in ``(T, T + t]``) with ``t`` per row: the likelihood ratio of the count model."""
    params = model._p()
    with np.errstate(all="ignore"):
        log_ratio = model._loglik(params, x, tx, t_age + t) - model._loglik(params, x, tx, t_age)
    return np.clip(-np.expm1(np.minimum(log_ratio, 0.0)), 0.0, 1.0)


def median_days_to_purchase(model: BetaGeoModel | ParetoNBDModel, data: pd.DataFrame, *,
                            time_unit_days: float = 1.0, cap_days: float = CAP_DAYS) -> pd.Series:
    """Days ``w`` with P(a purchase within ``w``) = 0.5 (bisection), ``cap_days`` when not reached by then.

    Examples
    --------
    >>> import pandas as pd
    >>> from huaxiang.models import BetaGeoModel
    >>> bg = BetaGeoModel()
    >>> bg.params_ = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
    >>> data = pd.DataFrame({"customer_id": [1, 2], "frequency": [20, 0], "recency": [265.0, 0.0],
    ...                      "T": [270.0, 270.0]})
    >>> days = median_days_to_purchase(bg, data)
    >>> bool(days.iloc[0] < 30), float(days.iloc[1])
    (True, 365.0)
    """
    x, tx, t_age, index = model._arrays(data)
    cap = cap_days / time_unit_days
    lo, hi = np.zeros(len(x)), np.full(len(x), cap)
    reached = _p_within(model, x, tx, t_age, hi) >= 0.5
    for _ in range(60):  # 2^-60 of a year: far below a second
        mid = (lo + hi) / 2.0
        up = _p_within(model, x, tx, t_age, mid) >= 0.5
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    days = np.where(reached, hi, cap) * time_unit_days
    return pd.Series(days, index=index, name="days_to_next_purchase")


def predict_next_purchase(model: BetaGeoModel | ParetoNBDModel, data: pd.DataFrame, *, window_days: float = 30.0,
                          time_unit_days: float = 1.0, cap_days: float = CAP_DAYS) -> pd.DataFrame:
    """``p_purchase`` (within ``window_days``) and ``expected_days_to_next_purchase`` per customer.

    Parameters
    ----------
    model
        A fitted BTYD count model.
    data
        ``customer_id``, ``frequency``, ``recency``, ``T`` in the model's time unit.
    window_days
        The window of the probability, in days.
    time_unit_days
        Days per time unit of ``recency``/``T`` (1 for the features table, 7 for weekly data).
    cap_days
        The days reported when the purchase probability stays below one half that long.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``data`` (by position), columns ``p_purchase``, ``expected_days_to_next_purchase``.
    """
    p = model.probability_of_purchase_within(data, window_days / time_unit_days).to_numpy()
    days = median_days_to_purchase(model, data, time_unit_days=time_unit_days, cap_days=cap_days).to_numpy()
    return pd.DataFrame({"p_purchase": p, "expected_days_to_next_purchase": days}, index=data.index)


def evaluate_next_purchase(p_purchase: Any, bought: Any, recency_gap: Any) -> dict[str, float]:
    """AUC and Brier score of ``p_purchase`` against what happened, and the recency baseline's AUC.

    Parameters
    ----------
    p_purchase
        Predicted probabilities at a past cut-off.
    bought
        1 if the customer bought within the window after the cut-off.
    recency_gap
        Days since the last purchase at the cut-off (the baseline ranks the most recent first).

    Returns
    -------
    dict
        ``auc``, ``brier``, ``baseline_auc`` (NaN when only one outcome occurred), ``n``.

    Examples
    --------
    >>> r = evaluate_next_purchase([0.9, 0.2, 0.6, 0.1], [1, 0, 1, 0], [3, 40, 10, 90])
    >>> r["auc"], r["baseline_auc"], r["n"]
    (1.0, 1.0, 4)
    """
    from sklearn.metrics import roc_auc_score

    p = np.asarray(p_purchase, dtype=np.float64)
    y = np.asarray(bought, dtype=np.int64)
    gap = np.asarray(recency_gap, dtype=np.float64)
    out = {"brier": float(np.mean((p - y) ** 2)) if len(y) else float("nan"), "n": len(y)}
    if len(np.unique(y)) < 2:
        return {"auc": float("nan"), "baseline_auc": float("nan"), **out}
    return {"auc": float(roc_auc_score(y, p)), "baseline_auc": float(roc_auc_score(y, -gap)), **out}
