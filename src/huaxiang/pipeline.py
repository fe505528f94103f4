"""The pipeline: named stages run in one direction, each ``Tables in -> Tables out``.

A stage is a function ``run(ctx) -> StageResult`` that reads tables from
``ctx.engine`` and writes its own. Stages are listed in :data:`STAGES` in
pipeline order; each later capability (identity, features, tags, segments,
models) adds its entry here.

>>> [s.name for s in STAGES][:2]
['ingest', 'clean']
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huaxiang.config import WorkspaceConfig
from huaxiang.engine.base import Engine


@dataclass
class StageContext:
    """What a stage gets: the engine, the configuration and the workspace folder."""

    engine: Engine
    config: WorkspaceConfig
    workspace_dir: Path
    data_dir: Path
    progress: Callable[[str], None] | None = None
    results: dict[str, StageResult] = field(default_factory=dict)


@dataclass
class StageResult:
    """What a stage reports: row counts of the tables it wrote and free-form details."""

    tables: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """A named pipeline step."""

    name: str
    run: Callable[[StageContext], StageResult]
    description: str = ""


def _run_ingest(ctx: StageContext) -> StageResult:
    from huaxiang.ingest.load import ingest_sources

    result = ingest_sources(
        ctx.engine, ctx.config, base_dir=ctx.data_dir, staging_dir=ctx.workspace_dir / ".staging",
        progress=ctx.progress,
    )
    return StageResult(tables=result.table_rows, details={"sources": [s.as_dict() for s in result.sources]})


def _run_clean(ctx: StageContext) -> StageResult:
    from huaxiang.clean.stage import clean_tables

    return clean_tables(ctx.engine, ctx.config)


def _lazy(module: str, function: str) -> Callable[[StageContext], StageResult]:
    def run(ctx: StageContext) -> StageResult:
        fn: Callable[[StageContext], StageResult] = getattr(importlib.import_module(module), function)
        return fn(ctx)

    run.__qualname__ = f"{module}.{function}"
    return run


#: Later stages live in their own packages, each with ``run_<stage>(ctx)`` in ``<package>/stage.py``.
_LATER = [
    ("identity", "huaxiang.identity.stage", "one person_id per real customer: deterministic + Splink"),
    ("features", "huaxiang.features.stage", "one row per person: RFM, habits, preferences, funnels"),
    ("tags", "huaxiang.tags.stage", "readable rule tags (zh/en) with history"),
    ("segments", "huaxiang.segments.stage", "RFM map, K-means clusters, persona cards"),
    ("models", "huaxiang.models.stage", "CLV, churn, next purchase, anomalies, recommendations"),
]

STAGES: list[Stage] = [
    Stage("ingest", _run_ingest, "read every source, map onto canonical tables, quarantine bad rows"),
    Stage("clean", _run_clean, "normalise phones, emails, names, genders, regions; fill defaults; flag gaps"),
    *[
        Stage(name, _lazy(module, f"run_{name}"), text)
        for name, module, text in _LATER
        if importlib.util.find_spec(module) is not None
    ],
]


def stage_names() -> list[str]:
    """Names of the stages, in order (a later stage is listed once its package exists)."""
    return [s.name for s in STAGES]
