"""The journal: an append-only, durable log of the messages the collector accepted.

The collector appends; the real-time updater reads in order and commits how
far it has applied. ``append`` returns only once the messages are durable
(see each backend for what *durable* means there), and a ``messageId`` seen
again within :attr:`JournalSettings.dedupe_window` is acknowledged but not
stored twice.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from huaxiang.journal import JournalSettings, open_journal
>>> with tempfile.TemporaryDirectory() as tmp:
...     journal = open_journal(Path(tmp), JournalSettings())
...     first = journal.append([{"messageId": "m1", "type": "track", "event": "Signed Up"}])
...     again = journal.append([{"messageId": "m1", "type": "track", "event": "Signed Up"}])
...     entries = journal.read(after=0, limit=10)
...     journal.close()
>>> first.accepted, again.duplicates, [e.message["event"] for e in entries]
(['m1'], ['m1'], ['Signed Up'])
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from huaxiang.errors import HuaxiangError

#: The shortest duplicate window the journal accepts: at-least-once senders retry for hours.
MIN_DEDUPE_WINDOW = timedelta(hours=24)


class JournalError(RuntimeError, HuaxiangError):
    """The journal cannot be opened or written (file, server, settings)."""


class JournalSettings(BaseModel):
    """Where the journal lives: the ``journal:`` section of ``huaxiang.yaml`` (or ``HUAXIANG_JOURNAL__*``).

    ``kind: sqlite`` (default) keeps one SQLite file in the workspace (``path``,
    relative to it); ``kind: nats`` uses a NATS JetStream stream at ``url``.

    >>> JournalSettings.model_validate({"kind": "nats", "url": "nats://127.0.0.1:4222"}).stream
    'HUAXIANG'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sqlite", "nats"] = "sqlite"
    path: str = "journal.sqlite"
    url: str = "nats://127.0.0.1:4222"
    stream: str = "HUAXIANG"
    subject: str = "huaxiang.events"
    consumer: str = "huaxiang-updater"
    dedupe_window: timedelta = Field(default=timedelta(hours=48))
    #: Most messages one SQLite transaction holds (a group commit takes what is waiting, up to this).
    max_group: int = 20_000

    @field_validator("dedupe_window")
    @classmethod
    def _long_enough(cls, value: timedelta) -> timedelta:
        if value < MIN_DEDUPE_WINDOW:
            raise ValueError(f"dedupe_window {value} is shorter than 24 h; senders retry for longer, use >= 24h")
        return value


@dataclass(frozen=True)
class JournalEntry:
    """One stored message and its position in the journal."""

    seq: int
    message: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class AppendResult:
    """The ``messageId`` of each appended message: stored now, or already stored before."""

    accepted: list[str]
    duplicates: list[str]


class Journal(ABC):
    """An append-only log of messages, read in order by one updater.

    Every message must carry a ``messageId`` (the collector fills one in when
    a client sent none).
    """

    @abstractmethod
    def append(self, messages: list[dict[str, Any]], *, encoded: list[bytes] | None = None) -> AppendResult:
        """Store ``messages``; durable when this returns. A repeated ``messageId`` is not stored again.

        ``encoded`` may give each message already serialised as UTF-8 JSON (the
        collector has it from measuring sizes), so it is not encoded twice.
        """

    async def append_async(self, messages: list[dict[str, Any]], *,
                           encoded: list[bytes] | None = None) -> AppendResult:
        """:meth:`append` for an event loop (backends override it to avoid a thread hop)."""
        return await asyncio.to_thread(lambda: self.append(messages, encoded=encoded))

    @abstractmethod
    def read(self, after: int, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` entries with ``seq > after``, in order."""

    @abstractmethod
    def committed(self) -> int:
        """The last ``seq`` the updater applied (0 when none), as persisted."""

    @abstractmethod
    def commit(self, seq: int) -> None:
        """Persist that every entry up to ``seq`` is applied."""

    @abstractmethod
    def last_seq(self) -> int:
        """The highest ``seq`` stored (0 when empty): what a drain must reach."""

    @abstractmethod
    def close(self) -> None:
        """Finish pending appends and release the file or connection."""

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def encode_message(message: dict[str, Any]) -> bytes:
    """The stored form of a message: compact UTF-8 JSON.

    >>> encode_message({"event": "下单", "n": 1})
    b'{"event":"\\xe4\\xb8\\x8b\\xe5\\x8d\\x95","n":1}'
    >>> encode_message({"big": 2**70})
    b'{"big":1180591620717411303424}'
    """
    try:
        return orjson.dumps(message)  # the collector's hot path: an order of magnitude faster than json
    except TypeError:  # what orjson does not take (integers beyond 64 bits, non-text keys): the same form by json
        return _ENCODER.encode(message).encode()


#: One encoder for every message: ``json.dumps`` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def message_id(message: dict[str, Any]) -> str:
    """The ``messageId`` of a message, or a :class:`JournalError` saying it is missing.

    >>> message_id({"messageId": "abc"})
    'abc'
    """
    value = message.get("messageId")
    if not isinstance(value, str) or not value:
        raise JournalError("a journal message needs a non-empty string 'messageId'; the collector sets one")
    return value
