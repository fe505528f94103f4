"""The real-time updater: journal → canonical tables → identities → features and tags of the touched persons.

One :class:`Updater` per served workspace. Its thread reads the journal in micro-batches (up to
``batch_size`` messages, or what arrived within ``interval`` seconds) and for each batch

1. maps the messages onto canonical rows (:func:`~huaxiang.realtime.segment.map_messages`) and
   writes them exactly once (:func:`~huaxiang.realtime.writer.write_batch`; the messageId is the
   ``event_id``);
2. attaches new records and identifiers to persons with the identity stage's guard rails
   (:func:`~huaxiang.identity.incremental.attach_touched`);
3. refreshes the touched persons' features, tags and tag history, segments and scores, and publishes
   their profile documents (:class:`~huaxiang.realtime.refresh.PersonRefresher`);
4. commits the batch's last ``seq`` in the journal — after the warehouse, so a crash in between
   replays the batch, and the keyed writes make the replay change nothing.

Before the first batch the thread publishes every person's profile document when the store does not
hold this build's yet, and compiles the feature and tag queries (:meth:`Updater.prepare`). Batches are
applied one after another by one thread, so one person's events are never processed
concurrently and an identity merge cannot race. Every ``refresh_every`` seconds the thread runs the
scheduled refresh (:func:`~huaxiang.realtime.refresh.refresh_everyone`) between batches, and every
``snapshot_every`` seconds it rewrites the read-only snapshot other processes read
(:meth:`Updater.maybe_snapshot`, :mod:`huaxiang.engine.snapshot`).

The updater opens its own connection to the warehouse (``Workspace.open`` of the same folder), so
profile reads on the service's connection never wait for a batch.

Examples
--------
>>> # updater = Updater(ws, journal, batch_size=2000, interval=0.2)
>>> # updater.start(); ...; updater.stop(drain=True)
>>> # updater.drain()   # tests: apply everything the journal holds, now
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from huaxiang.engine.snapshot import snapshot_path
from huaxiang.realtime.refresh import PersonRefresher, live_as_of, refresh_everyone
from huaxiang.realtime.segment import map_messages
from huaxiang.realtime.writer import ensure_tables, write_batch

__all__ = ["BatchReport", "Updater", "parse_refresh_every"]

log = logging.getLogger(__name__)


def parse_refresh_every(value: Any) -> float:
    """``service.refresh_every`` (``1h``, ``30m``, ``45s``, seconds as a number) in seconds.

    >>> parse_refresh_every("1h"), parse_refresh_every("30m"), parse_refresh_every(90)
    (3600.0, 1800.0, 90.0)
    """
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    text = str(value).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


@dataclass
class BatchReport:
    """One applied micro-batch."""

    first_seq: int
    last_seq: int
    messages: int
    persons: int
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


class Updater:
    """Apply the journal to the workspace in micro-batches (see the module docstring).

    Parameters
    ----------
    ws
        The served workspace (its folder is opened again for the updater's own connection).
    journal
        A :class:`huaxiang.journal.Journal`.
    batch_size
        Most messages per micro-batch.
    interval
        Seconds the thread waits for more messages when the journal is drained.
    source
        The ``source`` column of the rows the messages become (``service.source``, default ``app``).
    refresh_every
        Seconds between scheduled refreshes (``service.refresh_every``, default 1 h); 0 turns it off.
    snapshot_every
        Seconds between read-only snapshots (``service.snapshot_every``, default 60 s); 0 turns them off.
    models_every
        Seconds between recomputing the segments and scores of the persons refreshed meanwhile (they
        also follow whenever the journal is drained); 0 recomputes them in every micro-batch. Features,
        tags and the profile documents follow every micro-batch.
    clock
        Now, as a naive time in the workspace's time zone (default: the wall clock there); tests pin it.
        The live ``as_of`` and the tag history stamps come from it.
    """

    def __init__(self, ws: Any, journal: Any, *, batch_size: int = 5000, interval: float = 0.2,
                 source: str | None = None, refresh_every: float | str | None = None,
                 snapshot_every: float | str | None = None, clock: Callable[[], datetime] | None = None,
                 models_every: float = 60.0) -> None:
        from huaxiang.workspace import Workspace

        service = dict(ws.config.service or {})
        self.journal = journal
        self.batch_size = batch_size
        self.interval = interval
        self.source = source or str(service.get("source", "app"))
        self.refresh_every = parse_refresh_every(refresh_every if refresh_every is not None
                                                 else service.get("refresh_every", "1h"))
        self.snapshot_every = parse_refresh_every(snapshot_every if snapshot_every is not None
                                                  else service.get("snapshot_every", "60s"))
        # Canonical timestamps are naive local times of the workspace's time zone: so is "now".
        zone = ZoneInfo(ws.config.timezone) if ws.config.timezone else None
        self.clock = clock or (lambda: datetime.now(zone).replace(tzinfo=None, microsecond=0))
        self.ws = Workspace.open(ws.path, engine=ws.engine_name) if getattr(ws, "path", None) else ws
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresher: PersonRefresher | None = None
        self._last_scheduled = time.monotonic()
        self.models_every = models_every
        self._model_debt: set[str] = set()
        self._last_models = time.monotonic()
        self._started = time.monotonic()
        self._last_snapshot: float | None = None
        self.reports: list[BatchReport] = []
        self.error: BaseException | None = None

    # ------------------------------------------------------------------ batches
    def _refresher_for(self) -> PersonRefresher:
        if self._refresher is None:
            self._refresher = PersonRefresher(self.ws)
        return self._refresher

    def apply(self, entries: list[Any]) -> BatchReport:
        """Apply journal entries (in order) and commit the last one's ``seq``."""
        from huaxiang.identity.incremental import attach_touched

        t0 = time.perf_counter()
        eng = self.ws.engine
        ensure_tables(eng)
        batch = map_messages([e.message for e in entries], source=self.source,
                             timezone_name=self.ws.config.timezone)
        t1 = time.perf_counter()
        written = write_batch(eng, batch, self.ws.config)
        t2 = time.perf_counter()
        persons: set[str] = set()
        if eng.has_table("record_persons"):
            persons = attach_touched(self.ws, sorted(written.records), sorted(written.anonymous_ids),
                                     changed=sorted(written.customer_records),
                                     links=sorted(written.anonymous_links))
        t3 = time.perf_counter()
        seconds = {"map": t1 - t0, "write": t2 - t1, "identity": t3 - t2}
        if persons:
            at = self.clock()
            # The attribute columns read only customer records: recomputed when one changed.
            result = self._refresher_for().refresh(sorted(persons), as_of=live_as_of(at), at=at,
                                                   attributes_changed=bool(written.customer_records),
                                                   models=not self.models_every)
            seconds.update(result.seconds)
            if self.models_every:
                self._model_debt |= persons
        seconds["total"] = time.perf_counter() - t0
        last = entries[-1].seq
        self.journal.commit(last)
        report = BatchReport(first_seq=entries[0].seq, last_seq=last, messages=len(entries), persons=len(persons),
                             seconds=seconds, skipped=batch.skipped)
        self.reports.append(report)
        del self.reports[:-100]
        return report

    def refresh_models(self) -> dict[str, float]:
        """Recompute the segments and scores of the persons refreshed since the last call (see ``models_every``)."""
        with self._lock:
            debt, self._model_debt = self._model_debt, set()
            self._last_models = time.monotonic()
            if not debt:
                return {}
            return self._refresher_for().refresh_models(sorted(debt), as_of=live_as_of(self.clock()))

    def step(self) -> int:
        """Apply one micro-batch if the journal holds one; returns how many messages were applied.

        Segments and scores follow every ``models_every`` seconds, and whenever the journal is drained.
        """
        with self._lock:
            entries = self.journal.read(self.journal.committed(), self.batch_size)
            if entries:
                self.apply(entries)
        if self._model_debt and (not entries or time.monotonic() - self._last_models >= self.models_every):
            self.refresh_models()
        return len(entries)

    def drain(self) -> int:
        """Apply everything the journal holds now, synchronously; returns the messages applied."""
        total = 0
        while True:
            n = self.step()
            if not n:
                self.refresh_models()
                return total
            total += n

    def refresh_scheduled(self) -> dict[str, Any]:
        """Run the scheduled refresh now (every person at the live ``as_of``)."""
        with self._lock:
            details = refresh_everyone(self.ws, as_of=live_as_of(self.clock()))
            if self._refresher is not None:
                self._refresher.reset()
            self._last_scheduled = time.monotonic()
            return details

    def maybe_snapshot(self, *, idle: bool = True, force: bool = False) -> bool:
        """Rewrite the read-only snapshot (``.huaxiang/snapshot.duckdb``) when due: the first once the
        journal is drained (``idle``), then when the last is older than ``snapshot_every``; ``force``: now.

        Runs between batches (so the copy is consistent); returns whether one was written. A failure is
        logged and retried after ``snapshot_every``: readers keep the previous snapshot meanwhile.
        """
        if not self.snapshot_every or not self.ws.engine.supports("snapshot"):
            return False
        with self._lock:
            since = self._started if self._last_snapshot is None else self._last_snapshot
            if not (force or (idle and self._last_snapshot is None)
                    or time.monotonic() - since >= self.snapshot_every):
                return False
            self._last_snapshot = time.monotonic()
            try:
                self.ws.engine.write_snapshot(snapshot_path(self.ws.path), seq=self.journal.committed())
            except Exception:
                log.exception("huaxiang updater: writing the read-only snapshot failed")
                return False
            return True

    # ------------------------------------------------------------------- thread
    def publish_profiles(self) -> int:
        """Publish every person's profile document unless the store already holds this build's (at start)."""
        with self._lock:
            profiles = self.ws.profiles
            if profiles.store.is_complete() or not self.ws.engine.has_table("record_persons"):
                return 0
            t0 = time.perf_counter()
            written = profiles.publish_all()
            log.info("huaxiang updater: published %d profiles in %.1f s", written, time.perf_counter() - t0)
            return written

    def prepare(self) -> None:
        """What the thread does before its first batch: publish the profiles (when the store does not hold
        this build's) and compile the feature queries, so the first events do not wait for either."""
        self.publish_profiles()
        with self._lock:
            seconds = self._refresher_for().warm(live_as_of(self.clock()))
        log.info("huaxiang updater: feature queries compiled in %.1f s", seconds)

    def _run(self) -> None:
        try:
            self.prepare()
        except Exception as exc:  # serve all the same: reads fall back to the warehouse, batches compile
            self.error = exc
            log.exception("huaxiang updater: preparing (profiles, compiled queries) failed")
        while not self._stop.is_set():
            try:
                n = self.step()
                if self.refresh_every and time.monotonic() - self._last_scheduled >= self.refresh_every:
                    self.refresh_scheduled()
                self.maybe_snapshot(idle=not n)
            except Exception as exc:  # keep serving; the batch stays uncommitted and is retried
                self.error = exc
                log.exception("huaxiang updater: batch failed; retrying in %.1f s", max(self.interval, 1.0))
                self._stop.wait(max(self.interval, 1.0))
                continue
            if not n:
                self._stop.wait(self.interval)

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._started, self._last_snapshot = time.monotonic(), None  # the first snapshot once the journal is drained
        self._thread = threading.Thread(target=self._run, name="huaxiang-updater", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = True) -> None:
        """Stop the thread; with ``drain`` apply what the journal still holds first. Closes the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if drain:
            self.drain()
            self.maybe_snapshot(force=True)
        self.ws.close()
