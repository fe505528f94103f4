"""Engines: where the set-based work runs (DuckDB by default, Spark at scale).

>>> from huaxiang.engine import create_engine
>>> create_engine("duckdb").name
'duckdb'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from huaxiang.engine.base import Engine
from huaxiang.errors import ConfigError

if TYPE_CHECKING:
    from huaxiang.engine.duckdb import DuckDBEngine
    from huaxiang.engine.spark import SparkEngine

ENGINES = ("duckdb", "spark")


def create_engine(name: str = "duckdb", *, workspace_dir: str | Path | None = None, **options: Any) -> Engine:
    """Open the engine ``name`` for a workspace folder (in memory when ``workspace_dir`` is None).

    With a workspace folder this opens the workspace's *live* warehouse (see
    :mod:`huaxiang.engine.warehouse`): the one the last successful build switched in, on the
    engine that built it (``name`` applies until the first build). Options:

    ``target``
        A warehouse to open instead of the live one (a build's staging file or folder).
    ``read_only``
        DuckDB: ``True`` opens the file read-only with external access disabled; ``None``
        (default) opens it read-write unless another process holds the workspace (a build,
        the service) or the file, and then read-only; a file held for writing by another
        process is waited for briefly, then refused in one line naming the holder. While
        another process serves the workspace, its read-only snapshot is opened instead
        (:mod:`huaxiang.engine.snapshot`; the engine's ``snapshot`` says which).

    Spark is imported only here, so DuckDB users never need PySpark.
    """
    target = options.pop("target", None)
    if workspace_dir is not None and target is None:
        from huaxiang.engine.warehouse import live_engine

        name = live_engine(workspace_dir) or name
    if name == "duckdb":
        from huaxiang.engine.warehouse import duckdb_paths

        path = options.pop("path", "warehouse.duckdb")
        read_only = options.pop("read_only", None)
        kwargs = {k: v for k, v in options.items() if k in ("threads", "memory_limit")}
        if target is not None:
            return _duckdb(Path(target), read_only=bool(read_only), **kwargs)
        if workspace_dir is None:
            return _duckdb(None, **kwargs)
        live, _ = duckdb_paths(workspace_dir, path)
        return _open_live_duckdb(Path(workspace_dir), live, read_only, kwargs)
    if name == "spark":
        try:
            from huaxiang.engine.spark import SparkEngine
        except ImportError as exc:
            raise ImportError(
                f'the Spark engine needs PySpark: pip install "huaxiang[spark]" (and a Java 17+ runtime); {exc}'
            ) from None
        from huaxiang.engine.warehouse import live_spark_dir

        if target is not None:
            folder = Path(target)
        elif workspace_dir is not None:
            folder = live_spark_dir(workspace_dir)
        else:
            folder = Path(_tmpdir()) / "spark"
        kwargs = {k: v for k, v in options.items() if k in ("master", "conf", "session")}
        return SparkEngine(folder, **kwargs)
    raise ConfigError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")


def _duckdb(path: Path | None, **kwargs: Any) -> DuckDBEngine:
    from huaxiang.engine.duckdb import DuckDBEngine

    return DuckDBEngine(path, **kwargs)


#: Seconds a reader waits for a warehouse file another process holds for writing.
BUSY_WAIT_SECONDS = 3.0


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc)
    return ("Could not set lock" in text or "Conflicting lock" in text
            or "different configuration than existing connections" in text)


def _open_live_duckdb(folder: Path, live: Path, read_only: bool | None, kwargs: dict[str, Any]) -> Engine:
    import os
    import time

    from huaxiang.errors import WorkspaceBusyError, WorkspaceError
    from huaxiang.locks import current_holder

    holder = current_holder(folder)
    other = holder if holder is not None and holder.pid != os.getpid() else None
    if other is not None and other.what == "serve":
        # the service's updater writes the live file: read the snapshot it writes for readers
        from huaxiang.engine.snapshot import open_snapshot

        return open_snapshot(folder, other, **kwargs)
    if read_only is None and other is None:
        try:
            return _duckdb(live, **kwargs)
        except Exception as exc:  # another process has the file open: read it read-only instead
            if not _is_lock_conflict(exc):
                raise
    if not live.exists():
        running = f"; {other.describe()} is running now" if other is not None else ""
        raise WorkspaceError(f"{folder}: no build has finished yet (no {live.name}); run `huaxiang build`{running}")
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        try:
            return _duckdb(live, read_only=True, **kwargs)
        except Exception as exc:
            if not _is_lock_conflict(exc):
                raise
            if time.monotonic() >= deadline:
                holder = current_holder(folder)
                who = holder.describe() if holder is not None else "another process"
                raise WorkspaceBusyError(
                    f"workspace busy: {live} is open for writing by {who}; try again when it ends"
                ) from None
            time.sleep(0.2)


def _tmpdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="huaxiang-")


def __getattr__(name: str) -> Any:
    if name == "DuckDBEngine":
        from huaxiang.engine.duckdb import DuckDBEngine

        return DuckDBEngine
    if name == "SparkEngine":
        from huaxiang.engine.spark import SparkEngine

        return SparkEngine
    raise AttributeError(name)


__all__ = ["ENGINES", "DuckDBEngine", "Engine", "SparkEngine", "create_engine"]
