"""The ``huaxiang`` command line (Typer).

User errors print one line and exit 1 (``--debug`` shows the traceback).

Examples
--------
$ huaxiang demo                          # synthetic shop: generate, build, summarise
$ huaxiang init shop --example cdnow     # a workspace on the real CDNOW data
$ huaxiang build --workspace shop --json
$ huaxiang show orders --workspace shop --where "amount > 100" --limit 5
$ huaxiang quarantine --workspace shop
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from huaxiang.errors import HuaxiangError

app = typer.Typer(
    name="huaxiang",
    help="huaxiang (画像): build customer profiles from scattered data — on DuckDB or Spark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

_state: dict[str, bool] = {"debug": False}

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (has huaxiang.yaml).")]
EngineOpt = Annotated[
    str | None, typer.Option("--engine", "-e", help="duckdb or spark (default: the workspace's engine).")
]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except (HuaxiangError, FileNotFoundError, ImportError) as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1) from None


def open_workspace(workspace: Path, engine: str | None = None) -> Any:
    from huaxiang.workspace import Workspace

    return Workspace.open(workspace, engine=engine)


@contextmanager
def opened_workspace(workspace: Path, engine: str | None = None, *, needs: str | None = None,
                     missing: str = "") -> Iterator[Any]:
    """The workspace in ``workspace``, closed on exit (what every command that reads one does).

    ``needs``: a table the command reads; when the workspace lacks it, a
    :class:`~huaxiang.errors.WorkspaceError` with ``missing`` (what to run to get it).
    """
    from huaxiang.errors import WorkspaceError

    ws = open_workspace(workspace, engine)
    try:
        if needs is not None and not ws.engine.has_table(needs):
            raise WorkspaceError(missing or f"no {needs} table yet; run `huaxiang build` first")
        yield ws
    finally:
        ws.close()


def _progress_printer(enabled: bool) -> tuple[Callable[[str, str], None] | None, Callable[[], None]]:
    """A rich progress display for stages (off for --json or when stdout is not a terminal)."""
    if not enabled:
        return None, lambda: None
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)
    progress.start()
    task = progress.add_task("starting", total=None)

    def update(stage: str, item: str) -> None:
        progress.update(task, description=f"[bold]{stage}[/] {item}")

    return update, progress.stop


def _print_report(report: Any) -> None:
    src = Table(title="sources", title_justify="left")
    for col in ("source", "table", "format", "rows read", "loaded", "quarantined", "seconds"):
        src.add_column(col, justify="right" if col not in ("source", "table", "format") else "left")
    for s in report.sources:
        src.add_row(
            s["name"], s["table"], s["format"], f"{s['rows_read']:,}", f"{s['rows_loaded']:,}",
            f"{s['rows_quarantined']:,}", f"{s['seconds']:.2f}",
        )
    console.print(src)
    tables = Table(title="tables", title_justify="left")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, rows in report.tables.items():
        tables.add_row(name, f"{rows:,}")
    console.print(tables)
    stages = Table(title="stages", title_justify="left")
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    for name, secs in report.stages.items():
        stages.add_row(name, f"{secs:.2f}")
    stages.add_row("[bold]total", f"[bold]{report.seconds:.2f}")
    console.print(stages)


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
                console.print(f"[bold]{name:<18}[/] {text}", highlight=False)
            return
        if directory is None:
            raise typer.BadParameter("give the folder to create, e.g. `huaxiang init my-shop`")
        from huaxiang.workspace import Workspace

        ws = Workspace.init(directory, example=example, data=data, force=force, customers=customers)
        console.print(f"workspace ready: {ws.path / 'huaxiang.yaml'}; next: huaxiang build -w {directory}")


@app.command()
def build(
    workspace: WorkspaceOpt = Path("."),
    engine: EngineOpt = None,
    stage: Annotated[
        list[str] | None, typer.Option("--stage", "-s", help="Run only these stages (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Run the pipeline: ingest, clean, and every later stage that exists."""
    with user_errors():
        ws = open_workspace(workspace, engine)
        update, stop = _progress_printer(not as_json and sys.stdout.isatty())
        try:
            report = ws.build(stages=stage, progress=update)
        finally:
            stop()
            ws.close()
        if as_json:
            typer.echo(report.to_json())
        else:
            _print_report(report)


