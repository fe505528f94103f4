"""``huaxiang serve`` and ``huaxiang keys create``.

Examples
--------
$ huaxiang keys create -w shop --role collector --name web
$ huaxiang serve -w shop --port 8000
$ HUAXIANG_JOURNAL__KIND=nats huaxiang serve -w shop --port 8001 --collector-only
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (has huaxiang.yaml).")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``keys`` (create, list) to the ``huaxiang`` CLI."""
    keys_app = typer.Typer(help="API keys of the service (stored hashed in the workspace).", no_args_is_help=True)
    app.add_typer(keys_app, name="keys")

    @app.command("serve")
    def serve(
        workspace: WorkspaceOpt = Path("."),
        host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
        collector_only: Annotated[bool, typer.Option(
            "--collector-only", help="Only collect into the journal; the updater runs in another process "
                                     "(needs a shared journal: journal: {kind: nats}).")] = False,
        log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    ) -> None:
        """Run the collector, the real-time updater and the APIs over a workspace (stop with Ctrl-C/SIGTERM)."""
        from huaxiang.errors import HuaxiangError

        try:
            import uvicorn

            from huaxiang.service.app import create_app
            from huaxiang.service.settings import ServiceSettings
        except ImportError as exc:
            _fail(f"the service needs FastAPI and uvicorn ({exc}); install them: pip install \"huaxiang[service]\"")
        if not (workspace / "huaxiang.yaml").exists():
            _fail(f"{workspace}: no huaxiang.yaml here; create a workspace with `huaxiang init {workspace}`")
        try:
            overrides: dict[str, object] = {"workspace": workspace, "host": host, "port": port}
            if collector_only:
                overrides["run_updater"] = False
            settings = ServiceSettings(**overrides)  # type: ignore[arg-type]
            uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                        timeout_graceful_shutdown=int(settings.drain_timeout))
        except HuaxiangError as exc:
            _fail(str(exc))

    @keys_app.command("create")
    def create_key(
        workspace: WorkspaceOpt = Path("."),
        role: Annotated[str, typer.Option("--role", help="collector (send events) or admin (also read profiles).")]
        = "collector",
        name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    ) -> None:
        """Create an API key; it is printed once, alone on the last line (only its hash is stored)."""
        from huaxiang.errors import HuaxiangError
        from huaxiang.service.keys import KeyStore

        if not (workspace / "huaxiang.yaml").exists():
            _fail(f"{workspace}: no huaxiang.yaml here; create a workspace with `huaxiang init {workspace}`")
        try:
            store = KeyStore(workspace)
            key = store.create(role, name=name)
        except HuaxiangError as exc:
            _fail(str(exc))
        typer.echo(f"created {role} key {name or role + '-key'!r} in {store.file} (only its hash is stored; "
                   "copy it now):")
        typer.echo(key)

    @keys_app.command("list")
    def list_keys(workspace: WorkspaceOpt = Path(".")) -> None:
        """List the keys (name, role, created; never the key)."""
        from huaxiang.service.keys import KeyStore

        for key in KeyStore(workspace).list_keys():
            typer.echo(f"{key.id}  {key.role:<9}  {key.created_at}  {key.name}")
