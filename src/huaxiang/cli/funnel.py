"""``huaxiang funnel``: the population consumption path, whole or split by channel or segment.

Examples
--------
$ huaxiang funnel -w shop --lang zh
$ huaxiang funnel -w shop --by channel --steps "product_view,add_to_cart,order|pay"
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from huaxiang.cli.output import echo, opened_workspace, print_frame, user_errors
from huaxiang.cli.params import JsonOpt, LangEnOpt, WorkspaceOpt
from huaxiang.labels import label


def register(app: typer.Typer) -> None:
    """Add ``funnel``."""

    @app.command()
    def funnel(
        workspace: WorkspaceOpt = Path("."),
        steps: Annotated[
            str | None,
            typer.Option("--steps", help="Comma-separated event types in order, e.g. product_view,add_to_cart,order; "
                                         "a|b for a step reached by either"),
        ] = None,
        by: Annotated[
            str | None,
            typer.Option("--by", help="One funnel per channel, or per segment (segments table, else lifecycle stage)."),
        ] = None,
        as_json: JsonOpt = False,
        lang: LangEnOpt = "en",
    ) -> None:
        """Print the population funnel (view → cart → order → pay → after-sale) with drop-off and dwell."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                frame = ws.funnel(by=by, steps=steps.split(",") if steps else None)
            if as_json:
                echo(frame.to_json(orient="records", force_ascii=False))
            else:
                print_frame(frame, title=label("title.funnel", lang), lang=lang)
