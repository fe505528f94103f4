"""The workspace lock: one writer at a time (a build, the service, a correction), named in a JSON file.

A holder writes what it is, its pid, host and start time into ``.huaxiang/lock.json`` and keeps an
exclusive ``flock`` on that file while it works; the kernel drops the ``flock`` when the process
ends however it ends (SIGKILL included), so a lock left by a dead process is recognised and taken
over (a stale pid is also recognised from the JSON alone, for readers). A second holder is
refused in one line saying what runs, its pid and since when.

Examples
--------
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with hold_workspace(folder, what="serve") as me:
...     print(current_holder(folder).what)
...     try:
...         with hold_workspace(folder, what="build"):
...             pass
...     except WorkspaceBusyError as exc:
...         print(str(exc).split(":")[0])
serve
workspace busy
>>> current_holder(folder) is None
True
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from huaxiang.errors import WorkspaceBusyError

try:  # POSIX: an advisory lock the kernel releases when the holder dies
    import fcntl
except ImportError:  # pragma: no cover - Windows: the pid in the JSON decides
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "LockInfo", "current_holder", "hold_workspace"]

#: The lock file, relative to the workspace folder.
LOCK_FILE = Path(".huaxiang") / "lock.json"


@dataclass(frozen=True)
class LockInfo:
    """Who holds a workspace: what runs, its pid, host and start time (UTC, ISO 8601)."""

    what: str
    pid: int
    host: str
    started_at: str
    pid_start: str = ""

    def describe(self) -> str:
        """``build (pid 4242 on host h, since 2026-12-07T18:00:00Z, 35 s ago)``."""
        try:
            began = datetime.fromisoformat(self.started_at.replace("Z", "+00:00"))
            ago = f", {int((datetime.now(UTC) - began).total_seconds())} s ago"
        except ValueError:
            ago = ""
        return f"{self.what} (pid {self.pid} on host {self.host}, since {self.started_at}{ago})"


def _process_start(pid: int) -> str:
    """The kernel's start time of ``pid`` (Linux), to tell a reused pid from the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(info: LockInfo) -> bool:
    if info.host != socket.gethostname():
        return True  # cannot tell from here: believe it
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not info.pid_start or _process_start(info.pid) in ("", info.pid_start)


def _read(file: Path) -> LockInfo | None:
    try:
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return LockInfo(**data)
    except TypeError:
        return None


def current_holder(path: str | Path) -> LockInfo | None:
    """Who holds the workspace in ``path`` now, or None (no lock, or its process is gone)."""
    info = _read(Path(path) / LOCK_FILE)
    if info is None or not _alive(info):
        return None
    return info


def _busy(path: Path, holder: LockInfo | None, what: str) -> WorkspaceBusyError:
    """The refusal: who holds ``path`` and what to do.

    >>> me = LockInfo(what="serve", pid=4242, host="h", started_at="2026-12-07T18:00:00Z")
    >>> print(str(_busy(Path("shop"), me, "build")).split(" (pid")[0])
    workspace busy: shop is served by `huaxiang serve`
    """
    who = holder.describe() if holder is not None else "another process"
    if holder is not None and holder.what == "serve":
        # its updater writes the warehouse: a write meanwhile would race it (a build would drop its updates)
        return WorkspaceBusyError(
            f"workspace busy: {path} is served by `huaxiang serve` ({who.removeprefix('serve (')}; "
            f"{what} cannot run while it serves: stop the service first (Ctrl-C, or kill -TERM {holder.pid}: "
            f"it applies what it collected, then exits), then run `huaxiang {what}` again. Reads work meanwhile "
            "(from the service's snapshot)"
        )
    return WorkspaceBusyError(
        f"workspace busy: {path} is held by {who}; {what} cannot run until it ends "
        f"(wait for it, or stop that process)"
    )


@contextmanager
def hold_workspace(path: str | Path, what: str = "serve", *, wait: float = 0.0) -> Iterator[LockInfo]:
    """Hold the workspace in ``path`` for ``what`` (a build, ``serve``, a correction) while the block runs.

    Parameters
    ----------
    path
        The workspace folder.
    what
        What holds it, shown to anyone refused (``"build"``, ``"serve"``, ``"identity merge"``).
    wait
        Seconds to keep trying when it is held (0: refuse at once).

    Raises
    ------
    WorkspaceBusyError
        Another live process (or another block of this one) holds it: the message says what, pid and since when.
    """
    folder = Path(path)
    file = folder / LOCK_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    handle: IO[str] = open(file, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        while True:
            if _try_lock(handle, file):
                break
            if time.monotonic() >= deadline:
                raise _busy(folder, _read(file), what)
            time.sleep(0.1)
        me = LockInfo(what=what, pid=os.getpid(), host=socket.gethostname(),
                      started_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                      pid_start=_process_start(os.getpid()))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(me)))
        handle.flush()
        try:
            yield me
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            _unlock(handle)
    finally:
        handle.close()


def _try_lock(handle: IO[str], file: Path) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    holder = _read(file)  # pragma: no cover - without flock, the recorded pid decides
    return holder is None or not _alive(holder)  # pragma: no cover


def _unlock(handle: IO[str]) -> None:
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
