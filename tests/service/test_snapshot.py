"""The CLI stays usable while the service runs: reads open the service's snapshot, writes are refused.

The fast tests check the snapshot itself (equal to the live tables at the moment it is taken, and only
then) and the reader's rules (whose snapshot, how old, none yet). The slow one starts a real
``huaxiang serve``, sends events through the API and runs the CLI in other processes against it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import ibis
import pandas as pd
import pytest
import yaml

from huaxiang.engine import create_engine
from huaxiang.engine.snapshot import SNAPSHOT_FILE, open_snapshot
from huaxiang.errors import WorkspaceBusyError
from huaxiang.locks import LOCK_FILE, LockInfo, _process_start
from huaxiang.workspace import SCRATCH_PREFIXES, Workspace

#: Runs the ``huaxiang`` CLI of the tree under test.
CLI = "from huaxiang.cli import app; app()"


def digest(engine: Any) -> dict[str, tuple[int, int]]:
    """Every stored table: (rows, order-independent hash of its rows written as text)."""
    out = {}
    for name in sorted(engine.list_tables()):
        if name.startswith(SCRATCH_PREFIXES):
            continue
        frame = engine.execute(engine.table(name))
        hashed = pd.util.hash_pandas_object(frame.astype(str), index=False) if len(frame.columns) else []
        out[name] = (len(frame), int(sum(int(h) for h in hashed) % 2**64))
    return out


def _now(minutes: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose warehouse holds a few typed tables (opened read-write by this process)."""
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "huaxiang.yaml").write_text("name: shop\n", encoding="utf-8")
    ws = Workspace.open(folder)
    ws.engine.materialize("features", ibis.memtable(pd.DataFrame({
        "person_id": [f"P{i}" for i in range(200)], "spend_total": [i * 1.5 for i in range(200)],
        "top_category": ["书籍" if i % 3 else None for i in range(200)],
        "last_order": pd.date_range("2024-01-01", periods=200, freq="h")})))
    ws.engine.materialize("orders", ibis.memtable(pd.DataFrame({"order_id": ["o1", "o2"], "amount": [3.0, 4.0]})))
    yield ws
    ws.close()


def _rewrite(ws: Workspace, delta: float) -> None:
    """Rewrite some persons' rows with new values, as an updater batch does (leaves a write-ahead log)."""
    rows = ws.engine.execute(ws.table("features")).head(40)
    ws.engine.replace_rows("features", rows.assign(spend_total=rows["spend_total"] + delta), list(rows["person_id"]))


def test_snapshot_equals_the_live_tables_when_taken(live: Workspace) -> None:
    _rewrite(live, 1.0)
    assert (live.path / "warehouse.duckdb.wal").exists()  # the change is still only in the log
    at_snapshot = digest(live.engine)
    meta = live.engine.write_snapshot(live.path / SNAPSHOT_FILE, seq=7)
    _rewrite(live, 10.0)  # after the snapshot: not in it
    me = LockInfo(what="serve", pid=os.getpid(), host="h", started_at=_now(-1))
    reader = open_snapshot(live.path, me)
    try:
        assert reader.read_only and reader.snapshot is not None
        assert (reader.snapshot.seq, reader.snapshot.pid, reader.snapshot.taken_at) == (7, os.getpid(),
                                                                                         meta["taken_at"])
        assert digest(reader) == at_snapshot != digest(live.engine)
    finally:
        reader.close()
    assert not list((live.path / ".huaxiang").glob(".snapshot*"))  # no temporary file left


def test_the_writer_keeps_its_lock_on_the_live_file(live: Workspace) -> None:
    """Copying the file must not drop DuckDB's lock (a close of any descriptor of it in-process would)."""
    live.engine.write_snapshot(live.path / SNAPSHOT_FILE)
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True)"
    other = subprocess.run([sys.executable, "-c", probe, str(live.path / "warehouse.duckdb")],
                           capture_output=True, text=True, timeout=60)
    assert other.returncode != 0 and "Could not set lock" in other.stderr, other.stderr[-500:]


def test_a_snapshot_of_another_service_or_run_is_not_read(live: Workspace) -> None:
    live.engine.write_snapshot(live.path / SNAPSHOT_FILE, seq=1)
    other = LockInfo(what="serve", pid=os.getpid() + 1, host="h", started_at=_now(-1))
    with pytest.raises(WorkspaceBusyError, match=r"snapshot is not written yet; retry in a few seconds"):
        open_snapshot(live.path, other)
    restarted = LockInfo(what="serve", pid=os.getpid(), host="h", started_at=_now(+1))  # began after it
    with pytest.raises(WorkspaceBusyError, match=r"served by serve \(pid \d+ .*not written yet"):
        open_snapshot(live.path, restarted)


