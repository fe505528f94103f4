"""The embedded journal: one SQLite file in WAL mode, ``synchronous=FULL``, group commit.

One writer thread owns the write connection. Appends from any thread or
event loop queue up; the writer takes everything waiting (up to
``max_group`` messages), stores it in one transaction and only then resolves
each caller's future. So many concurrent requests share one ``fsync`` and
each is acknowledged only after its own data is on disk.

With ``synchronous=FULL`` the WAL is synced at every commit: a committed
append survives a killed process and a power cut (given a disk that honours
``fsync``).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     with SqliteJournal(Path(tmp) / "journal.sqlite") as journal:
...         _ = journal.append([{"messageId": "a"}, {"messageId": "b"}, {"messageId": "a"}])
...         journal.commit(1)
...         print(journal.committed(), [e.seq for e in journal.read(after=1, limit=10)], journal.last_seq())
1 [2] 2
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from huaxiang.journal.base import (
    AppendResult,
    Journal,
    JournalEntry,
    JournalError,
    encode_message,
    message_id,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    message_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

#: SQLite's bound-parameter limit is 32,766 since 3.32; stay well below it.
_IN_CHUNK = 10_000
#: How often the writer forgets messageIds older than the dedupe window.
_PRUNE_EVERY_S = 600.0


@dataclass
class _Append:
    messages: list[dict[str, Any]]
    ids: list[str]
    encoded: list[bytes] | None
    future: Future[AppendResult] = field(default_factory=Future)


@dataclass
class _Commit:
    seq: int
    future: Future[None] = field(default_factory=Future)


class SqliteJournal(Journal):
    """A journal in one SQLite file (created if missing).

    Parameters
    ----------
    path
        The SQLite file.
    dedupe_window
        How long a ``messageId`` is remembered (at least 24 h).
    max_group
        Most messages one transaction holds.
    """

    def __init__(self, path: str | Path, *, dedupe_window: timedelta = timedelta(hours=48),
                 max_group: int = 20_000) -> None:
        self.path = Path(path)
        self._window_s = dedupe_window.total_seconds()
        self._max_group = max_group
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer_conn = self._connect()
            self._writer_conn.executescript(_SCHEMA)
            self._reader_conn = self._connect()
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open the journal ({exc}); check the folder is writable") from exc
        self._reader_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Append | _Commit | None] = queue.SimpleQueue()
        self._closed = False
        self._last_prune = 0.0
        self._writer = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    # ------------------------------------------------------------ writing
    def _submit_append(self, messages: list[dict[str, Any]], encoded: list[bytes] | None) -> Future[AppendResult]:
        if self._closed:
            raise JournalError(f"{self.path}: the journal is closed; no more appends are taken")
        if encoded is not None and len(encoded) != len(messages):
            raise JournalError(f"append: {len(messages)} messages but {len(encoded)} encoded bodies")
        request = _Append(messages, [message_id(m) for m in messages], encoded)
        self._queue.put(request)
        return request.future

    def append(self, messages: list[dict[str, Any]], *, encoded: list[bytes] | None = None) -> AppendResult:
        """Store ``messages`` (durable on return); repeated ``messageId``s are reported as duplicates."""
        return self._submit_append(messages, encoded).result()

    async def append_async(self, messages: list[dict[str, Any]], *,
                           encoded: list[bytes] | None = None) -> AppendResult:
        """:meth:`append` awaited on the event loop (no thread per request)."""
        return await asyncio.wrap_future(self._submit_append(messages, encoded))

    def commit(self, seq: int) -> None:
        """Persist that every entry up to ``seq`` is applied (through the writer, in order)."""
        if self._closed:
            raise JournalError(f"{self.path}: the journal is closed")
        request = _Commit(seq)
        self._queue.put(request)
        request.future.result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group: list[_Append | _Commit] = [first]
            size = len(first.messages) if isinstance(first, _Append) else 0
            stop = False
            while size < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
                size += len(item.messages) if isinstance(item, _Append) else 0
            self._write(group)
            if stop:
                return

    def _write(self, group: list[_Append | _Commit]) -> None:
        conn = self._writer_conn
        now = time.time()
        try:
            conn.execute("BEGIN IMMEDIATE")
            appends = [r for r in group if isinstance(r, _Append)]
            all_ids = list({i: None for r in appends for i in r.ids})
            seen: set[str] = set()
            for start in range(0, len(all_ids), _IN_CHUNK):
                chunk = all_ids[start:start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                seen.update(row[0] for row in conn.execute(
                    f"SELECT message_id FROM seen WHERE message_id IN ({marks})", chunk))
            results: list[AppendResult] = []
            rows: list[tuple[str, float, bytes]] = []
            for request in appends:
                accepted: list[str] = []
                duplicates: list[str] = []
                for k, mid in enumerate(request.ids):
                    if mid in seen:
                        duplicates.append(mid)
                        continue
                    seen.add(mid)
                    accepted.append(mid)
                    body = request.encoded[k] if request.encoded is not None else encode_message(request.messages[k])
                    rows.append((mid, now, body))
                results.append(AppendResult(accepted, duplicates))
            if rows:
                conn.executemany("INSERT INTO entries (message_id, received_at, body) VALUES (?, ?, ?)", rows)
                conn.executemany("INSERT INTO seen (message_id, received_at) VALUES (?, ?)",
                                 [(mid, now) for mid, _, _ in rows])
            commits = [r.seq for r in group if isinstance(r, _Commit)]
            if commits:
                conn.execute("INSERT INTO state (key, value) VALUES ('committed', ?) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (max(commits),))
            if now - self._last_prune > _PRUNE_EVERY_S:
                conn.execute("DELETE FROM seen WHERE received_at < ?", (now - self._window_s,))
                self._last_prune = now
            conn.execute("COMMIT")
        except Exception as exc:  # every waiting caller hears of the failure, none is left hanging
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = JournalError(f"{self.path}: writing to the journal failed ({exc}); nothing of this group was stored")
            for waiting in group:
                waiting.future.set_exception(error)
            return
        results_iter = iter(results)
        for done in group:
            if isinstance(done, _Append):
                done.future.set_result(next(results_iter))
            else:
                done.future.set_result(None)

    # ------------------------------------------------------------ reading
    def read(self, after: int, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` entries with ``seq > after``, in order."""
        with self._reader_lock:
            rows = self._reader_conn.execute(
                "SELECT seq, body, received_at FROM entries WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
        return [JournalEntry(seq, json.loads(body), datetime.fromtimestamp(ts, tz=UTC)) for seq, body, ts in rows]

    def committed(self) -> int:
        """The last ``seq`` the updater committed (0 when none)."""
        with self._reader_lock:
            row = self._reader_conn.execute("SELECT value FROM state WHERE key = 'committed'").fetchone()
        return int(row[0]) if row else 0

    def last_seq(self) -> int:
        """The highest ``seq`` stored (0 when empty)."""
        with self._reader_lock:
            row = self._reader_conn.execute("SELECT max(seq) FROM entries").fetchone()
        return int(row[0] or 0)

    def count(self) -> int:
        """How many entries the journal holds."""
        with self._reader_lock:
            return int(self._reader_conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def close(self) -> None:
        """Store what is queued, stop the writer and close the file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join()
        while True:  # an append that raced with close() is refused, not left waiting
            try:
                late = self._queue.get_nowait()
            except queue.Empty:
                break
            if late is not None:
                late.future.set_exception(JournalError(f"{self.path}: the journal closed before this append"))
        self._writer_conn.close()
        with self._reader_lock:
            self._reader_conn.close()
