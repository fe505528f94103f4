"""Fixtures of the service tests: a workspace with keys, an in-process client, a live server on a free port."""

from __future__ import annotations

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
