"""Predictive models fitted on the one-row-per-customer table.

CLV (buy-till-you-die) models live in :mod:`huaxiang.models.clv`.

Examples
--------
>>> from huaxiang.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel, expected_clv
>>> BetaGeoModel(penalizer_coef=0.0)
BetaGeoModel(penalizer_coef=0.0, max_iter=1000, tol=1e-10)
"""

from huaxiang.models.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel, expected_clv

__all__ = ["BetaGeoModel", "GammaGammaModel", "ParetoNBDModel", "expected_clv"]
