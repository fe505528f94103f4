"""``huaxiang tags list|history|trend``: the tag library in force, a person's tags over time, the trend.

Examples
--------
$ huaxiang tags list --lang en -w shop
$ huaxiang tags history P0000123 -w shop
$ huaxiang tags trend night_owl -w shop
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from huaxiang.cli.output import echo, fmt_count, opened_workspace, print_frame, say, user_errors
from huaxiang.cli.params import JsonOpt, LangOpt, WorkspaceOpt
from huaxiang.labels import label


def register(app: typer.Typer) -> None:
    """Add the ``tags`` group (list, history, trend)."""
    tags_app = typer.Typer(help="Tags: the library in force, a person's tag history, the trend over builds.",
                           no_args_is_help=True)
    app.add_typer(tags_app, name="tags")

    @tags_app.command("list")
    def list_tags(
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        show_all: Annotated[bool, typer.Option("--all", help="Also list disabled tags.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """List the tags in force (built-in + huaxiang.yaml) with their rules."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                frame = ws.tags.catalog(lang=lang, include_disabled=show_all)
            if as_json:
                echo(frame.to_json(orient="records", force_ascii=False))
                return
            shown = frame.assign(tier=[label(f"tier.{t}", lang) for t in frame["tier"]])
            print_frame(shown, title=label("title.tags", lang), lang=lang)
            say(label("msg.n_tags", lang, fmt_count(len(frame))))

    @tags_app.command("history")
    def history(
        person_id: Annotated[str, typer.Argument(help="The person whose tag history to show.")],
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        as_json: JsonOpt = False,
    ) -> None:
        """When each tag of a person started and ended (valid_from / valid_to)."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                frame = ws.tags.history(person_id, lang=lang)
            if as_json:
                echo(frame.to_json(orient="records", force_ascii=False, date_format="iso"))
                return
            if frame.empty:
                say(label("msg.no_tags", lang, person_id))
                return
            print_frame(frame.drop(columns=["person_id"]), title=label("title.tags_of", lang, person_id), lang=lang)

    @tags_app.command("trend")
    def trend(
        tag_id: Annotated[str | None, typer.Argument(help="One tag (default: all).")] = None,
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        as_json: JsonOpt = False,
    ) -> None:
        """Persons per tag at each build."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                frame = ws.tags.trend(tag_id, lang=lang)
            if as_json:
                echo(frame.to_json(orient="records", force_ascii=False, date_format="iso"))
                return
            print_frame(frame, title=label("title.tag_trend", lang), lang=lang)
