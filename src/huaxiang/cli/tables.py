"""``huaxiang show`` and ``huaxiang quarantine``: rows of a table, rejected rows by reason.

Examples
--------
$ huaxiang show --list -w shop
$ huaxiang show orders -w shop --where "amount > 100" --limit 5
$ huaxiang quarantine -w shop --lang zh
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from huaxiang.cli.output import currency_of, echo, opened_workspace, print_frame, say, user_errors
from huaxiang.cli.params import EngineOpt, JsonOpt, LangEnOpt, LimitOpt, WorkspaceOpt
from huaxiang.labels import label, translate_reason


def register(app: typer.Typer) -> None:
    """Add ``show`` and ``quarantine``."""

    @app.command()
    def show(
        table: Annotated[str, typer.Argument(help="Table name (huaxiang show --list for all).")] = "",
        workspace: WorkspaceOpt = Path("."),
        engine: EngineOpt = None,
        limit: LimitOpt = 20,
        where: Annotated[str | None, typer.Option("--where", help="Condition over the table's columns, e.g. \"amount > 100\" (SQL expression syntax; checked, never run as SQL).")] = None,
        list_tables: Annotated[bool, typer.Option("--list", help="List the tables (engine scratch tables hidden).")]
        = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON lines.")] = False,
    ) -> None:
        """Print rows of a table."""
        with user_errors():
            with opened_workspace(workspace, engine) as ws:
                if list_tables or not table:
                    for name in ws.tables():
                        echo(name)
                    return
                frame = ws.show(table, limit=limit, where=where)
                currency = currency_of(ws)
            if as_json:
                echo(frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso"))
                return
            # a table's own column names are the headers here (the user types them in --where)
            print_frame(frame, title=table, currency=currency, raw_headers=True)

    @app.command()
    def quarantine(
        workspace: WorkspaceOpt = Path("."),
        engine: EngineOpt = None,
        source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
        as_json: JsonOpt = False,
        lang: LangEnOpt = "en",
    ) -> None:
        """List rejected rows grouped by reason, with counts, offending values and an example."""
        with user_errors():
            with opened_workspace(workspace, engine) as ws:
                summary = ws.quarantine_summary(source)
            if as_json:
                echo(summary.to_json(orient="records", force_ascii=False))
                return
            if summary.empty:
                say(label("msg.quarantine_empty", lang))
                return
            summary["reason"] = [translate_reason(r, lang) for r in summary["reason"]]
            print_frame(summary, title=label("title.quarantine", lang), lang=lang)
