"""The service app: ``create_app(settings)`` builds it; the lifespan opens and closes what it uses.

Start: open the workspace's journal (the ``journal:`` section of ``huaxiang.yaml``,
or ``HUAXIANG_JOURNAL__*``), the API keys, and unless ``run_updater`` is off,
the workspace and the real-time updater (:class:`huaxiang.realtime.Updater`),
which first applies whatever the journal holds beyond its commit (the resume
after a crash). Stop (SIGTERM): refuse new events (503, SDKs retry), let the
updater drain the journal into the warehouse, close everything.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from fastapi.testclient import TestClient
>>> from huaxiang.service.keys import KeyStore
>>> with tempfile.TemporaryDirectory() as tmp:
...     _ = (Path(tmp) / "huaxiang.yaml").write_text("name: shop\\n")
...     key = KeyStore(Path(tmp)).create("collector")
...     app = create_app(ServiceSettings(workspace=tmp, run_updater=False))
...     with TestClient(app) as client:
...         answer = client.post("/v1/track", json={"userId": "u1", "event": "Signed Up"}, auth=(key, ""))
>>> answer.status_code, len(answer.json()["accepted"])
(200, 1)
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from huaxiang.config import CONFIG_FILE, load_config
from huaxiang.errors import HuaxiangError, WorkspaceError
from huaxiang.journal import Journal, JournalSettings, open_journal
from huaxiang.service.deps import ServiceState
from huaxiang.service.keys import KeyStore
from huaxiang.service.settings import ServiceSettings, get_settings

log = logging.getLogger("huaxiang.service")

#: Routers added when their module exists (the profile API comes with the real-time part).
_OPTIONAL_ROUTERS = ("huaxiang.service.routes.profiles",)


def journal_settings(workspace_dir: Path, settings: ServiceSettings) -> JournalSettings:
    """The journal to use: the environment's (``HUAXIANG_JOURNAL__*``), else the ``journal:`` section
    of ``huaxiang.yaml`` (checked when the file is loaded), else SQLite in the workspace."""
    if settings.journal is not None:
        return settings.journal
    section = load_config(workspace_dir / CONFIG_FILE).journal
    values: dict[str, Any] = {"kind": section.kind, "url": section.url, "stream": section.stream}
    if section.path:
        values["path"] = section.path
    return JournalSettings.model_validate(values)


def _load_updater() -> Any:
    """``huaxiang.realtime.Updater`` if this installation has it, else None (the collector runs alone)."""
    try:
        from huaxiang.realtime import Updater  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        log.warning("no real-time updater (%s): collecting into the journal only", exc)
        return None
    return Updater


def _open_state(settings: ServiceSettings) -> ServiceState:
    folder = Path(settings.workspace).expanduser().resolve()
    if not (folder / CONFIG_FILE).exists():
        raise WorkspaceError(f"{folder}: no {CONFIG_FILE} here; create a workspace with `huaxiang init {folder}`")
    journal: Journal = open_journal(folder, journal_settings(folder, settings))
    state = ServiceState(settings=settings, workspace_dir=folder, journal=journal, keys=KeyStore(folder))
    if not settings.run_updater:
        state.notes.append("collector only: the updater runs elsewhere")
        return state
    updater_cls = _load_updater()
    if updater_cls is None:
        state.notes.append("huaxiang.realtime.Updater is not available: events are journaled, not applied")
        return state
    from huaxiang.locks import hold_workspace
    from huaxiang.workspace import Workspace

    try:
        # the updater writes the warehouse: a build meanwhile would be lost at its switch, so refuse it
        state.hold = hold_workspace(folder, what="serve")
        state.hold.__enter__()
        state.workspace = Workspace.open(folder)
        state.updater = updater_cls(state.workspace, journal, batch_size=settings.updater_batch_size,
                                    interval=settings.updater_interval, models_every=settings.updater_models_every)
        state.updater.start()
    except BaseException:
        _close_state(state, drain=False)
        raise
    return state


def _close_state(state: ServiceState, *, drain: bool) -> None:
    state.accepting = False
    try:
        if state.updater is not None:
            state.updater.stop(drain=drain)
    finally:
        state.journal.close()
        if state.workspace is not None:
            state.workspace.close()
        if state.hold is not None:
            state.hold.__exit__(None, None, None)
            state.hold = None


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The FastAPI app over ``settings.workspace``.

    Without ``settings``, the :func:`get_settings` dependency gives them (the
    ``HUAXIANG_*`` environment) when the server starts; tests may swap it with
    ``app.dependency_overrides[get_settings]``. Nothing is opened here: the
    lifespan opens the journal, keys, workspace and updater when the server
    starts and closes them when it stops.
    """
    from huaxiang.service.routes import collect, health

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the settings dependency as the app resolves it: tests swap it with app.dependency_overrides
        app_settings = app.dependency_overrides.get(get_settings, get_settings)()
        if app_settings.run_updater:
            # The updater thread runs long stretches of Python (mapping, documents): hand the GIL over
            # every 0.5 ms instead of 5 ms, so a profile read waits less behind it (bench/README.md).
            sys.setswitchinterval(app_settings.switch_interval)
        state = await asyncio.to_thread(_open_state, app_settings)
        app.state.service = state
        try:
            yield
        finally:
            # uvicorn has stopped taking connections and finished the requests in flight
            state.accepting = False
            await asyncio.to_thread(_close_state, state, drain=True)
            app.state.service = None

    app = FastAPI(
        title="huaxiang service",
        summary="Segment-compatible event collector, real-time profiles and tags.",
        version="0.1.0",
        lifespan=lifespan,
    )
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: settings
    @app.exception_handler(HuaxiangError)
    async def huaxiang_error(request: Request, exc: HuaxiangError) -> JSONResponse:
        # our errors say what, where and how to fix: the caller gets that line, not a bare 500
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=500)

    app.include_router(health.router)
    app.include_router(collect.router)
    for name in _OPTIONAL_ROUTERS:  # routers of parts that may not be installed yet
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but something it imports is missing: say so
                raise
            continue
        app.include_router(module.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in collect.DOC_MODELS:
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
