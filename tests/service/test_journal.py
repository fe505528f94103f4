"""The SQLite journal: order, dedupe, commit position, group commit, reopen."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from huaxiang.errors import ConfigError
from huaxiang.journal import JournalError, JournalSettings, open_journal
from huaxiang.journal.sqlite import SqliteJournal


def _msgs(prefix: str, n: int) -> list[dict[str, object]]:
    return [{"messageId": f"{prefix}{i}", "type": "track", "event": "E", "properties": {"i": i}} for i in range(n)]


def test_append_read_in_order_and_dedupe(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.sqlite") as journal:
        first = journal.append(_msgs("a", 5))
        second = journal.append([*_msgs("a", 2), *_msgs("b", 1), {"messageId": "b0", "x": 1}])
        entries = journal.read(after=0, limit=100)
    assert first.accepted == [f"a{i}" for i in range(5)] and first.duplicates == []
    assert second.accepted == ["b0"] and second.duplicates == ["a0", "a1", "b0"]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e.message["messageId"] for e in entries] == ["a0", "a1", "a2", "a3", "a4", "b0"]
    assert entries[-1].message == {"messageId": "b0", "type": "track", "event": "E", "properties": {"i": 0}}
    assert entries[0].received_at.tzinfo is not None


def test_read_after_and_limit(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.sqlite") as journal:
        journal.append(_msgs("m", 10))
        assert [e.seq for e in journal.read(after=3, limit=4)] == [4, 5, 6, 7]
        assert journal.read(after=10, limit=4) == []
        assert journal.last_seq() == 10


def test_commit_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with SqliteJournal(path) as journal:
        journal.append(_msgs("m", 4))
        assert journal.committed() == 0
        journal.commit(3)
    with SqliteJournal(path) as journal:
        assert journal.committed() == 3
        assert [e.message["messageId"] for e in journal.read(journal.committed(), 10)] == ["m3"]
        # the dedupe memory survives the restart too
        assert journal.append(_msgs("m", 1)).duplicates == ["m0"]


def test_message_without_id_is_refused(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.sqlite") as journal, pytest.raises(JournalError, match="messageId"):
        journal.append([{"type": "track"}])


def test_dedupe_window_under_24h_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than 24 h"):
        JournalSettings(dedupe_window=timedelta(hours=2))


def test_concurrent_appends_share_transactions(tmp_path: Path) -> None:
    """64 threads x 20 appends: everything stored once, in fewer transactions than appends."""
    path = tmp_path / "j.sqlite"
    journal = SqliteJournal(path)
    transactions = 0
    original = journal._write

    def counting(group):  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        original(group)

    journal._write = counting  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def send(t: int) -> None:
        try:
            for k in range(20):
                journal.append(_msgs(f"t{t}-{k}-", 10))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(64)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    journal.close()
    assert errors == []
    assert transactions < 64 * 20
    conn = sqlite3.connect(path)
    total, distinct = conn.execute("SELECT count(*), count(DISTINCT message_id) FROM entries").fetchone()
    assert (total, distinct) == (64 * 20 * 10, 64 * 20 * 10)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_append_async_on_an_event_loop(tmp_path: Path) -> None:
    async def main() -> list[list[str]]:
        with open_journal(tmp_path, JournalSettings()) as journal:
            results = await asyncio.gather(*(journal.append_async(_msgs(f"r{i}-", 3)) for i in range(50)))
            return [r.accepted for r in results]

    accepted = asyncio.run(main())
    assert accepted[7] == ["r7-0", "r7-1", "r7-2"]
    assert (tmp_path / "journal.sqlite").exists()


def test_append_after_close_is_refused(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.append(_msgs("z", 1))


def test_journal_settings_from_yaml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huaxiang.service.app import journal_settings
    from huaxiang.service.settings import ServiceSettings

    (tmp_path / "huaxiang.yaml").write_text(
        "name: shop\njournal: {kind: nats, url: 'nats://10.0.0.5:4222', stream: SHOP}\n")
    from_yaml = journal_settings(tmp_path, ServiceSettings(workspace=tmp_path))
    assert (from_yaml.kind, from_yaml.url, from_yaml.stream) == ("nats", "nats://10.0.0.5:4222", "SHOP")
    monkeypatch.setenv("HUAXIANG_JOURNAL__KIND", "sqlite")
    monkeypatch.setenv("HUAXIANG_JOURNAL__PATH", "elsewhere.sqlite")
    from_env = journal_settings(tmp_path, ServiceSettings(workspace=tmp_path))
    assert (from_env.kind, from_env.path) == ("sqlite", "elsewhere.sqlite")
    (tmp_path / "huaxiang.yaml").write_text("name: shop\njournal: {kind: kafka}\n")
    monkeypatch.delenv("HUAXIANG_JOURNAL__KIND")
    monkeypatch.delenv("HUAXIANG_JOURNAL__PATH")
    with pytest.raises(ConfigError, match=r"journal\.kind: .*'sqlite' or 'nats'"):
        journal_settings(tmp_path, ServiceSettings(workspace=tmp_path))
