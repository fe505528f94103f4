"""Recompute the ``segments`` rows of a few persons (identity corrections, the live updater).

RFM scores are ranks among the buyers of the ``features`` table, so the touched persons' scores are
recomputed against everyone's stored features (one query; the other persons' rows are kept as the
last build wrote them); the 8-cell centres likewise. Clusters: the touched buyers go to the nearest
centroid of the K-means model the last build saved (``models/segments_kmeans.json``; a rebuild at
the same ``as_of`` reuses it), named as the last build's ``persona_cards`` name them. Persona cards
and the cluster report are population summaries and stay the last build's.

Examples
--------
>>> import ibis, tempfile
>>> from pathlib import Path
>>> from huaxiang.config import WorkspaceConfig
>>> from huaxiang.engine import create_engine
>>> from huaxiang.pipeline import StageContext
>>> from huaxiang.segments.stage import run_segments
>>> eng = create_engine("duckdb")
>>> _ = eng.materialize("features", ibis.memtable({"person_id": ["a", "b", "c"], "recency_days": [2.0, 50.0, None],
...                                               "orders_total": [6, 1, None], "spend_total": [600.0, 40.0, None]}))
>>> config = WorkspaceConfig.model_validate({"segments": {"clusters": {"enabled": False}}})
>>> folder = Path(tempfile.mkdtemp())
>>> _ = run_segments(StageContext(engine=eng, config=config, workspace_dir=folder, data_dir=folder))
>>> eng.raw.execute("UPDATE features SET recency_days = 1.0, orders_total = 9, spend_total = 900.0 WHERE person_id = 'c'")  # doctest: +ELLIPSIS
<...>
>>> refresh_segments(eng, ["c"], config.segments, workspace_dir=folder)
1
>>> eng.execute(eng.table("segments").order_by("person_id"))["rfm_score"].tolist()
['555', '111', '555']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from huaxiang.engine.base import Engine
from huaxiang.features.persons import person_table
from huaxiang.segments.clusters import MODEL_FILE, load_model
from huaxiang.segments.rfm import compute_rfm_segments
from huaxiang.segments.settings import parse_settings

__all__ = ["refresh_segments"]


def _cluster_names(engine: Engine) -> pd.DataFrame:
    if not engine.has_table("persona_cards"):
        return pd.DataFrame(columns=["cluster_id", "cluster_name_zh", "cluster_name_en"])
    cards = engine.table("persona_cards")
    frame = engine.execute(cards.filter(cards.kind == "cluster").select("key", "name_zh", "name_en"))
    return pd.DataFrame({"cluster_id": frame["key"].astype("int64"), "cluster_name_zh": frame["name_zh"].astype(str),
                         "cluster_name_en": frame["name_en"].astype(str)})


def _clustered(engine: Engine) -> bool:
    """Whether the last build assigned clusters (its report has the k it tried)."""
    return engine.has_table("cluster_report") and int(engine.execute(engine.table("cluster_report").count())) > 0


def refresh_segments(engine: Engine, person_ids: Sequence[str], settings: dict[str, Any] | None, *,
                     workspace_dir: str | Path, as_of: datetime | None = None) -> int:
    """Replace the ``segments`` rows of ``person_ids`` (see the module docstring); returns the rows written.

    ``as_of`` (the cut-off of the persons' features) stamps the rows; default the last build's.

    A person no longer in ``features`` loses their row. Does nothing before the segments stage ran.
    """
    if not engine.has_table("segments") or not engine.has_table("features"):
        return 0
    ids = sorted({str(p) for p in person_ids})
    s = parse_settings(settings)
    features = engine.table("features")
    rfm = compute_rfm_segments(engine, features, s).table
    wanted = person_table(ids)  # a semi-join: an isin of thousands of literals costs seconds to build and plan
    frame = engine.execute(rfm.semi_join(wanted, "person_id"))
    stored = engine.table("segments")
    model = load_model(Path(workspace_dir) / MODEL_FILE) if s.clusters.enabled and _clustered(engine) else None
    frame["cluster_id"] = pd.Series([None] * len(frame), dtype="Int64")
    if model is not None and len(frame):
        mine = features.semi_join(wanted, "person_id").filter(features[s.rfm.recency].notnull())
        buyers = engine.execute(mine.select("person_id", *model.features))
        if len(buyers):
            assigned = pd.Series(model.predict(buyers), index=buyers["person_id"].astype(str).to_numpy())
            frame["cluster_id"] = frame["person_id"].astype(str).map(assigned).astype("Int64")
    frame = frame.merge(_cluster_names(engine), on="cluster_id", how="left")
    if as_of is None and "as_of" in stored.columns:
        as_of = engine.execute(stored.as_of.max())
    stamp: Any = pd.NaT if as_of is None else pd.Timestamp(as_of)
    frame["as_of"] = pd.Series([stamp] * len(frame), dtype="datetime64[us]")
    frame = frame[[c for c in stored.columns if c in frame.columns]]
    schema = stored.schema()
    arrow = ibis.schema({c: schema[c] for c in frame.columns}).to_pyarrow()
    engine.replace_rows("segments", pa.Table.from_pandas(frame, schema=arrow, preserve_index=False), ids)
    return len(frame)
