"""The festival and payday calendars of a workspace, from its ``country`` (ISO 3166-1 alpha-2).

- ``CN``: the Chinese retail calendar — 618 (Jun 1–18), Double 11 (Nov 1–11), Double 12 (Dec 12),
  which are shopping festivals, not public holidays — and Spring Festival shopping (14 days before
  to 6 days after Lunar New Year's Day, whose date comes from the ``holidays`` package for any
  year); paydays: the 10th.
- another country: its public holidays from the ``holidays`` package (each one day, observed days
  included); no payday convention is assumed (the payday features are "no data" unless
  ``features.paydays`` is set).
- ``None`` (``country: null``): no festival calendar; paydays only when set.

``features.festivals`` / ``features.paydays`` in huaxiang.yaml replace these.

>>> [f.name for f in festival_calendar("CN", range(2024, 2025))]
['618', 'double_11', 'double_12', 'spring_festival_2024']
>>> [(f.name, f.start) for f in festival_calendar("US", range(1997, 1998))][-1]
('Christmas Day', '1997-12-25')
>>> festival_calendar(None, range(2024, 2025)), default_paydays("GB"), default_paydays("CN")
([], [], [10])
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays

from huaxiang.errors import ConfigError
from huaxiang.features.settings import (
    DEFAULT_FESTIVALS,
    SPRING_FESTIVAL_AFTER,
    SPRING_FESTIVAL_BEFORE,
    SPRING_FESTIVAL_DAYS,
    Festival,
)

__all__ = ["default_paydays", "festival_calendar", "spring_festival_days"]

#: Paydays (day of month) by country where one convention dominates.
PAYDAYS: dict[str, list[int]] = {"CN": [10]}
#: The name ``holidays`` gives Lunar New Year's Day in China (English names).
_LUNAR_NEW_YEAR = "Chinese New Year (Spring Festival)"


def spring_festival_days(years: Iterable[int]) -> list[date]:
    """Lunar New Year's Day (春节) of each year, from the ``holidays`` package.

    >>> spring_festival_days([2017, 2024])
    [datetime.date(2017, 1, 28), datetime.date(2024, 2, 10)]
    """
    cn = holidays.country_holidays("CN", years=list(years), language="en_US")
    firsts: dict[int, date] = {}
    for day, name in cn.items():
        if name == _LUNAR_NEW_YEAR and (day.year not in firsts or day < firsts[day.year]):
            firsts[day.year] = day
    return [firsts[y] for y in sorted(firsts)]


def _check_country(country: str) -> None:
    if country not in holidays.list_supported_countries():
        raise ConfigError(f"huaxiang.yaml: country: {country!r} is not an ISO 3166-1 alpha-2 code the holidays "
                          "package knows (fix: use e.g. CN, US, GB, or null for no festival calendar)")


def festival_calendar(country: str | None, years: Iterable[int]) -> list[Festival]:
    """The festivals of ``country`` over ``years`` (see the module docstring)."""
    years = sorted(set(years))
    if country is None or not years:
        return []
    _check_country(country)
    if country == "CN":
        out = [f for f in DEFAULT_FESTIVALS if f.recurring]
        known = {d.year: d for d in SPRING_FESTIVAL_DAYS}
        missing = [y for y in years if y not in known]
        known.update({d.year: d for d in spring_festival_days(missing)} if missing else {})
        for year in years:
            if year in known:
                day = known[year]
                first, last = day - timedelta(days=SPRING_FESTIVAL_BEFORE), day + timedelta(days=SPRING_FESTIVAL_AFTER)
                out.append(Festival(name=f"spring_festival_{year}", start=first.isoformat(), end=last.isoformat()))
        return out
    days = holidays.country_holidays(country, years=years, language="en_US")
    return [Festival(name=str(name), start=day.isoformat(), end=day.isoformat()) for day, name in sorted(days.items())]


def default_paydays(country: str | None) -> list[int]:
    """The paydays of ``country`` when one convention dominates (:data:`PAYDAYS`), else none."""
    return list(PAYDAYS.get(country or "", []))


def festival_names(festivals: Iterable[Festival]) -> list[str]:
    """Distinct names of ``festivals`` without their year (``spring_festival_2024`` → ``spring_festival``).

    >>> festival_names(festival_calendar("CN", [2023, 2024]))
    ['618', 'double_11', 'double_12', 'spring_festival']
    """
    seen: dict[str, None] = {}
    for f in festivals:
        base = f.name.removesuffix(" (observed)")
        head, _, tail = base.rpartition("_")
        seen[head if head and tail.isdigit() and len(tail) == 4 else base] = None
    return list(seen)
