"""The pipeline: named stages run in one direction, each ``Tables in -> Tables out``.

A stage is a function ``run(ctx) -> StageResult`` that reads tables from
``ctx.engine`` and writes its own. Stages are listed explicitly in
:data:`STAGES` in pipeline order.

>>> [s.name for s in STAGES][:2]
['ingest', 'clean']
"""

from __future__ import annotations

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


def _run_identity(ctx: StageContext) -> StageResult:
    from huaxiang.identity.stage import run_identity

    return run_identity(ctx)


def _run_features(ctx: StageContext) -> StageResult:
    from huaxiang.features.stage import run_features

    return run_features(ctx)


def _run_tags(ctx: StageContext) -> StageResult:
    from huaxiang.tags.stage import run_tags

    return run_tags(ctx)


def _run_segments(ctx: StageContext) -> StageResult:
    from huaxiang.segments.stage import run_segments

    return run_segments(ctx)


def _run_models(ctx: StageContext) -> StageResult:
    from huaxiang.models.stage import run_models

    return run_models(ctx)


# The stages are listed here, in order, by plain imports: a renamed module fails the first build
# (and tests/test_architecture.py), instead of its stage silently dropping out. The imports sit
# inside the functions because every stage module imports StageContext from here.
STAGES: list[Stage] = [
    Stage("ingest", _run_ingest, "read every source, map onto canonical tables, quarantine bad rows"),
    Stage("clean", _run_clean, "normalise phones, emails, names, genders, regions; fill defaults; flag gaps"),
    Stage("identity", _run_identity, "one person_id per real customer: deterministic + Splink"),
    Stage("features", _run_features, "one row per person: RFM, habits, preferences, funnels"),
    Stage("tags", _run_tags, "readable rule tags (zh/en) with history"),
    Stage("segments", _run_segments, "RFM map, K-means clusters, persona cards"),
    Stage("models", _run_models, "CLV, churn, next purchase, anomalies, recommendations"),
]


def stage_names() -> list[str]:
    """Names of the stages, in order.

    >>> stage_names()
    ['ingest', 'clean', 'identity', 'features', 'tags', 'segments', 'models']
    """
    return [s.name for s in STAGES]
