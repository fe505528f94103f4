"""``model_reports``: each model against its baseline on held-out data, and what the build delivered.

Every row carries ``used`` (what the build wrote for that model: the model's own name, the name
of the baseline delivered instead, or ``none``) and ``reason`` (a code of
:data:`huaxiang.models.catalog.REASONS`, with its zh/en text there). The rules:

* a churn or next-purchase model whose held-out AUC is within :data:`NO_SIGNAL_MARGIN` of 0.5,
  or within the AUC's own noise (1.96 standard errors of the AUC of a scoreless ranking on that
  many positives and negatives), has no signal: its scores are left NULL (``used`` = ``none``,
  ``reason`` = ``no_signal``);
* CLV uses the better of BG/NBD and the historical run rate on held-out purchase counts (MAE);
* recommendations use the best of ALS, popularity and the person's own history on held-out
  precision@k.

Examples
--------
>>> has_signal(0.51), has_signal(0.75), has_signal(float("nan"))
(False, True, True)
>>> has_signal(0.54, n_pos=150, n_neg=1350), has_signal(0.54, n_pos=5000, n_neg=5000)
(False, True)
>>> r = Reports()
>>> r.add("clv", "mae", 0.9, "historical_run_rate", 0.8)
>>> r.decide("clv", "historical_run_rate", "baseline_better")
>>> r.frame()[["model", "used", "reason"]].values.tolist()
[['clv', 'historical_run_rate', 'baseline_better']]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NO_SIGNAL_MARGIN", "REPORT_COLUMNS", "Reports", "has_signal", "no_signal_margin", "run_rate_clv"]

REPORT_COLUMNS = ["model", "metric", "value", "baseline", "baseline_value", "train_window", "n", "note", "used",
                  "reason"]

NO_SIGNAL_MARGIN = 0.02
"""A held-out AUC closer than this to 0.5 is no signal."""


def no_signal_margin(n_pos: int = 0, n_neg: int = 0) -> float:
    """:data:`NO_SIGNAL_MARGIN`, or 1.96 null standard errors of the AUC when that is wider.

    Under no signal the AUC (a Mann-Whitney statistic) has variance
    ``(n_pos + n_neg + 1) / (12 n_pos n_neg)``.
    """
    if n_pos <= 0 or n_neg <= 0:
        return NO_SIGNAL_MARGIN
    return max(NO_SIGNAL_MARGIN, 1.96 * math.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg)))


def has_signal(auc: float, *, n_pos: int = 0, n_neg: int = 0) -> bool:
    """False when a held-out AUC is within :func:`no_signal_margin` of 0.5 (NaN: not measured, so True)."""
    return not (math.isfinite(auc) and abs(auc - 0.5) < no_signal_margin(n_pos, n_neg))


class Reports:
    """The rows of ``model_reports`` and the decision (``used``, ``reason``) per model."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.skipped: dict[str, str] = {}
        self.decisions: dict[str, tuple[str, str]] = {}

    def add(self, model: str, metric: str, value: float, baseline: str = "", baseline_value: float = float("nan"),
            window: str = "", n: float = 0, note: str = "") -> None:
        """One evaluation row."""
        self.rows.append({"model": model, "metric": metric, "value": float(value), "baseline": baseline,
                          "baseline_value": float(baseline_value), "train_window": window, "n": int(n),
                          "note": note})

    def skip(self, model: str, reason: str, window: str = "", n: int = 0) -> None:
        """A model that could not be fitted: a ``skipped`` row, delivered as nothing."""
        self.skipped[model] = reason
        self.add(model, "skipped", float("nan"), window=window, n=n, note=reason)
        self.decide(model, "none", "skipped")

    def decide(self, model: str, used: str, reason: str) -> None:
        """What the build delivered for ``model`` and why (a :data:`~huaxiang.models.catalog.REASONS` code)."""
        self.decisions[model] = (used, reason)

    def frame(self) -> pd.DataFrame:
        """The ``model_reports`` table; a model without a decision was delivered unevaluated."""
        out = pd.DataFrame(self.rows, columns=REPORT_COLUMNS[:-2])
        out["used"] = [self.decisions.get(m, (m, ""))[0] for m in out["model"]]
        out["reason"] = [self.decisions.get(m, ("", "not_evaluated"))[1] for m in out["model"]]
        return out.astype({"model": "string", "metric": "string", "value": "float64", "baseline": "string",
                           "baseline_value": "float64", "train_window": "string", "n": "int64", "note": "string",
                           "used": "string", "reason": "string"})


def run_rate_clv(frequency: Any, t_age: Any, spend: Any, *, horizon_months: int, discount_rate_monthly: float,
                 days_per_month: float = 30.0) -> np.ndarray:
    """The run-rate baseline's CLV: past repeat-purchase days per day x days per month x spend, discounted.

    Examples
    --------
    >>> float(run_rate_clv([3], [90.0], [10.0], horizon_months=1, discount_rate_monthly=0.0)[0])
    10.0
    """
    rate = np.asarray(frequency, dtype=np.float64) / np.maximum(np.asarray(t_age, dtype=np.float64), 1.0)
    months = np.arange(1, horizon_months + 1)
    factor = float(np.sum(1.0 / (1.0 + discount_rate_monthly) ** months))
    out: np.ndarray = rate * days_per_month * np.asarray(spend, dtype=np.float64) * factor
    return out
