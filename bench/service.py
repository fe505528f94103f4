"""Benchmark: durable events/s through the collector, against a bare app doing only the group commit.

Each server is its own process (uvicorn, uvloop + httptools, no access log) on
loopback; ``wrk`` (a second process, bounded by ``--seconds`` per run) posts
``/v1/batch`` bodies of 100 Segment messages, each request with new
messageIds (a Lua script rewrites them), with the write key as Basic auth.

- **ours, sqlite**: ``create_app`` collector-only (auth, gzip check, full
  validation and normalisation, 400/413 bookkeeping), SQLite journal.
- **ours, nats**: the same on the JetStream journal (the local server).
- **bare**: a FastAPI app whose one route parses the body (``orjson.loads``,
  the parser the collector uses) and does the same
  :class:`~huaxiang.journal.sqlite.SqliteJournal` group commit of the same
  messages, nothing else: the floor of what durability costs here.

Events/s are counted from the journal (rows stored during the run / seconds),
and checked against wrk's count of 200s. Runs are interleaved (ours, bare,
ours, bare ...) since the machine is shared and timings drift.

With the real-time updater present (``huaxiang.realtime.Updater``), the
updater's drain rate is also timed: the journal of the sqlite run applied to an
empty workspace by ``Updater.drain()``.

    python bench/service.py                      # 10 s per run, 4 and 16 connections, 2 rounds
    python bench/service.py --seconds 5 --rounds 1 --connections 8
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request  # module level: FastAPI resolves the route's annotations from here
from fastapi.responses import Response

MESSAGES_PER_BATCH = 100


# ------------------------------------------------------------------ the bodies
def batch_template() -> str:
    """A body of 100 messages (70 track, 20 page, 10 identify) with ``@@`` where the messageId prefix goes.

    Each message has its own ``timestamp`` (a millisecond apart), as an SDK's batch has, so the
    collector's clock-skew correction does its work per message.
    """
    messages: list[dict[str, Any]] = []
    context = {"library": {"name": "analytics.js", "version": "5.2.0"}, "ip": "203.0.113.7", "locale": "zh-CN",
               "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"}
    for i in range(MESSAGES_PER_BATCH):
        base: dict[str, Any] = {"messageId": f"@@-{i}", "anonymousId": f"anon-{i % 40}",
                                "timestamp": f"2026-12-07T10:00:00.{i:03d}Z", "context": context}
        if i % 10 == 9:
            base.update(type="identify", userId=f"user-{i % 40}",
                        traits={"email": f"user{i}@example.com", "phone": f"1380013{i:04d}", "name": "张三"})
        elif i % 10 in (7, 8):
            base.update(type="page", name="商品详情", properties={"url": f"https://shop.example.com/p/{i}",
                                                               "referrer": "https://search.example.com/"})
        else:
            base.update(type="track", event="Product Viewed",
                        properties={"product_id": f"sku-{i:05d}", "price": 129.0 + i, "category": "美妆/口红",
                                    "brand": "花想", "currency": "CNY"})
        messages.append(base)
    return json.dumps({"batch": messages, "sentAt": "2026-12-07T10:00:01.000Z"}, ensure_ascii=False)


LUA = r"""
local template = io.open("%(template)s"):read("*a")
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  prefix = "%(run)s-" .. tostring(tid) .. "-"
end
function request()
  counter = counter + 1
  local body = string.gsub(template, "@@", prefix .. counter)
  return wrk.format("POST", "/v1/batch", {["Content-Type"] = "application/json",
                    ["Authorization"] = "%(auth)s"}, body)
