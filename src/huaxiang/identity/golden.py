"""The golden record: one row per person, each attribute chosen by its survivorship rule.

Rules (per attribute, ``identity.survivorship`` in huaxiang.yaml):

- ``most_recent``: the value of the most recently updated (else registered) record that has one;
- ``most_frequent``: the value most records agree on (ties: the most recent);
- ``source_priority``: the value from the first source in ``identity.source_priority`` that has one
  (sources not listed come after, alphabetically; ties: the most recent);
- ``non_null_first``: the value of the earliest registered record that has one.

All rules are set-based ``argmax`` aggregations on the engine.

Examples
--------
>>> import ibis, pandas as pd
>>> from huaxiang.engine import create_engine
>>> from huaxiang.identity.settings import parse_settings
>>> eng = create_engine("duckdb")
>>> recs = ibis.memtable(pd.DataFrame({"source": ["crm", "app", "app"], "source_customer_id": ["1", "2", "3"],
...     "person_id": ["P", "P", "P"], "name": ["王芳", "王方", "王方"], "city": ["北京", "上海", None],
...     "registered_at": pd.to_datetime(["2024-01-01", "2025-01-01", "2026-01-01"])}))
>>> s = parse_settings({"source_priority": ["crm"], "survivorship": {"city": "most_recent"}})
>>> eng.execute(golden_attributes(recs, s)).loc[0, ["name", "city"]].tolist()
['王芳', '上海']
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from huaxiang.identity.settings import GOLDEN_ATTRIBUTES, IdentitySettings

_FAR_PAST = "1900-01-01"


def _source_rank(table: ir.Table, priority: list[str]) -> ir.IntegerValue:
    ranks = ibis.cases(*[(table.source == s, len(priority) - i) for i, s in enumerate(priority)], else_=0) \
        if priority else ibis.literal(0)
    return ranks


def golden_attributes(records: ir.Table, settings: IdentitySettings) -> ir.Table:
    """``person_id`` plus one column per attribute present in ``records``, chosen by survivorship.

    ``records`` is ``customers_raw`` joined with ``person_id``.
    """
    c = records
    ts = ibis.coalesce(c.updated_at, c.registered_at, ibis.timestamp(_FAR_PAST)) if "updated_at" in c.columns \
        else ibis.coalesce(c.registered_at, ibis.timestamp(_FAR_PAST))
    reg = ibis.coalesce(c.registered_at, ibis.timestamp(_FAR_PAST))
    c = c.mutate(_hx_ts=ts.epoch_seconds().cast("float64"), _hx_reg=reg.epoch_seconds().cast("float64"),
                 _hx_rank=_source_rank(c, settings.source_priority).cast("float64"))
    aggs: dict[str, Any] = {}
    frequent: list[str] = []
    for a in GOLDEN_ATTRIBUTES:
        if a not in c.columns:
            continue
        rule = settings.rule_of(a)
        if rule == "most_frequent":
            frequent.append(a)
            continue
        if rule == "most_recent":
            key = c._hx_ts
        elif rule == "source_priority":
            key = c._hx_rank * 1e11 + c._hx_ts
        else:  # non_null_first
            key = -c._hx_reg
        aggs[a] = c[a].argmax(key, where=c[a].notnull())
    out = c.group_by("person_id").aggregate(**aggs) if aggs else c.select("person_id").distinct()
    for a in frequent:
        v = c.filter(c[a].notnull())
        counts = v.group_by(["person_id", a]).aggregate(n=v.count(), last=v._hx_ts.max())
        best = counts.group_by("person_id").aggregate(
            **{a: counts[a].argmax(counts.n.cast("float64") * 1e11 + counts["last"])}
        )
        out = out.left_join(best, "person_id").drop("person_id_right")
    return out
