"""``huaxiang models report`` and ``huaxiang models score PERSON_ID``.

Examples
--------
$ huaxiang models report -w shop --lang zh
$ huaxiang models score P0000123 -w shop --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from huaxiang.cli.output import (
    currency_of,
    echo,
    fmt_value,
    formatter,
    opened_workspace,
    print_frame,
    say,
    user_errors,
)
from huaxiang.cli.params import JsonOpt, LangEnOpt, WorkspaceOpt
from huaxiang.labels import label, translate_reason


def _metric_value(value: Any) -> str:
    return fmt_value(value) if not isinstance(value, float) or value != value or abs(value) >= 1000 else f"{value:.4g}"


def register(app: typer.Typer) -> None:
    """Add the ``models`` group (report, score)."""
    models_app = typer.Typer(help="Models: evaluation reports and per-person scores.", no_args_is_help=True)
    app.add_typer(models_app, name="models")

    @models_app.command("report")
    def report(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False, lang: LangEnOpt = "en") -> None:
        """Each model's evaluation: metric, value, baseline, data window (table model_reports)."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                frame = ws.models.report()
            if as_json:
                echo(frame.drop(columns="beats_baseline").to_json(orient="records", force_ascii=False))
                return
            marks = {True: f"[green]{label('msg.beats', lang)}[/]", False: f"[yellow]{label('msg.loses', lang)}[/]"}
            shown = frame.assign(beats_baseline=[marks.get(b, "") if b is not None else "" for b in
                                                 frame["beats_baseline"]])
            if "reason" in shown.columns:
                from huaxiang.models.catalog import REASONS, describe_reason

                shown = shown.assign(reason=[describe_reason(r, "zh" if lang == "zh" else "en") if r in REASONS else (r or "")
                                             for r in shown["reason"]])
            print_frame(shown, title=label("title.model_reports", lang), lang=lang,
                        formats={"value": _metric_value, "baseline_value": _metric_value})

    @models_app.command("score")
    def score(
        person_id: Annotated[str, typer.Argument(help="The person whose scores to show.")],
        workspace: WorkspaceOpt = Path("."),
        as_json: JsonOpt = False,
        lang: LangEnOpt = "en",
    ) -> None:
        """One person's scores (clv, churn_prob, p_purchase_30d, anomaly and its reasons …)."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                row = ws.models.scores(person_id)
                currency = currency_of(ws)
            if as_json:
                echo(json.dumps(row.to_dict(), default=str, ensure_ascii=False, indent=2))
                return
            pairs = [(label(str(k), lang), translate_reason(v, lang) if k == "anomaly_reasons" else
                      formatter(str(k), lang, currency)(v)) for k, v in row.items() if k not in ("person_id", "as_of")]
            frame = pd.DataFrame(pairs, columns=["score", "value"])
            print_frame(frame, title=label("title.scores_of", lang, person_id), lang=lang, drop_empty=False,
                        formats={"score": str, "value": str})
            say(label("msg.as_of", lang, fmt_value(row.get("as_of"))))
