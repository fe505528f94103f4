"""The profile store: each person's profile document, ready to serve, in one SQLite file.

A profile read from the warehouse is a dozen queries (tens of milliseconds to seconds while the
updater writes); from here it is one primary-key read. The store holds, per person, the document
of :func:`~huaxiang.profiles.documents.gather_documents` (JSON, zlib-compressed) and the keys a
profile is looked up by (``kind, value -> person_id``: phone, e-mail, user and anonymous ids,
``SOURCE:CUSTOMER_ID``, a retired person id).

Who writes it: :meth:`ProfileStore.publish`, called by every path that changes a person after a
build — the real-time refresh of the persons a micro-batch touched and the identity corrections
(both through :class:`~huaxiang.realtime.refresh.PersonRefresher`) — and
:meth:`ProfileStore.publish_all` after a build or a scheduled refresh. The store belongs to one
build: it records the build's id (``.huaxiang/live.json``) and a store of another build reads as
empty, so a profile is never older than the warehouse it came from; until a person is published,
``ws.profiles.get`` reads the warehouse.

SQLite in WAL mode: readers (the service's request threads, a CLI in another process) never wait
for the writer. ``synchronous=NORMAL``: the store can be rebuilt from the warehouse, so a power
cut may lose its last writes but never corrupts it.

Examples
--------
>>> import tempfile
>>> store = ProfileStore(tempfile.mkdtemp(), build="b1")
>>> store.write({"P1": {"person_id": "P1", "tags": []}}, [("phone", "+8613800138000", "P1")])
>>> store.find("phone", "+8613800138000"), store.get("P1")["person_id"]
(['P1'], 'P1')
>>> ProfileStore(store.folder, build="b2").get("P1") is None   # another build's store reads as empty
True
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

__all__ = ["STORE_FILE", "ProfileStore", "store_for"]

#: The store, relative to the workspace folder.
STORE_FILE = Path(".huaxiang") / "profiles.sqlite"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS documents (person_id TEXT PRIMARY KEY, doc BLOB NOT NULL, written_at REAL)",
    "CREATE TABLE IF NOT EXISTS lookup (kind TEXT NOT NULL, value TEXT NOT NULL, person_id TEXT NOT NULL, "
    "PRIMARY KEY (kind, value, person_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS lookup_person ON lookup (person_id)",
)


def _encode(doc: dict[str, Any]) -> bytes:
    # zlib level 1: documents shrink ~4x (bench/README.md)
    from huaxiang.profiles.documents import json_default

    return zlib.compress(orjson.dumps(doc, default=json_default), 1)


def _decode(blob: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(zlib.decompress(blob))
    return data


class ProfileStore:
    """The profile documents of one workspace's build (see the module docstring).

    Parameters
    ----------
    folder
        The workspace folder (the store is ``.huaxiang/profiles.sqlite`` in it).
    build
        The id of the build the documents come from; a store written for another build is cleared
        by the first write and reads as empty meanwhile.
    """

    def __init__(self, folder: str | Path, *, build: str | None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / STORE_FILE
        self.build = build or ""
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._current: bool | None = None

    # ------------------------------------------------------------------ connections
    def _con(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                con.execute(statement)
            self._local.con = con
        return con

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def is_current(self) -> bool:
        """True when the store holds documents of this build (checked once per second at most)."""
        now = time.monotonic()
        checked = getattr(self._local, "checked", 0.0)
        if self._current is None or now - checked > 1.0:
            row = self._con().execute("SELECT value FROM meta WHERE key = 'build'").fetchone()
            self._current = bool(self.build) and row is not None and row[0] == self.build
            self._local.checked = now
        return self._current

    # ------------------------------------------------------------------ reads
    def get(self, person_id: str) -> dict[str, Any] | None:
        """The document of ``person_id``, or None when this build's store does not have it."""
        if not self.path.exists() or not self.is_current():
            return None
        row = self._con().execute("SELECT doc FROM documents WHERE person_id = ?", (person_id,)).fetchone()
        return _decode(row[0]) if row else None

    def find(self, kind: str, value: str) -> list[str]:
        """The persons a lookup key names (several when the value is shared), sorted."""
        if not self.path.exists() or not self.is_current():
            return []
        rows = self._con().execute("SELECT DISTINCT person_id FROM lookup WHERE kind = ? AND value = ?",
                                   (kind, value)).fetchall()
        return sorted(r[0] for r in rows)

    def count(self) -> int:
        """Documents of this build in the store."""
        if not self.path.exists() or not self.is_current():
            return 0
        return int(self._con().execute("SELECT count(*) FROM documents").fetchone()[0])

    # ------------------------------------------------------------------ writes
    def write(self, docs: dict[str, dict[str, Any]], keys: Iterable[tuple[str, str, str]], *,
              removed: Sequence[str] = ()) -> None:
        """Store ``docs`` and replace their persons' lookup keys with ``keys``; drop ``removed`` persons
        (retired ids) and their keys. One transaction: a reader sees all of it or none."""
        blobs = [(pid, _encode(doc), time.time()) for pid, doc in docs.items()]
        persons = [(p,) for p in {*docs, *removed}]
        with self._write_lock:
            con = self._con()
            con.execute("BEGIN IMMEDIATE")
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'build'").fetchone()
                if row is None or row[0] != self.build:  # another build's documents: start over
                    con.execute("DELETE FROM documents")
                    con.execute("DELETE FROM lookup")
                    con.execute("DELETE FROM meta")
                    con.execute("INSERT INTO meta VALUES ('build', ?)", (self.build,))
                con.executemany("DELETE FROM lookup WHERE person_id = ?", persons)
                con.executemany("DELETE FROM documents WHERE person_id = ?", [(p,) for p in removed])
                con.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?)", blobs)
                con.executemany("INSERT OR IGNORE INTO lookup VALUES (?, ?, ?)", list(keys))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._current = True

    def mark_complete(self) -> None:
        """Record that every person of the build is published (a lookup the store misses names nobody)."""
        with self._write_lock:
            self._con().execute("INSERT OR REPLACE INTO meta VALUES ('complete', ?)", (self.build,))

    def is_complete(self) -> bool:
        """True when :meth:`mark_complete` ran for this build."""
        if not self.path.exists():
            return False
        row = self._con().execute("SELECT value FROM meta WHERE key = 'complete'").fetchone()
        return row is not None and row[0] == self.build

    def clear(self) -> None:
        """Forget every document (the next write starts the store for :attr:`build`)."""
        with self._write_lock:
            con = self._con()
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM documents")
            con.execute("DELETE FROM lookup")
            con.execute("DELETE FROM meta")
            con.execute("COMMIT")
        self._current = False


def store_for(folder: str | Path) -> ProfileStore:
    """The store of the live build of the workspace in ``folder``.

    >>> import tempfile
    >>> store_for(tempfile.mkdtemp()).build   # before the first build
    ''
    """
    from huaxiang.engine.warehouse import live_state

    state = live_state(folder) or {}
    return ProfileStore(folder, build=str(state.get("build") or ""))
