"""Fixtures of the service tests: a workspace with keys, an in-process client, a live server on a free port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from huaxiang.journal import JournalEntry
from huaxiang.journal.sqlite import SqliteJournal


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_journal(workspace_dir: Path, name: str = "journal.sqlite") -> list[JournalEntry]:
    """Every entry of the workspace's SQLite journal (a second reader; WAL lets it read beside the server)."""
    with SqliteJournal(workspace_dir / name) as journal:
        return journal.read(after=0, limit=10**9)


@pytest.fixture
def journal_of() -> Any:
    """:func:`read_journal` as a fixture (test modules do not import conftest)."""
    return read_journal


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """An empty workspace (a ``huaxiang.yaml`` and nothing built)."""
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "huaxiang.yaml").write_text("name: shop\n", encoding="utf-8")
    return folder


@pytest.fixture
def collector_key(workspace_dir: Path) -> str:
    from huaxiang.service.keys import KeyStore

    return KeyStore(workspace_dir).create("collector", name="web")


@pytest.fixture
def admin_key(workspace_dir: Path) -> str:
    from huaxiang.service.keys import KeyStore

    return KeyStore(workspace_dir).create("admin", name="ops")


@pytest.fixture
def client(workspace_dir: Path, collector_key: str) -> Iterator[Any]:
    """A TestClient over a collector-only app (no updater: these tests look at the journal)."""
    from fastapi.testclient import TestClient

    from huaxiang.service.app import create_app
    from huaxiang.service.settings import ServiceSettings

    app = create_app(ServiceSettings(workspace=workspace_dir, run_updater=False))
    with TestClient(app) as test_client:
        yield test_client


class ServerThread:
    """uvicorn serving an app in a thread of this process, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_server(workspace_dir: Path, collector_key: str) -> Iterator[str]:
    """The URL of a collector-only service running in a thread."""
    from huaxiang.service.app import create_app
    from huaxiang.service.settings import ServiceSettings

    with ServerThread(create_app(ServiceSettings(workspace=workspace_dir, run_updater=False))) as server:
        yield server.url


#: Runs ``huaxiang serve`` through this package's ``register`` alone (whatever shape the main CLI has).
SERVE = "import typer; from huaxiang.service.cli import register; app = typer.Typer(); register(app); app()"


class ServerProcess:
    """``huaxiang serve`` in a child process on a free port; ``kill()`` is SIGKILL, ``stop()`` SIGTERM."""

    def __init__(self, workspace_dir: Path, *, port: int | None = None, collector_only: bool = False,
                 env: dict[str, str] | None = None, log: Path | None = None) -> None:
        import os
        import subprocess
        import sys

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-c", SERVE, "serve", "-w", str(workspace_dir), "--port", str(self.port),
                "--log-level", "warning"]
        if collector_only:
            args.append("--collector-only")
        self.log = log or workspace_dir.parent / f"server-{self.port}.log"
        self._out = open(self.log, "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=self._out,
                                     stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError(f"the server did not get ready in {timeout} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> int:
        self.proc.kill()
        return self.wait()

    def stop(self, timeout: float = 120.0) -> int:
        self.proc.terminate()
        return self.wait(timeout)

    def wait(self, timeout: float = 120.0) -> int:
        code = self.proc.wait(timeout)
        self._out.close()
        return code


@pytest.fixture
def server_process() -> Iterator[Any]:
    """A factory of :class:`ServerProcess`; any still running at the end is killed."""
    started: list[ServerProcess] = []

    def start(*args: Any, **kwargs: Any) -> ServerProcess:
        server = ServerProcess(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.kill()


NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture
def nats_stream() -> Iterator[dict[str, str]]:
    """A fresh JetStream stream name and subject on the local server (deleted afterwards)."""
    import asyncio
    import uuid

    import nats

    tag = uuid.uuid4().hex[:10].upper()
    names = {"stream": f"HXTEST_{tag}", "subject": f"hxtest.{tag.lower()}"}

    async def probe() -> None:
        nc = await nats.connect(NATS_URL, connect_timeout=3, max_reconnect_attempts=0)
        await nc.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        pytest.fail(f"NATS with JetStream is expected at {NATS_URL} (nats-server -js): {exc}")
    yield names

    async def drop() -> None:
        nc = await nats.connect(NATS_URL)
        with contextlib.suppress(Exception):  # a test may have deleted it already
            await nc.jetstream().delete_stream(names["stream"])
        await nc.close()

    asyncio.run(drop())
