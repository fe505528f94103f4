"""Who the person is (from their customer records) and where they are in the lifecycle.

- ``gender``, ``region``, ``city``, ``occupation``, ``member_level``: the value of the person's most
  recently registered record that has one (the identity stage's survivorship rule), over records
  registered before ``as_of`` or with no registration time; ``city_tier`` from
  :func:`huaxiang.clean.normalize.city_tier`.
- ``age``: whole years at ``as_of``; ``age_band``: <18, 18-24, 25-34, 35-44, 45-54, 55+.
- ``tenure_days``: days from the earliest registration to ``as_of``.
- ``lifecycle_stage`` (from RFM columns; thresholds in days, configurable as ``features.lifecycle``):
  ``lost`` (no purchase for more than ``lost_days`` = 365), ``sleeping`` (more than
  ``sleeping_days`` = 180), ``new`` (first purchase day less than ``new_days`` = 60 before the end
  of observation), ``growing`` (more purchases in the last 90 days than in the 90 before),
  ``declining`` (fewer), else ``active``; ``prospect`` when the person never bought.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from huaxiang.clean.normalize import city_tier
from huaxiang.features.settings import LifecycleThresholds

_ATTRIBUTES = ("gender", "region", "city", "occupation", "member_level")


def compute_attributes(customers: ir.Table, keys: ir.Table, *, as_of: datetime) -> ir.Table:
    """One row per person with the basic attributes, from ``customers_raw`` and the person keys.

    >>> import ibis, pandas as pd
    >>> from datetime import datetime
    >>> c = ibis.memtable(pd.DataFrame({"source": ["crm", "crm"], "source_customer_id": ["1", "2"],
    ...     "gender": ["female", None], "birth_date": pd.to_datetime(["1990-06-01", None]).date,
    ...     "region": [None, "广东"], "city": [None, "深圳"], "occupation": [None, None],
    ...     "member_level": ["gold", "silver"],
    ...     "registered_at": pd.to_datetime(["2020-01-01", "2023-01-01"])}))
    >>> k = ibis.memtable(pd.DataFrame({"source": ["crm", "crm"], "source_customer_id": ["1", "2"],
    ...     "person_id": ["p", "p"]}))
    >>> a = compute_attributes(c, k, as_of=datetime(2024, 1, 1)).execute().iloc[0]
    >>> a.gender, int(a.age), a.age_band, a.city, a.member_level, float(a.tenure_days)
    ('female', 33, '25-34', '深圳', 'silver', 1461.0)
    """
    c = customers.filter(customers.registered_at.isnull() | (customers.registered_at < ibis.timestamp(as_of)))
    c = c.inner_join(keys, ["source", "source_customer_id"])
    order = c.registered_at.fill_null(ibis.timestamp("1900-01-01"))
    latest = {
        a: ibis.coalesce(ibis.ifelse(c[a].notnull(), c[a], ibis.null(c[a].type())).argmax(
            ibis.ifelse(c[a].notnull(), order, ibis.null("timestamp"))), c[a].max())
        for a in _ATTRIBUTES
    }
    per = c.group_by("person_id").aggregate(
        birth_date=c.birth_date.max(), registered_at=c.registered_at.min(), **latest,
    )
    cutoff = ibis.timestamp(as_of)
    age = ((cutoff.epoch_seconds() - per.birth_date.cast("timestamp").epoch_seconds()) / (365.2425 * 86400)).floor()
    bands = ibis.cases(
        (age < 18, "<18"), (age < 25, "18-24"), (age < 35, "25-34"), (age < 45, "35-44"), (age < 55, "45-54"),
        else_="55+",
    )
    return per.mutate(
        age=age.cast("int64"),
        age_band=ibis.ifelse(age.isnull(), ibis.null("string"), bands),
        city_tier=city_tier(per.city),
        tenure_days=(cutoff.epoch_seconds() - per.registered_at.epoch_seconds()) / 86400.0,
    ).drop("birth_date", "registered_at")


def lifecycle_stage(f: ir.Table, thresholds: LifecycleThresholds | None = None) -> ir.StringValue:
    """The lifecycle stage from a table with the RFM columns (see the module docstring)."""
    t = thresholds or LifecycleThresholds()
    return ibis.cases(
        (f.orders_total.isnull() | (f.orders_total == 0), "prospect"),
        (f.recency_days > t.lost_days, "lost"),
        (f.recency_days > t.sleeping_days, "sleeping"),
        (t.new_days > f.T, "new"),
        (f.orders_90d > f.orders_prev_90d, "growing"),
        (f.orders_90d < f.orders_prev_90d, "declining"),
        else_="active",
    )
