"""Where a workspace's live warehouse is, and how a build replaces it in one atomic step.

A build never writes the live warehouse. It copies it into a staging place, runs every stage
there, and on success switches in one ``os.replace``:

* DuckDB: the staging file ``warehouse.duckdb.staging`` (a copy of the live file, since
  incremental stages read the previous tag history) is renamed over ``warehouse.duckdb``. A
  reader that opened the old file keeps reading it (the old inode lives until it closes); a
  reader that opens later gets the new one. A failed or killed build leaves only the staging file,
  which the next build overwrites.
* Spark: tables are Parquet folders; a build writes a new version folder ``spark/v-<stamp>/``
  (seeded with hard links to the live version's files, which Spark never rewrites in place) and
  switches the pointer file ``spark/CURRENT``. Without ``CURRENT`` the tables sit directly in
  ``spark/`` (workspaces built before versions).

The engine that built the live warehouse is recorded in ``.huaxiang/live.json``, so a reader opens
it with that engine (a Spark-built workspace is read by Spark even when the config says duckdb).

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> live_engine(folder) is None
True
>>> record_live(folder, "duckdb", build="20261207T180000")
>>> live_engine(folder)
'duckdb'
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["LIVE_FILE", "STAGING_SUFFIX", "discard_staging", "duckdb_paths", "live_engine", "live_spark_dir",
           "publish_duckdb", "publish_spark", "record_live", "stage_duckdb", "stage_spark"]

#: Which engine built the live warehouse (relative to the workspace folder).
LIVE_FILE = Path(".huaxiang") / "live.json"
#: Suffix of the DuckDB file a build writes before it is switched in.
STAGING_SUFFIX = ".staging"
SPARK_DIR = "spark"
SPARK_POINTER = "CURRENT"


def _write_atomic(file: Path, text: str) -> None:
    """Write ``text`` to ``file`` so that a reader sees the old or the new content, never a part."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, file)
    _fsync_dir(file.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every OS opens folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_file(file: Path) -> None:
    if file.exists():
        with open(file, "rb+") as f:
            os.fsync(f.fileno())


# ----------------------------------------------------------------------------- live.json


def live_state(workspace_dir: str | Path) -> dict[str, Any] | None:
    """The content of ``.huaxiang/live.json``, or None before the first build."""
    file = Path(workspace_dir) / LIVE_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def live_engine(workspace_dir: str | Path) -> str | None:
    """The engine that built the live warehouse of ``workspace_dir`` (None before the first build)."""
    state = live_state(workspace_dir)
    name = state.get("engine") if state else None
    return str(name) if name else None


def record_live(workspace_dir: str | Path, engine: str, *, build: str, **extra: Any) -> None:
    """Record that the live warehouse was built by ``engine`` (after the switch)."""
    state = {"engine": engine, "build": build,
             "switched_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"), **extra}
    _write_atomic(Path(workspace_dir) / LIVE_FILE, json.dumps(state, ensure_ascii=False, indent=2, default=str))


# ----------------------------------------------------------------------------- DuckDB


def duckdb_paths(workspace_dir: str | Path, path: str = "warehouse.duckdb") -> tuple[Path, Path]:
    """(live file, staging file) of a workspace's DuckDB warehouse."""
    live = Path(path)
    live = live if live.is_absolute() else Path(workspace_dir) / live
    return live, live.with_name(live.name + STAGING_SUFFIX)


def _wal(file: Path) -> Path:
    return file.with_name(file.name + ".wal")


def stage_duckdb(live: Path, staging: Path) -> Path:
    """Prepare ``staging`` as a copy of ``live`` (empty when there is no live warehouse yet)."""
    discard_staging(staging)
    if live.exists():
        shutil.copyfile(live, staging)
        if _wal(live).exists():  # a writer ended without a checkpoint: its log belongs to the copy
            shutil.copyfile(_wal(live), _wal(staging))
    staging.parent.mkdir(parents=True, exist_ok=True)
    return staging


def publish_duckdb(live: Path, staging: Path) -> None:
    """Switch ``staging`` in as the live warehouse (one rename; the engine on it must be closed)."""
    if _wal(staging).exists():  # pragma: no cover - a closed DuckDB connection has checkpointed
        raise RuntimeError(f"{staging} still has a write-ahead log; close its connection before publishing")
    _fsync_file(staging)
    # The live file's log (if a writer crashed on it) was copied into the staging file: drop it first,
    # so that the new file is never read with the old file's log.
    _wal(live).unlink(missing_ok=True)
    os.replace(staging, live)
    _fsync_dir(live.parent)


def discard_staging(staging: Path) -> None:
    """Remove a staging warehouse (a failed or killed build's)."""
    if staging.is_dir():
        shutil.rmtree(staging, ignore_errors=True)
    else:
        staging.unlink(missing_ok=True)
    _wal(staging).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- Spark


def live_spark_dir(workspace_dir: str | Path) -> Path:
    """The folder holding the live Spark tables: ``spark/<version>`` named by ``spark/CURRENT``, else ``spark``."""
    root = Path(workspace_dir) / SPARK_DIR
    pointer = root / SPARK_POINTER
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return root
    return root / version if version and (root / version).is_dir() else root


def _table_dirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [d for d in sorted(folder.iterdir())
            if d.is_dir() and (d / "_SUCCESS").exists() and not d.name.startswith((".", "v-", "_"))]


def stage_spark(workspace_dir: str | Path, build: str) -> Path:
    """A new version folder for a Spark build, seeded with hard links to the live tables' files."""
    root = Path(workspace_dir) / SPARK_DIR
    target = root / f"v-{build}"
    discard_staging(target)
    target.mkdir(parents=True)
    for table in _table_dirs(live_spark_dir(workspace_dir)):
        dest = target / table.name
        dest.mkdir()
        for f in table.iterdir():
            if f.is_file():
                if f.name.startswith(("_", ".")):  # markers and checksums may be rewritten: copy them
                    shutil.copy2(f, dest / f.name)
                else:  # data files are never rewritten in place: share them
                    try:
                        os.link(f, dest / f.name)
                    except OSError:  # pragma: no cover - another file system
                        shutil.copy2(f, dest / f.name)
    return target


def publish_spark(workspace_dir: str | Path, version_dir: Path) -> None:
    """Point ``spark/CURRENT`` at ``version_dir``; keep the previous version (readers may hold it), drop older."""
    root = Path(workspace_dir) / SPARK_DIR
    previous = live_spark_dir(workspace_dir)
    _write_atomic(root / SPARK_POINTER, version_dir.name)
    keep = {version_dir.name, previous.name}
    for old in root.glob("v-*"):
        if old.is_dir() and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    if previous == root:  # tables of a workspace built before versions: now copied into the version
        for table in _table_dirs(root):
            shutil.rmtree(table, ignore_errors=True)