@app.command()
def show(
    table: Annotated[str, typer.Argument(help="Table name (huaxiang show --list for all).")] = "",
    workspace: WorkspaceOpt = Path("."),
    engine: EngineOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to print.")] = 20,
    where: Annotated[str | None, typer.Option("--where", help="SQL condition, e.g. \"amount > 100\".")] = None,
    list_tables: Annotated[bool, typer.Option("--list", help="List the tables.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON lines.")] = False,
) -> None:
    """Print rows of a table."""
    with user_errors():
        with opened_workspace(workspace, engine) as ws:
            if list_tables or not table:
                for name in ws.tables():
                    typer.echo(name)
                return
            frame = ws.show(table, limit=limit, where=where)
        if as_json:
            typer.echo(frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso"))
            return
        print_frame(frame, title=table)


def print_frame(frame: Any, *, title: str = "") -> None:
    if len(frame):
        frame = frame.dropna(axis=1, how="all")  # columns empty in every shown row say nothing
    if not sys.stdout.isatty():
        typer.echo(frame.to_string(index=False, max_colwidth=80))
        return
    out = Table(title=title or None, title_justify="left")
    for col in frame.columns:
        out.add_column(str(col), overflow="fold")
    for row in frame.itertuples(index=False):
        out.add_row(*["" if _isnull(v) else str(v) for v in row])
    console.print(out)


def _isnull(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@app.command()
def quarantine(
    workspace: WorkspaceOpt = Path("."),
    engine: EngineOpt = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List rejected rows grouped by reason, with counts and examples."""
    with user_errors():
        with opened_workspace(workspace, engine) as ws:
            summary = ws.quarantine_summary(source)
        if as_json:
            typer.echo(summary.to_json(orient="records", force_ascii=False))
            return
        if summary.empty:
            console.print("quarantine is empty: every row read was loaded")
            return
        print_frame(summary, title="quarantine")


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the demo workspace.")] = Path(
        "demo-workspace"
    ),
    customers: Annotated[int, typer.Option(help="Synthetic customers to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    engine: EngineOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the build report as JSON.")] = False,
) -> None:
    """Generate the synthetic shop, build its workspace and print a summary."""
    from huaxiang.workspace import Workspace

    with user_errors():
        t0 = time.perf_counter()
        ws = Workspace.init(directory, example="demo", force=True, customers=customers, seed=seed)
        generated = time.perf_counter() - t0
        if engine:
            ws = Workspace.open(directory, engine=engine)
        update, stop = _progress_printer(not as_json and sys.stdout.isatty())
        try:
            report = ws.build(progress=update)
        finally:
            stop()
            ws.close()
        if as_json:
            data = report.as_dict()
            data["generate_seconds"] = round(generated, 3)
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
            return
        console.print(
            f"[bold]huaxiang demo[/]: {customers:,} synthetic customers generated in {generated:.1f} s "
            f"into {ws.path / 'data'}"
        )
        _print_report(report)
        console.print(f"explore: huaxiang show orders -w {directory}   ·   huaxiang quarantine -w {directory}")


#: Modules that add their own commands with ``register(app)`` (one per pipeline capability).
_COMMAND_MODULES = (
    "huaxiang.identity.cli",
    "huaxiang.features.cli",
    "huaxiang.tags.cli",
    "huaxiang.segments.cli",
    "huaxiang.models.cli",
    "huaxiang.service.cli",
)


def _register_commands() -> None:
    import importlib
    import importlib.util

    for module in _COMMAND_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            importlib.import_module(module).register(app)


_register_commands()


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
