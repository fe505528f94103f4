"""Benchmark: ingest + clean of the synthetic shop on DuckDB against plain pandas.

Generates the shop at each size, builds the demo workspace (stages ingest and
clean) and, in the same run, reads, maps, validates and cleans the same files
with pandas (vectorised string methods, the same mapping from huaxiang.yaml,
the same rules: parse failures, required columns, enums, exact duplicates,
duplicate keys, phone/email/name/gender/region normalisation). Prints rows/s of
both and the ratio, and a floor: DuckDB copying the same files into a table with no checks at
all (what any ingest into this warehouse costs at least on the machine at hand).

    python bench/build.py                 # 100k and 1M customers
    python bench/build.py --sizes 20000   # quick
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import huaxiang
from huaxiang.config import ColumnMap, SourceSpec, WorkspaceConfig, target_columns
from huaxiang.datasets.synthetic import generate_shop
from huaxiang.ingest.mapping import rules_for
from huaxiang.schema import ENUMS

_FULLWIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "})


def _ts_table() -> dict[int, str]:
    from huaxiang.clean.normalize import _ts_table as table

    src, dst = table()
    return str.maketrans(src, dst)


# ------------------------------------------------------------------ the pandas peer
def pandas_read(spec: SourceSpec, base: Path) -> pd.DataFrame:
    path = base / str(spec.path)
    if spec.format == "csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if spec.format == "parquet":
        return pd.read_parquet(path)
    if spec.format == "jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    if spec.format == "xlsx":
        return pd.read_excel(path, sheet_name=spec.sheet or 0, dtype=str)
    raise ValueError(spec.format)


_SUBSTR = re.compile(r"substr\((\w+),\s*1,\s*(\d+)\)")


def pandas_column(frame: pd.DataFrame, cmap: ColumnMap, target: str, n: int) -> tuple[pd.Series, pd.Series]:
    """The mapped column and a boolean 'present but unreadable' mask."""
    if cmap.value is not None:
        s = pd.Series([cmap.value] * n, index=frame.index)
    elif cmap.expr is not None:
        m = _SUBSTR.fullmatch(cmap.expr.strip())
        if not m:
            raise ValueError(f"pandas peer cannot run expr {cmap.expr!r}")
        s = frame[m.group(1)].astype("string").str[: int(m.group(2))]
    else:
        s = frame[str(cmap.column)]
    if s.dtype == object or str(s.dtype) == "string":
        s = s.astype("string").str.strip().replace("", pd.NA)
    present = s.notna()
    if cmap.map:
        s = s.astype("string").replace(cmap.map)
    if cmap.normalize == "gender":
        s = normalize_gender(s)
    bad = pd.Series(False, index=frame.index)
    if target in ("timestamp", "date"):
        if cmap.format:
            s = pd.to_datetime(s, format=cmap.format, errors="coerce")
        else:
            s = pd.to_datetime(s, errors="coerce")
        bad = present & s.isna()
    elif target in ("float64", "int64"):
        s = pd.to_numeric(s, errors="coerce")
        bad = present & s.isna()
    elif target == "boolean":
        s = s.astype("string").str.lower().map({"是": True, "否": False, "yes": True, "no": False, "true": True,
                                                 "false": False, "1": True, "0": False})
        bad = present & s.isna()
    else:
        s = s.astype("string")
    return s, bad


def normalize_gender(s: pd.Series) -> pd.Series:
    m = {"男": "male", "m": "male", "male": "male", "女": "female", "f": "female", "female": "female"}
    return s.astype("string").str.strip().str.lower().map(m).fillna("unknown")


def normalize_phone(s: pd.Series) -> pd.Series:
    digits = s.astype("string").str.translate(_FULLWIDTH).str.replace(r"\D", "", regex=True)
    digits = digits.str.replace(r"^(?:0086|86)(?=1[3-9]\d{9}$)", "", regex=True)
    return ("+86" + digits).where(digits.str.fullmatch(r"1[3-9]\d{9}").fillna(False))


def normalize_email(s: pd.Series) -> pd.Series:
    e = s.astype("string").str.translate(_FULLWIDTH).str.strip().str.lower()
    return e.where(e.str.fullmatch(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}").fillna(False))


def normalize_name(s: pd.Series, table: dict[int, str]) -> pd.Series:
    n = s.astype("string").str.translate(_FULLWIDTH).str.replace(r"\s+", " ", regex=True).str.strip()
    return n.str.translate(table)


def pandas_pipeline(config: WorkspaceConfig, base: Path) -> tuple[int, dict[str, pd.DataFrame]]:
    """Read, map, validate and clean every source with pandas; returns rows read and the tables."""
    table = _ts_table()
    rows = 0
    out: dict[str, list[pd.DataFrame]] = {}
    for spec in config.sources:
        frame = pandas_read(spec, base)
        n = len(frame)
        rows += n
        targets = target_columns(spec.table)
        rules = rules_for(spec.table)
        mapped: dict[str, Any] = {"source": spec.system_name, "source_row": np.arange(1, n + 1)}
        bad = pd.Series(False, index=frame.index)
        for col, cmap in spec.columns.items():
            mapped[col], unreadable = pandas_column(frame, cmap, targets[col], n)
            bad |= unreadable
        result = pd.DataFrame(mapped, index=frame.index)
        for col in rules.primary_key + rules.required:
            if col in result:
                bad |= result[col].isna()
        for col in rules.enums:
            if col in result and col in ENUMS:
                bad |= result[col].notna() & ~result[col].isin(ENUMS[col])
        if spec.dedupe_exact:
            bad |= frame.duplicated(keep="first")
        keys = [k for k in rules.primary_key if k in result.columns and k != "source"]
        if keys:
            bad |= ~bad & result[keys].duplicated(keep="first")
        kept = result[~bad]
        if spec.table == "customers_raw":
            kept = kept.assign(
                phone=normalize_phone(kept["phone"]) if "phone" in kept else None,
                email=normalize_email(kept["email"]) if "email" in kept else None,
                name=normalize_name(kept["name"], table) if "name" in kept else None,
            )
        out.setdefault(spec.table, []).append(kept)
    return rows, {k: pd.concat(v, ignore_index=True) for k, v in out.items()}


# ------------------------------------------------------------------- the floor
def duckdb_copy_floor(config: WorkspaceConfig, base: Path, workdir: Path) -> tuple[int, float]:
    """Rows and seconds to copy every file source into a fresh DuckDB file with no checks at all.

    DuckDB's own readers (``read_csv`` all text, ``read_parquet``, ``read_json``) straight into
    tables, then a checkpoint: what any ingest into this warehouse costs at least on this machine.
    Excel sources are left out (DuckDB reads them only with an extension from the network).
    """
    import duckdb

    path = workdir / "floor.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order = false")
    readers = {"csv": "read_csv({}, all_varchar = true)", "parquet": "read_parquet({})",
               "jsonl": "read_json({}, format = 'newline_delimited')"}
    rows = 0
    started = time.perf_counter()
    for i, spec in enumerate(config.sources):
        if spec.format not in readers:
            continue
        source = readers[spec.format].format("'" + str(base / str(spec.path)).replace("'", "''") + "'")
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM {source}")
        rows += int(con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0])  # type: ignore[index]
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    con.close()
    path.unlink(missing_ok=True)
    return rows, seconds


# ------------------------------------------------------------------------- runner
def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(size: int, workdir: Path) -> dict[str, Any]:
    folder = workdir / f"shop_{size}"
    t0 = time.perf_counter()
    generate_shop(folder / "data", n_customers=size, seed=42)
    generated = time.perf_counter() - t0
    from importlib import resources

    (folder / "huaxiang.yaml").write_text(
        resources.files("huaxiang.examples").joinpath("demo.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    ws = huaxiang.Workspace.open(folder)
    t0 = time.perf_counter()
    report = ws.build(stages=["ingest", "clean"])
    ours = time.perf_counter() - t0
    ws.close()
    rows = sum(s["rows_read"] for s in report.sources)
    gc.collect()
    t0 = time.perf_counter()
    pandas_rows, _ = pandas_pipeline(ws.config, ws.data_dir)
    theirs = time.perf_counter() - t0
    assert pandas_rows == rows, (pandas_rows, rows)
    floor_rows, floor_s = duckdb_copy_floor(ws.config, ws.data_dir, workdir)
    return {
        "customers": size, "rows": rows, "generate_s": round(generated, 2),
        "huaxiang_s": round(ours, 2), "huaxiang_rows_per_s": round(rows / ours),
        "ingest_s": report.stages["ingest"], "clean_s": report.stages["clean"],
        "pandas_s": round(theirs, 2), "pandas_rows_per_s": round(rows / theirs),
        "speedup_vs_pandas": round(theirs / ours, 2), "peak_rss_mib": round(peak_rss_mib()),
        "duckdb_copy_floor_rows": floor_rows, "duckdb_copy_floor_s": round(floor_s, 2),
        "duckdb_copy_floor_rows_per_s": round(floor_rows / floor_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", action="store_true", help="keep the generated workspaces")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hx-bench-"))
    try:
        for size in args.sizes:
            result = run(size, workdir)
            print(json.dumps(result))
            print(
                f"{size:>9,} customers: {result['rows']:,} rows; huaxiang ingest+clean {result['huaxiang_s']} s "
                f"({result['huaxiang_rows_per_s']:,} rows/s) vs pandas {result['pandas_s']} s "
                f"({result['pandas_rows_per_s']:,} rows/s): {result['speedup_vs_pandas']}x"
            )
            print(
                f"{'':>9} floor: DuckDB copying the same files into a table with no checks "
                f"{result['duckdb_copy_floor_s']} s for {result['duckdb_copy_floor_rows']:,} rows "
                f"({result['duckdb_copy_floor_rows_per_s']:,} rows/s; Excel left out)"
            )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
