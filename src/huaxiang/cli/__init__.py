"""The ``huaxiang`` command line (Typer): one module per command group, registered explicitly.

User errors print one line and exit 1 (``--debug`` shows the traceback and Spark's Java logging).
The commands call the core (``Workspace`` and its components) and print what it returns through
:mod:`huaxiang.cli.output`; no query is written here.

Examples
--------
$ huaxiang demo                          # synthetic shop: generate, build, summarise
$ huaxiang init shop --example cdnow     # a workspace on the real CDNOW data
$ huaxiang build --workspace shop --json
$ huaxiang show orders --workspace shop --where "amount > 100" --limit 5
$ huaxiang quarantine --workspace shop --lang zh

>>> from typer.testing import CliRunner
>>> CliRunner().invoke(app, ["--version"]).output
'huaxiang 0.1.0\\n'
"""

from __future__ import annotations

from typing import Annotated

import typer

import huaxiang.service.cli
from huaxiang import __version__
from huaxiang.cli import build, funnel, identity, models, profile, segments, tables, tags
from huaxiang.cli.output import state

__all__ = ["COMMAND_MODULES", "app", "main"]

app = typer.Typer(
    name="huaxiang",
    help="huaxiang (画像): build customer profiles from scattered data — on DuckDB or Spark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"huaxiang {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors and Spark's Java logging.")]
    = False,
    version: Annotated[bool | None, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = None,
) -> None:
    state["debug"] = debug


#: Every module that adds commands, in the order ``huaxiang --help`` lists them. Listed, not
#: discovered: a renamed module fails at import (and in tests/test_architecture.py).
COMMAND_MODULES = (build, tables, identity, funnel, tags, profile, segments, models, huaxiang.service.cli)

for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
