"""``ws.funnel()``: the population's consumption path, whole or split by channel or segment.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> ws.funnel(by="city")
Traceback (most recent call last):
...
huaxiang.errors.ConfigError: --by 'city' is not supported; use --by channel or --by segment
>>> ws.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from huaxiang.errors import ConfigError, WorkspaceError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from huaxiang.engine.base import Engine
    from huaxiang.workspace import Workspace

__all__ = ["BY", "population_funnel_frame"]

#: What a funnel can be split by.
BY = ("channel", "segment")


def population_funnel_frame(ws: Workspace, *, by: str | None = None,
                            steps: Sequence[str] | None = None) -> pd.DataFrame:
    """The funnel (view → cart → order → pay → after-sale) with drop-off and dwell, one block per ``by`` value.

    Parameters
    ----------
    by
        None (everyone), ``channel``, or ``segment`` (the segments table, else the lifecycle stage).
    steps
        Event types in order (``a|b`` for a step reached by either); default the workspace's
        ``features.funnel_steps``.
    """
    from huaxiang.features.behaviour import population_funnel
    from huaxiang.features.settings import parse_settings
    from huaxiang.features.stage import default_as_of, population_events

    if by is not None and by not in BY:
        raise ConfigError(f"--by {by!r} is not supported; use --by channel or --by segment")
    settings = parse_settings(ws.config.features)
    chosen: dict[str, str | list[str]] = dict(settings.funnel_steps)
    if steps:
        named = {p: (p.split("|") if "|" in p else p) for p in (s.strip() for s in steps) if p}
        try:
            chosen = dict(parse_settings({"funnel_steps": named}).funnel_steps)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("huaxiang.yaml: features.funnel_steps", "--steps")) from None
    eng = ws.engine
    as_of = settings.as_of or default_as_of(eng)
    events = population_events(eng, as_of=as_of)
    if by == "segment":
        events = events.left_join(_segments(eng), "person_id").drop("person_id_right")
    frame: pd.DataFrame = eng.execute(population_funnel(events, chosen, by=by))
    return frame


def _segments(engine: Engine) -> ir.Table:
    """``(person_id, segment)``: the segments table when built, else the features' lifecycle stage."""
    if engine.has_table("segments"):
        seg = engine.table("segments")
        if {"person_id", "segment"} <= set(seg.columns):
            return seg.select("person_id", segment=seg.segment.cast("string"))
    if not engine.has_table("features"):
        raise WorkspaceError("--by segment needs the features (or segments) table; run `huaxiang build` first")
    f = engine.table("features")
    return f.select("person_id", segment=f.lifecycle_stage)
