"""``huaxiang models report`` and ``huaxiang models score PERSON_ID``.

Examples
--------
$ huaxiang models report -w shop
$ huaxiang models score P0000123 -w shop --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (has huaxiang.yaml).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)


def register(app: typer.Typer) -> None:
    """Add ``models`` (report, score) to the ``huaxiang`` CLI."""
    models_app = typer.Typer(help="Models: evaluation reports and per-person scores.", no_args_is_help=True)
    app.add_typer(models_app, name="models")

    @models_app.command("report")
    def report(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
        """Each model's evaluation: metric, value, baseline, data window (table model_reports)."""
        from rich.table import Table

        from huaxiang.cli import console, opened_workspace, user_errors

        with user_errors():
            with opened_workspace(workspace, needs="model_reports",
                                  missing="no model reports yet; run `huaxiang build` (the models stage) first") as ws:
                frame = ws.engine.execute(ws.table("model_reports"))
            if as_json:
                typer.echo(frame.to_json(orient="records", force_ascii=False))
                return
            table = Table(title="model reports", title_justify="left")
            for col in frame.columns:
                table.add_column(col, overflow="fold", justify="right" if col in ("value", "baseline_value", "n")
                                 else "left")
            for row in frame.to_dict(orient="records"):
                better = ""
                if row["metric"] != "skipped" and row.get("baseline"):
                    lower_is_better = str(row["metric"]).startswith(("brier", "mae"))
                    v, b = row["value"], row["baseline_value"]
                    if v == v and b == b:
                        better = "green" if (v < b if lower_is_better else v > b) else "yellow"
                cells = [_fmt(row[c]) for c in frame.columns]
                if better:
                    cells[list(frame.columns).index("value")] = f"[{better}]{cells[list(frame.columns).index('value')]}[/]"
                table.add_row(*cells)
            console.print(table)

    @models_app.command("score")
    def score(
        person_id: Annotated[str, typer.Argument(help="The person whose scores to show.")],
        workspace: WorkspaceOpt = Path("."),
        as_json: JsonOpt = False,
    ) -> None:
        """One person's scores (clv, churn_prob, p_purchase_30d, anomaly and its reasons …)."""
        from huaxiang.cli import console, opened_workspace, print_frame, user_errors
        from huaxiang.errors import WorkspaceError

        with user_errors():
            with opened_workspace(workspace, needs="scores",
                                  missing="no scores yet; run `huaxiang build` (the models stage) first") as ws:
                t = ws.table("scores")
                frame = ws.engine.execute(t.filter(t.person_id == person_id))
            if frame.empty:
                raise WorkspaceError(f"no scores for person {person_id!r}; find one with `huaxiang show scores`")
            if as_json:
                typer.echo(json.dumps(frame.iloc[0].to_dict(), default=str, ensure_ascii=False, indent=2))
                return
            print_frame(frame.T.reset_index().set_axis(["score", "value"], axis=1), title=f"scores of {person_id}")
            console.print(f"as of {frame['as_of'].iloc[0]}", highlight=False)
