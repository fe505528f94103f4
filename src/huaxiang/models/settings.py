"""Settings of the models stage: the ``models:`` section of ``huaxiang.yaml``.

Every key is optional; every problem is reported at once with its key and fix.

>>> s = parse_settings({"churn": {"horizon_days": 60}})
>>> s.churn.horizon_days, s.clv.horizon_months
(60, 12)
>>> parse_settings({"churn": {"horizon_dayz": 60}})
Traceback (most recent call last):
...
huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
  - models.churn.horizon_dayz: unknown key; remove it or check its spelling (did you mean horizon_days? valid keys: enabled, horizon_days, min_buyers, n_folds, btyd_sample, min_gain, random_state)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from huaxiang.config_errors import validate_section
from huaxiang.errors import ConfigError

__all__ = ["AnomalySettings", "ChurnSettings", "ClvSettings", "ModelSettings", "NextPurchaseSettings",
           "RecommendSettings", "parse_settings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChurnSettings(_Strict):
    """``models.churn``: the churn label window and the model's knobs."""

    FIXES: ClassVar[dict[str, str]] = {"horizon_days": "a whole number of days between 7 and 730, e.g. 90"}

    enabled: bool = True
    horizon_days: int = Field(default=90, ge=7, le=730, description="churned = no purchase in this many days")
    min_buyers: int = Field(default=50, ge=10, description="fewer buyers in a training window: skip churn")
    n_folds: int = Field(default=3, ge=2, le=10)
    btyd_sample: int | None = Field(default=1000, ge=100)
    min_gain: float = Field(default=0.002, ge=0.0, le=0.1)
    random_state: int = 0


class ClvSettings(_Strict):
    """``models.clv``: BG/NBD + Gamma-Gamma customer lifetime value."""

    FIXES: ClassVar[dict[str, str]] = {"horizon_months": "a whole number of months between 1 and 120, e.g. 12",
                                       "discount_rate_monthly": "a monthly rate in [0, 1), e.g. 0.01"}

    enabled: bool = True
    horizon_months: int = Field(default=12, ge=1, le=120)
    discount_rate_monthly: float = Field(default=0.01, ge=0.0, lt=1.0)
    penalizer_coef: float = Field(default=0.0, ge=0.0)


class NextPurchaseSettings(_Strict):
    """``models.next_purchase``: ``p_purchase_30d`` and ``expected_days_to_next_purchase`` (BG/NBD)."""

    enabled: bool = True


class AnomalySettings(_Strict):
    """``models.anomaly``: IsolationForest over behaviour features."""

    enabled: bool = True
    n_estimators: int = Field(default=200, ge=10, le=2000)
    contamination: float = Field(default=0.05, gt=0.0, le=0.5, description="share of persons flagged")
    top_reasons: int = Field(default=3, ge=1, le=10)
    min_z: float = Field(default=3.0, gt=0.0, description="robust z-score a feature needs to be named a reason")
    random_state: int = 0


class RecommendSettings(_Strict):
    """``models.recommend``: products per person (``huaxiang.models.recommend``)."""

    enabled: bool = True
    k: int = Field(default=10, ge=1, le=100)


class ModelSettings(_Strict):
    """The ``models:`` section."""

    FIXES: ClassVar[dict[str, str]] = {"as_of": "an ISO date such as 2025-12-31"}

    as_of: datetime | None = None
    save: bool = True
    churn: ChurnSettings = Field(default_factory=ChurnSettings)
    clv: ClvSettings = Field(default_factory=ClvSettings)
    next_purchase: NextPurchaseSettings = Field(default_factory=NextPurchaseSettings)
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings)
    recommend: RecommendSettings = Field(default_factory=RecommendSettings)


def parse_settings(raw: dict[str, Any] | ModelSettings | None) -> ModelSettings:
    """Validate the ``models:`` section; raise :class:`ConfigError` naming each bad key and its fix.

    ``huaxiang.config.load_config`` already validates the section; a stage given the validated
    :class:`ModelSettings` gets it back unchanged.
    """
    if isinstance(raw, ModelSettings):
        return raw
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"huaxiang.yaml: models: expected a mapping, got {type(raw).__name__} "
                          "(fix: write keys such as churn:, clv:, anomaly: under models:)")
    return validate_section(ModelSettings, raw or {}, prefix=("models",))
