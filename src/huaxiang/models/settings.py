"""Settings of the models stage: the ``models:`` section of ``huaxiang.yaml``.

Every key is optional; every problem is reported at once with its key and fix.

>>> s = parse_settings({"churn": {"horizon_days": 60}})
>>> s.churn.horizon_days, s.clv.horizon_months
(60, 12)
>>> parse_settings({"churn": {"horizon_dayz": 60}})
Traceback (most recent call last):
...
huaxiang.errors.ConfigError: huaxiang.yaml: models.churn.horizon_dayz: Extra inputs are not permitted (fix: remove it; valid keys: enabled, horizon_days, min_buyers, n_folds, btyd_sample, min_gain, random_state)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huaxiang.errors import ConfigError

__all__ = ["AnomalySettings", "ChurnSettings", "ClvSettings", "ModelSettings", "NextPurchaseSettings",
           "RecommendSettings", "parse_settings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChurnSettings(_Strict):
    """``models.churn``: the churn label window and the model's knobs."""

    enabled: bool = True
    horizon_days: int = Field(default=90, ge=7, le=730, description="churned = no purchase in this many days")
    min_buyers: int = Field(default=50, ge=10, description="fewer buyers in a training window: skip churn")
    n_folds: int = Field(default=3, ge=2, le=10)
    btyd_sample: int | None = Field(default=1000, ge=100)
    min_gain: float = Field(default=0.002, ge=0.0, le=0.1)
    random_state: int = 0


class ClvSettings(_Strict):
    """``models.clv``: BG/NBD + Gamma-Gamma customer lifetime value."""

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

    as_of: datetime | None = None
    save: bool = True
    churn: ChurnSettings = Field(default_factory=ChurnSettings)
    clv: ClvSettings = Field(default_factory=ClvSettings)
    next_purchase: NextPurchaseSettings = Field(default_factory=NextPurchaseSettings)
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings)
    recommend: RecommendSettings = Field(default_factory=RecommendSettings)


_FIXES = {
    "horizon_days": "a whole number of days between 7 and 730, e.g. 90",
    "horizon_months": "a whole number of months between 1 and 120, e.g. 12",
    "discount_rate_monthly": "a monthly rate in [0, 1), e.g. 0.01",
    "as_of": "an ISO date such as 2025-12-31",
}


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel]:
    model: type[BaseModel] = ModelSettings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return model


def parse_settings(raw: dict[str, Any] | ModelSettings | None) -> ModelSettings:
    """Validate the ``models:`` section; raise :class:`ConfigError` naming each bad key and its fix."""
    if isinstance(raw, ModelSettings):
        return raw
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"huaxiang.yaml: models: expected a mapping, got {type(raw).__name__} "
                          "(fix: write keys such as churn:, clv:, anomaly: under models:)")
    try:
        return ModelSettings.model_validate(raw or {})
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            where = ".".join(str(p) for p in loc)
            if e["type"] == "extra_forbidden":
                fix = f"remove it; valid keys: {', '.join(_model_for(loc).model_fields)}"
            else:
                fix = _FIXES.get(str(loc[-1]), "see the models section of the documentation")
            msg = str(e["msg"]).removeprefix("Value error, ")
            problems.append(f"models.{where}: {msg} (fix: {fix})")
        raise ConfigError("huaxiang.yaml: " + "; ".join(problems)) from None
