"""Options shared by many commands, each defined once (in the manner of dbt-core's ``cli/params.py``).

A command takes the option by annotating a parameter with the alias: ``workspace: WorkspaceOpt = Path(".")``.
``--lang`` is the one option whose default differs by command: commands that printed Chinese before
``--lang`` existed default to ``zh``, commands that printed English (``build``, ``funnel``,
``models report``, ``quarantine``, ``identity``) default to ``en`` so their output is unchanged.

>>> import typer
>>> isinstance(WorkspaceOpt.__metadata__[0], typer.models.OptionInfo)
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from huaxiang.components.segments import KINDS
from huaxiang.labels import LANGS

__all__ = [
    "EngineOpt", "JsonOpt", "KindOpt", "LangEnOpt", "LangOpt", "LimitOpt", "RebuildOpt", "WorkspaceOpt",
]


def _check_lang(value: str) -> str:
    if value not in LANGS:
        raise typer.BadParameter(f"--lang {value!r}: use zh or en")
    return value


def _check_kind(value: str | None) -> str | None:
    if value is not None and value not in KINDS:
        raise typer.BadParameter(f"--kind {value!r}: use one of {', '.join(KINDS)}")
    return value


WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (has huaxiang.yaml).")]
EngineOpt = Annotated[
    str | None, typer.Option("--engine", "-e", help="duckdb or spark (default: the workspace's engine).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
_LANG_HELP = "zh or en: the language of titles, headers, units and names."
LangOpt = Annotated[str, typer.Option("--lang", help=_LANG_HELP + " [default: zh]", callback=_check_lang,
                                      show_default=False)]
LangEnOpt = Annotated[str, typer.Option("--lang", help=_LANG_HELP + " [default: en]", callback=_check_lang,
                                        show_default=False)]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", help="Rows to print.")]
KindOpt = Annotated[str | None, typer.Option("--kind", help="rfm, cell or cluster (default: all).",
                                             callback=_check_kind)]
RebuildOpt = Annotated[bool, typer.Option(help="Re-run the identity stage now.")]
