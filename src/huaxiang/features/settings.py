"""The ``features:`` section of huaxiang.yaml: paydays, festivals, night hours, lifecycle, funnel.

Every key is optional; the defaults suit a Chinese retail business::

    features:
      as_of: 2024-07-01            # exclusive cut-off; default the day after the latest order or event
      paydays: [10]                # day(s) of the month salaries arrive (1–28)
      payday_window: 5             # the payday and the 4 days after it
      night_hours: [22, 2]         # from 22:00 up to (not including) 02:00
      high_price_percentile: 0.75  # a line is high-price at or above this percentile of its category
      lifecycle: {new_days: 60, sleeping_days: 180, lost_days: 365}
      funnel_steps: [product_view, add_to_cart, order, pay, after_sale]
      # or named steps, a step reached by any of several event types:
      # funnel_steps: {view: product_view, consider: [favorite, add_to_cart], buy: order}
      festivals:                   # replaces the default calendar (:data:`DEFAULT_FESTIVALS`)
        - {name: "618", start: "06-01", end: "06-18"}                 # every year
        - {name: 年货节, start: "2024-01-20", end: "2024-02-09"}       # one date range

Errors are :class:`~huaxiang.errors.ConfigError` naming the key and how to fix it.

Examples
--------
>>> s = parse_settings({"paydays": [10, 25], "night_hours": [23, 3]})
>>> s.paydays, s.night_hours, s.funnel_steps["view"]
([10, 25], (23, 3), 'product_view')
>>> parse_settings({"paydays": [31]})
Traceback (most recent call last):
...
huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
  - features.paydays[0]: Input should be less than or equal to 28 (fix: use a day of the month from 1 to 28)
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huaxiang.config_errors import validate_section
from huaxiang.schema import ENUMS

#: Lunar New Year's Day (春节) 2017–2027.
SPRING_FESTIVAL_DAYS: tuple[date, ...] = (
    date(2017, 1, 28), date(2018, 2, 16), date(2019, 2, 5), date(2020, 1, 25), date(2021, 2, 12),
    date(2022, 2, 1), date(2023, 1, 22), date(2024, 2, 10), date(2025, 1, 29), date(2026, 2, 17),
    date(2027, 2, 6),
)
#: Spring Festival shopping: the two weeks of New Year shopping (年货) before the day, through the
#: sixth day of the holiday.
SPRING_FESTIVAL_BEFORE, SPRING_FESTIVAL_AFTER = 14, 6

#: Default funnel: step name -> event type.
DEFAULT_FUNNEL: dict[str, str] = {
    "view": "product_view", "cart": "add_to_cart", "order": "order", "pay": "pay", "after_sale": "after_sale",
}

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

class Festival(BaseModel):
    """A shopping festival: ``start``/``end`` (inclusive) as ``MM-DD`` (every year) or ``YYYY-MM-DD``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    start: str
    end: str

    @model_validator(mode="after")
    def _check(self) -> Festival:
        both = (self.start, self.end)
        if all(_MONTH_DAY.match(v) for v in both):
            for v in both:
                datetime.strptime(f"2000-{v}", "%Y-%m-%d")  # raises ValueError on 02-30 etc.
            if self.start > self.end:
                raise ValueError(f"{self.name}: start {self.start} is after end {self.end} (split a range over New Year)")
        elif all(_FULL_DATE.match(v) for v in both):
            if date.fromisoformat(self.start) > date.fromisoformat(self.end):
                raise ValueError(f"{self.name}: start {self.start} is after end {self.end}")
        else:
            raise ValueError(f"{self.name}: start and end must both be MM-DD or both YYYY-MM-DD")
        return self

    @property
    def recurring(self) -> bool:
        """Whether the festival repeats every year (``MM-DD`` bounds)."""
        return bool(_MONTH_DAY.match(self.start))


def _default_festivals() -> list[Festival]:
    out = [
        Festival(name="618", start="06-01", end="06-18"),
        Festival(name="double_11", start="11-01", end="11-11"),
        Festival(name="double_12", start="12-12", end="12-12"),
    ]
    for day in SPRING_FESTIVAL_DAYS:
        first = day - timedelta(days=SPRING_FESTIVAL_BEFORE)
        last = day + timedelta(days=SPRING_FESTIVAL_AFTER)
        out.append(Festival(name=f"spring_festival_{day.year}", start=first.isoformat(), end=last.isoformat()))
    return out


