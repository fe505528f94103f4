"""The demo shop's planted dirty rows are exactly what the ingest stage quarantines, each for its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import huaxiang
from huaxiang.datasets.synthetic import DEFECTS

# ground_truth/dirty_rows.csv defect -> what the quarantine reason must say
REASONS = {
    "unreadable_timestamp": "order_ts: cannot read",
    "text_in_total": "amount: cannot read",
    "unknown_payment": "payment_method: unknown value",
    "negative_total": "negative amount",
    "exact_duplicate": "exact duplicate",
    "duplicate_key": "duplicate key",
}
FILE_OF_SOURCE = {"pos_orders": "pos_orders.csv", "crm": "crm_members.csv"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[huaxiang.Workspace, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("dirty")
    ws = huaxiang.Workspace.init(tmp / "ws", example="demo", customers=1000)
    report = ws.build(stages=["ingest"])
    return ws, list(report.sources)


def dirty_rows(ws: huaxiang.Workspace) -> pd.DataFrame:
    return pd.read_csv(Path(ws.path) / "data" / "ground_truth" / "dirty_rows.csv")


def test_every_kind_is_planted_at_least_five_times(
    demo: tuple[huaxiang.Workspace, list[dict[str, Any]]],
) -> None:
    truth = dirty_rows(demo[0])
    assert set(REASONS) == set(DEFECTS)
    pos = truth[truth.file == "pos_orders.csv"].defect.value_counts()
    assert set(pos.index) == set(DEFECTS) and pos.min() >= 5
    crm = truth[truth.file == "crm_members.csv"].defect
    assert set(crm) == {"exact_duplicate"} and len(crm) >= 5
    assert not truth.duplicated(["file", "row_number"]).any()


def test_every_row_is_loaded_or_quarantined(demo: tuple[huaxiang.Workspace, list[dict[str, Any]]]) -> None:
    for s in demo[1]:
        assert s["rows_read"] == s["rows_loaded"] + s["rows_quarantined"], s["name"]


def test_quarantine_is_exactly_the_dirty_rows(
    demo: tuple[huaxiang.Workspace, list[dict[str, Any]]],
) -> None:
    ws, sources = demo
    truth = dirty_rows(ws)
    q = ws.engine.execute(ws.table("quarantine"))
    assert set(q.source) <= set(FILE_OF_SOURCE)
    q = q.assign(file=q.source.map(FILE_OF_SOURCE), row_number=q.source_row.astype(int))
    got = set(zip(q.file, q.row_number, strict=True))
    want = set(zip(truth.file, truth.row_number, strict=True))
    assert got == want
    by_file = truth.file.value_counts()
    quarantined = {s["name"]: s["rows_quarantined"] for s in sources}
    assert quarantined["pos_orders"] == by_file["pos_orders.csv"]
    assert quarantined["crm"] == by_file["crm_members.csv"]
    joined = q.merge(truth, on=["file", "row_number"], validate="one_to_one")
    wrong = joined[[REASONS[d] not in r for d, r in zip(joined.defect, joined.reason, strict=True)]]
    assert wrong.empty, wrong[["file", "row_number", "defect", "reason"]].to_string()
    assert joined.payload.str.startswith("{").all()