@pytest.fixture
def served_by_other(live: Workspace) -> Iterator[Path]:
    """The workspace recorded as served by another live process (a ``sleep``), without a snapshot."""
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        info = LockInfo(what="serve", pid=sleeper.pid, host=socket.gethostname(), started_at=_now(),
                        pid_start=_process_start(sleeper.pid))
        (live.path / LOCK_FILE).parent.mkdir(exist_ok=True)
        (live.path / LOCK_FILE).write_text(json.dumps(info.__dict__), encoding="utf-8")
        yield live.path
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_read_of_a_served_workspace_without_snapshot_says_retry(served_by_other: Path) -> None:
    from typer.testing import CliRunner

    from huaxiang.cli import app

    started = time.monotonic()
    with pytest.raises(WorkspaceBusyError, match=r"not written yet; retry in a few seconds"):
        create_engine("duckdb", workspace_dir=served_by_other)
    assert time.monotonic() - started < 2  # refused at once, not after waiting for the file
    result = CliRunner().invoke(app, ["show", "features", "-w", str(served_by_other)])
    assert result.exit_code == 1
    assert "retry in a few seconds" in result.output and "GET /v1/profiles/{id}" in result.output


# ------------------------------------------------------------------------------------- end to end


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo shop with 150 customers, built through tags, snapshots every second when served."""
    folder = tmp_path_factory.mktemp("served") / "shop"
    Workspace.init(folder, example="demo", customers=150, seed=7).close()
    config = yaml.safe_load((folder / "huaxiang.yaml").read_text(encoding="utf-8"))
    config["service"] = {**(config.get("service") or {}), "snapshot_every": "1s"}
    (folder / "huaxiang.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with Workspace.open(folder) as ws:
        ws.build(stages=["ingest", "clean", "identity", "features", "tags"])
    return folder


@pytest.mark.slow
def test_cli_reads_the_snapshot_and_build_is_refused_while_serving(small_demo: Path, server_process: Any) -> None:
    from huaxiang.service.keys import KeyStore

    folder = small_demo
    with Workspace.open(folder) as ws:
        tables_before = set(ws.tables())
    collector = KeyStore(folder).create("collector", name="web")
    server = server_process(folder)
    order = {"type": "track", "event": "Order Completed", "messageId": "snap-o1", "userId": "snap-user",
             "timestamp": datetime.now().replace(microsecond=0).isoformat(),
             "properties": {"order_id": "snap-order-1", "total": 88.0, "currency": "CNY",
                            "products": [{"product_id": "p1", "price": 88.0, "quantity": 1}]}}
    identify = {"type": "identify", "messageId": "snap-i1", "userId": "snap-user", "traits": {"name": "快照"}}
    answer = httpx.post(server.url + "/v1/batch", json={"batch": [identify, order]}, auth=(collector, ""),
                        timeout=10)
    assert answer.status_code == 200, answer.text

    # the events reach a snapshot within a few seconds (snapshot_every: 1s)
    deadline = time.monotonic() + 60
    while True:
        shown = _cli("show", "orders", "-w", str(folder), "--where", "order_id = 'snap-order-1'", "--json")
        if shown.returncode == 0 and "snap-order-1" in shown.stdout:
            break
        assert time.monotonic() < deadline, f"the order never reached a snapshot: {shown.stdout}{shown.stderr}"
        time.sleep(0.5)
    note = f"served by pid {server.proc.pid} since "
    assert note in shown.stderr and "reading its snapshot of" in shown.stderr
    assert "live profiles: GET /v1/profiles/{id}" in shown.stderr
    assert json.loads(shown.stdout.splitlines()[0])["amount"] == 88.0  # stdout is the data alone

    table = _cli("show", "persons", "-w", str(folder), "-n", "3")
    assert table.returncode == 0 and "person_id" in table.stdout and note in table.stderr, table.stderr
    person = json.loads(_cli("show", "record_persons", "-w", str(folder), "--where",
                             "source_customer_id = 'snap-user'", "--json").stdout.splitlines()[0])["person_id"]
    profile = _cli("profile", person, "-w", str(folder), "--lang", "en")
    assert profile.returncode == 0, profile.stderr
    assert person in profile.stdout and "snap-order-1" in profile.stdout and note in profile.stderr
    history = _cli("tags", "history", person, "-w", str(folder), "--lang", "en")
    assert history.returncode == 0 and note in history.stderr, history.stderr
    tags = _cli("tags", "list", "-w", str(folder), "--lang", "en")  # read from huaxiang.yaml: no warehouse
    assert tags.returncode == 0 and "Night owl" in tags.stdout, tags.stderr

    build = _cli("build", "-w", str(folder))
    assert build.returncode == 1
    message = " ".join(build.stderr.split())
    assert f"served by `huaxiang serve` (pid {server.proc.pid} on host" in message
    assert "build cannot run while it serves: stop the service first" in message
    assert f"kill -TERM {server.proc.pid}" in message and "Traceback" not in build.stderr

    assert server.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its clean shutdown
    with Workspace.open(folder) as ws:
        assert tables_before <= set(ws.tables())
        assert ws.engine.execute(ws.table("orders").filter(ws.table("orders").order_id == "snap-order-1").count()) == 1
        live_tables = digest(ws.engine)
    # the last snapshot (taken on stop, after the drain) equals what the warehouse holds
    me = LockInfo(what="serve", pid=server.proc.pid, host="h", started_at="2000-01-01T00:00:00Z")
    reader = open_snapshot(folder, me)
    try:
        assert digest(reader) == live_tables
    finally:
        reader.close()
