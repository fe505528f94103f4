"""``huaxiang personas`` and ``huaxiang segments``.

Examples
--------
$ huaxiang segments -w shop                   # sizes of the RFM segments, 8 cells and clusters
$ huaxiang personas -w shop --kind cluster    # persona cards of the clusters (zh)
$ huaxiang personas -w shop --lang en --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (has huaxiang.yaml).")]
LangOpt = Annotated[str, typer.Option("--lang", help="zh or en.")]
KindOpt = Annotated[str | None, typer.Option("--kind", help="rfm, cell or cluster (default: all).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

_KINDS = ("rfm", "cell", "cluster")
_TITLES = {"zh": {"rfm": "RFM 分群", "cell": "RFM 八象限", "cluster": "聚类"},
           "en": {"rfm": "RFM segments", "cell": "RFM 8 cells", "cluster": "clusters"}}


def _check(lang: str, kind: str | None) -> None:
    if lang not in ("zh", "en"):
        raise typer.BadParameter(f"--lang {lang!r}: use zh or en")
    if kind is not None and kind not in _KINDS:
        raise typer.BadParameter(f"--kind {kind!r}: use one of {', '.join(_KINDS)}")


def _read_cards(workspace: Path, kind: str | None) -> tuple[Any, Any]:
    from huaxiang.cli import opened_workspace

    with opened_workspace(workspace, needs="persona_cards",
                          missing="no persona cards yet; run `huaxiang build` first (the segments stage writes them)") as ws:
        cards = ws.table("persona_cards")
        if kind is not None:
            cards = cards.filter(cards.kind == kind)
        frame = ws.engine.execute(cards)
        report = ws.engine.execute(ws.table("cluster_report")) if ws.engine.has_table("cluster_report") else None
    order = {k: i for i, k in enumerate(_KINDS)}
    frame = frame.assign(_o=frame["kind"].map(order)).sort_values("_o", kind="stable").drop(columns="_o")
    return frame.reset_index(drop=True), report


def register(app: typer.Typer) -> None:
    """Add ``personas`` and ``segments`` to the ``huaxiang`` CLI."""

    @app.command()
    def personas(
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        kind: KindOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Persona cards: who each RFM segment, cell and cluster is, what sets it apart, its rules."""
        from huaxiang.cli import user_errors

        with user_errors():
            _check(lang, kind)
            frame, _ = _read_cards(workspace, kind)
            if as_json:
                records = json.loads(frame.to_json(orient="records", force_ascii=False, date_format="iso"))
                for r in records:
                    for col in ("top_features", "top_tags", "top_categories"):
                        r[col] = json.loads(r[col]) if r.get(col) else []
                typer.echo(json.dumps(records, ensure_ascii=False, indent=1))
                return
            _print_cards(frame, lang)

    @app.command()
    def segments(
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        kind: KindOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Sizes of the RFM segments, 8 cells and clusters (and the k search of the clustering)."""
        from huaxiang.cli import console, print_frame, user_errors

        with user_errors():
            _check(lang, kind)
            frame, report = _read_cards(workspace, kind)
            shown = frame[["kind", "key", f"name_{lang}", "size", "share"]].rename(columns={f"name_{lang}": "name"})
            if as_json:
                typer.echo(shown.to_json(orient="records", force_ascii=False))
                return
            for k in _KINDS:
                part = shown[shown["kind"] == k].drop(columns="kind")
                if part.empty:
                    continue
                part = part.assign(share=part["share"].map(lambda v: f"{v:.1%}"))
                print_frame(part, title=_TITLES[lang][k])
            if report is not None and not report.empty and kind in (None, "cluster"):
                cols = ["k", "inertia", "silhouette", "chosen", "elbow", "n_fit", "reused"]
                print_frame(report[cols].round({"inertia": 1, "silhouette": 4}),
                            title="K-means: k 的选择" if lang == "zh" else "K-means: choosing k")
                console.print(f"as_of {str(report['as_of'].iloc[0])[:10]}", highlight=False)


def _print_cards(frame: Any, lang: str) -> None:
    from rich.panel import Panel
    from rich.table import Table

    from huaxiang.cli import console

    labels = {"zh": ("人数", "占比", "区分特征", "群体", "总体", "规则", "精确率", "召回率", "自动命名"),
              "en": ("size", "share", "distinguishing features", "group", "population", "rules", "precision",
                     "recall", "auto label")}[lang]
    current = None
    for card in frame.to_dict(orient="records"):
        if card["kind"] != current:
            current = card["kind"]
            console.rule(f"[bold]{_TITLES[lang][current]}", style="cyan")
        body = Table.grid(padding=(0, 1))
        body.add_column(style="bold", no_wrap=True)
        body.add_column(overflow="fold")
        body.add_row(labels[0], f"{int(card['size']):,} ({card['share']:.1%})")
        if card["kind"] != "cluster":
            body.add_row(labels[8], str(card[f"label_{lang}"]))
        body.add_row("", str(card[f"description_{lang}"]))
        features = json.loads(card["top_features"] or "[]")
        if features:
            t = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
            for col in ("feature", labels[3], labels[4], "z"):
                t.add_column(col, justify="right" if col != "feature" else "left")
            for e in features:
                t.add_row(e["feature"], _fmt(e["value"]), _fmt(e["population"]), f"{e['z']:+.2f}")
            body.add_row(labels[2], t)
        if card.get("rules"):
            rule = str(card["rules"])
            if card.get("rule_precision") is not None and card["rule_precision"] == card["rule_precision"]:
                rule += f"  [dim]({labels[6]} {card['rule_precision']:.0%}, {labels[7]} {card['rule_recall']:.0%})[/]"
            body.add_row(labels[5], rule)
        title = f"[bold]{card[f'name_{lang}']}[/]  [dim]{card['kind']}:{card['key']}[/]"
        console.print(Panel(body, title=title, title_align="left", expand=True))


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    v = float(value)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
