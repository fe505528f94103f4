"""The scale-out journal: a NATS JetStream stream that several collector processes publish to.

- **append** publishes each message with the ``Nats-Msg-Id`` header set to
  its ``messageId`` and waits for every acknowledgement (a no-responders
  or error answer fails the append: the collector answers 503 and the
  sender retries); the stream's
  ``duplicate_window`` (the journal's ``dedupe_window``, >= 24 h) makes
  JetStream store a repeated id once and answer ``duplicate``.
- **read/commit** go through one durable pull consumer (``consumer``,
  ``AckPolicy.ALL``): ``commit(seq)`` acknowledges the entry ``seq``
  (and so everything before it) and waits for the server to confirm.
  Positions are stream sequence numbers. One updater reads a stream at a time.

What the acknowledgement guarantees: a JetStream server acknowledges a
publish once the message is in its stream's store, and by default
flushes that store to disk on a timer (``sync_interval``, 2 min), not per
message. On one node an acknowledged message survives the *process* being
killed (the OS holds the written pages) but not a power cut or kernel crash
before the next sync. With a replicated stream (R3 in a cluster) the
acknowledgement comes after a quorum of replicas has it: durability is
the replicas'. The SQLite journal's answer, by contrast, is after ``fsync``.

All NATS work runs on one event loop in a background thread, so the journal
can be used from any thread and from other event loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

from huaxiang.journal.base import (
    AppendResult,
    Journal,
    JournalEntry,
    JournalError,
    JournalSettings,
    encode_message,
    message_id,
)

T = TypeVar("T")


class _Acks:
    """The acknowledgements of one append, filled in as they arrive; ``done`` when none is left."""

    __slots__ = ("answers", "done", "left")

    def __init__(self, count: int, done: asyncio.Future[None]) -> None:
        self.answers: list[bytes] = [b""] * count
        self.left = count
        self.done = done


#: How long one ``read`` waits for new messages when none are pending.
_FETCH_WAIT_S = 0.05


class NatsJournal(Journal):
    """A journal on the JetStream stream ``settings.stream`` at ``settings.url`` (created if missing).

    Parameters
    ----------
    settings
        ``kind: nats`` journal settings (url, stream, subject, consumer, dedupe_window).
    timeout
        Seconds any one server round trip may take.
    """

    def __init__(self, settings: JournalSettings, *, timeout: float = 10.0) -> None:
        import nats  # noqa: F401  (a missing client is reported here, not on first use)

        self.settings = settings
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="journal-nats", daemon=True)
        self._thread.start()
        self._closed = False
        self._sub: Any = None
        self._pending: list[JournalEntry] = []
        self._msgs: dict[int, Any] = {}
        self._committed = 0
        self._inbox: str | None = None
        self._waiting: dict[str, tuple[_Acks, int]] = {}
        self._sent = 0
        try:
            self._call(self._open())
        except Exception as exc:
            self._stop_loop()
            raise JournalError(
                f"{settings.url}: cannot open the JetStream journal {settings.stream!r} ({exc or type(exc).__name__}); "
                "start nats-server with -js or fix journal.url in huaxiang.yaml"
            ) from exc

    # ------------------------------------------------------------ plumbing
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._timeout * 3)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _open(self) -> None:
        import nats
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        s = self.settings
        # nats-py retries a first connection as long as later reconnects (forever here): probe the port
        # once so a server that is not there fails the start at once, with the reason
        where = urlsplit(s.url)
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(where.hostname or "127.0.0.1", where.port or 4222), self._timeout)
        writer.close()
        self._nc = await nats.connect(s.url, connect_timeout=self._timeout, max_reconnect_attempts=-1)
        self._js = self._nc.jetstream(timeout=self._timeout)
        window = s.dedupe_window.total_seconds()
        try:
            info = await self._js.stream_info(s.stream)
        except NotFoundError:
            await self._js.add_stream(StreamConfig(
                name=s.stream, subjects=[s.subject], storage=StorageType.FILE, retention=RetentionPolicy.LIMITS,
                duplicate_window=window, description="huaxiang journal: events the collector accepted"))
            return
        if (info.config.duplicate_window or 0) < window:  # widen, never narrow, another process's window
            info.config.duplicate_window = window
            await self._js.update_stream(info.config)

    # ------------------------------------------------------------ writing
    async def _on_ack(self, msg: Any) -> None:
        waiting = self._waiting.pop(msg.subject, None)
        if waiting is not None:
            acks, k = waiting
            acks.answers[k] = msg.data
            acks.left -= 1
            if not acks.left and not acks.done.done():
                acks.done.set_result(None)

    async def _append(self, messages: list[dict[str, Any]], encoded: list[bytes] | None) -> AppendResult:
        # Publish-with-reply on one inbox subscription of our own, and one future per append rather than
        # per message: less Python per message than js.publish_async, which wraps every message's
        # flow-control wait in a task (bench/README.md).
        if self._inbox is None:
            self._inbox = self._nc.new_inbox()
            await self._nc.subscribe(self._inbox + ".*", cb=self._on_ack)
        ids = [message_id(m) for m in messages]
        bodies = encoded if encoded is not None else [encode_message(m) for m in messages]
        if len(bodies) != len(ids):
            raise JournalError(f"append: {len(ids)} messages but {len(bodies)} encoded bodies")
        if not ids:
            return AppendResult([], [])
        acks = _Acks(len(ids), asyncio.get_running_loop().create_future())
        replies: list[str] = []
        publish, subject, prefix, waiting = self._nc.publish, self.settings.subject, self._inbox + ".", self._waiting
        for k, mid in enumerate(ids):
            self._sent += 1
            reply = prefix + str(self._sent)
            waiting[reply] = (acks, k)
            replies.append(reply)
            await publish(subject, bodies[k], reply=reply, headers={"Nats-Msg-Id": mid})
        try:
            await asyncio.wait_for(acks.done, self._timeout)
        except TimeoutError:
            for reply in replies:
                waiting.pop(reply, None)
            raise JournalError(f"{self.settings.url}: JetStream did not acknowledge within {self._timeout:g} s; "
                               "nothing of this append is known to be stored (the sender should retry)") from None
        accepted: list[str] = []
        duplicates: list[str] = []
        for mid, answer in zip(ids, acks.answers, strict=True):
            ack = orjson.loads(answer) if answer else {}
            if "error" in ack or "seq" not in ack:
                raise JournalError(f"{self.settings.url}: JetStream refused message {mid!r}: "
                                   f"{ack.get('error', 'no acknowledgement (is the subject in the stream?)')}")
            (duplicates if ack.get("duplicate") else accepted).append(mid)
        return AppendResult(accepted, duplicates)

    def append(self, messages: list[dict[str, Any]], *, encoded: list[bytes] | None = None) -> AppendResult:
        """Publish ``messages`` and wait for every JetStream acknowledgement."""
        return self._run(self._append(messages, encoded))

    async def append_async(self, messages: list[dict[str, Any]], *,
                           encoded: list[bytes] | None = None) -> AppendResult:
        """:meth:`append` awaited from another event loop."""
        self._check_open()
        future = asyncio.run_coroutine_threadsafe(self._append(messages, encoded), self._loop)
        try:
            return await asyncio.wrap_future(future)
        except JournalError:
            raise
        except Exception as exc:
            raise JournalError(f"{self.settings.url}: publishing to {self.settings.stream!r} failed ({exc})") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"the JetStream journal {self.settings.stream!r} is closed")

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        self._check_open()
        try:
            return self._call(coro)
        except JournalError:
            raise
        except Exception as exc:
            raise JournalError(f"{self.settings.url}: JetStream journal {self.settings.stream!r}: "
                               f"{exc or type(exc).__name__}") from exc

    # ------------------------------------------------------------ reading
    async def _position(self) -> int:
        """The committed position as the durable consumer records it (0 if it does not exist)."""
        from nats.js.errors import NotFoundError

        try:
            info = await self._js.consumer_info(self.settings.stream, self.settings.consumer)
        except NotFoundError:
            return 0
        if info.ack_floor is not None and info.ack_floor.consumer_seq > 0:
            return int(info.ack_floor.stream_seq)
        start = info.config.opt_start_seq
        return int(start) - 1 if start else 0

    async def _ensure_consumer(self) -> None:
        """Bind the updater's durable consumer, restarting delivery just after the committed position.

        Re-creating it drops deliveries that were never committed (a crash
        mid-batch), so they come again at once instead of after ``ack_wait``.
        """
        if self._sub is not None:
            return
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        s = self.settings
        floor = await self._position()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(s.stream, s.consumer)
        config = ConsumerConfig(
            durable_name=s.consumer, ack_policy=AckPolicy.ALL, ack_wait=3600.0, max_ack_pending=1_000_000,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if floor else DeliverPolicy.ALL,
            opt_start_seq=floor + 1 if floor else None, filter_subject=s.subject,
            description="huaxiang real-time updater")
        self._sub = await self._js.pull_subscribe(s.subject, durable=s.consumer, stream=s.stream, config=config)
        self._committed = floor

    async def _read(self, after: int, limit: int) -> list[JournalEntry]:
        import nats.errors

        await self._ensure_consumer()
        out = [e for e in self._pending if e.seq > after][:limit]
        while len(out) < limit:  # one fetch returns what the server has at hand; ask until it has no more
            try:
                fetched = await self._sub.fetch(limit - len(out), timeout=_FETCH_WAIT_S)
            except (nats.errors.TimeoutError, TimeoutError):  # nothing more at hand (either kind, by code path)
                break
            if not fetched:
                break
            known = self._pending[-1].seq if self._pending else self._committed
            for msg in fetched:
                seq = int(msg.metadata.sequence.stream)
                if seq <= known:  # a redelivery of something already held
                    continue
                stamp = msg.metadata.timestamp
                received = stamp if isinstance(stamp, datetime) else datetime.now(UTC)
                entry = JournalEntry(seq, json.loads(msg.data), received)
                self._pending.append(entry)
                self._msgs[seq] = msg
                known = seq
                if seq > after and len(out) < limit:
                    out.append(entry)
        return out

    def read(self, after: int, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` entries with stream sequence ``> after``, in order (waits briefly for new ones)."""
        return self._run(self._read(after, limit))

    async def _commit(self, seq: int) -> None:
        await self._ensure_consumer()
        held = [s for s in self._msgs if s <= seq]
        if held:
            await self._msgs[max(held)].ack_sync(timeout=self._timeout)
            for s in held:
                del self._msgs[s]
        self._pending = [e for e in self._pending if e.seq > seq]
        self._committed = max(self._committed, seq)

    def commit(self, seq: int) -> None:
        """Acknowledge entry ``seq`` and everything before it on the durable consumer (confirmed by the server)."""
        self._run(self._commit(seq))

    def committed(self) -> int:
        """The committed position (read from the server when this process is not the reader)."""
        if self._sub is not None:
            return self._committed
        return self._run(self._position())

    async def _last_seq(self) -> int:
        info = await self._js.stream_info(self.settings.stream)
        return int(info.state.last_seq)

    def last_seq(self) -> int:
        """The stream's last sequence number."""
        return self._run(self._last_seq())

    async def _close(self) -> None:
        # every append already awaited its acks; drain() would wait on the pull subscription's open request
        await self._nc.flush(timeout=int(self._timeout))
        await self._nc.close()

    def close(self) -> None:
        """Close the connection and the loop thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._close())
        finally:
            self._stop_loop()
