"""Benchmark: the identity stage on ~1M synthetic customer records, against Splink alone.

Generates a synthetic shop, loads only its customer sources (CRM members, app accounts, POS
receipts whose member card is the customer key) through ingest + clean (not timed), then times on
DuckDB, in one process:

1. the whole identity stage (deterministic tiers + Splink tier + golden record + all tables);
2. Splink alone on the same customer records (train u and m, predict, cluster) — what a team would
   run without huaxiang — as the peer.

Prints seconds, peak resident memory of each phase (sampled from /proc), the ratio, and the stage's
pairwise precision and recall against the shop's own ground truth (``ground_truth/records.csv``:
which real person each record belongs to) — the goal is precision ≥ 0.995 and recall ≥ 0.98 at
every size.

Usage::

    .venv/bin/python bench/identity.py --customers 450000      # ≈ 1M customer records
    .venv/bin/python bench/identity.py --customers 45000       # ≈ 100k, a quick run
    .venv/bin/python bench/identity.py --customers 100000 --seed 42 --no-peer   # precision at 100k customers
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


class PeakMemory:
    """Peak resident set size of this process while the block runs (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        out = fn()
        secs = time.perf_counter() - t0
    return secs, mem.peak, out


def make_workspace(folder: Path, customers: int, seed: int) -> Any:
    import huaxiang

    huaxiang.Workspace.init(folder, example="demo", customers=customers, seed=seed)
    config_file = folder / "huaxiang.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["sources"] = [s for s in config["sources"] if s["name"] in ("crm", "app_users", "pos_orders")]
    config["identity"] = {"source_keys": {"pos": "member_card"}, "unique_per_person": ["user_id", "national_id"]}
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return huaxiang.Workspace.open(folder)


def splink_alone(engine: Any) -> int:
    """Plain Splink on the customer records: same fields, same training recipe, its own clustering."""
    from huaxiang.identity.matching import FIELD_KINDS, match_input
    from huaxiang.identity.probabilistic import FieldSpec, MatchSpec, match_pairs
    from huaxiang.identity.settings import parse_settings

    settings = parse_settings({})
    hubs = engine.table("identity_hubs")  # the same placeholder phones blanked as in the stage
    engine.materialize("_bench_splink_in", match_input(engine, settings, hubs), temp=True)
    spec = MatchSpec(fields=[FieldSpec(f, FIELD_KINDS[f]) for f in settings.probabilistic.fields],  # type: ignore[arg-type]
                     threshold=settings.probabilistic.threshold, u_max_pairs=settings.probabilistic.u_max_pairs)
    result = match_pairs(engine, ["_bench_splink_in"], spec)
    # Splink's own clustering of the scored pairs (re-scored without the threshold filter, as Splink users do)
    predictions = result.linker.inference.predict(threshold_match_probability=0.5)
    clusters = result.linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, settings.probabilistic.threshold)
    return int(engine.execute(engine.connection_table(clusters.physical_name).count()))


def score(ws: Any, folder: Path) -> tuple[float, float, int]:
    """Pairwise precision and recall of ``record_persons`` against the shop's ground truth."""
    import pandas as pd

    from huaxiang.identity.probabilistic import pairwise_scores

    truth = pd.read_csv(folder / "data" / "ground_truth" / "records.csv", dtype=str)
    pred = ws.engine.execute(ws.table("record_persons").select("source", "source_customer_id", "person_id"))
    both = truth.merge(pred, on=["source", "source_customer_id"], suffixes=("_true", "_pred"))
    precision, recall, _ = pairwise_scores(both["person_id_true"], both["person_id_pred"])
    return precision, recall, len(both)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=450_000, help="synthetic persons (~2.2 records each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--no-peer", action="store_true", help="skip the Splink-alone peer run")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="hx-bench-identity-"))
    t0 = time.perf_counter()
    ws = make_workspace(folder / "ws", args.customers, args.seed)
    ws.build(stages=["ingest", "clean"])
    eng = ws.engine
    n_customers_raw = int(eng.execute(eng.table("customers_raw").count()))
    print(f"setup (generate + ingest + clean, not timed below): {time.perf_counter() - t0:.1f} s; "
          f"customers_raw rows {n_customers_raw:,}")

    secs, peak, report = timed(lambda: ws.build(stages=["identity"]))
    tables = report.tables
    print(f"identity stage: {secs:.1f} s, peak RSS {peak / 2**30:.2f} GiB; records {tables['record_persons']:,} "
          f"-> persons {tables['persons']:,}; parts {report.details['identity']['seconds']}")
    precision, recall, scored = score(ws, folder / "ws")
    print(f"identity stage vs ground truth ({scored:,} records): pairwise precision {precision:.4f} "
          f"recall {recall:.4f} in {secs:.1f} s  (goal: precision >= 0.995, recall >= 0.98)")
    if args.no_peer:
        ws.close()
        return

    s_secs, s_peak, n = timed(lambda: splink_alone(eng))
    print(f"Splink alone (train + predict + cluster, {n:,} records): {s_secs:.1f} s, peak RSS {s_peak / 2**30:.2f} GiB")
    print(f"ratio identity stage / Splink alone: {secs / s_secs:.2f}x  (goal: stage < 120 s at 1M records)")
    ws.close()


if __name__ == "__main__":
    main()
