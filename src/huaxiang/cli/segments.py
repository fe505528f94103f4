"""``huaxiang segments`` and ``huaxiang personas``: segment sizes and persona cards.

Examples
--------
$ huaxiang segments -w shop                   # sizes of the RFM segments, 8 cells and clusters
$ huaxiang personas -w shop --kind cluster    # persona cards of the clusters (zh)
$ huaxiang personas -w shop --lang en --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.panel import Panel
from rich.table import Table

from huaxiang.cli.output import (
    console,
    echo,
    fmt_count,
    fmt_share,
    fmt_value,
    is_terminal,
    opened_workspace,
    print_frame,
    say,
    user_errors,
)
from huaxiang.cli.params import JsonOpt, KindOpt, LangOpt, WorkspaceOpt
from huaxiang.components.segments import KINDS, check_kind
from huaxiang.labels import label


def _json(frame: pd.DataFrame) -> str:
    return json.dumps(json.loads(frame.to_json(orient="records", force_ascii=False, date_format="iso")),
                      ensure_ascii=False, indent=1)


def register(app: typer.Typer) -> None:
    """Add ``personas`` and ``segments``."""

    @app.command()
    def personas(workspace: WorkspaceOpt = Path("."), lang: LangOpt = "zh", kind: KindOpt = None,
                 as_json: JsonOpt = False) -> None:
        """Persona cards: who each RFM segment, cell and cluster is, what sets it apart, its rules."""
        with user_errors():
            check_kind(kind)
            with opened_workspace(workspace) as ws:
                cards = ws.segments.persona_cards(kind, lang)
            if as_json:
                echo(_json(cards.drop(columns=["name", "label", "description"], errors="ignore")))
                return
            print_cards(cards, lang)

    @app.command()
    def segments(workspace: WorkspaceOpt = Path("."), lang: LangOpt = "zh", kind: KindOpt = None,
                 as_json: JsonOpt = False) -> None:
        """Sizes of the RFM segments, 8 cells and clusters (and the k search of the clustering)."""
        with user_errors():
            check_kind(kind)
            with opened_workspace(workspace) as ws:
                shown = ws.segments.summary(kind, lang)
                search = ws.segments.cluster_search()
            if as_json:
                echo(shown.to_json(orient="records", force_ascii=False))
                return
            for k in KINDS:
                part = shown[shown["kind"] == k].drop(columns="kind")
                if not part.empty:
                    print_frame(part, title=label(f"title.{k}", lang), lang=lang)
            if not search.empty and kind in (None, "cluster"):
                cols = ["k", "inertia", "silhouette", "chosen", "elbow", "n_fit", "reused"]
                print_frame(search[cols], title=label("title.k_search", lang), lang=lang,
                            formats={"inertia": lambda v: f"{float(v):,.1f}", "silhouette": lambda v: f"{float(v):.4f}"})
                say(label("msg.as_of", lang, str(search["as_of"].iloc[0])[:10]))


def print_cards(frame: pd.DataFrame, lang: str) -> None:
    """Persona cards as panels, one rule line per kind."""
    out = console()
    current = None
    for card in frame.to_dict(orient="records"):
        if card["kind"] != current:
            current = card["kind"]
            out.rule(f"[bold]{label(f'title.{current}', lang)}", style="cyan")
        body = Table.grid(padding=(0, 1))
        body.add_column(style="bold", no_wrap=True)
        body.add_column(overflow="fold")
        body.add_row(label("size", lang), f"{fmt_count(card['size'])} ({fmt_share(card['share'])})")
        if card["kind"] != "cluster":
            body.add_row(label("card.auto_label", lang), str(card["label"]))
        body.add_row("", str(card["description"]))
        features: list[dict[str, Any]] = card["top_features"]
        if features:
            t = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
            labelled = all("median" in e and "population_median" in e for e in features)
            keys = (("card.feature", "mean", "median", "population_mean", "population_median", "z") if labelled
                    else ("card.feature", "card.group", "card.population", "z"))
            for key in keys:
                t.add_column(label(key, lang), justify="right" if key != "card.feature" else "left")
            for e in features:
                if labelled:
                    t.add_row(e["feature"], fmt_value(e["mean"]), fmt_value(e["median"]),
                              fmt_value(e["population_mean"]), fmt_value(e["population_median"]), f"{e['z']:+.2f}")
                else:
                    t.add_row(e["feature"], fmt_value(e["value"]), fmt_value(e["population"]), f"{e['z']:+.2f}")
            body.add_row(label("card.distinguishing", lang), t)
        if card.get("rules"):
            rule = str(card["rules"])
            if card.get("rule_precision") is not None and card["rule_precision"] == card["rule_precision"]:
                rule += (f"  [dim]({label('card.precision', lang)} {fmt_share(card['rule_precision'], 0)}, "
                         f"{label('card.recall', lang)} {fmt_share(card['rule_recall'], 0)})[/]")
            body.add_row(label("card.rules", lang), rule)
        title = f"[bold]{card['name']}[/]  [dim]{card['kind']}:{card['key']}[/]"
        out.print(Panel(body, title=title, title_align="left", expand=is_terminal()))
