"""``huaxiang serve`` and ``huaxiang keys`` (the HTTP service's commands).

A placeholder so the CLI can import this module explicitly; the service engineers' version, with
the real commands, replaces it at the merge.

>>> import typer
>>> register(typer.Typer())
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the service commands to the ``huaxiang`` CLI (none yet)."""
