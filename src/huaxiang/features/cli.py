"""``huaxiang funnel``: the population consumption path, whole or split by channel or segment."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from huaxiang.engine.base import Engine


def register(app: typer.Typer) -> None:
    """Add the features commands to the ``huaxiang`` CLI."""

    @app.command()
    def funnel(
        workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder.")] = Path("."),
        steps: Annotated[
            str | None,
            typer.Option("--steps", help="Comma-separated event types in order, e.g. product_view,add_to_cart,order; "
                                         "a|b for a step reached by either"),
        ] = None,
        by: Annotated[
            str | None,
            typer.Option("--by", help="One funnel per channel, or per segment (segments table, else lifecycle stage)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Print the population funnel (view → cart → order → pay → after-sale) with drop-off and dwell."""
        from huaxiang.cli import opened_workspace, print_frame, user_errors
        from huaxiang.errors import ConfigError
        from huaxiang.features.behaviour import population_funnel
        from huaxiang.features.settings import parse_settings
        from huaxiang.features.stage import default_as_of, population_events

        with user_errors():
            with opened_workspace(workspace) as ws:
                settings = parse_settings(ws.config.features)
                chosen: dict[str, str | list[str]] = dict(settings.funnel_steps)
                if steps:
                    parts = [s.strip() for s in steps.split(",") if s.strip()]
                    named = {p: (p.split("|") if "|" in p else p) for p in parts}
                    try:
                        chosen = dict(parse_settings({"funnel_steps": named}).funnel_steps)
                    except ConfigError as exc:
                        raise ConfigError(str(exc).replace("huaxiang.yaml: features.funnel_steps", "--steps")) from None
                eng = ws.engine
                as_of = settings.as_of or default_as_of(eng)
                events = population_events(eng, as_of=as_of)
                column = None
                if by == "channel":
                    column = "channel"
                elif by == "segment":
                    column = "segment"
                    events = events.left_join(_segments(eng), "person_id").drop("person_id_right")
                elif by is not None:
                    raise ConfigError(f"--by {by!r} is not supported; use --by channel or --by segment")
                frame = eng.execute(population_funnel(events, chosen, by=column))
            if as_json:
                typer.echo(frame.to_json(orient="records", force_ascii=False))
            else:
                print_frame(frame, title="funnel")


def _segments(engine: Engine) -> ir.Table:
    """``(person_id, segment)``: the segments table when built, else the features' lifecycle stage."""
    from huaxiang.errors import WorkspaceError
    if engine.has_table("segments"):
        seg = engine.table("segments")
        if {"person_id", "segment"} <= set(seg.columns):
            return seg.select("person_id", segment=seg.segment.cast("string"))
    if not engine.has_table("features"):
        raise WorkspaceError("--by segment needs the features (or segments) table; run `huaxiang build` first")
    f = engine.table("features")
    return f.select("person_id", segment=f.lifecycle_stage)
