"""Durable before acknowledged: SIGKILL while a sender posts, restart, SIGTERM; every acknowledged message once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest


class Sender(threading.Thread):
    """An at-least-once sender: posts batches of 20 new messages, retries a batch until it gets a 200."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.key = key
        self.acked: list[str] = []
        self.attempts = 0
        self.failures = 0
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        with httpx.Client(auth=(self.key, ""), timeout=5) as http:
            while not self.halt.is_set():
                batch = [{"type": "track", "messageId": f"s{n}-{i}", "userId": f"u{(n * 20 + i) % 37}",
                          "event": "Product Viewed", "properties": {"product_id": f"p{i}"}} for i in range(20)]
                n += 1
                while True:  # retry this batch until acknowledged (a retry after a crash is a duplicate)
                    self.attempts += 1
                    try:
                        answer = http.post(self.url + "/v1/batch", json={"batch": batch})
                        if answer.status_code == 200:
                            body = answer.json()
                            self.acked.extend(body["accepted"] + body["duplicates"])
                            break
                    except httpx.HTTPError:
                        pass
                    self.failures += 1
                    if self.halt.is_set() and self.failures > 10_000:
                        return
                    time.sleep(0.05)

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.acked)} messages acknowledged in {timeout} s")
            time.sleep(0.02)


def _updater_available() -> bool:
    try:
        from huaxiang.realtime import Updater  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_sigkill_under_load_loses_and_doubles_nothing(workspace_dir: Path, collector_key: str,
                                                      server_process: Any, journal_of: Any) -> None:
    first = server_process(workspace_dir)
    sender = Sender(first.url, collector_key)
    sender.start()
    sender.wait_for(200)
    assert first.kill() == -9
    acked_before_kill = len(sender.acked)
    time.sleep(0.3)
    second = server_process(workspace_dir, port=first.port)  # the next start resumes from the journal
    sender.wait_for(acked_before_kill + 200)
    sender.halt.set()
    sender.join(timeout=30)
    assert not sender.is_alive()
    assert sender.failures > 0  # the kill was felt: some post failed and was retried
    assert second.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its clean shutdown
    assert "Traceback" not in second.log.read_text()

    acked = sender.acked
    assert len(acked) == len(set(acked))
    stored = [e.message["messageId"] for e in journal_of(workspace_dir)]
    assert len(stored) == len(set(stored)), "a messageId is in the journal twice"
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages are not in the journal"

    if not _updater_available():
        pytest.skip("huaxiang.realtime.Updater is not in this tree: checked the journal only")
    import duckdb

    con = duckdb.connect(str(workspace_dir / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT event_id, count(*) FROM events GROUP BY event_id").fetchall()
    finally:
        con.close()
    counts = dict(rows)
    assert [k for k, c in counts.items() if c != 1] == [], "an event is in the warehouse twice"
    assert set(acked) <= set(counts), f"{len(set(acked) - set(counts))} acknowledged events not in `events`"
    assert set(counts) == set(stored)  # SIGTERM drained the journal into the warehouse
