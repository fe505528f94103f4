"""``huaxiang tags list|history|trend`` and ``huaxiang profile``.

Examples
--------
$ huaxiang tags list --lang en -w shop
$ huaxiang tags history P0000123 -w shop
$ huaxiang tags trend night_owl -w shop
$ huaxiang profile --phone "138 0013 8000" --lang en -w shop
$ huaxiang profile --source-id crm:M0000001 --json -w shop
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (has huaxiang.yaml).")]
LangOpt = Annotated[str, typer.Option("--lang", help="zh or en.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise typer.BadParameter(f"--lang {lang!r}: use zh or en")


def register(app: typer.Typer) -> None:
    """Add ``tags`` (list, history, trend) and ``profile`` to the ``huaxiang`` CLI."""
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
        import pandas as pd

        from huaxiang.cli import console, print_frame, user_errors
        from huaxiang.config import load_config
        from huaxiang.tags.specs import resolve_tag_specs

        with user_errors():
            _check_lang(lang)
            config = load_config(workspace)
            specs = resolve_tag_specs(config.tags, include_disabled=show_all)
            frame = pd.DataFrame([{
                "id": s.id, "name": s.name(lang), "category": s.category, "group": s.group or "",
                "priority": s.priority if s.group else "", "rule": s.rule, "description": s.description(lang),
                **({"enabled": s.enabled} if show_all else {}),
            } for s in specs])
            if as_json:
                typer.echo(frame.to_json(orient="records", force_ascii=False))
                return
            print_frame(frame, title="标签" if lang == "zh" else "tags")
            console.print(f"{len(specs)} tags", highlight=False)

    @tags_app.command("history")
    def history(
        person_id: Annotated[str, typer.Argument(help="The person whose tag history to show.")],
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        as_json: JsonOpt = False,
    ) -> None:
        """When each tag of a person started and ended (valid_from / valid_to)."""
        from huaxiang.cli import console, opened_workspace, print_frame, user_errors

        with user_errors():
            _check_lang(lang)
            with opened_workspace(workspace, needs="tags",
                                  missing="no tag history yet; run `huaxiang build` first") as ws:
                h = ws.table("tags")
                frame = ws.engine.execute(h.filter(h.person_id == person_id).order_by(["valid_from", "tag_id"]))
                frame = _with_names(ws, frame, lang)
            if as_json:
                typer.echo(frame.to_json(orient="records", force_ascii=False, date_format="iso"))
                return
            if frame.empty:
                console.print(f"{person_id} has no tags in the history", highlight=False)
                return
            print_frame(frame.drop(columns=["person_id"]), title=f"tags of {person_id}")

    @tags_app.command("trend")
    def trend(
        tag_id: Annotated[str | None, typer.Argument(help="One tag (default: all).")] = None,
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        as_json: JsonOpt = False,
    ) -> None:
        """Persons per tag at each build."""
        from huaxiang.cli import opened_workspace, print_frame, user_errors
        from huaxiang.errors import WorkspaceError

        with user_errors():
            _check_lang(lang)
            with opened_workspace(workspace, needs="tag_trend",
                                  missing="no tag trend yet; run `huaxiang build` first") as ws:
                t = ws.table("tag_trend")
                if tag_id is not None:
                    known = set(ws.engine.execute(t.tag_id.name("tag_id").as_table().distinct())["tag_id"])
                    if tag_id not in known:
                        import difflib

                        close = difflib.get_close_matches(tag_id, sorted(known), n=1)
                        raise WorkspaceError(f"no trend for tag {tag_id!r}"
                                             + (f"; did you mean {close[0]!r}?" if close else "")
                                             + f" tags: {', '.join(sorted(known))}")
                    t = t.filter(t.tag_id == tag_id)
                frame = ws.engine.execute(t.order_by(["tag_id", "built_at"]))
                frame = _with_names(ws, frame, lang)
            if as_json:
                typer.echo(frame.to_json(orient="records", force_ascii=False, date_format="iso"))
                return
            print_frame(frame, title="tag trend")

    @app.command()
    def profile(
        person_id: Annotated[str | None, typer.Argument(help="The person_id (or use --phone/--email/--source-id).")]
        = None,
        phone: Annotated[str | None, typer.Option("--phone", help="Look up by phone (any common format).")] = None,
        email: Annotated[str | None, typer.Option("--email", help="Look up by e-mail.")] = None,
        source_id: Annotated[str | None, typer.Option("--source-id", help="SOURCE:CUSTOMER_ID, e.g. crm:M001.")]
        = None,
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        recent: Annotated[int, typer.Option("--recent", help="Recent orders and events to show.")] = 10,
        as_json: JsonOpt = False,
    ) -> None:
        """Print the customer 360: attributes, features by dimension, tags with reasons, orders, events."""
        from huaxiang.cli import opened_workspace, user_errors
        from huaxiang.profile import customer_profile

        with user_errors():
            _check_lang(lang)
            with opened_workspace(workspace) as ws:
                data = customer_profile(ws, person_id, phone=phone, email=email, source_id=source_id, lang=lang,
                                        recent=recent)
            if as_json:
                typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
                return
            _print_profile(data, lang)


def _with_names(ws: Any, frame: Any, lang: str) -> Any:
    if frame.empty or not ws.engine.has_table("tag_catalog"):
        return frame
    cat = ws.engine.execute(ws.table("tag_catalog"))
    names = dict(zip(cat["tag_id"], cat["name_en" if lang == "en" else "name_zh"], strict=True))
    out = frame.copy()
    out.insert(out.columns.get_loc("tag_id") + 1, "name", out["tag_id"].map(names))
    return out


_TITLES = {
    "zh": {"attributes": "基本属性", "records": "来源记录", "features": "特征", "tags": "标签", "orders": "最近订单",
           "events": "最近行为", "scores": "评分", "segments": "分群", "recommendations": "推荐",
           "tag_history": "标签历史", "none": "（无）"},
    "en": {"attributes": "attributes", "records": "source records", "features": "features", "tags": "tags",
           "orders": "recent orders", "events": "recent events", "scores": "scores", "segments": "segments",
           "recommendations": "recommendations", "tag_history": "tag history", "none": "(none)"},
}


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def _print_profile(data: dict[str, Any], lang: str) -> None:
    from rich.table import Table

    from huaxiang.cli import console

    titles = _TITLES[lang]
    console.rule(f"[bold]{data['person_id']}", style="cyan")
    attrs = Table(title=titles["attributes"], title_justify="left", show_header=False)
    attrs.add_column("key", style="bold")
    attrs.add_column("value", overflow="fold")
    for key, value in data["attributes"].items():
        if value not in (None, "") and key != "person_id":
            attrs.add_row(key, _fmt(value))
    records = ", ".join(f"{r['source']}:{r['source_customer_id']}" for r in data["records"])
    attrs.add_row(titles["records"], records or titles["none"])
    console.print(attrs)

    tags = Table(title=titles["tags"], title_justify="left")
    for col in ("tag", "reason", "since"):
        tags.add_column(col, overflow="fold")
    for t in data["tags"]:
        tags.add_row(f"{t['name']} ({t['tag_id']})", t.get("reason") or "", _fmt(t.get("since"))[:10])
    console.print(tags if data["tags"] else f"[bold]{titles['tags']}[/]: {titles['none']}")

    for dimension, values in data["features"].items():
        table = Table(title=f"{titles['features']} · {dimension}", title_justify="left", show_header=False)
        table.add_column("name", style="bold")
        table.add_column("value", justify="right")
        table.add_column("definition", style="dim", overflow="fold")
        for name, item in values.items():
            table.add_row(name, _fmt(item["value"]), item.get("definition") or "")
        console.print(table)

    for section in ("orders", "events", "scores", "segments", "recommendations"):
        rows = data.get(section)
        if not rows:
            continue
        table = Table(title=titles[section], title_justify="left")
        columns = [c for c in rows[0] if any(r.get(c) not in (None, "") for r in rows)]
        for col in columns:
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(*[_fmt(r.get(c)) for c in columns])
        console.print(table)
