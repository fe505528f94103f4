"""Reading a served workspace: its read-only snapshot, written by the service, instead of the live file.

DuckDB lets one process write a database file; while ``huaxiang serve`` holds a workspace its
real-time updater writes ``warehouse.duckdb`` and other processes cannot open it, not even to read.
So the updater writes a consistent copy, ``.huaxiang/snapshot.duckdb`` (:meth:`Engine.write_snapshot
<huaxiang.engine.base.Engine.write_snapshot>`), when it starts, every ``service.snapshot_every``
seconds and when it stops; a reader in another process opens that copy read-only
(:func:`open_snapshot`) and says so in one line (:meth:`SnapshotInfo.note`). The live profile of one
person is the service's API.

Examples
--------
>>> from huaxiang.locks import LockInfo
>>> holder = LockInfo(what="serve", pid=4242, host="h", started_at="2026-12-07T18:00:00Z")
>>> info = SnapshotInfo(path=Path("snapshot.duckdb"), taken_at="2026-12-07T18:05:00.000000Z", seq=17,
...                     pid=4242, holder=holder)
>>> info.note(now=datetime(2026, 12, 7, 18, 5, 30, tzinfo=UTC)).split(" since ")[0]
'served by pid 4242'
>>> info.age_seconds(now=datetime(2026, 12, 7, 18, 5, 30, tzinfo=UTC))
30
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from huaxiang.engine.base import SNAPSHOT_TABLE
from huaxiang.errors import WorkspaceBusyError

if TYPE_CHECKING:
    from huaxiang.engine.base import Engine
    from huaxiang.locks import LockInfo

__all__ = ["SNAPSHOT_FILE", "SnapshotInfo", "open_snapshot", "snapshot_path"]

#: The served workspace's read-only snapshot, relative to the workspace folder.
SNAPSHOT_FILE = Path(".huaxiang") / "snapshot.duckdb"
#: Where the live profile of one person is read while the workspace is served.
LIVE_PROFILES = "GET /v1/profiles/{id}"


def snapshot_path(workspace_dir: str | Path) -> Path:
    """The snapshot file of the workspace in ``workspace_dir``."""
    return Path(workspace_dir) / SNAPSHOT_FILE


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _local(moment: datetime, fmt: str) -> str:
    return moment.astimezone().strftime(fmt)


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot being read: its file, when it was taken (UTC, ISO 8601), the journal ``seq`` it
    includes, the pid that wrote it and the service holding the workspace."""

    path: Path
    taken_at: str
    seq: int | None
    pid: int
    holder: LockInfo

    def age_seconds(self, now: datetime | None = None) -> int:
        """Whole seconds since the snapshot was taken."""
        return max(0, int(((now or datetime.now(UTC)) - _parse(self.taken_at)).total_seconds()))

    def note(self, now: datetime | None = None) -> str:
        """The line a reader prints: who serves, which snapshot it reads and how old, where the live data is."""
        try:
            since = _local(_parse(self.holder.started_at), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            since = self.holder.started_at
        taken = _local(_parse(self.taken_at), "%H:%M:%S")
        return (f"served by pid {self.holder.pid} since {since}: reading its snapshot of {taken} "
                f"({self.age_seconds(now)} s old); live profiles: {LIVE_PROFILES}")


def _not_yet(folder: Path, holder: LockInfo) -> WorkspaceBusyError:
    return WorkspaceBusyError(
        f"workspace busy: {folder} is served by {holder.describe()} and its read-only snapshot is not "
        f"written yet; retry in a few seconds (the service writes {SNAPSHOT_FILE} when it starts and every "
        f"service.snapshot_every, none when that is 0); live profiles: {LIVE_PROFILES}"
    )


def open_snapshot(folder: Path, holder: LockInfo, **kwargs: Any) -> Engine:
    """Open the snapshot of the workspace ``folder`` that the service ``holder`` wrote, read-only.

    The engine's ``snapshot`` says what it reads. A snapshot left by an earlier service (another pid,
    or older than this one's start) is not read: the warehouse may have changed since.

    Raises
    ------
    WorkspaceBusyError
        The service has not written its snapshot yet: the message says to retry shortly.
    """
    from huaxiang.engine.duckdb import DuckDBEngine

    file = snapshot_path(folder)
    if not file.exists():
        raise _not_yet(folder, holder)
    engine = DuckDBEngine(file, read_only=True, **kwargs)
    try:
        rows = engine.execute(engine.table(SNAPSHOT_TABLE)) if engine.has_table(SNAPSHOT_TABLE) else None
        if rows is None or len(rows) != 1:
            raise _not_yet(folder, holder)
        row = rows.iloc[0]
        info = SnapshotInfo(path=file, taken_at=str(row["taken_at"]),
                            seq=None if pd.isna(row["seq"]) else int(row["seq"]), pid=int(row["pid"]),
                            holder=holder)
        if info.pid != holder.pid or _parse(info.taken_at).replace(microsecond=0) < _parse(holder.started_at):
            raise _not_yet(folder, holder)
    except BaseException:
        engine.close()
        raise
    engine.snapshot = info
    return engine
