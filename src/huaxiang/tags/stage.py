"""The tags stage: rules over ``features`` → current tags, their history and their trend.

Writes

- ``person_tags`` (person_id, tag_id, name_zh, name_en, reason, since, as_of): the tags each
  person has now, why (``share_night_orders = 0.8 ≥ 0.5``) and since when;
- ``tags`` (person_id, tag_id, valid_from, valid_to): the history. Each build compares the new
  tags with the open rows (``valid_to`` NULL): a tag that appears opens a row with
  ``valid_from`` = this build's ``as_of``; one that disappears gets ``valid_to`` = ``as_of``;
  unchanged rows are left as they are;
- ``tag_trend`` (tag_id, built_at, as_of, persons): one row per tag per build;
- ``tag_catalog`` (tag_id, name_zh, name_en, description_zh, description_en, rule, category,
  group, priority): the tags in force.

Examples
--------
>>> import ibis
>>> from datetime import datetime
>>> from huaxiang.engine import create_engine
>>> eng = create_engine("duckdb")
>>> now = ibis.memtable({"person_id": ["a", "b"], "tag_id": ["vip", "vip"]})
>>> _ = update_history(eng, now, as_of=datetime(2025, 1, 1))
>>> _ = update_history(eng, now.filter(now.person_id == "a"), as_of=datetime(2025, 2, 1))
>>> eng.execute(eng.table("tags").order_by("person_id"))[["person_id", "valid_to"]].astype(str).values.tolist()
[['a', 'NaT'], ['b', '2025-02-01']]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.engine.base import Engine
from huaxiang.errors import RuleError
from huaxiang.pipeline import StageContext, StageResult
from huaxiang.tags.assign import assign_tags
from huaxiang.tags.specs import TagSpec, resolve_tag_specs

HISTORY = "tags"
CURRENT = "person_tags"
TREND = "tag_trend"
CATALOG = "tag_catalog"
_KEYS = ["person_id", "tag_id"]


def _history_rows(t: ir.Table, valid_from: ir.Value, valid_to: ir.Value) -> ir.Table:
    return t.select(
        person_id=t.person_id.cast("string"), tag_id=t.tag_id.cast("string"),
        valid_from=valid_from.cast("timestamp"), valid_to=valid_to.cast("timestamp"),
    )


def update_history(engine: Engine, current: ir.Table, *, as_of: datetime,
                   person_ids: list[str] | None = None) -> ir.Table:
    """Fold the current ``(person_id, tag_id)`` pairs into the ``tags`` history table.

    Parameters
    ----------
    engine
        The workspace engine (reads and writes ``tags``).
    current
        The tags every person has now (at least ``person_id``, ``tag_id``).
    as_of
        When the new state holds: opens ``valid_from`` of new tags and closes ``valid_to`` of
        vanished ones.
    person_ids
        ``current`` covers only these persons (the incremental path): the open tags of everyone
        else are left alone.

    Returns
    -------
    ibis.Table
        The stored ``tags`` table.
    """
    stamp = ibis.literal(pd.Timestamp(as_of).to_pydatetime(), "timestamp")
    no_end = ibis.null("timestamp")
    now = current.select(person_id=current.person_id.cast("string"), tag_id=current.tag_id.cast("string"))
    if not engine.has_table(HISTORY):
        return engine.materialize(HISTORY, _history_rows(now, stamp, no_end))
    old = engine.table(HISTORY)
    open_rows = old.filter(old.valid_to.isnull())
    closed = old.filter(old.valid_to.notnull())
    if person_ids is not None:
        closed = ibis.union(closed, open_rows.filter(~open_rows.person_id.isin(person_ids)), distinct=False)
        open_rows = open_rows.filter(open_rows.person_id.isin(person_ids))
    kept = open_rows.semi_join(now, _KEYS)
    ended = open_rows.anti_join(now, _KEYS)
    started = now.anti_join(open_rows, _KEYS)
    merged = ibis.union(
        _history_rows(closed, closed.valid_from, closed.valid_to),
        _history_rows(kept, kept.valid_from, kept.valid_to),
        _history_rows(ended, ended.valid_from, stamp),
        _history_rows(started, stamp, no_end),
        distinct=False,
    )
    scratch = engine.materialize("_hx_tags_next", merged, temp=True)
    out = engine.materialize(HISTORY, scratch)
    engine.drop("_hx_tags_next")
    return out


def catalog_frame(specs: list[TagSpec]) -> pd.DataFrame:
    """The tags in force as a frame (``tag_catalog``)."""
    rows = [{"tag_id": s.id, "name_zh": s.name_zh, "name_en": s.name_en, "description_zh": s.description_zh,
             "description_en": s.description_en, "rule": s.rule, "category": s.category, "group": s.group or "",
             "priority": s.priority} for s in specs]
    return pd.DataFrame(rows, columns=["tag_id", "name_zh", "name_en", "description_zh", "description_en", "rule",
                                       "category", "group", "priority"])


def usable_specs(specs: list[TagSpec], columns: list[str]) -> tuple[list[TagSpec], dict[str, str]]:
    """Split specs into those whose rules compile against ``columns`` and the skipped ones (id -> why).

    Built-in tags whose features this workspace lacks are skipped (reported in the stage details);
    the workspace's own tags were checked when the configuration was read.
    """
    ok: list[TagSpec] = []
    skipped: dict[str, str] = {}
    for spec in specs:
        missing = [c for c in spec.parsed().columns() if c not in columns]
        if missing:
            skipped[spec.id] = f"features lack {', '.join(missing)}"
        else:
            ok.append(spec)
    return ok, skipped


def features_as_of(engine: Engine, features: ir.Table) -> datetime:
    """The ``as_of`` the features were computed at (now when the table has none)."""
    if "as_of" in features.columns:
        value = engine.execute(features.as_of.max())
        if value is not None and not pd.isna(value):
            return pd.Timestamp(value).to_pydatetime()
    return datetime.now().replace(microsecond=0)


def _store(engine: Engine, assigned: ir.Table, catalog: pd.DataFrame, as_of: datetime,
           person_ids: list[str] | None = None) -> tuple[ir.Table, ir.Table]:
    """Write ``person_tags`` and the history from freshly assigned tags (of ``person_ids`` only, if given).

    A tag's ``since`` is the ``valid_from`` of its open history row, which the update keeps, or
    ``as_of`` for a tag the person did not have: read from the history as it was, so
    ``person_tags`` is written first (on a first build no history is read back at all).
    """
    stamp = ibis.literal(as_of, "timestamp")
    names = ibis.memtable(catalog[["tag_id", "name_zh", "name_en"]])
    current = assigned.left_join(names, "tag_id").drop("tag_id_right")
    since: ir.Value = stamp
    if engine.has_table(HISTORY):
        old_history = engine.table(HISTORY)
        held = old_history.filter(old_history.valid_to.isnull())
        held = held.select("person_id", "tag_id", _since=held.valid_from)
        current = current.left_join(held, _KEYS)
        since = ibis.coalesce(current._since, stamp)
    current = current.select("person_id", "tag_id", "name_zh", "name_en", "reason", since=since, as_of=stamp)
    if person_ids is not None and engine.has_table(CURRENT):
        old = engine.table(CURRENT)
        others = old.filter(~old.person_id.isin(person_ids))
        schema = current.schema()
        others = others.select(**{c: others[c].cast(schema[c]) for c in current.columns})
        current = ibis.union(others, current, distinct=False)
        current = engine.materialize("_hx_person_tags_next", current, temp=True)
    person_tags = engine.materialize(CURRENT, current)
    if person_ids is not None:
        engine.drop("_hx_person_tags_next")
    history = update_history(engine, assigned, as_of=as_of, person_ids=person_ids)
    return history, person_tags


def refresh_tags(engine: Engine, specs: list[TagSpec], person_ids: list[str], *,
                 as_of: datetime | None = None) -> ir.Table:
    """Re-tag only ``person_ids`` (the real-time path, after their features were recomputed).

    Their current tags, reasons and history are updated exactly as a full build would; everyone
    else's rows stay as they are. Returns their new ``(person_id, tag_id, reason)`` rows.

    Examples
    --------
    >>> # refresh_tags(ws.engine, resolve_tag_specs(ws.config.tags), ["P0000123"])
    """
    features = engine.table("features")
    specs, _ = usable_specs(specs, list(features.columns))
    as_of = as_of or features_as_of(engine, features)
    assigned = engine.materialize("_hx_tags_assigned", assign_tags(features, specs, person_ids=person_ids),
                                  temp=True)
    _store(engine, assigned, catalog_frame(specs), as_of, person_ids=list(person_ids))
    out = engine.execute(assigned)
    engine.drop("_hx_tags_assigned")
    return ibis.memtable(out)


def run_tags(ctx: StageContext) -> StageResult:
    """Assign every tag, store the current tags with reasons, update the history and the trend."""
    engine = ctx.engine
    specs = resolve_tag_specs(ctx.config.tags)
    features = engine.table("features")
    specs, skipped = usable_specs(specs, list(features.columns))
    user_ids = {e.get("id") for e in ctx.config.tags.get("define", []) if isinstance(e, dict)}
    broken = sorted(set(skipped) & user_ids)
    if broken:
        raise RuleError("tags " + ", ".join(f"{i} ({skipped[i]})" for i in broken)
                        + f" name features the features table lacks; its columns: {', '.join(features.columns)}")
    as_of = features_as_of(engine, features)
    built_at = datetime.now().replace(microsecond=0)
    catalog = catalog_frame(specs)
    engine.materialize(CATALOG, ibis.memtable(catalog))

    assigned = engine.materialize("_hx_tags_assigned", assign_tags(features, specs), temp=True)
    history, person_tags = _store(engine, assigned, catalog, as_of)
    counts = engine.execute(assigned.group_by("tag_id").aggregate(persons=assigned.count()))
    per_tag: dict[str, int] = {str(k): int(v) for k, v in zip(counts["tag_id"], counts["persons"], strict=True)}
    trend = pd.DataFrame({
        "tag_id": [s.id for s in specs],
        "built_at": pd.Series([built_at] * len(specs), dtype="datetime64[us]"),
        "as_of": pd.Series([as_of] * len(specs), dtype="datetime64[us]"),
        "persons": pd.Series([per_tag.get(s.id, 0) for s in specs], dtype="int64"),
    })
    if engine.has_table(TREND):
        engine.append(TREND, ibis.memtable(trend))
    else:
        engine.materialize(TREND, ibis.memtable(trend))
    engine.drop("_hx_tags_assigned")
    details: dict[str, Any] = {"as_of": str(as_of), "tags": len(specs), "persons_per_tag": per_tag}
    if skipped:
        details["skipped"] = skipped
    return StageResult(
        tables={CURRENT: int(engine.execute(person_tags.count())), HISTORY: int(engine.execute(history.count())),
                TREND: int(engine.execute(engine.table(TREND).count())), CATALOG: len(catalog)},
        details=details,
    )
