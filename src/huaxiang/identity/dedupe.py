"""``huaxiang dedupe``: the everyday job "dedupe this file" (or link two files), without a workspace.

The file is read as text columns, each compared field gets a comparison chosen from its name and
values (:func:`guess_kind`), a Splink model is trained on the file itself and the records are
clustered. The result is ``record_id, cluster_id`` (plus ``dataset`` when linking two files).

Examples
--------
>>> guess_kind("given_name", ["anna", "bob"])
'name'
>>> guess_kind("postcode", [str(2000 + i) for i in range(100)])
'code'
>>> guess_kind("state", ["nsw", "vic"] * 50)
'exact'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from huaxiang.errors import ConfigError, SourceNotFoundError
from huaxiang.identity.probabilistic import UID, FieldSpec, MatchSpec, dedupe_table


def guess_kind(column: str, values: Sequence[object]) -> str:
    """How to compare a column: by its name first (name, date), else by its values (code, exact, text)."""
    low = column.lower()
    if "name" in low or low in ("姓名", "名字"):
        return "name"
    if any(k in low for k in ("date", "dob", "birth", "生日", "日期")):
        return "date"
    vals = [str(v) for v in values if v is not None and str(v) != "" and str(v) != "nan"]
    if not vals:
        return "exact"
    if len(set(vals)) <= max(20, len(vals) // 100):
        return "exact"
    if all(v.replace("-", "").replace(" ", "").isdigit() for v in vals[:1000]):
        return "code"
    return "text"


def read_records(path: Path, id_col: str) -> pd.DataFrame:
    """A CSV or Parquet file as text columns (surrounding spaces trimmed, blanks as NULL)."""
    if not path.exists():
        raise SourceNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    if id_col not in frame.columns:
        raise ConfigError(f"--id-col {id_col!r} is not a column of {path}; columns: {', '.join(frame.columns)}")
    frame = frame.astype("string").apply(lambda s: s.str.strip()).replace({"": None})
    if frame[id_col].isna().any() or frame[id_col].duplicated().any():
        raise ConfigError(f"--id-col {id_col!r} of {path} must be unique and never empty "
                          f"({int(frame[id_col].duplicated().sum())} repeated, {int(frame[id_col].isna().sum())} empty)")
    return frame


def dedupe_files(input_path: str | Path, *, id_col: str, fields: Sequence[str] | None = None,
                 link_with: str | Path | None = None, threshold: float = 0.95,
                 blocking: Sequence[Sequence[str]] | None = None) -> pd.DataFrame:
    """Cluster the records of a file (or link two files): ``record_id, cluster_id[, dataset]``.

    Runs on an in-memory DuckDB engine.
    """
    from huaxiang.engine import create_engine

    paths = [Path(input_path)] + ([Path(link_with)] if link_with is not None else [])
    frames = [read_records(p, id_col) for p in paths]
    chosen = list(fields) if fields else [c for c in frames[0].columns if c != id_col]
    for p, f in zip(paths, frames, strict=True):
        missing = [c for c in chosen if c not in f.columns]
        if missing:
            raise ConfigError(f"--fields {missing} not in {p}; columns: {', '.join(f.columns)}")
    both = pd.concat([f[chosen] for f in frames])
    spec = MatchSpec(fields=[FieldSpec(c, guess_kind(c, both[c].dropna().head(5000).tolist()))  # type: ignore[arg-type]
                             for c in chosen],
                     blocking=[list(b) for b in blocking or []], threshold=threshold)
    engine = create_engine("duckdb")
    try:
        names = []
        for i, f in enumerate(frames):
            data = f[[id_col, *chosen]].rename(columns={id_col: UID})
            arrow = pa.Table.from_pandas(data.astype(object).where(data.notna(), None), preserve_index=False)
            engine.register_arrow(f"_hx_dd_in{i}", arrow)
            names.append(f"dd_{i}")
            engine.materialize(names[-1], engine.table(f"_hx_dd_in{i}"), temp=True)
        out = engine.execute(dedupe_table(engine, names, spec, link_only=len(names) > 1))
    finally:
        engine.close()
    if len(names) > 1:
        out["dataset"] = out.pop("dataset").map({i: p.name for i, p in enumerate(paths)})
    return out.sort_values(["cluster_id", "record_id"]).reset_index(drop=True)


def write_clusters(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write clusters as CSV, or Parquet when ``out`` ends in .parquet."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path
