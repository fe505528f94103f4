"""Predictive models fitted on the one-row-per-customer table.

CLV (buy-till-you-die) models live in :mod:`huaxiang.models.clv` (a package: one module per
model); every estimator shares :class:`huaxiang.models.base.Estimator`; churn in
:mod:`huaxiang.models.churn`; next purchase in :mod:`huaxiang.models.nextpurchase`;
behaviour anomalies in :mod:`huaxiang.models.anomaly`; the pipeline stage in
:mod:`huaxiang.models.stage`.

Examples
--------
>>> from huaxiang.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel, expected_clv
>>> BetaGeoModel(penalizer_coef=0.0)
BetaGeoModel(penalizer_coef=0.0, max_iter=1000, tol=1e-10)
>>> from huaxiang.models import AnomalyModel, ChurnModel
>>> ChurnModel(horizon=90).get_params()["horizon"]
90
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huaxiang.models.anomaly import AnomalyModel, anomaly_features, score_anomalies
    from huaxiang.models.churn import ChurnModel, churn_training_set
    from huaxiang.models.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel, expected_clv
    from huaxiang.models.nextpurchase import evaluate_next_purchase, predict_next_purchase

__all__ = ["AnomalyModel", "BetaGeoModel", "ChurnModel", "GammaGammaModel", "ParetoNBDModel", "anomaly_features",
           "churn_training_set", "evaluate_next_purchase", "expected_clv", "predict_next_purchase",
           "score_anomalies"]


def __getattr__(name: str) -> Any:
    """Import the public estimators on first use: ``huaxiang.config`` reads ``models.settings``
    and must not pay for importing scikit-learn and scipy when it does."""
    if name in ("AnomalyModel", "anomaly_features", "score_anomalies"):
        from huaxiang.models import anomaly as module
    elif name in ("ChurnModel", "churn_training_set"):
        from huaxiang.models import churn as module  # type: ignore[no-redef]
    elif name in ("BetaGeoModel", "GammaGammaModel", "ParetoNBDModel", "expected_clv"):
        from huaxiang.models import clv as module  # type: ignore[no-redef]
    elif name in ("evaluate_next_purchase", "predict_next_purchase"):
        from huaxiang.models import nextpurchase as module  # type: ignore[no-redef]
    else:
        raise AttributeError(f"module 'huaxiang.models' has no attribute {name!r}")
    return getattr(module, name)
