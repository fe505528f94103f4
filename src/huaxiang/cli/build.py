"""``huaxiang init``, ``huaxiang build`` and ``huaxiang demo``: create a workspace and run the pipeline.

Examples
--------
$ huaxiang init shop --example cdnow
$ huaxiang build -w shop --stage identity --lang zh
$ huaxiang demo --customers 3000 --seed 42
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from huaxiang.cli.output import (
    echo,
    fmt_count,
    fmt_value,
    is_terminal,
    open_workspace,
    print_frame,
    progress_printer,
    say,
    user_errors,
)
from huaxiang.cli.params import EngineOpt, JsonOpt, LangEnOpt, WorkspaceOpt
from huaxiang.labels import label

if TYPE_CHECKING:
    from huaxiang.workspace import BuildReport


def print_report(report: BuildReport, lang: str = "en") -> None:
    """The build report as three titled tables: sources, tables, stages."""
    sources = pd.DataFrame(report.sources, columns=["name", "table", "format", "rows_read", "rows_loaded",
                                                    "rows_quarantined", "seconds"])
    sources = sources.rename(columns={"name": "source"})
    two_decimals = {"seconds": lambda v: "" if v is None else f"{float(v):.2f}"}
    print_frame(sources, title=label("title.sources", lang), lang=lang, formats=two_decimals, drop_empty=False)
    tables = pd.DataFrame({"table": list(report.tables), "rows": list(report.tables.values())})
    print_frame(tables, title=label("title.tables", lang), lang=lang, drop_empty=False)
    stages = pd.DataFrame({"stage": [*report.stages, f"[bold]{label('title.total', lang)}"],
                           "seconds": [*report.stages.values(), report.seconds]})
    print_frame(stages, title=label("title.stages", lang), lang=lang, formats=two_decimals, drop_empty=False)
    for line in data_notes(report, lang):
        say(line)


def data_notes(report: BuildReport, lang: str = "en") -> list[str]:
    """What this data cannot support, said once: features with no data (grouped by what is missing),
    the calendar used, purchases counted from events.

    >>> from huaxiang.workspace import BuildReport
    >>> r = BuildReport(workspace="w", engine="duckdb", started_at="", seconds=0.0,
    ...                 details={"features": {"country": "US", "festivals": ["Christmas Day"],
    ...                          "unsupported_features": {"peak_hour": "no time_of_day",
    ...                                                   "share_night_orders": "no time_of_day"}}})
    >>> data_notes(r, "en")
    ['features: 2 have no data here (NULL; tags reading them do not fire)', '  no time_of_day: peak_hour, share_night_orders', 'calendar: US; festivals Christmas Day']
    """
    lines = [label("msg.purchases_from_events", lang, s["name"], fmt_count(s["purchases_from_events"]))
             for s in report.sources if s.get("purchases_from_events")]
    features = report.details.get("features") or {}
    missing: dict[str, str] = features.get("unsupported_features") or {}
    if missing:
        lines.append(label("msg.no_data_features", lang, fmt_count(len(missing))))
        by_need: dict[str, list[str]] = {}
        for name, need in missing.items():
            by_need.setdefault(need, []).append(name)
        lines += [f"  {need}: {', '.join(sorted(names))}" for need, names in sorted(by_need.items())]
    if "country" in features:
        if features["country"] is None:
            lines.append(label("msg.no_calendar", lang))
        else:
            names = features.get("festivals") or []
            shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
            lines.append(label("msg.calendar", lang, features["country"], shown or "—"))
    return lines


def _run_build(ws: Any, stages: list[str] | None, as_json: bool, lang: str) -> BuildReport:
    update, stop = progress_printer(not as_json and is_terminal(), lang)
    try:
        report: BuildReport = ws.build(stages=stages, progress=update)
    finally:
        stop()
        ws.close()
    return report


def register(app: typer.Typer) -> None:
    """Add ``init``, ``build`` and ``demo``."""

    @app.command()
    def init(
        directory: Annotated[Path | None, typer.Argument(help="Folder to create the workspace in.")] = None,
        example: Annotated[
            str | None, typer.Option("--example", help="A ready workspace: demo, cdnow, online_retail, …")
        ] = None,
        data: Annotated[
            Path | None, typer.Option("--data", help="Folder holding the public data sets (default: shared/data).")
        ] = None,
        list_examples: Annotated[bool, typer.Option("--list-examples", help="List the examples and exit.")] = False,
        customers: Annotated[int, typer.Option(help="Synthetic customers (demo only).")] = 20_000,
        force: Annotated[bool, typer.Option("--force", help="Overwrite an existing huaxiang.yaml.")] = False,
    ) -> None:
        """Create a workspace: a commented huaxiang.yaml, or a ready example."""
        from huaxiang.examples import list_examples as examples

        with user_errors():
            if list_examples:
                for name, text in examples().items():
                    say(f"[bold]{name:<18}[/] {text}")
                return
            if directory is None:
                raise typer.BadParameter("give the folder to create, e.g. `huaxiang init my-shop`")
            from huaxiang.workspace import Workspace

            ws = Workspace.init(directory, example=example, data=data, force=force, customers=customers)
            say(f"workspace ready: {ws.path / 'huaxiang.yaml'}; next: huaxiang build -w {directory}")

    @app.command()
    def build(
        workspace: WorkspaceOpt = Path("."),
        engine: EngineOpt = None,
        stage: Annotated[
            list[str] | None, typer.Option("--stage", "-s", help="Run only these stages (repeatable).")
        ] = None,
        as_json: JsonOpt = False,
        lang: LangEnOpt = "en",
    ) -> None:
        """Run the pipeline: ingest, clean, identity, features, tags, segments, models."""
        with user_errors():
            report = _run_build(open_workspace(workspace, engine), stage, as_json, lang)
            if as_json:
                echo(report.to_json())
            else:
                print_report(report, lang)

    @app.command()
    def demo(
        directory: Annotated[Path, typer.Option("--dir", help="Where to create the demo workspace.")] = Path(
            "demo-workspace"
        ),
        customers: Annotated[int, typer.Option(help="Synthetic customers to generate.")] = 20_000,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
        engine: EngineOpt = None,
        as_json: JsonOpt = False,
        lang: LangEnOpt = "en",
    ) -> None:
        """Generate the synthetic shop, build its workspace and print a summary."""
        from huaxiang.workspace import Workspace

        with user_errors():
            t0 = time.perf_counter()
            ws = Workspace.init(directory, example="demo", force=True, customers=customers, seed=seed)
            generated = time.perf_counter() - t0
            ws.close()
            ws = open_workspace(directory, engine)
            report = _run_build(ws, None, as_json, lang)
            if as_json:
                data = report.as_dict()
                data["generate_seconds"] = round(generated, 3)
                echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
                return
            say(f"[bold]huaxiang demo[/]: {fmt_count(customers)} synthetic customers generated in "
                f"{fmt_value(round(generated, 1))} s into {ws.path / 'data'}")
            print_report(report, lang)
            say(f"explore: huaxiang show orders -w {directory}   ·   huaxiang quarantine -w {directory}")
