"""``huaxiang funnel``: the population consumption path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the features commands to the ``huaxiang`` CLI."""

    @app.command()
    def funnel(
        workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder.")] = Path("."),
        steps: Annotated[
            str | None,
            typer.Option("--steps", help="Comma-separated event types, e.g. product_view,add_to_cart,order,pay"),
        ] = None,
        by: Annotated[str | None, typer.Option("--by", help="Split by: channel.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Print the population funnel (view → cart → order → pay → after-sale) with drop-off and dwell."""
        import pandas as pd

        from huaxiang.cli import open_workspace, print_frame, user_errors
        from huaxiang.errors import ConfigError
        from huaxiang.features.behaviour import events_with_persons, population_funnel
        from huaxiang.features.persons import person_keys
        from huaxiang.features.stage import default_as_of

        with user_errors():
            ws = open_workspace(workspace)
            try:
                eng = ws.engine
                chosen = None
                if steps:
                    chosen = {s.strip(): s.strip() for s in steps.split(",") if s.strip()}
                    from huaxiang.schema import ENUMS

                    unknown = sorted(set(chosen) - set(ENUMS["event_type"]))
                    if unknown:
                        raise ConfigError(f"--steps: unknown event types {unknown}; valid: {', '.join(ENUMS['event_type'])}")
                identities = eng.table("identities") if eng.has_table("identities") else None
                events = events_with_persons(eng.table("events"), person_keys(eng), identities,
                                             as_of=default_as_of(eng))
                if by is None:
                    frame = eng.execute(population_funnel(events, chosen))
                elif by == "channel":
                    channels = eng.execute(events.channel.fill_null("unknown").name("c").value_counts())["c"]
                    frames = []
                    for channel in sorted(channels):
                        part = events.filter(events.channel.fill_null("unknown") == channel)
                        frames.append(eng.execute(population_funnel(part, chosen)).assign(channel=channel))
                    frame = pd.concat(frames, ignore_index=True)
                else:
                    raise ConfigError(f"--by {by!r} is not supported; use --by channel")
            finally:
                ws.close()
            if as_json:
                typer.echo(frame.to_json(orient="records", force_ascii=False))
            else:
                print_frame(frame, title="funnel")
