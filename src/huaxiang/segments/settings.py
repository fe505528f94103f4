"""The ``segments:`` section of huaxiang.yaml: the RFM map, the 8-cell split, K-means, persona cards.

Every key is optional; the defaults suit a retail business::

    segments:
      rfm:
        bins: 5                      # quantile scores 1..bins (5 = quintiles)
        recency: recency_days        # fewer days = more recent = higher R score
        frequency: orders_total      # or frequency (repeat purchase days)
        monetary: spend_total
      rfm_map:                       # replaces the default map (DEFAULT_RFM_MAP); first matching rule wins
        - {id: champions, name_zh: 冠军客户, name_en: Champions, r: [4, 5], f: [4, 5], m: [4, 5]}
        - {id: at_risk, name_zh: 高风险客户, name_en: At Risk, r: [1, 2], f: [2, 5]}   # m: any score
        - {id: sleepers, name_zh: 沉睡客户, name_en: Sleepers, r: 1}                  # one score
      cells:
        split: mean                  # high/low against the buyers' mean, or median
      clusters:
        enabled: true
        features: [recency_days, orders_total, spend_total, share_app]   # default: DEFAULT_CLUSTER_FEATURES
        log_features: [orders_total, spend_total]   # log1p before standardising (default: the skewed ones)
        k: auto                      # or a whole number
        k_min: 3
        k_max: 8
        fit_rows: 200000             # fit on a sample of at most this many buyers, predict everyone
        silhouette_rows: 5000        # silhouette on a sample of at most this many
        seed: 0
        refit: always                # always (ids matched to the saved model), auto (reuse a fresh saved
                                     # model of the same features), never (reuse the saved model if any)
        max_model_age_days: 90       # refit: auto refits a model trained more than this before as_of
      personas:
        top_features: 5              # distinguishing features shown per card
        min_effect: 0.3              # |standardised difference| a feature needs to name a group

Errors are :class:`~huaxiang.errors.ConfigError` naming the key and how to fix it.

Examples
--------
>>> s = parse_settings({"rfm": {"frequency": "frequency"}, "clusters": {"k": 4}})
>>> s.rfm.frequency, s.clusters.k, [r.id for r in s.rfm_map][:2]
('frequency', 4, ['champions', 'loyal_customers'])
>>> parse_settings({"rfm_map": [{"id": "x", "name_zh": "x", "name_en": "X", "r": [4, 9]}]})
Traceback (most recent call last):
...
huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
  - segments.rfm_map[0] (x).r: scores run from 1 to 5, got [4, 9] (fix: give a score or [low, high] scores from 1 to rfm.bins, e.g. r: [4, 5])
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huaxiang.config_errors import ConfigProblems, validate_section

#: Behaviour features K-means uses by default (those the features table lacks are left out).
DEFAULT_CLUSTER_FEATURES: tuple[str, ...] = (
    "recency_days", "orders_total", "spend_total", "avg_order_value", "category_breadth", "price_tier_index",
    "share_discounted_orders", "share_night_orders", "share_weekend_orders", "share_app", "share_mini_program",
    "share_store",
)
#: Skewed counts and amounts: log1p before standardising (when among the cluster features).
SKEWED_FEATURES: frozenset[str] = frozenset({
    "recency_days", "orders_total", "orders_365d", "orders_90d", "spend_total", "spend_365d", "avg_order_value",
    "frequency", "monetary_value", "category_breadth", "sessions", "product_views", "add_to_carts", "checkouts",
    "tenure_days", "orders_per_month", "orders_per_year", "repurchase_interval_days", "tickets", "reviews",
    "campaigns_received",
})

_ID = r"^[a-z][a-z0-9_]*$"

_SCORE_FIX = "give a score or [low, high] scores from 1 to rfm.bins, e.g. r: [4, 5]"
class RfmColumns(BaseModel):
    """Which ``features`` columns give R, F and M, and how many quantile scores."""

    model_config = ConfigDict(extra="forbid")

    bins: int = Field(default=5, ge=2, le=9)
    recency: str = "recency_days"
    frequency: str = "orders_total"
    monetary: str = "spend_total"


class RfmRule(BaseModel):
    """One segment of the RFM map: inclusive R/F/M score ranges (a missing range matches any score)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    FIXES: ClassVar[dict[str, str]] = {"r": _SCORE_FIX, "f": _SCORE_FIX, "m": _SCORE_FIX}

    id: str = Field(pattern=_ID, max_length=64)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    r: tuple[int, int] | None = None
    f: tuple[int, int] | None = None
    m: tuple[int, int] | None = None
    description_zh: str = ""
    description_en: str = ""

    @field_validator("r", "f", "m", mode="before")
    @classmethod
    def _one_score(cls, v: Any) -> Any:
        return (v, v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("r", "f", "m")
    @classmethod
    def _ordered(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and v[0] > v[1]:
            raise ValueError(f"low score {v[0]} is above high score {v[1]}")
        return v

    def ranges(self, bins: int) -> dict[str, tuple[int, int]]:
        """The R/F/M ranges with missing ones filled as ``(1, bins)``."""
        full = (1, bins)
        return {"r": self.r or full, "f": self.f or full, "m": self.m or full}

    def describe(self, bins: int) -> str:
        """The rule as text, e.g. ``R 4-5, F 4-5, M 1-5``."""
        return ", ".join(f"{k.upper()} {lo}-{hi}" if lo != hi else f"{k.upper()} {lo}"
                         for k, (lo, hi) in self.ranges(bins).items())


def _rule(id_: str, zh: str, en: str, r: tuple[int, int], f: tuple[int, int], m: tuple[int, int],
          dzh: str, den: str) -> RfmRule:
    return RfmRule(id=id_, name_zh=zh, name_en=en, r=r, f=f, m=m, description_zh=dzh, description_en=den)


#: The default RFM map on quintile scores (first matching rule wins; no match = ``others``).
#: Ranges follow the common 11-segment RFM table (Putler; the R package ``rfm``), ordered so that
#: every segment can match (there, New Customers and Can't Lose Them are shadowed by earlier rows).
DEFAULT_RFM_MAP: tuple[RfmRule, ...] = (
    _rule("champions", "冠军客户", "Champions", (4, 5), (4, 5), (4, 5),
          "最近买过、买得多、花得多", "bought recently, buy often and spend the most"),
    _rule("loyal_customers", "忠诚客户", "Loyal Customers", (2, 5), (3, 5), (3, 5),
          "经常购买、消费可观", "buy regularly and spend well"),
    _rule("new_customers", "新客户", "New Customers", (4, 5), (1, 1), (1, 5),
          "最近刚完成首单", "bought recently, for the first time"),
    _rule("promising", "潜力客户", "Promising", (3, 3), (1, 1), (1, 5),
          "不久前首购，尚未复购", "a first purchase not long ago, no repeat yet"),
    _rule("potential_loyalist", "潜在忠诚客户", "Potential Loyalist", (3, 5), (1, 5), (1, 3),
          "近期活跃、频次中等，可培养为忠诚客户", "recent, with average frequency: can become loyal"),
    _rule("need_attention", "需要关注客户", "Need Attention", (2, 3), (2, 3), (2, 3),
          "各项居中，正在变冷", "middling on every score and cooling down"),
    _rule("about_to_sleep", "即将沉睡客户", "About To Sleep", (2, 3), (1, 2), (1, 2),
          "有一阵没买、频次与消费偏低", "not bought for a while, low frequency and spend"),
    _rule("cant_lose_them", "不可流失客户", "Can't Lose Them", (1, 1), (4, 5), (4, 5),
          "曾经的大客户，已很久未购买", "were the best customers, gone for a long time"),
    _rule("at_risk", "高风险客户", "At Risk", (1, 2), (2, 5), (2, 5),
          "曾经常购买，已久未回来", "bought often before, have not come back for long"),
    _rule("lost", "流失客户", "Lost", (1, 1), (1, 2), (1, 2),
          "最早的最近购买、频次与消费都最低", "lowest recency, frequency and spend"),
    _rule("hibernating", "休眠客户", "Hibernating", (1, 2), (1, 2), (1, 5),
          "很久未购买、购买次数少", "last purchase long ago, few purchases"),
)

#: Persons who match no rule of the map.
OTHERS = RfmRule(id="others", name_zh="其他客户", name_en="Others", description_zh="不属于以上任何分群",
                 description_en="match no segment of the map")
#: Persons with no purchase (no R/F/M scores).
NO_PURCHASE = RfmRule(id="no_purchase", name_zh="未购买", name_en="No purchase",
                      description_zh="尚无购买记录", description_en="have not bought yet")


class CellSettings(BaseModel):
    """The classic 8-cell R/F/M high-low map: high/low against the buyers' mean or median."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["mean", "median"] = "mean"


class ClusterSettings(BaseModel):
    """K-means on standardised behaviour features (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    features: list[str] | None = None
    log_features: list[str] | None = None
    k: int | Literal["auto"] = "auto"
    k_min: int = Field(default=3, ge=2, le=30)
    k_max: int = Field(default=8, ge=2, le=30)
    fit_rows: int = Field(default=200_000, ge=100)
    silhouette_rows: int = Field(default=5_000, ge=100)
    seed: int = 0
    refit: Literal["always", "auto", "never"] = "always"
    max_model_age_days: int = Field(default=90, ge=0)

    @field_validator("k")
    @classmethod
    def _k(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 2:
            raise ValueError(f"k must be auto or at least 2, got {v}")
        return v

    @field_validator("features")
    @classmethod
    def _some(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("give at least one feature")
            if len(set(v)) != len(v):
                raise ValueError("a feature is listed twice")
        return v

    @model_validator(mode="after")
    def _range(self) -> ClusterSettings:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) is above k_max ({self.k_max})")
        return self

    def feature_list(self, available: list[str] | None = None) -> list[str]:
        """The features to cluster on (the defaults the table lacks are left out)."""
        if self.features is not None:
            return list(self.features)
        return [c for c in DEFAULT_CLUSTER_FEATURES if available is None or c in available]

    def log_list(self, features: list[str]) -> list[str]:
        """The features to log1p (the skewed ones by default)."""
        if self.log_features is not None:
            return [c for c in features if c in self.log_features]
        return [c for c in features if c in SKEWED_FEATURES]


class PersonaSettings(BaseModel):
    """How persona cards pick the features that distinguish a group."""

    model_config = ConfigDict(extra="forbid")

    top_features: int = Field(default=5, ge=1, le=20)
    min_effect: float = Field(default=0.3, gt=0)


class SegmentSettings(BaseModel):
    """The validated ``segments:`` section (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    FIXES: ClassVar[dict[str, str]] = {
        "rfm": "give rfm: {bins: 5, recency: recency_days, frequency: orders_total, monetary: spend_total}",
        "rfm_map": "give a list of {id, name_zh, name_en, r, f, m} with r/f/m a score or [low, high] scores from 1 "
                   "to rfm.bins, e.g. r: [4, 5]",
        "cells": "give cells: {split: mean} or {split: median}",
        "clusters": "see the clusters keys in the segments documentation (k: auto or a whole number >= 2, "
                    "k_min <= k_max, features: a list of numeric feature names)",
        "personas": "give personas: {top_features: 5, min_effect: 0.3}",
    }

    rfm: RfmColumns = Field(default_factory=RfmColumns)
    rfm_map: list[RfmRule] = Field(default_factory=lambda: list(DEFAULT_RFM_MAP), min_length=1)
    cells: CellSettings = Field(default_factory=CellSettings)
    clusters: ClusterSettings = Field(default_factory=ClusterSettings)
    personas: PersonaSettings = Field(default_factory=PersonaSettings)

    @field_validator("rfm_map")
    @classmethod
    def _unique(cls, v: list[RfmRule]) -> list[RfmRule]:
        ids = [r.id for r in v]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"segment ids listed twice: {', '.join(twice)}")
        reserved = sorted({OTHERS.id, NO_PURCHASE.id} & set(ids))
        if reserved:
            raise ValueError(f"{', '.join(reserved)} is reserved (persons matching no rule / without purchases)")
        return v

    @model_validator(mode="after")
    def _within_bins(self) -> SegmentSettings:
        bins = self.rfm.bins
        if bins != 5 and "rfm_map" not in self.model_fields_set:
            raise ConfigProblems([(("rfm_map",), f"the default map is written for 5 scores, rfm.bins is {bins} "
                                   f"(fix: write an rfm_map with scores from 1 to {bins}, or use rfm.bins: 5)")])
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, rule in enumerate(self.rfm_map):
            for key in ("r", "f", "m"):
                v = getattr(rule, key)
                if v is not None and not (v[0] >= 1 and v[1] <= bins):
                    problems.append((("rfm_map", i, key), f"scores run from 1 to {bins}, got {list(v)}"))
        if problems:
            raise ConfigProblems(problems)
        return self


def parse_settings(raw: dict[str, Any] | SegmentSettings | None) -> SegmentSettings:
    """Validate the ``segments:`` section; every problem is reported at once with its key and fix.

    >>> parse_settings(None).cells.split
    'mean'
    >>> parse_settings({"clusters": {"k_min": 6, "k_max": 4}})
    Traceback (most recent call last):
    ...
    huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
      - segments.clusters: k_min (6) is above k_max (4) (fix: see the clusters keys in the segments documentation (k: auto or a whole number >= 2, k_min <= k_max, features: a list of numeric feature names))
    """
    if isinstance(raw, SegmentSettings):
        return raw
    return validate_section(SegmentSettings, raw or {}, prefix=("segments",))
