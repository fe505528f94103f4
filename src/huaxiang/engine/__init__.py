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

    Spark is imported only here, so DuckDB users never need PySpark.
    """
    if name == "duckdb":
        from huaxiang.engine.duckdb import DuckDBEngine

        path = options.pop("path", "warehouse.duckdb")
        db = None if workspace_dir is None else Path(workspace_dir) / path
        return DuckDBEngine(db, **{k: v for k, v in options.items() if k in ("threads", "memory_limit")})
    if name == "spark":
        from huaxiang.engine.spark import SparkEngine

        folder = Path(workspace_dir) / "spark" if workspace_dir is not None else Path(_tmpdir()) / "spark"
        kwargs = {k: v for k, v in options.items() if k in ("master", "conf", "session")}
        return SparkEngine(folder, **kwargs)
    raise ConfigError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")


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