end
"""

#: wrk: GET a random person's profile per request.
READ_LUA = r"""
local ids = {%(ids)s}
function request()
  return wrk.format("GET", "/v1/profiles/" .. ids[math.random(#ids)], {["Authorization"] = "Bearer %(key)s"})
end
"""


# ------------------------------------------------------------------ the bare app (served by this file)
def create_bare_app(journal_path: str) -> Any:
    """FastAPI + the SQLite journal's group commit of the posted messages, and nothing else."""
    from huaxiang.journal.sqlite import SqliteJournal

    holder: dict[str, SqliteJournal] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        holder["journal"] = SqliteJournal(journal_path)
        yield
        holder["journal"].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/batch")
    async def create_batch(request: Request) -> Response:
        messages = orjson.loads(await request.body())["batch"]
        result = await holder["journal"].append_async(messages)
        return Response(orjson.dumps({"success": True, "accepted": result.accepted}), media_type="application/json")

    @app.get("/healthz")
    def read_health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_bare(port: int, journal_path: str) -> None:
    import uvicorn

    uvicorn.run(create_bare_app(journal_path), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, loop="uvloop", http="httptools")


def serve_ours(port: int) -> None:
    import uvicorn

    from huaxiang.service.app import create_app

    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools")


# ------------------------------------------------------------------ orchestration
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, kind: str, folder: Path, env: dict[str, str]) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, __file__, "--serve", kind, "--port", str(self.port), "--dir", str(folder)]
        self.proc = subprocess.Popen(args, env={**os.environ, **env})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError(f"{kind} server did not start")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (the service drains its journal); SIGKILL after ``timeout`` s: a bench has no time to wait."""
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored(kind: str, folder: Path, nats_stream: str | None) -> int:
    if kind == "nats":
        import asyncio

        import nats

        async def count() -> int:
            nc = await nats.connect("nats://127.0.0.1:4222")
            info = await nc.jetstream().stream_info(nats_stream or "")
            await nc.close()
            return int(info.state.messages)

        return asyncio.run(count())
    con = sqlite3.connect(folder / ("bare.sqlite" if kind == "bare" else "journal.sqlite"))
    try:
        return int(con.execute("SELECT count(*) FROM entries").fetchone()[0])
    finally:
        con.close()


def run_wrk(url: str, script: Path, connections: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{int(seconds)}s", "--timeout", "10s",
                          "--latency", "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60)
    text = out.stdout
    if "requests in" not in text:
        raise RuntimeError(f"wrk failed: {out.stdout}{out.stderr}")
    requests = int(next(line.split()[0] for line in text.splitlines() if "requests in" in line))
    non2xx = 0
    for line in text.splitlines():
        if "Non-2xx" in line:
            non2xx = int(line.split(":")[1])
    lat = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            lat[parts[0]] = parts[1]
    return {"requests": requests, "non2xx": non2xx, "latency": lat, "raw": text}


def bench(args: argparse.Namespace) -> None:
    from huaxiang.service.keys import KeyStore

    root = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    folder = root / "ws"
    folder.mkdir()
    (folder / "huaxiang.yaml").write_text("name: bench\n", encoding="utf-8")
    key = KeyStore(folder).create("collector", name="bench")
    import base64

    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    template = root / "batch.json"
    template.write_text(batch_template(), encoding="utf-8")
    print(f"body: {MESSAGES_PER_BATCH} messages, {template.stat().st_size:,} bytes; wrk -t2, "
          f"{args.seconds:g} s per run; workspace {folder}")
    nats_stream = f"HXBENCH_{os.getpid()}"
    common = {"HUAXIANG_WORKSPACE": str(folder), "HUAXIANG_RUN_UPDATER": "false"}
    kinds = {
        "sqlite": common,
        "nats": {**common, "HUAXIANG_JOURNAL__KIND": "nats", "HUAXIANG_JOURNAL__STREAM": nats_stream,
                 "HUAXIANG_JOURNAL__SUBJECT": f"hxbench.{os.getpid()}"},
        "bare": {},
    }
    wanted = [k for k in kinds if k in args.kinds]
    results: dict[tuple[str, int], list[float]] = {}
    per_cpu: dict[tuple[str, int], list[float]] = {}
    run = 0
    try:
        for rnd in range(args.rounds):
            for connections in args.connections:
                for kind in wanted:
                    run += 1
                    script = root / f"wrk-{run}.lua"
                    script.write_text(LUA % {"template": template, "run": f"r{run}", "auth": auth})
                    server = Server(kind, folder, kinds[kind])
                    try:
                        before = stored(kind, folder, nats_stream)
                        cpu0 = cpu_seconds(server.proc.pid)
                        t0 = time.perf_counter()
                        out = run_wrk(server.url, script, connections, args.seconds)
                        elapsed = time.perf_counter() - t0
                        cpu = cpu_seconds(server.proc.pid) - cpu0
                        after = stored(kind, folder, nats_stream)
                    finally:
                        server.stop()
                    events = after - before
                    ok = (out["requests"] - out["non2xx"]) * MESSAGES_PER_BATCH
                    rate = events / args.seconds
                    results.setdefault((kind, connections), []).append(rate)
                    per_cpu.setdefault((kind, connections), []).append(events / cpu if cpu else 0.0)
                    print(f"round {rnd + 1} {kind:<6} c={connections:<3} {rate:>9,.0f} events/s stored "
                          f"({events:,} stored, {ok:,} acknowledged by 200s, {out['non2xx']} non-2xx; "
                          f"server CPU {cpu:.1f} s = {events / cpu if cpu else 0:,.0f} events per CPU-s; "
                          f"latency p50 {out['latency'].get('50%')} p99 {out['latency'].get('99%')}; "
                          f"wall {elapsed:.1f} s; load {os.getloadavg()[0]:.1f})", flush=True)
                    if out["non2xx"]:
                        print(out["raw"])
    finally:
        if "nats" in wanted:
            _drop_stream(nats_stream)
    def summary(title: str, table: dict[tuple[str, int], list[float]], pick: Any) -> None:
        print(title)
        for connections in args.connections:
            row = {k: pick(table.get((k, connections), [0.0])) for k in wanted}
            line = "  ".join(f"{k} {v:,.0f}" for k, v in row.items())
            ratios = "".join(f"; {k}/bare {row[k] / row['bare']:.2f}" for k in ("sqlite", "nats")
                             if k in row and row.get("bare"))
            print(f"  c={connections:<3} {line}{ratios}")

    summary("\nsummary, events/s durable (best of the rounds):", results, max)
    summary("events/s durable (median of the rounds):", results, statistics.median)
    summary("events per server CPU-second (median of the rounds; steadier than wall rates on a shared machine):",
            per_cpu, statistics.median)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    if args.updater:
        drain_rate(folder)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


def drain_rate(folder: Path) -> None:
    """The updater applying the sqlite run's journal to the (empty) workspace."""
    try:
        from huaxiang.realtime import Updater
    except ImportError:
        print("updater: huaxiang.realtime.Updater not present; drain rate not measured")
        return
    from huaxiang.journal.sqlite import SqliteJournal
    from huaxiang.workspace import Workspace

    journal = SqliteJournal(folder / "journal.sqlite")
    total = journal.last_seq() - journal.committed()
    ws = Workspace.open(folder)
    updater = Updater(ws, journal, batch_size=5000, interval=0.05, refresh_every=0)
    limit = min(total, 200_000)
    t0 = time.perf_counter()
    applied = 0
    while applied < limit:
        n = updater.step()
        if not n:
            break
        applied += n
    seconds = time.perf_counter() - t0
    updater.stop(drain=False)
    journal.close()
    ws.close()
    print(f"updater: {applied:,} journal entries applied in {seconds:.1f} s = {applied / seconds:,.0f} events/s "
          "(empty workspace: no persons built, so no feature/tag refresh)")


# ------------------------------------------------------------------ event -> tag latency, profile reads
def latency(args: argparse.Namespace) -> None:
    """A built demo shop served with the updater; steady background traffic; probes and profile reads.

    Each probe is a new user: ``identify`` then ``Order Completed`` with a total of 6,000 (``value_high``
    is ``spend_365d >= 5000``), in one batch; the latency runs from the 200 to the first profile read
    (``GET /v1/profiles?user_id=``, polled every 20 ms) that shows the tag.
    """
    import random
    import threading

    import duckdb

    from huaxiang.service.keys import KeyStore
    from huaxiang.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="collector-latency-"))
    folder = root / "shop"
    if args.workspace:  # a shop built before: copied without its journal and keys
        shutil.copytree(args.workspace, folder, ignore=shutil.ignore_patterns("journal.sqlite*", "service_keys.json"))
        print(f"built shop copied from {args.workspace}")
    else:
        t0 = time.perf_counter()
        ws = Workspace.init(folder, example="demo", force=True, customers=args.customers, seed=7)
        ws.build()
        ws.close()
        print(f"demo shop of {args.customers:,} customers built in {time.perf_counter() - t0:.0f} s: {folder}")
    con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    persons = [r[0] for r in con.execute(
        f"SELECT person_id FROM persons USING SAMPLE {int(args.reads)} ROWS").fetchall()]
    con.close()
    store = KeyStore(folder)
    collector, admin = store.create("collector"), store.create("admin")
    server = Server("full", folder, {"HUAXIANG_WORKSPACE": str(folder)})
    stop = threading.Event()
    sent = [0]

    def background() -> None:
        per_tick = max(1, args.rate // 20)
        n = 0
        with httpx.Client(auth=(collector, ""), timeout=30) as http:
            next_at = time.perf_counter()
            while not stop.is_set():
                batch = [{"type": "track" if i % 4 else "page", "event": "Product Viewed",
                          "userId": f"bg-{random.randrange(5000)}", "messageId": f"bg-{n}-{i}",
                          "properties": {"product_id": f"sku-{i}"}} for i in range(per_tick)]
                n += 1
                if http.post(server.url + "/v1/batch", json={"batch": batch}).status_code == 200:
                    sent[0] += per_tick
                next_at += 0.05
                time.sleep(max(0.0, next_at - time.perf_counter()))

    thread = threading.Thread(target=background, daemon=True)
    try:
        if args.rate > 0:
            thread.start()
        time.sleep(3)
        lags: list[float] = []
        misses = 0
        with httpx.Client(timeout=30) as http:
            for k in range(args.probes):
                user = f"probe-{os.getpid()}-{k}"
                # an hour ago with the clock's offset (--probe-offset-hours): the updater's live as_of is
                # midnight of the server's local date while orders are stored in the workspace's timezone
                # (Asia/Shanghai, UTC+8), so an order placed now lands after as_of on a UTC machine
                # and counts nowhere until the next day (reported to the realtime part)
                now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600 * args.probe_offset_hours)) + "Z"
                batch = [{"type": "identify", "userId": user, "messageId": f"{user}-i", "timestamp": now,
                          "traits": {"email": f"{user}@example.com"}},
                         {"type": "track", "event": "Order Completed", "userId": user, "messageId": f"{user}-o",
                          "timestamp": now, "properties": {"order_id": f"{user}-order", "total": 6000.0,
                                                           "products": [{"product_id": "sku-1", "price": 6000.0,
                                                                         "quantity": 1}]}}]
                answer = http.post(server.url + "/v1/batch", json={"batch": batch}, auth=(collector, ""))
                acked = time.perf_counter()
                if answer.status_code != 200:
                    raise RuntimeError(answer.text)
                while time.perf_counter() - acked < args.probe_timeout:
                    got = http.get(server.url + "/v1/profiles", params={"user_id": user},
                                   headers={"Authorization": f"Bearer {admin}"})
                    if got.status_code == 200 and any(t["id"] == "value_high" for t in got.json().get("tags", [])):
                        lags.append(time.perf_counter() - acked)
                        break
                    time.sleep(0.02)
                else:
                    misses += 1
                time.sleep(0.2)
            # profile reads from a second process (wrk), while the background writes go on
            script = root / "reads.lua"
            script.write_text(READ_LUA % {"ids": ", ".join(f'"{p}"' for p in persons), "key": admin})
            reads = run_wrk(server.url, script, 2, args.read_seconds)
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(timeout=30)
    backlog = _backlog(folder)
    code = server.stop(timeout=30)

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    if lags:
        print(f"event -> visible tag (value_high) at a steady {args.rate:,} events/s background: "
              f"p50 {pct(lags, 0.5):.0f} ms, p95 {pct(lags, 0.95):.0f} ms, p99 {pct(lags, 0.99):.0f} ms "
              f"({len(lags)} probes, {misses} not visible within {args.probe_timeout:g} s; "
              f"mean {statistics.mean(lags) * 1e3:.0f} ms)")
    else:
        print(f"event -> visible tag: no probe became visible within {args.probe_timeout:g} s ({misses} probes)")
    print(f"profile read GET /v1/profiles/{{id}} under the same writes (wrk, 2 connections, {args.read_seconds} s, "
          f"{len(persons)} persons): p50 {reads['latency'].get('50%')}, p99 {reads['latency'].get('99%')} "
          f"({reads['requests']:,} reads, {reads['non2xx']} not 200); background events acknowledged: {sent[0]:,}")
    print(f"journal at the end: {backlog[1]:,} entries, {backlog[0]:,} applied by the updater "
          f"(server exit {code}: {'drained' if code in (0, -15) else 'killed after 30 s of draining'})")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


