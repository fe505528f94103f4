"""Re-tag a few persons fast, and the two tiers of tags (the real-time path).

:class:`TagRefresher` compiles the tag rules once over a scratch table of the touched persons'
feature rows and, per refresh, replaces their ``person_tags`` rows and their rows of the ``tags``
history in place (a tag that appears opens a row at the refresh time, one that disappears is closed
at it; every other person's rows are not rewritten) — :func:`~huaxiang.tags.stage.refresh_tags`
does the same by rewriting both tables, which costs more as the population grows.

Tiers (:func:`tag_tiers`): a tag whose rule reads only features that change when an event arrives is
``event`` (refreshed with the person's events, within a second); one whose rule reads a feature
that changes with the passing of time alone (``recency_days``, ``age``, the 90- and 365-day windows,
… see :func:`~huaxiang.features.refresh.time_dependent_features`) is ``scheduled``: for persons
with no new events it changes only at the scheduled refresh (``service.refresh_every``).

Examples
--------
>>> from huaxiang.tags.specs import TagSpec
>>> tag_tiers([TagSpec(id="lapsed", name_zh="流失", name_en="Lapsed", rule="recency_days > 365"),
...            TagSpec(id="big", name_zh="大客户", name_en="Big", rule="spend_total >= 5000")])
{'lapsed': 'scheduled', 'big': 'event'}
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from huaxiang.engine.base import Engine
from huaxiang.features.refresh import register_inputs, time_dependent_features
from huaxiang.tags.assign import assign_tags
from huaxiang.tags.specs import TagSpec
from huaxiang.tags.stage import CURRENT, HISTORY, catalog_frame, usable_specs

__all__ = ["TagRefresher", "tag_tiers"]

_INPUT = "_hx_rt_tag_features"


def tag_tiers(specs: Sequence[TagSpec], time_columns: set[str] | None = None) -> dict[str, str]:
    """``tag_id -> 'event' | 'scheduled'`` (see the module docstring)."""
    time_columns = time_dependent_features() if time_columns is None else time_columns
    return {s.id: "scheduled" if set(s.parsed().columns()) & time_columns else "event" for s in specs}


class TagRefresher:
    """Recompute the tags of a few persons from their stored ``features`` rows (see the module).

    Parameters
    ----------
    engine
        The workspace's DuckDB engine (``features`` stored).
    specs
        The tags in force (:func:`~huaxiang.tags.specs.resolve_tag_specs`).
    """

    def __init__(self, engine: Engine, specs: Sequence[TagSpec]) -> None:
        self.engine = engine
        self.all_specs = list(specs)
        self._sql: str | None = None
        self._expr: ir.Table | None = None
        self._columns: tuple[str, ...] = ()
        self.catalog = catalog_frame(self.all_specs)

    def _compiled(self) -> str:
        columns = tuple(self.engine.table("features").columns)
        if self._sql is None or columns != self._columns:
            specs, _ = usable_specs(self.all_specs, list(columns))
            self.catalog = catalog_frame(specs)
            expr = assign_tags(self.engine.table(_INPUT), specs)
            register_inputs(self.engine, expr)
            self._sql, self._expr, self._columns = self.engine.sql_of(expr), expr, columns
        return self._sql

    def warm(self) -> None:
        """Compile the tag query now (0.7–0.9 s on the demo's 32 rules) so the first refresh does not wait."""
        raw: Any = self.engine.raw  # type: ignore[attr-defined]
        raw.execute(f"CREATE OR REPLACE TEMP TABLE {_INPUT} AS SELECT * FROM features LIMIT 0")
        self._compiled()

    def refresh(self, person_ids: Sequence[str], *, at: datetime) -> pd.DataFrame:
        """Re-tag ``person_ids``; returns the changes: ``person_id, tag_id, change`` (added/removed).

        ``at`` stamps the history rows opened or closed and is the ``as_of`` of the current rows.
        """
        ids = sorted({str(p) for p in person_ids})
        eng = self.engine
        raw: Any = eng.raw  # type: ignore[attr-defined]
        raw.register("_hx_rt_tag_ids", pa.table({"person_id": pa.array(ids, pa.string())}))
        try:
            raw.execute(f"CREATE OR REPLACE TEMP TABLE {_INPUT} AS SELECT * FROM features "
                        "WHERE person_id IN (SELECT person_id FROM _hx_rt_tag_ids)")
            assigned = raw.execute(self._compiled()).df()
            old_history = (raw.execute("SELECT * FROM tags WHERE person_id IN (SELECT person_id FROM _hx_rt_tag_ids)")
                           .df() if eng.has_table(HISTORY) else None)
        finally:
            raw.unregister("_hx_rt_tag_ids")
        stamp = pd.Timestamp(at).floor("us")
        if old_history is None:
            old_history = pd.DataFrame({"person_id": pd.Series([], dtype=object), "tag_id": pd.Series([], dtype=object),
                                        "valid_from": pd.Series([], dtype="datetime64[us]"),
                                        "valid_to": pd.Series([], dtype="datetime64[us]")})
        open_rows = old_history[old_history["valid_to"].isna()]
        closed = old_history[old_history["valid_to"].notna()]
        now = set(zip(assigned["person_id"], assigned["tag_id"], strict=True))
        held = {(p, t): f for p, t, f in zip(open_rows["person_id"], open_rows["tag_id"], open_rows["valid_from"],
                                            strict=True)}
        still = np.array([(p, t) in now for p, t in zip(open_rows["person_id"], open_rows["tag_id"], strict=True)],
                         dtype=bool)
        ended = open_rows.loc[~still].assign(valid_to=stamp)
        kept = open_rows.loc[still]
        started = sorted(now - set(held))
        new_rows = pd.DataFrame({"person_id": [p for p, _ in started], "tag_id": [t for _, t in started],
                                 "valid_from": stamp, "valid_to": pd.NaT})
        history = pd.concat([f for f in (closed, kept, ended, new_rows) if len(f)] or [new_rows], ignore_index=True)
        history["valid_from"] = pd.to_datetime(history["valid_from"]).astype("datetime64[us]")
        history["valid_to"] = pd.to_datetime(history["valid_to"]).astype("datetime64[us]")
        names = self.catalog.set_index("tag_id")
        current = assigned.assign(
            name_zh=assigned["tag_id"].map(names["name_zh"]), name_en=assigned["tag_id"].map(names["name_en"]),
            since=[held.get((p, t), stamp) for p, t in zip(assigned["person_id"], assigned["tag_id"], strict=True)],
            as_of=stamp)
        current = current[["person_id", "tag_id", "name_zh", "name_en", "reason", "since", "as_of"]]
        current["since"] = pd.to_datetime(current["since"]).astype("datetime64[us]")
        current["as_of"] = pd.to_datetime(current["as_of"]).astype("datetime64[us]")
        eng.replace_rows(CURRENT, current, ids)
        eng.replace_rows(HISTORY, history[["person_id", "tag_id", "valid_from", "valid_to"]], ids)
        changes = pd.DataFrame({"person_id": [*new_rows["person_id"], *ended["person_id"]],
                                "tag_id": [*new_rows["tag_id"], *ended["tag_id"]],
                                "change": ["added"] * len(new_rows) + ["removed"] * len(ended)})
        return changes

