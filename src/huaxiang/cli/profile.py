"""``huaxiang profile``: the customer 360 of one person (``ws.profiles.get``), printed for people.

Examples
--------
$ huaxiang profile --phone "138 0013 8000" --lang en -w shop
$ huaxiang profile --source-id crm:M0000001 --json -w shop
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from huaxiang.cli.output import (
    console,
    currency_of,
    echo,
    formatter,
    opened_workspace,
    print_frame,
    print_pairs,
    say,
    user_errors,
)
from huaxiang.cli.params import JsonOpt, LangOpt, WorkspaceOpt
from huaxiang.labels import label, translate_reason

if TYPE_CHECKING:
    from huaxiang.profiles import Profile


def print_profile(profile: Profile, lang: str, currency: str = "CNY") -> None:
    """The profile as titled tables: attributes, tags with reasons, features per dimension, the rest."""
    console().rule(f"[bold]{profile.person_id}", style="cyan")
    pairs = [(label("attr.name" if k == "name" else k, lang), formatter(k, lang, currency)(v))
             for k, v in profile.attributes.items() if v not in (None, "") and k != "person_id"]
    records = ", ".join(f"{r['source']}:{r['source_customer_id']}" for r in profile.records)
    pairs.append((label("title.records", lang), records or label("title.none", lang)))
    print_pairs(pairs, title=label("title.attributes", lang))

    if profile.tags:
        tags = pd.DataFrame([{"tag": f"{t.name(lang)} ({t.id})", "reason": t.reason or "",
                              "since": t.since.date() if t.since else None} for t in profile.tags])
        print_frame(tags, title=label("title.tags", lang), lang=lang, drop_empty=False)
    else:
        say(f"[bold]{label('title.tags', lang)}[/]: {label('title.none', lang)}")

    for dimension, values in profile.features.items():
        frame = pd.DataFrame([{"name": name,
                               "value": (label("msg.no_data", lang, item.needs) if item.no_data and item.value is None
                                         else formatter(name, lang, currency)(item.value)),
                               "description": item.definition} for name, item in values.items()])
        print_frame(frame, title=f"{label('title.features', lang)} · {label('dim.' + dimension, lang)}",
                    lang=lang, formats={"value": str}, headers=False)

    if profile.scores:
        print_pairs([(label(k, lang), translate_reason(v, lang) if k == "anomaly_reasons" else
                      formatter(k, lang, currency)(v)) for k, v in profile.scores.items() if k != "as_of"],
                    title=label("title.scores", lang))
    for row in profile.segments:
        shown = {"rfm_score": row.get("rfm_score"), "rfm_segment": row.get(f"rfm_segment_{lang}"),
                 "rfm_cell": row.get(f"rfm_cell_{lang}"), "cluster_id": row.get(f"cluster_name_{lang}")}
        print_pairs([(label(k, lang), str(v)) for k, v in shown.items() if v not in (None, "")],
                    title=label("title.segments", lang))
    sections: dict[str, list[dict[str, Any]]] = {
        "orders": profile.orders, "events": profile.events,
        "recommendations": [{**r, "reason": translate_reason(r.get("reason"), lang)} for r in profile.recommendations],
    }
    for section, rows in sections.items():
        if rows:
            frame = pd.DataFrame(rows).drop(columns=["person_id"], errors="ignore")
            print_frame(frame, title=label(f"title.{section}", lang), lang=lang, currency=currency)
    if profile.as_of is not None:
        say(label("msg.as_of", lang, profile.as_of.date().isoformat()))


def register(app: typer.Typer) -> None:
    """Add ``profile``."""

    @app.command()
    def profile(
        person_id: Annotated[str | None, typer.Argument(help="The person_id (or use --phone/--email/--source-id).")]
        = None,
        phone: Annotated[str | None, typer.Option("--phone", help="Look up by phone (any common format).")] = None,
        email: Annotated[str | None, typer.Option("--email", help="Look up by e-mail.")] = None,
        source_id: Annotated[str | None, typer.Option("--source-id", help="SOURCE:CUSTOMER_ID, e.g. crm:M001.")]
        = None,
        user_id: Annotated[str | None, typer.Option("--user-id", help="An app/web account id.")] = None,
        anonymous_id: Annotated[str | None, typer.Option("--anonymous-id", help="A device/cookie id.")] = None,
        workspace: WorkspaceOpt = Path("."),
        lang: LangOpt = "zh",
        recent: Annotated[int, typer.Option("--recent", help="Recent orders and events to show.")] = 10,
        as_json: JsonOpt = False,
    ) -> None:
        """Print the customer 360: attributes, features by dimension, tags with reasons, orders, events."""
        from huaxiang.profiles import customer_profile

        lookup = {"phone": phone, "email": email, "source_id": source_id, "user_id": user_id,
                  "anonymous_id": anonymous_id}
        with user_errors():
            with opened_workspace(workspace) as ws:
                if as_json:
                    # the JSON keeps the shape scripts already read (customer_profile's dict)
                    data = customer_profile(ws, person_id, **lookup, lang=lang, recent=recent)
                    echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
                    return
                found = ws.profiles.get(person_id, **lookup, lang=lang, recent=recent)
                currency = currency_of(ws)
            print_profile(found, lang, currency)
