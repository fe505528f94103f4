"""Benchmark: the served workspace's read-only snapshot, two consistent ways, on a built workspace.

- **checkpoint + copy** (what :meth:`Engine.write_snapshot` does): ``FORCE CHECKPOINT`` on the
  writer's connection, a plain copy of the database file, a one-row ``_hx_snapshot`` table added to
  the copy, ``os.replace``. Consistent because no write runs meanwhile (the updater calls it
  between batches).
- **COPY FROM DATABASE**: ``ATTACH`` a new file on the writer's connection and ``COPY FROM
  DATABASE`` into it inside one transaction (consistent by MVCC even with writes running), then
  the same table and ``os.replace``.

Before each run some persons' feature rows are rewritten (``replace_rows``, as a batch does), so
the checkpoint has a write-ahead log to fold in. A second connection to the same file is open, as
the service's profile reads are. Each copy is checked against the live tables (rows and an
order-independent hash per table). Runs alternate; medians are printed.

    python bench/snapshot.py /tmp/d20k            # a workspace built by `huaxiang demo --dir /tmp/d20k`
    python bench/snapshot.py /tmp/d20k --rounds 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from huaxiang.workspace import SCRATCH_PREFIXES, Workspace


def table_digest(raw: Any, tables: list[str], database: str | None = None) -> dict[str, tuple[int, int]]:
    """(rows, order-independent hash) of each table (``database``: an attached alias)."""
    prefix = f'"{database}".' if database else ""
    out = {}
    for name in tables:
        columns = [row[0] for row in raw.execute(f'DESCRIBE {prefix}"{name}"').fetchall()]
        every = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
        rows, digest = raw.execute(
            f'SELECT count(*), coalesce(sum(hash({every})), 0) FROM {prefix}"{name}"').fetchone()
        out[name] = (int(rows), int(digest))
    return out


def copy_from_database(raw: Any, target: Path) -> None:
    """The alternative: ATTACH + COPY FROM DATABASE in one transaction, the meta table, replace."""
    tmp = target.with_name(target.name + ".cfd.tmp")
    tmp.unlink(missing_ok=True)
    source = raw.execute("SELECT current_database()").fetchone()[0]
    raw.execute(f"ATTACH '{tmp}' AS _hx_snap")
    try:
        raw.execute("BEGIN")
        raw.execute(f'COPY FROM DATABASE "{source}" TO _hx_snap')
        raw.execute("CREATE TABLE _hx_snap._hx_snapshot AS SELECT now()::VARCHAR AS taken_at, 0::BIGINT AS seq, "
                    f"{os.getpid()}::BIGINT AS pid")
        raw.execute("COMMIT")
    finally:
        raw.execute("DETACH _hx_snap")
    os.replace(tmp, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", type=Path, help="a built DuckDB workspace (copied first, never changed)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    work = Path(tempfile.mkdtemp(prefix="hx-snapbench-"))
    folder = work / "ws"
    shutil.copytree(args.workspace, folder, ignore=shutil.ignore_patterns("data", "runs"))
    ws = Workspace.open(folder)
    eng = ws.engine
    service = Workspace.open(folder)  # the profile API's connection: same file, same process
    service.engine.list_tables()
    raw = eng.raw
    tables = [t for t in eng.list_tables() if not t.startswith(SCRATCH_PREFIXES)]
    features = eng.execute(eng.table("features"))
    size = (folder / "warehouse.duckdb").stat().st_size
    print(f"warehouse {size / 1e6:.1f} MB, {len(tables)} tables, {len(features):,} persons")
    times: dict[str, list[float]] = {"checkpoint + copy": [], "COPY FROM DATABASE": []}
    sizes: dict[str, int] = {}
    for r in range(args.rounds):
        for method in times:
            # a batch's worth of persons rewritten with new values (a stale copy would then differ)
            some = features.sample(min(500, len(features)), random_state=r)
            some = some.assign(spend_total=some["spend_total"].fillna(0) + 1)
            eng.replace_rows("features", some, list(some["person_id"]))
            target = folder / ".huaxiang" / f"bench-{method[:4]}.duckdb"
            t0 = time.perf_counter()
            if method == "checkpoint + copy":
                eng.write_snapshot(target, seq=r)
            else:
                copy_from_database(raw, target)
            times[method].append(time.perf_counter() - t0)
            sizes[method] = target.stat().st_size
            live = table_digest(raw, tables)
            raw.execute(f"ATTACH '{target}' AS _hx_check (READ_ONLY)")
            try:
                copied = table_digest(raw, tables, "_hx_check")
            finally:
                raw.execute("DETACH _hx_check")
            assert copied == live, f"{method}: the copy differs from the live tables"
    t0 = time.perf_counter()
    from huaxiang.engine.duckdb import DuckDBEngine

    reader = DuckDBEngine(folder / ".huaxiang" / "bench-chec.duckdb", read_only=True)
    reader.execute(reader.table("features").count())
    reader.close()
    opened = time.perf_counter() - t0
    for method, secs in times.items():
        print(f"{method:<20} median {statistics.median(secs):6.3f} s  (runs: "
              f"{', '.join(f'{s:.3f}' for s in secs)})  file {sizes[method] / 1e6:.1f} MB  consistent: yes")
    print(f"reader: open the snapshot read-only + count features: {opened:.3f} s")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    service.close()
    ws.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
