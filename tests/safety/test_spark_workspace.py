"""A Spark-built workspace: read by profile and show with the engine it was built on; builds are atomic there too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import pytest
from typer.testing import CliRunner

import huaxiang
from huaxiang import pipeline
from huaxiang.cli import app
from huaxiang.engine.warehouse import live_engine, live_spark_dir
from huaxiang.pipeline import Stage, StageContext, StageResult
from huaxiang.profile import customer_profile

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def test_spark_built_workspace_is_read_with_spark_and_failed_builds_leave_it(
    tmp_path: Path, spark_session: Any, monkeypatch: pytest.MonkeyPatch, new_shop: Callable[[Path], Path]
) -> None:
    folder = new_shop(tmp_path / "spark-shop")
    with huaxiang.Workspace.open(folder, engine="spark", session=spark_session) as ws:
        report = ws.build()
    assert live_engine(folder) == "spark" and (folder / "spark" / "CURRENT").exists()
    version = live_spark_dir(folder)

    # The config still says duckdb: readers open what the workspace was built with.
    with huaxiang.Workspace.open(folder) as ws:
        assert ws.engine.name == "spark"
        orders = ws.show("orders", limit=100)
        assert len(orders) == report.tables["orders"] == 4
        assert len(ws.show("orders", where="amount > 10 and order_id like 'A%'")) == 3
        person = ws.engine.execute(ws.table("persons").person_id.min())
        assert customer_profile(ws, person)["person_id"] == person
    shown = CliRunner().invoke(app, ["show", "orders", "-w", str(folder), "--json"])
    assert shown.exit_code == 0 and len(shown.output.strip().splitlines()) == 4

    def vandal(ctx: StageContext) -> StageResult:
        ctx.engine.materialize("orders", ctx.engine.table("orders").limit(0))
        ctx.engine.drop("persons")
        ctx.engine.materialize("_stray", ibis.memtable({"x": [1]}))
        raise RuntimeError("injected failure on spark")

    monkeypatch.setattr(pipeline, "STAGES", [Stage("ingest", vandal)])
    with huaxiang.Workspace.open(folder, engine="spark", session=spark_session) as ws, pytest.raises(
        RuntimeError, match="injected failure on spark"
    ):
        ws.build()
    monkeypatch.undo()
    assert live_spark_dir(folder) == version and not [p for p in (folder / "spark").glob("v-*") if p != version]
    with huaxiang.Workspace.open(folder) as ws:
        assert len(ws.show("orders", limit=100)) == 4 and ws.engine.has_table("persons")
        assert not ws.engine.has_table("_stray")
