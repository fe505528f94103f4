"""The journal between the collector and the real-time updater.

:func:`open_journal` opens the kind the workspace asks for: ``sqlite``
(default, a file in the workspace) or ``nats`` (a NATS JetStream stream).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     with open_journal(Path(tmp), JournalSettings()) as journal:
...         print(type(journal).__name__, journal.append([{"messageId": "x"}]).accepted)
SqliteJournal ['x']
"""

from __future__ import annotations

from pathlib import Path

from huaxiang.journal.base import (
    AppendResult,
    Journal,
    JournalEntry,
    JournalError,
    JournalSettings,
    message_id,
)

__all__ = [
    "AppendResult",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalSettings",
    "message_id",
    "open_journal",
]


def open_journal(workspace_dir: Path, settings: JournalSettings) -> Journal:
    """Open the journal ``settings`` describe; a relative SQLite ``path`` is inside ``workspace_dir``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     journal = open_journal(Path(tmp), JournalSettings(path="j.sqlite"))
    ...     journal.close()
    ...     print((Path(tmp) / "j.sqlite").exists())
    True
    """
    if settings.kind == "nats":
        from huaxiang.journal.nats import NatsJournal

        return NatsJournal(settings)
    from huaxiang.journal.sqlite import SqliteJournal

    path = Path(settings.path).expanduser()
    if not path.is_absolute():
        path = Path(workspace_dir) / path
    return SqliteJournal(path, dedupe_window=settings.dedupe_window, max_group=settings.max_group)
