"""Atomic builds and safe reads: what ``Workspace.build`` and ``Workspace.show`` do.

A build holds the workspace lock (:func:`huaxiang.locks.hold_workspace`, ``what="build"``), runs
every stage on a staging copy of the warehouse (:mod:`huaxiang.engine.warehouse`) and switches it
in only when every stage succeeded. So a failed build — an exception in any stage, a bad source,
the process killed — leaves every table exactly as the last successful build left it, and the next
build starts from there. Readers keep reading the live warehouse the whole time.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> ws.build().tables["orders"]
0
>>> show_rows(ws, "orders", limit=-1)
Traceback (most recent call last):
...
huaxiang.errors.ArgumentError: show orders: limit -1 is not a row count; give a whole number 0 or more (e.g. -n 20)
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from huaxiang import pipeline
from huaxiang.engine import create_engine
from huaxiang.engine.base import Engine
from huaxiang.engine.warehouse import (
    discard_staging,
    duckdb_paths,
    publish_duckdb,
    publish_spark,
    record_live,
    stage_duckdb,
    stage_spark,
)
from huaxiang.errors import ArgumentError, ConfigError, EngineError
from huaxiang.locks import hold_workspace
from huaxiang.pipeline import StageContext, stage_names

if TYPE_CHECKING:
    from huaxiang.workspace import BuildReport, Workspace

__all__ = ["FAILED_FILE", "engine_options", "last_failure", "run_build", "show_rows"]

#: The record of the last failed build (relative to the workspace folder).
FAILED_FILE = Path(".huaxiang") / "last_failed_build.json"


def engine_options(ws: Workspace) -> dict[str, Any]:
    """The options the workspace opens its engine with (config, then those given to ``Workspace.open``)."""
    cfg = ws.config.engine
    opts: dict[str, Any] = {"threads": cfg.threads, "memory_limit": cfg.memory_limit, "master": cfg.master,
                            "conf": cfg.conf, "path": cfg.path}
    opts.update(getattr(ws, "_engine_options", {}) or {})
    return opts


def _build_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")


def run_build(ws: Workspace, report: BuildReport, *, stages: Sequence[str] | None = None,
              progress: Callable[[str, str], None] | None = None,
              save: Callable[[BuildReport], None] | None = None) -> BuildReport:
    """Run the pipeline into a staging warehouse and switch it in on success; fill ``report``.

    ``report.details["build"]`` records the seconds spent copying the live warehouse
    (``copy_seconds``) and switching (``publish_seconds``). ``save(report)`` runs after the switch.
    On failure the staging warehouse is removed, the live one is untouched, the error is recorded in
    ``.huaxiang/last_failed_build.json`` and re-raised.
    """
    wanted = list(stages) if stages else stage_names()
    unknown = [s for s in wanted if s not in stage_names()]
    if unknown:
        raise ConfigError(f"unknown stage(s) {unknown}; stages are: {', '.join(stage_names())}")
    started = time.perf_counter()
    with hold_workspace(ws.path, what="build"):
        ws.close()  # the live warehouse is replaced: no connection of ours may stay on it
        opts = engine_options(ws)
        build = _build_id()
        t0 = time.perf_counter()
        if ws.engine_name == "duckdb":
            live, staging = duckdb_paths(ws.path, opts.get("path") or "warehouse.duckdb")
            target: Path = stage_duckdb(live, staging)
        elif ws.engine_name == "spark":
            target = stage_spark(ws.path, build)
        else:
            raise ConfigError(f"unknown engine {ws.engine_name!r}; use one of duckdb, spark")
        files = _FileSnapshot(ws.path / MODEL_DIR)  # fitted models the stages write beside the tables
        copy_seconds = time.perf_counter() - t0
        engine: Engine | None = None
        try:
            engine = create_engine(ws.engine_name, workspace_dir=ws.path, target=target, **opts)
            report.engine = engine.name
            _run_stages(ws, engine, report, wanted, progress)
            if engine.supports("warehouse_file"):
                engine.close()  # checkpoint: the file is complete on its own
                engine = None
            t1 = time.perf_counter()
            if ws.engine_name == "duckdb":
                publish_duckdb(live, staging)
            else:
                publish_spark(ws.path, target)
            record_live(ws.path, ws.engine_name, build=build, started_at=report.started_at, tables=report.tables)
            publish_seconds = time.perf_counter() - t1
        except BaseException as exc:
            if engine is not None:
                _close_quietly(engine)
                engine = None
            discard_staging(target)
            files.restore()
            _record_failure(ws.path, report, exc)
            raise
        finally:
            if engine is not None:
                _close_quietly(engine)
        files.drop()
        report.details["build"] = {"id": build, "copy_seconds": round(copy_seconds, 3),
                                   "publish_seconds": round(publish_seconds, 3)}
        report.seconds = round(time.perf_counter() - started, 3)
        if save is not None:
            save(report)
    return report


#: Files the stages write beside the warehouse (fitted models): kept or put back with the tables.
MODEL_DIR = "models"


class _FileSnapshot:
    """A copy of a small folder taken before a build, put back if the build fails."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.copy = folder.parent / ".huaxiang" / f"{folder.name}.before-build"
        shutil.rmtree(self.copy, ignore_errors=True)
        self.existed = folder.is_dir()
        if self.existed:
            shutil.copytree(folder, self.copy)

    def restore(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.existed:
            shutil.copytree(self.copy, self.folder)
        self.drop()

    def drop(self) -> None:
        shutil.rmtree(self.copy, ignore_errors=True)


def _run_stages(ws: Workspace, engine: Engine, report: BuildReport, wanted: list[str],
                progress: Callable[[str, str], None] | None) -> None:
    ctx = StageContext(engine=engine, config=ws.config, workspace_dir=ws.path, data_dir=ws.data_dir)
    for stage in pipeline.STAGES:  # looked up at run time: tests and the service may swap stages
        if stage.name not in wanted:
            continue
        if progress is not None:
            progress(stage.name, "")
            ctx.progress = lambda item, _s=stage.name: progress(_s, item)
        t0 = time.perf_counter()
        result = stage.run(ctx)
        ctx.results[stage.name] = result
        report.stages[stage.name] = round(time.perf_counter() - t0, 3)
        report.tables.update(result.tables)
        if stage.name == "ingest":
            report.sources = result.details.get("sources", [])
        else:
            report.details[stage.name] = result.details


def _close_quietly(engine: Engine) -> None:
    with contextlib.suppress(Exception):  # closing after a failure must not hide the failure
        engine.close()


def _record_failure(folder: Path, report: BuildReport, exc: BaseException) -> None:
    try:
        failed = {"started_at": report.started_at, "engine": report.engine, "stages_done": report.stages,
                  "error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                  "traceback": traceback.format_exception(exc)[-3:]}
        file = folder / FAILED_FILE
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(failed, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    except OSError:  # pragma: no cover - the failure itself matters more
        pass


def last_failure(folder: str | Path) -> dict[str, Any] | None:
    """The record of the last failed build in ``folder`` (None if there is none)."""
    try:
        data = json.loads((Path(folder) / FAILED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ----------------------------------------------------------------------------- show


def show_rows(ws: Workspace, name: str, *, limit: int = 20, where: str | None = None) -> pd.DataFrame:
    """The body of :meth:`Workspace.show`: check the arguments, filter safely, read ``limit`` rows."""
    from huaxiang.expressions import ExpressionError, parse_filter

    if not isinstance(name, str) or not name.strip():
        raise ArgumentError("show: give a table name (huaxiang show --list lists them)")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ArgumentError(
            f"show {name}: limit {limit!r} is not a row count; give a whole number 0 or more (e.g. -n 20)"
        )
    if where is not None and not isinstance(where, str):
        raise ArgumentError(f"show {name}: where must be text, got {type(where).__name__}")
    table = ws.table(name)
    if where is not None and where.strip():
        table = table.filter(parse_filter(where, table, where="--where", table_name=name))
    try:
        frame: pd.DataFrame = ws.engine.execute(table, limit=limit)
    except EngineError as exc:
        if not where:
            raise
        first = str(exc).split(": ", 1)[-1].splitlines()[0]
        raise ExpressionError(
            f"--where {where!r} could not be evaluated on {name}: {first}; use TRY_CAST(x AS type) for text "
            f"that may not convert"
        ) from None
    return frame