def _backlog(folder: Path) -> tuple[int, int]:
    """(committed, last seq) of the workspace's SQLite journal."""
    con = sqlite3.connect(folder / "journal.sqlite")
    try:
        last = con.execute("SELECT coalesce(max(seq), 0) FROM entries").fetchone()[0]
        row = con.execute("SELECT value FROM state WHERE key = 'committed'").fetchone()
        return (int(row[0]) if row else 0, int(last))
    finally:
        con.close()


def _drop_stream(name: str) -> None:
    import asyncio

    import nats

    async def drop() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            await nc.jetstream().delete_stream(name)
        finally:
            await nc.close()

    try:
        asyncio.run(drop())
    except Exception as exc:  # the figures are printed already; say why the stream stays
        print(f"note: could not delete the stream {name}: {exc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration of each run")
    parser.add_argument("--connections", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", default=["sqlite", "nats", "bare"])
    parser.add_argument("--updater", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the updater draining the journal")
    parser.add_argument("--keep", action="store_true", help="keep the scratch workspace")
    parser.add_argument("--latency", action="store_true",
                        help="instead: event -> visible tag latency and profile reads on a built demo shop")
    parser.add_argument("--customers", type=int, default=2_000, help="demo shop size for --latency")
    parser.add_argument("--rate", type=int, default=2_000, help="background events/s for --latency")
    parser.add_argument("--probes", type=int, default=30, help="probes for --latency")
    parser.add_argument("--probe-timeout", type=float, default=20.0, help="seconds a probe may take")
    parser.add_argument("--reads", type=int, default=300, help="persons whose profiles --latency reads")
    parser.add_argument("--read-seconds", type=int, default=10, help="seconds of profile reads (wrk) for --latency")
    parser.add_argument("--probe-offset-hours", type=float, default=0.0,
                        help="date the probes' orders this many hours back (see the comment in latency())")
    parser.add_argument("--workspace", help="for --latency: copy this built shop instead of building one")
    parser.add_argument("--serve", choices=["sqlite", "nats", "bare", "full"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "bare":
        serve_bare(args.port, str(Path(args.dir) / "bare.sqlite"))
    elif args.serve:
        serve_ours(args.port)
    elif args.latency:
        latency(args)
    else:
        if shutil.which("wrk") is None:
            sys.exit("wrk is not installed: apt-get install -y wrk")
        bench(args)


if __name__ == "__main__":
    main()
