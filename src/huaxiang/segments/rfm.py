"""RFM segmentation on the engine: quantile scores, the segment map and the 8-cell high/low map.

Scores
    Among buyers (persons with a ``recency`` value), each of R, F and M gets a score from 1 to
    ``bins`` (5: quintiles) by its rank: ``score = floor(rank * bins / (n - 1)) + 1`` (at most
    ``bins``), where ``rank`` is the 0-based *minimum* rank (``RANK() - 1``) and ``n`` the number of
    buyers — ``floor(percent_rank * bins) + 1`` in exact integer arithmetic. Equal values get equal
    scores (``NTILE`` would split ties arbitrarily, so one customer's score could change between two
    runs on the same data, and between engines). Recency is ranked descending, so the most recent
    buyers get R = ``bins``. ``rfm_score`` is the three digits, e.g. ``"545"``.
Segments
    The first rule of the map (:data:`~huaxiang.segments.settings.DEFAULT_RFM_MAP`, editable as
    ``segments.rfm_map``) whose R/F/M ranges hold; no match gives ``others``; no purchase gives
    ``no_purchase`` (未购买).
8 cells
    R high = ``recency`` below the buyers' mean (or median, ``segments.cells.split``), F high and
    M high = above it; the combinations are the classic 重要价值客户 … 一般挽留客户.

Everything is one Ibis expression, so it runs on DuckDB and Spark alike.

Examples
--------
>>> import ibis
>>> from huaxiang.engine import create_engine
>>> eng = create_engine("duckdb")
>>> f = ibis.memtable({"person_id": ["a", "b", "c", "d"], "recency_days": [1.0, 30.0, 300.0, None],
...                    "orders_total": [9, 3, 1, None], "spend_total": [900.0, 120.0, 20.0, None]})
>>> out = eng.execute(compute_rfm_segments(eng, f).table.order_by("person_id"))
>>> out[["person_id", "rfm_score", "rfm_segment", "rfm_cell_zh"]].values.tolist()
[['a', '555', 'champions', '重要价值客户'], ['b', '333', 'loyal_customers', '一般发展客户'], ['c', '111', 'lost', '一般挽留客户'], ['d', None, 'no_purchase', '未购买']]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from huaxiang.engine.base import Engine
from huaxiang.errors import ConfigError
from huaxiang.segments.settings import (
    NO_PURCHASE,
    OTHERS,
    RfmColumns,
    RfmRule,
    SegmentSettings,
    parse_settings,
)

__all__ = ["CELLS", "RfmSegments", "assign_cells", "assign_rfm_segments", "compute_rfm_segments", "score_rfm"]

#: The 8 cells: (R high, F high, M high) -> (id, zh, en).
CELLS: dict[tuple[bool, bool, bool], tuple[str, str, str]] = {
    (True, True, True): ("important_value", "重要价值客户", "Important value customers"),
    (True, False, True): ("important_development", "重要发展客户", "Important development customers"),
    (False, True, True): ("important_retention", "重要保持客户", "Important retention customers"),
    (False, False, True): ("important_winback", "重要挽留客户", "Important win-back customers"),
    (True, True, False): ("general_value", "一般价值客户", "General value customers"),
    (True, False, False): ("general_development", "一般发展客户", "General development customers"),
    (False, True, False): ("general_retention", "一般保持客户", "General retention customers"),
    (False, False, False): ("general_winback", "一般挽留客户", "General win-back customers"),
}

#: Columns of the RFM part of ``segments``.
RFM_COLUMNS = ["person_id", "rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment", "rfm_segment_zh",
               "rfm_segment_en", "rfm_cell", "rfm_cell_zh", "rfm_cell_en"]


@dataclass
class RfmSegments:
    """What :func:`compute_rfm_segments` gives: the expression and the figures behind it."""

    table: ir.Table
    #: The high/low split of each column (``recency``, ``frequency``, ``monetary`` keys).
    centres: dict[str, float] = field(default_factory=dict)
    columns: RfmColumns = field(default_factory=RfmColumns)
    split: str = "mean"
    rules: list[RfmRule] = field(default_factory=list)

    def cell_rule(self, cell: str) -> str:
        """The cell as a readable rule, e.g. ``recency_days < 150 and orders_total > 9.4 and …``."""
        if cell == NO_PURCHASE.id:
            return f"{self.columns.recency} is null"
        flags = next(k for k, v in CELLS.items() if v[0] == cell)
        parts = []
        for high, key, better in zip(flags, ("recency", "frequency", "monetary"), ("<", ">", ">"), strict=True):
            op = better if high else {"<": ">=", ">": "<="}[better]
            parts.append(f"{getattr(self.columns, key)} {op} {self.centres[key]:.4g}")
        return " and ".join(parts)


def _check_columns(features: ir.Table, columns: RfmColumns) -> None:
    missing = [(k, getattr(columns, k)) for k in ("recency", "frequency", "monetary")
               if getattr(columns, k) not in features.columns]
    if missing:
        keys = ", ".join(f"segments.rfm.{k} ({c})" for k, c in missing)
        raise ConfigError(f"huaxiang.yaml: {keys}: the features table has no such column (fix: name one of "
                          f"its numeric columns, e.g. recency_days, orders_total, spend_total)")


def score_rfm(features: ir.Table, columns: RfmColumns | None = None) -> ir.Table:
    """R, F and M quantile scores (1..bins) of the buyers: ``person_id, rfm_r, rfm_f, rfm_m, rfm_score``.

    Buyers are the persons whose recency column is not null; missing F or M count as 0.

    Examples
    --------
    >>> import ibis
    >>> f = ibis.memtable({"person_id": list("abcdef"), "recency_days": [1.0, 2, 3, 4, 5, 6],
    ...                    "orders_total": [1, 1, 1, 2, 3, 4], "spend_total": [60.0, 50, 40, 30, 20, 10]})
    >>> s = score_rfm(f).order_by("person_id").execute()
    >>> s.rfm_r.tolist(), s.rfm_f.tolist(), s.rfm_m.tolist()
    ([5, 5, 4, 3, 2, 1], [1, 1, 1, 4, 5, 5], [5, 5, 4, 3, 2, 1])
    """
    c = columns or RfmColumns()
    _check_columns(features, c)
    bins = c.bins
    buyers = features.filter(features[c.recency].notnull())
    buyers = buyers.select(
        person_id=buyers.person_id,
        _r=buyers[c.recency].cast("float64"),
        _f=buyers[c.frequency].cast("float64").fill_null(0.0),
        _m=buyers[c.monetary].cast("float64").fill_null(0.0),
    )
    n = buyers.person_id.count().over(ibis.window())
    denominator = ibis.greatest(n - 1, 1)

    def score(order: Any) -> ir.IntegerValue:
        rank0 = ibis.rank().over(order_by=order)  # 0-based minimum rank: ties share it
        return ibis.least((rank0 * bins) // denominator + 1, bins).cast("int64")

    scored = buyers.select(
        "person_id",
        rfm_r=score(ibis.desc(buyers._r)),
        rfm_f=score(buyers._f),
        rfm_m=score(buyers._m),
    )
    return scored.mutate(
        rfm_score=scored.rfm_r.cast("string").concat(scored.rfm_f.cast("string"), scored.rfm_m.cast("string"))
    )


def _matches(t: ir.Table, rule: RfmRule, bins: int) -> ir.BooleanValue:
    cond: ir.BooleanValue = ibis.literal(True)
    for key, (lo, hi) in rule.ranges(bins).items():
        if (lo, hi) != (1, bins):
            cond = cond & t[f"rfm_{key}"].between(lo, hi)
    return cond


def assign_rfm_segments(scores: ir.Table, rules: Sequence[RfmRule], bins: int = 5) -> ir.Table:
    """Add ``rfm_segment`` (the id of the first matching rule), ``rfm_segment_zh`` and ``rfm_segment_en``.

    Rows without scores (no purchase) get ``no_purchase``; scored rows matching no rule ``others``.

    Examples
    --------
    >>> import ibis
    >>> from huaxiang.segments.settings import DEFAULT_RFM_MAP
    >>> s = ibis.memtable({"rfm_r": [5, 1, 5, 3, None], "rfm_f": [5, 5, 1, 5, None], "rfm_m": [5, 5, 4, 1, None]})
    >>> assign_rfm_segments(s, DEFAULT_RFM_MAP).execute().rfm_segment.tolist()
    ['champions', 'cant_lose_them', 'new_customers', 'potential_loyalist', 'no_purchase']
    """
    branches = [(scores.rfm_r.isnull(), NO_PURCHASE.id)]
    branches += [(_matches(scores, rule, bins), rule.id) for rule in rules]
    segment = ibis.cases(*branches, else_=OTHERS.id)
    everyone = [*rules, OTHERS, NO_PURCHASE]
    out = scores.mutate(rfm_segment=segment)
    return out.mutate(
        rfm_segment_zh=out.rfm_segment.substitute({r.id: r.name_zh for r in everyone}),
        rfm_segment_en=out.rfm_segment.substitute({r.id: r.name_en for r in everyone}),
    )


def assign_cells(t: ir.Table, centres: dict[str, float], columns: RfmColumns | None = None) -> ir.Table:
    """Add ``rfm_cell`` (id), ``rfm_cell_zh`` and ``rfm_cell_en``: the 8-cell high/low map.

    R is high when the recency column is *below* its centre (more recent), F and M when above.
    Rows without a recency value get ``no_purchase``.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"recency_days": [10.0, 90.0, None], "orders_total": [5, 1, None],
    ...                    "spend_total": [50.0, 500.0, None]})
    >>> c = {"recency": 30.0, "frequency": 2.0, "monetary": 100.0}
    >>> assign_cells(t, c).execute().rfm_cell_zh.tolist()
    ['一般价值客户', '重要挽留客户', '未购买']
    """
    c = columns or RfmColumns()
    r_high = t[c.recency] < centres["recency"]
    f_high = t[c.frequency].fill_null(0) > centres["frequency"]
    m_high = t[c.monetary].fill_null(0) > centres["monetary"]
    branches: list[tuple[ir.BooleanValue, str]] = [(t[c.recency].isnull(), NO_PURCHASE.id)]
    for (rh, fh, mh), (cell, _, _) in CELLS.items():
        branches.append(((r_high if rh else ~r_high) & (f_high if fh else ~f_high) & (m_high if mh else ~m_high),
                         cell))
    out = t.mutate(rfm_cell=ibis.cases(*branches))
    names = {**{v[0]: v for v in CELLS.values()}, NO_PURCHASE.id: (NO_PURCHASE.id, NO_PURCHASE.name_zh,
                                                                      NO_PURCHASE.name_en)}
    return out.mutate(
        rfm_cell_zh=out.rfm_cell.substitute({k: v[1] for k, v in names.items()}),
        rfm_cell_en=out.rfm_cell.substitute({k: v[2] for k, v in names.items()}),
    )


def cell_centres(engine: Engine, features: ir.Table, columns: RfmColumns, split: str = "mean") -> dict[str, float]:
    """The buyers' mean (or median) of the recency, frequency and monetary columns.

    >>> import ibis
    >>> from huaxiang.engine import create_engine
    >>> f = ibis.memtable({"recency_days": [1.0, 2.0, 9.0, None], "orders_total": [1, 2, 6, None],
    ...                    "spend_total": [10.0, 20.0, 90.0, None]})
    >>> cell_centres(create_engine("duckdb"), f, RfmColumns(), "median")
    {'recency': 2.0, 'frequency': 2.0, 'monetary': 20.0}
    """
    buyers = features.filter(features[columns.recency].notnull())
    aggs = {}
    for key in ("recency", "frequency", "monetary"):
        col = buyers[getattr(columns, key)].cast("float64")
        if key != "recency":
            col = col.fill_null(0.0)
        aggs[key] = col.median() if split == "median" else col.mean()
    row = engine.execute(buyers.aggregate(**aggs))
    return {k: float(row[k].iloc[0]) if row[k].notna().iloc[0] else 0.0 for k in aggs}


def compute_rfm_segments(engine: Engine, features: ir.Table,
                         settings: SegmentSettings | dict[str, Any] | None = None) -> RfmSegments:
    """Scores, segment and 8-cell group of every person of ``features``.

    Parameters
    ----------
    engine
        Runs the one query that gives the 8-cell centres.
    features
        One row per person (``person_id`` and the R/F/M columns of ``settings.rfm``).
    settings
        The ``segments:`` settings.

    Returns
    -------
    RfmSegments
        ``table``: person_id, rfm_r, rfm_f, rfm_m, rfm_score, rfm_segment(_zh/_en), rfm_cell(_zh/_en).

    Examples
    --------
    >>> import ibis
    >>> from huaxiang.engine import create_engine
    >>> eng = create_engine("duckdb")
    >>> f = ibis.memtable({"person_id": ["a", "b"], "recency_days": [3.0, 40.0], "orders_total": [2, 1],
    ...                    "spend_total": [80.0, 20.0]})
    >>> res = compute_rfm_segments(eng, f, {"cells": {"split": "median"}})
    >>> res.centres, res.cell_rule("important_value")
    ({'recency': 21.5, 'frequency': 1.5, 'monetary': 50.0}, 'recency_days < 21.5 and orders_total > 1.5 and spend_total > 50')
    """
    s = parse_settings(settings)
    columns = s.rfm
    scores = score_rfm(features, columns)
    centres = cell_centres(engine, features, columns, s.cells.split)
    base = features.select("person_id", columns.recency, columns.frequency, columns.monetary)
    everyone = base.left_join(scores, "person_id").drop("person_id_right")
    everyone = assign_rfm_segments(everyone, s.rfm_map, columns.bins)
    everyone = assign_cells(everyone, centres, columns)
    table = everyone.select(*RFM_COLUMNS)
    return RfmSegments(table=table, centres=centres, columns=columns, split=s.cells.split, rules=list(s.rfm_map))
