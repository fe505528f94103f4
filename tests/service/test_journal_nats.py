"""The JetStream journal: dedupe by Nats-Msg-Id, the durable consumer's position, two collectors feeding one stream."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from huaxiang.journal import JournalError, JournalSettings, open_journal
from huaxiang.journal.nats import NatsJournal


def _settings(names: dict[str, str], **extra: Any) -> JournalSettings:
    return JournalSettings(kind="nats", url="nats://127.0.0.1:4222", **names, **extra)


def _msgs(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"messageId": f"{prefix}{i}", "type": "track", "event": "E", "userId": "u"} for i in range(n)]


def test_append_dedupe_read_commit_and_reopen(nats_stream: dict[str, str], tmp_path: Path) -> None:
    journal = open_journal(tmp_path, _settings(nats_stream))
    assert isinstance(journal, NatsJournal)
    first = journal.append(_msgs("a", 5))
    again = journal.append([*_msgs("a", 2), *_msgs("b", 1)])
    assert first.accepted == [f"a{i}" for i in range(5)]
    assert (again.accepted, again.duplicates) == (["b0"], ["a0", "a1"])
    assert journal.last_seq() == 6 and journal.committed() == 0
    entries = journal.read(after=0, limit=4)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].message == _msgs("a", 1)[0]
    journal.commit(4)
    assert [e.message["messageId"] for e in journal.read(after=4, limit=10)] == ["a4", "b0"]
    journal.close()
    # a new reader resumes after the commit; entries read but not committed come again
    with NatsJournal(_settings(nats_stream)) as reopened:
        assert reopened.committed() == 4
        assert [e.seq for e in reopened.read(reopened.committed(), 10)] == [5, 6]
        reopened.commit(6)
    with NatsJournal(_settings(nats_stream)) as third:
        assert third.committed() == 6 and third.read(6, 10) == []


def test_stream_gets_a_duplicate_window_of_at_least_24h(nats_stream: dict[str, str]) -> None:
    import asyncio

    import nats

    with NatsJournal(_settings(nats_stream, dedupe_window=timedelta(hours=30))):
        pass

    async def window() -> float:
        nc = await nats.connect("nats://127.0.0.1:4222")
        info = await nc.jetstream().stream_info(nats_stream["stream"])
        await nc.close()
        return float(info.config.duplicate_window or 0)

    assert asyncio.run(window()) == 30 * 3600


def test_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(JournalError, match="cannot open the JetStream journal"):
        NatsJournal(JournalSettings(kind="nats", url="nats://127.0.0.1:1"), timeout=1.0)


@pytest.mark.slow
def test_two_collector_processes_feed_one_stream(nats_stream: dict[str, str], workspace_dir: Path,
                                                 collector_key: str, server_process: Any) -> None:
    """Two `huaxiang serve --collector-only` on two ports; a retry sent to the other one is stored once."""
    env = {"HUAXIANG_JOURNAL__KIND": "nats", "HUAXIANG_JOURNAL__STREAM": nats_stream["stream"],
           "HUAXIANG_JOURNAL__SUBJECT": nats_stream["subject"]}
    one = server_process(workspace_dir, collector_only=True, env=env)
    two = server_process(workspace_dir, collector_only=True, env=env)
    assert one.port != two.port
    sent: set[str] = set()
    with httpx.Client(auth=(collector_key, ""), timeout=10) as http:
        for k in range(20):
            batch = _msgs(f"k{k}-", 25)
            sent.update(m["messageId"] for m in batch)
            target, other = (one, two) if k % 2 else (two, one)
            assert http.post(target.url + "/v1/batch", json={"batch": batch}).status_code == 200
            retry = http.post(other.url + "/v1/batch", json={"batch": batch[:5]})  # the sender retries elsewhere
            assert retry.status_code == 200 and retry.json()["duplicates"] == [m["messageId"] for m in batch[:5]]
        health = http.get(one.url + "/healthz").json()
    assert health["journal"] == "NatsJournal" and health["updater"] is False
    assert one.stop() in (0, -15) and two.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its clean shutdown
    assert "Traceback" not in one.log.read_text() + two.log.read_text()
    with NatsJournal(_settings(nats_stream)) as reader:
        entries = reader.read(0, 10_000)
    ids = [e.message["messageId"] for e in entries]
    assert len(ids) == len(set(ids)) == 500
    assert set(ids) == sent


def test_append_without_a_stream_fails_clearly(nats_stream: dict[str, str]) -> None:
    """The stream deleted under a running collector: the append fails (503 to the sender), it is not acknowledged."""
    import asyncio

    import nats

    journal = NatsJournal(_settings(nats_stream), timeout=2.0)

    async def drop() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        await nc.jetstream().delete_stream(nats_stream["stream"])
        await nc.close()

    asyncio.run(drop())
    try:
        with pytest.raises(JournalError, match=r"no acknowledgement|did not acknowledge"):
            journal.append(_msgs("z", 3))
    finally:
        journal.close()