#: The default calendar: 618 (Jun 1–18), Double 11 (Nov 1–11), Double 12 (Dec 12) and the Spring
#: Festival (14 days before to 6 days after Lunar New Year's Day) of 2017–2027.
DEFAULT_FESTIVALS: tuple[Festival, ...] = tuple(_default_festivals())


class LifecycleThresholds(BaseModel):
    """Days since the first (``new_days``) or last purchase (``sleeping_days``, ``lost_days``)."""

    model_config = ConfigDict(extra="forbid")

    new_days: int = Field(default=60, ge=1)
    sleeping_days: int = Field(default=180, ge=1)
    lost_days: int = Field(default=365, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleThresholds:
        if not self.sleeping_days < self.lost_days:
            raise ValueError(f"sleeping_days ({self.sleeping_days}) must be below lost_days ({self.lost_days})")
        return self


def _default_funnel() -> dict[str, str | list[str]]:
    return dict(DEFAULT_FUNNEL)


class FeatureSettings(BaseModel):
    """The validated ``features:`` section (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    FIXES: ClassVar[dict[str, str]] = {
        "paydays": "use a day of the month from 1 to 28",
        "payday_window": "use a number of days from 1 to 15",
        "night_hours": "give [start, end) hours from 0 to 23, e.g. [22, 2]",
        "high_price_percentile": "use a share between 0 and 1, e.g. 0.75",
        "festivals": 'give a list of {name, start, end} with "MM-DD" (every year) or "YYYY-MM-DD" dates',
        "lifecycle": "give whole days with new_days < sleeping_days < lost_days",
        "funnel_steps": f"list event types in order ({', '.join(ENUMS['event_type'])})",
        "as_of": "give a date like 2024-07-01",
    }

    as_of: datetime | None = None
    paydays: list[Annotated[int, Field(ge=1, le=28)]] = Field(default_factory=lambda: [10], min_length=1)
    payday_window: int = Field(default=5, ge=1, le=15)
    night_hours: tuple[int, int] = (22, 2)
    high_price_percentile: float = Field(default=0.75, gt=0, lt=1)
    festivals: list[Festival] = Field(default_factory=lambda: list(DEFAULT_FESTIVALS))
    lifecycle: LifecycleThresholds = Field(default_factory=LifecycleThresholds)
    funnel_steps: dict[str, str | list[str]] = Field(default_factory=lambda: _default_funnel())

    @field_validator("paydays", mode="before")
    @classmethod
    def _one_payday(cls, v: Any) -> Any:
        return [v] if isinstance(v, int) else v

    @field_validator("paydays")
    @classmethod
    def _payday_sorted(cls, v: list[int]) -> list[int]:
        return sorted(set(v))

    @field_validator("night_hours")
    @classmethod
    def _hours(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not all(0 <= h <= 23 for h in v) or v[0] == v[1]:
            raise ValueError(f"hours must be two different whole hours from 0 to 23, got {list(v)}")
        return v

    @field_validator("funnel_steps", mode="before")
    @classmethod
    def _steps(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            names = {str(s): str(s) for s in v}
            if len(names) != len(v):
                raise ValueError("a step is listed twice")
            return names
        return v

    @field_validator("funnel_steps")
    @classmethod
    def _known_steps(cls, v: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        used = {t for types in v.values() for t in ([types] if isinstance(types, str) else types)}
        unknown = sorted(used - set(ENUMS["event_type"]))
        if unknown:
            raise ValueError(f"unknown event types {unknown}")
        if len(v) < 2:
            raise ValueError("a funnel needs at least two steps")
        return v


def parse_settings(raw: dict[str, Any] | FeatureSettings | None) -> FeatureSettings:
    """Validate the ``features:`` section; every problem is reported at once with its key and fix.

    >>> parse_settings(None).payday_window
    5
    """
    if isinstance(raw, FeatureSettings):
        return raw
    return validate_section(FeatureSettings, raw or {}, prefix=("features",))
