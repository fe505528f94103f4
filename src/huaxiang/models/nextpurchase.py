"""Next purchase: P(a purchase within the next ``window`` days) and the expected days until it.

Both come from a fitted BTYD count model (:class:`~huaxiang.models.clv.BetaGeoModel` or
:class:`~huaxiang.models.clv.ParetoNBDModel`): ``probability_of_purchase_within`` (the
likelihood ratio of the history with the window stretched) and
``expected_days_to_next_purchase`` (the median waiting time of a customer who is still
active; see its docstring for why the median). :func:`evaluate_next_purchase` checks the
probability against what happened after a past cut-off, against a recency baseline.

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

__all__ = ["evaluate_next_purchase", "predict_next_purchase"]


def predict_next_purchase(model: BetaGeoModel | ParetoNBDModel, data: pd.DataFrame, *, window_days: float = 30.0,
                          time_unit_days: float = 1.0) -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        Indexed like ``data`` (by position), columns ``p_purchase``, ``expected_days_to_next_purchase``.
    """
    p = model.probability_of_purchase_within(data, window_days / time_unit_days).to_numpy()
    days = model.expected_days_to_next_purchase(data, time_unit_days=time_unit_days).to_numpy()
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
