"""The segments stage: RFM map and 8 cells on the engine, K-means clusters, persona cards.

Writes

- ``segments`` (one row per person_id): ``rfm_r``, ``rfm_f``, ``rfm_m`` (1..5, NULL without a
  purchase), ``rfm_score`` (``"545"``), ``rfm_segment`` / ``_zh`` / ``_en`` (the RFM map,
  :mod:`~huaxiang.segments.rfm`), ``rfm_cell`` / ``_zh`` / ``_en`` (the 8-cell high/low map),
  ``cluster_id`` / ``cluster_name_zh`` / ``cluster_name_en`` (K-means on buyers,
  :mod:`~huaxiang.segments.clusters`; NULL for persons without a purchase) and ``as_of``;
- ``persona_cards`` (one row per RFM segment, cell and cluster; :mod:`~huaxiang.segments.personas`);
- ``cluster_report`` (one row per k tried: inertia, silhouette, which k was chosen, the elbow).

The fitted K-means model is saved as ``models/segments_kmeans.json`` in the workspace with its
``as_of``; the next build matches its clusters to it so ids stay put (or reuses it, see
``segments.clusters.refit``). Settings: :mod:`~huaxiang.segments.settings`.

Examples
--------
>>> import ibis, tempfile
>>> from pathlib import Path
>>> from huaxiang.config import WorkspaceConfig
>>> from huaxiang.engine import create_engine
>>> eng = create_engine("duckdb")
>>> _ = eng.materialize("features", ibis.memtable({"person_id": ["a", "b", "c"], "recency_days": [2.0, 50.0, None],
...                                               "orders_total": [6, 1, None], "spend_total": [600.0, 40.0, None]}))
>>> config = WorkspaceConfig.model_validate({"segments": {"clusters": {"enabled": False}}})
>>> folder = Path(tempfile.mkdtemp())
>>> run_segments(StageContext(engine=eng, config=config, workspace_dir=folder, data_dir=folder)).tables
{'segments': 3, 'persona_cards': 6, 'cluster_report': 0}
>>> eng.execute(eng.table("segments").order_by("person_id"))[["rfm_score", "rfm_segment", "rfm_cell"]].values.tolist()
[['555', 'champions', 'important_value'], ['111', 'lost', 'general_winback'], [None, 'no_purchase', 'no_purchase']]
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from huaxiang.engine.base import Engine
from huaxiang.errors import ConfigError
from huaxiang.pipeline import StageContext, StageResult
from huaxiang.segments.clusters import MODEL_FILE, ClusterModel, fit_clusters, load_model
from huaxiang.segments.personas import CARD_COLUMNS, explain_clusters, persona_cards
from huaxiang.segments.rfm import CELLS, RfmSegments, compute_rfm_segments
from huaxiang.segments.settings import NO_PURCHASE, OTHERS, SegmentSettings, parse_settings
from huaxiang.tags.stage import features_as_of

__all__ = ["CARDS", "REPORT", "SEGMENTS", "cluster_buyers", "run_segments"]

SEGMENTS = "segments"
CARDS = "persona_cards"
REPORT = "cluster_report"
#: Fewer buyers than this are not clustered.
MIN_CLUSTER_ROWS = 20
#: Rows the explaining decision tree is fitted on (a sample when there are more).
TREE_ROWS = 200_000

CARD_SCHEMA = ibis.schema({
    "kind": "string", "key": "string", "size": "int64", "share": "float64", "name_zh": "string",
    "name_en": "string", "label_zh": "string", "label_en": "string", "description_zh": "string",
    "description_en": "string", "top_features": "string", "top_tags": "string", "top_categories": "string",
    "top_channel": "string", "top_payment_method": "string", "peak_hour": "int64", "rules": "string",
    "rule_precision": "float64", "rule_recall": "float64", "as_of": "timestamp",
})
REPORT_SCHEMA = ibis.schema({
    "k": "int64", "inertia": "float64", "silhouette": "float64", "n_fit": "int64", "chosen": "boolean",
    "elbow": "boolean", "reused": "boolean", "as_of": "timestamp", "trained_at": "string",
})


def _cluster_features(settings: SegmentSettings, features: ir.Table) -> list[str]:
    cs = settings.clusters
    wanted = cs.feature_list(list(features.columns))
    schema = features.schema()
    unknown = [c for c in wanted if c not in schema]
    if unknown:
        raise ConfigError(f"huaxiang.yaml: segments.clusters.features: {', '.join(unknown)} not in the features "
                          f"table (fix: use numeric features it has, e.g. recency_days, orders_total, spend_total)")
    text = [c for c in wanted if not schema[c].is_numeric()]
    if text:
        raise ConfigError(f"huaxiang.yaml: segments.clusters.features: {', '.join(text)} are not numeric "
                          f"(fix: cluster on numeric features; text ones such as top_channel have share_* columns)")
    if not wanted:
        raise ConfigError("huaxiang.yaml: segments.clusters.features: the features table has none of the default "
                          "cluster features (fix: list numeric features, or set segments.clusters.enabled: false)")
    return wanted


def cluster_buyers(engine: Engine, features: ir.Table, settings: SegmentSettings, *, workspace_dir: Path,
                   as_of: datetime) -> tuple[pd.DataFrame, ClusterModel, bool, pd.DataFrame] | None:
    """Fit (or reuse) K-means on the buyers and assign them: ``(person_id, cluster_id)``, the model,
    whether the saved model was reused, and the pulled feature frame (None with too few buyers)."""
    cs = settings.clusters
    wanted = _cluster_features(settings, features)
    buyers = features.filter(features[settings.rfm.recency].notnull())
    frame = engine.execute(buyers.select("person_id", *wanted))
    if len(frame) < max(MIN_CLUSTER_ROWS, cs.k_min + 1):
        return None
    # a fixed row order: the sample, the fit and so the ids do not depend on the engine's order
    frame = frame.sort_values("person_id", kind="stable").reset_index(drop=True)
    path = workspace_dir / MODEL_FILE
    previous = load_model(path)
    reused = False
    model: ClusterModel | None = None
    if previous is not None and previous.features == wanted and previous.log_features == cs.log_list(wanted):
        age = (pd.Timestamp(as_of) - pd.Timestamp(previous.as_of)).days if previous.as_of else None
        if cs.refit == "never" or (cs.refit == "auto" and age is not None and 0 <= age <= cs.max_model_age_days):
            model, reused = previous, True
    if model is None:
        model = fit_clusters(frame, cs, previous=previous, as_of=as_of)
        model.save(path)
    assigned = pd.DataFrame({"person_id": frame["person_id"].astype(str),
                             "cluster_id": model.predict(frame).astype("int64")})
    return assigned, model, reused, frame


def _names(res: RfmSegments) -> tuple[dict[tuple[str, str], tuple[str, str]], dict[tuple[str, str], int],
                                      dict[tuple[str, str], dict[str, Any]]]:
    names: dict[tuple[str, str], tuple[str, str]] = {}
    order: dict[tuple[str, str], int] = {}
    rules: dict[tuple[str, str], dict[str, Any]] = {}
    bins = res.columns.bins
    for i, rule in enumerate([*res.rules, OTHERS, NO_PURCHASE]):
        names[("rfm", rule.id)] = (rule.name_zh, rule.name_en)
        order[("rfm", rule.id)] = i
        text = (rule.describe(bins) if rule not in (OTHERS, NO_PURCHASE)
                else "no rule of the map matches" if rule == OTHERS else f"{res.columns.recency} is null")
        rules[("rfm", rule.id)] = {"rules": text}
    for i, (cell, zh, en) in enumerate([*CELLS.values(), (NO_PURCHASE.id, NO_PURCHASE.name_zh, NO_PURCHASE.name_en)]):
        names[("cell", cell)] = (zh, en)
        order[("cell", cell)] = i
        rules[("cell", cell)] = {"rules": res.cell_rule(cell)}
    return names, order, rules


def _report_frame(model: ClusterModel | None, reused: bool, as_of: datetime) -> pd.DataFrame:
    rows = [] if model is None else model.report
    frame = pd.DataFrame(rows, columns=["k", "inertia", "silhouette", "n_fit", "chosen", "elbow"])
    frame["reused"] = reused
    frame["as_of"] = pd.Series([as_of] * len(frame), dtype="datetime64[us]")
    frame["trained_at"] = "" if model is None else model.trained_at
    return frame.astype({"k": "int64", "n_fit": "int64", "inertia": "float64", "silhouette": "float64",
                         "chosen": "bool", "elbow": "bool", "reused": "bool"})


def run_segments(ctx: StageContext) -> StageResult:
    """Write ``segments``, ``persona_cards`` and ``cluster_report`` (see the module docstring)."""
    settings = parse_settings(ctx.config.segments)
    engine = ctx.engine
    features = engine.table("features")
    as_of = features_as_of(engine, features)
    stamp = ibis.literal(as_of, "timestamp")
    details: dict[str, Any] = {"as_of": str(as_of)}

    res = compute_rfm_segments(engine, features, settings)
    rfm = engine.materialize("_hx_segments_rfm", res.table, temp=True)
    details["cell_centres"] = {k: round(v, 4) for k, v in res.centres.items()}
    details["cell_split"] = res.split

    model: ClusterModel | None = None
    reused = False
    explained: dict[tuple[str, str], dict[str, Any]] = {}
    cs = settings.clusters
    fitted = None
    if cs.enabled:
        fitted = cluster_buyers(engine, features, settings, workspace_dir=ctx.workspace_dir, as_of=as_of)
    if fitted is not None:
        assigned, model, reused, frame = fitted
        clusters = engine.materialize("_hx_segments_clusters", ibis.memtable(assigned), temp=True)
        sample = frame if len(frame) <= TREE_ROWS else frame.sample(TREE_ROWS, random_state=cs.seed)
        labels = assigned["cluster_id"].to_numpy()[sample.index.to_numpy()]
        tree = explain_clusters(sample, labels, model.features, seed=cs.seed)
        explained = {("cluster", str(k)): v for k, v in tree.items()}
        hits = np.mean([v["recall"] for v in tree.values()]) if tree else float("nan")
        details["clusters"] = {
            "k": model.k, "silhouette": model.silhouette, "reused_model": reused, "features": model.features,
            "elbow_k": next((r["k"] for r in model.report if r.get("elbow")), None),
            "sizes": {str(k): int(v) for k, v in assigned["cluster_id"].value_counts().sort_index().items()},
            "tree_mean_recall": round(float(hits), 4),
        }
        staged = rfm.left_join(clusters, "person_id").drop("person_id_right")
    else:
        details["clusters"] = {"skipped": "disabled" if not cs.enabled else f"fewer than {MIN_CLUSTER_ROWS} buyers"}
        staged = rfm.mutate(cluster_id=ibis.null("int64"))

    names, order, rules = _names(res)
    rules.update(explained)
    tags = engine.table("person_tags") if engine.has_table("person_tags") else None
    prefs = engine.table("person_category_pref") if engine.has_table("person_category_pref") else None
    cards = persona_cards(engine, staged, features, settings=settings.personas, person_tags=tags,
                          category_pref=prefs, names=names, rules=rules, order=order)
    cards["as_of"] = pd.Series([as_of] * len(cards), dtype="datetime64[us]")
    cards = cards.astype({"rule_precision": "float64", "rule_recall": "float64"})
    engine.materialize(CARDS, ibis.memtable(cards[[*CARD_COLUMNS, "as_of"]], schema=CARD_SCHEMA))

    cluster_names = cards[cards["kind"] == "cluster"]
    name_frame = pd.DataFrame({"cluster_id": cluster_names["key"].astype("int64"),
                               "cluster_name_zh": cluster_names["name_zh"].astype(str),
                               "cluster_name_en": cluster_names["name_en"].astype(str)})
    cluster_table = ibis.memtable(name_frame, schema=ibis.schema({"cluster_id": "int64", "cluster_name_zh": "string",
                                                                  "cluster_name_en": "string"}))
    out = staged.left_join(cluster_table, "cluster_id").drop("cluster_id_right")
    out = out.select(*[c for c in out.columns if c != "as_of"], as_of=stamp)
    engine.materialize(SEGMENTS, out)
    report = _report_frame(model, reused, as_of)
    engine.materialize(REPORT, ibis.memtable(report, schema=REPORT_SCHEMA))
    for scratch in ("_hx_segments_rfm", "_hx_segments_clusters"):
        engine.drop(scratch)
    details["sizes"] = {str(kind): {str(k): int(n) for k, n in zip(g["key"], g["size"], strict=True)}
                        for kind, g in cards.groupby("kind", sort=False)}
    persons = sum(details["sizes"].get("rfm", {}).values())  # every person is in one RFM segment
    details["buyers"] = persons - details["sizes"].get("rfm", {}).get(NO_PURCHASE.id, 0)
    return StageResult(tables={SEGMENTS: persons, CARDS: len(cards), REPORT: len(report)}, details=details)
