"""The live path's refresh costs on a built demo workspace (copy it first: this writes to it).

Prints, interleaved over ``--rounds``: seconds to refresh the features and tags of 10 and of 100 persons
(:class:`huaxiang.realtime.PersonRefresher`, after its first, compiling call), and the updater's drain
rate in events/s: first contact (each app user identifies once from a new device) and returning traffic
of those users (80 % behaviour, 10 % orders, 10 % identify with the traits already stored), for each
``--batch-sizes`` (the most messages per micro-batch).

    python bench/realtime.py /tmp/demo-copy --rounds 3 --events 20000
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import datetime
from typing import Any

import numpy as np

from huaxiang.journal import JournalSettings, open_journal
from huaxiang.realtime import PersonRefresher, Updater
from huaxiang.workspace import Workspace


def _traffic(users: list[str], n: int, rng: np.random.Generator, day: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        u = str(rng.choice(users))
        base = {"messageId": uuid.uuid4().hex, "userId": u, "anonymousId": "a-" + u,
                "timestamp": f"{day}T{10 + i % 10:02d}:00:00"}
        kind = rng.random()
        if kind < 0.1:
            out.append(base | {"type": "identify", "traits": {"member_level": "gold"}})  # as stored: no change
        elif kind < 0.2:
            out.append(base | {"type": "track", "event": "Order Completed", "properties": {
                "order_id": "b-" + uuid.uuid4().hex[:10], "total": 120.0,
                "products": [{"product_id": "SKU100001", "price": 120.0, "quantity": 1}]}})
        else:
            out.append(base | {"type": "track", "event": "Product Viewed",
                               "properties": {"product_id": "SKU100001", "channel": "app"}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[2000, 10000])
    args = ap.parse_args()
    ws = Workspace.open(args.workspace)
    eng = ws.engine
    f = eng.execute(eng.table("features").select("person_id", "orders_total", "as_of"))
    as_of = f["as_of"].max().to_pydatetime()
    buyers = f.loc[f["orders_total"] > 0, "person_id"].tolist()
    rng = np.random.default_rng(7)
    refresher = PersonRefresher(ws)
    refresher.refresh(buyers[:10], as_of=as_of)  # compiles once
    times: dict[tuple[int, bool], list[float]] = {}
    for _ in range(args.rounds):
        for n in (10, 100):
            for attributes in (False, True):
                ids = list(rng.choice(buyers, n, replace=False))
                t0 = time.perf_counter()
                refresher.refresh(ids, as_of=as_of, attributes_changed=attributes)
                times.setdefault((n, attributes), []).append(time.perf_counter() - t0)
    for (n, attributes), ts in sorted(times.items()):
        what = "with attributes (a customer record changed)" if attributes else "events only"
        print(f"refresh {n:>3} persons, {what}: median {statistics.median(ts):.3f} s  (runs {[round(t, 3) for t in ts]})")
    rp = eng.execute(eng.table("record_persons"))
    users = rp.loc[rp["source"] == "app", "source_customer_id"].tolist()
    ws.close()
    day = as_of.date().isoformat()
    # first contact: every app user identifies once from a device (a new anonymous-id link, new traits)
    warm = [{"type": "identify", "messageId": uuid.uuid4().hex, "userId": u, "anonymousId": "a-" + u,
             "timestamp": f"{day}T09:00:00", "traits": {"member_level": "gold"}} for u in users]
    for batch_size in args.batch_sizes:
        ws = Workspace.open(args.workspace)
        with open_journal(ws.path, JournalSettings(path=f"bench-journal-{uuid.uuid4().hex[:8]}.sqlite")) as journal:
            updater = Updater(ws, journal, batch_size=batch_size,
                              clock=lambda: datetime(as_of.year, as_of.month, as_of.day))
            updater.prepare()  # as the service does at start: profiles published, feature queries compiled
            journal.append(warm)
            t0 = time.perf_counter()
            updater.drain()
            first = time.perf_counter() - t0
            # returning users: the same devices and traits, 80 % behaviour, 10 % orders, 10 % identify
            journal.append(_traffic(users, args.events, rng, day))
            updater.reports.clear()
            t0 = time.perf_counter()
            applied = updater.drain()
            seconds = time.perf_counter() - t0
            print(f"batches of <= {batch_size:,}: first contact of {len(warm):,} users {len(warm) / first:,.0f} "
                  f"events/s; returning traffic {applied:,} events in {seconds:.2f} s = "
                  f"{applied / seconds:,.0f} events/s (segments and scores included, once at the end)")
            for r in updater.reports[-2:]:
                print("  batch", r.messages, "messages", r.persons, "persons",
                      {k: round(v, 3) for k, v in r.seconds.items() if "." not in k})
            updater.stop(drain=False)
        ws.close()


if __name__ == "__main__":
    main()
