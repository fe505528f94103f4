"""Atomic builds and reads during a build: a failed or killed build leaves the last good one; readers see it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import ibis
import pytest
import yaml
from typer.testing import CliRunner

import huaxiang
from huaxiang import pipeline
from huaxiang.builds import last_failure
from huaxiang.cli import app
from huaxiang.errors import ArgumentError, SourceNotFoundError, WorkspaceBusyError
from huaxiang.locks import LOCK_FILE, current_holder, hold_workspace
from huaxiang.pipeline import Stage, StageContext, StageResult
from huaxiang.profile import customer_profile

pytestmark = pytest.mark.slow

Snapshot = Callable[[Path], dict[str, tuple[int, str]]]
runner = CliRunner()


def _vandal(ctx: StageContext, name: str) -> StageResult:
    """What a half-done stage might leave: orders emptied, features gone, a stray table."""
    orders = ctx.engine.table("orders")
    ctx.engine.materialize("orders", orders.limit(0))
    ctx.engine.drop("features")
    ctx.engine.materialize(f"_stray_{name}", ibis.memtable({"x": [1]}))
    models = ctx.workspace_dir / "models"
    models.mkdir(exist_ok=True)
    for file in models.glob("*.json"):
        file.write_text("{}", encoding="utf-8")
    (models / f"stray_{name}.json").write_text("{}", encoding="utf-8")
    return StageResult(tables={"orders": 0})


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "models").glob("*"))}


def _answers(folder: Path, before: dict[str, tuple[int, str]]) -> None:
    """The workspace answers profile and show with the last good build's rows."""
    with huaxiang.Workspace.open(folder) as ws:
        person = ws.engine.execute(ws.table("persons").person_id.min())
        profile = customer_profile(ws, person)
        assert profile["person_id"] == person
        assert len(ws.show("orders", limit=100)) == before["orders"][0]
        assert len(ws.show("orders", where="amount > 10")) >= 1


@pytest.mark.parametrize("failing", pipeline.stage_names())
def test_a_stage_failing_leaves_every_table_as_the_last_build_left_it(
    failing: str, shop: Path, snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, models = snapshot(shop), _files(shop)
    stages = []
    for stage in pipeline.STAGES:
        def run(ctx: StageContext, _name: str = stage.name) -> StageResult:
            result = _vandal(ctx, _name)
            if _name == failing:
                raise RuntimeError(f"injected failure in {_name}")
            return result

        stages.append(Stage(stage.name, run, stage.description))
    monkeypatch.setattr(pipeline, "STAGES", stages)
    with huaxiang.Workspace.open(shop) as ws, pytest.raises(RuntimeError, match=f"injected failure in {failing}"):
        ws.build()
    assert snapshot(shop) == before and _files(shop) == models
    assert current_holder(shop) is None and not (shop / "warehouse.duckdb.staging").exists()
    failure = last_failure(shop)
    assert failure is not None and f"injected failure in {failing}" in failure["error"]
    monkeypatch.undo()
    _answers(shop, before)


def test_a_bad_source_fails_the_build_and_the_next_build_succeeds(shop: Path, snapshot: Snapshot) -> None:
    before = snapshot(shop)
    good = (shop / "huaxiang.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(good)
    config["sources"][0]["path"] = "nowhere/orders.csv"
    (shop / "huaxiang.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with huaxiang.Workspace.open(shop) as ws, pytest.raises(SourceNotFoundError, match=r"nowhere/orders\.csv"):
        ws.build()
    assert snapshot(shop) == before
    _answers(shop, before)
    (shop / "huaxiang.yaml").write_text(good, encoding="utf-8")
    with huaxiang.Workspace.open(shop) as ws:
        report = ws.build(stages=["ingest", "clean"])
    assert report.tables["orders"] == before["orders"][0]
    assert snapshot(shop)["orders"] == before["orders"]


BUILD_SCRIPT = textwrap.dedent('''
    import pathlib, sys, time
    import huaxiang
    from huaxiang import pipeline

    folder, marker = sys.argv[1], pathlib.Path(sys.argv[2])

    def slow(ctx):
        orders = ctx.engine.table("orders")
        ctx.engine.materialize("orders", orders.limit(0))   # half-done work, in the staging warehouse
        ctx.engine.drop("persons")
        marker.write_text("ready")
        time.sleep(120)
        return pipeline.StageResult()

    i = pipeline.stage_names().index("identity")
    pipeline.STAGES[i] = pipeline.Stage("identity", slow)
    huaxiang.Workspace.open(folder).build()
''')


@contextmanager
def build_in_background(folder: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real build in another process, stopped inside its identity stage (ingest and clean done)."""
    script, marker = tmp_path / "slow_build.py", tmp_path / "ready"
    script.write_text(BUILD_SCRIPT, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(Path(huaxiang.__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, str(script), str(folder), str(marker)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the build ended early: {proc.stderr.read().decode() if proc.stderr else ''}")
            assert time.monotonic() < deadline, "the build did not reach its identity stage in time"
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_sigkill_mid_build_leaves_the_last_build_and_the_next_build_succeeds(
    shop: Path, snapshot: Snapshot, tmp_path: Path
) -> None:
    before = snapshot(shop)
    with build_in_background(shop, tmp_path) as proc:
        holder = current_holder(shop)
        assert holder is not None and holder.pid == proc.pid and holder.what == "build"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert current_holder(shop) is None  # the dead build's lock is stale
    assert snapshot(shop) == before
    _answers(shop, before)
    with huaxiang.Workspace.open(shop) as ws:
        report = ws.build()
    assert report.tables["orders"] == before["orders"][0] and report.tables["persons"] == before["persons"][0]
    assert not (shop / "warehouse.duckdb.staging").exists()
    assert snapshot(shop)["orders"] == before["orders"]


def test_reads_during_a_build_see_the_last_build_and_a_second_build_is_refused(
    shop: Path, snapshot: Snapshot, tmp_path: Path
) -> None:
    before = snapshot(shop)
    with huaxiang.Workspace.open(shop) as ws:
        person = ws.engine.execute(ws.table("persons").person_id.min())
    w = ["-w", str(shop)]
    with build_in_background(shop, tmp_path) as proc:
        assert snapshot(shop) == before  # read-only, while the build holds the workspace
        for args in (["profile", person, *w, "--json"], ["show", "orders", *w, "--json"], ["tags", "list", *w],
                     ["segments", *w], ["models", "report", *w], ["quarantine", *w]):
            out = runner.invoke(app, args)
            assert out.exit_code == 0 and "Traceback" not in out.output, (args, out.output)
        shown = runner.invoke(app, ["show", "orders", *w, "--json"])
        assert len(shown.output.strip().splitlines()) == before["orders"][0]
        profile = json.loads(runner.invoke(app, ["profile", person, *w, "--json"]).output)
        assert profile["person_id"] == person
        with huaxiang.Workspace.open(shop) as ws, pytest.raises(WorkspaceBusyError, match=rf"build \(pid {proc.pid} "):
            ws.build()
        second = runner.invoke(app, ["build", *w])
        assert second.exit_code == 1 and f"build (pid {proc.pid}" in second.output and "since" in second.output
        assert len(second.output.strip().splitlines()) == 1
    assert snapshot(shop) == before


def test_a_served_workspace_refuses_build_and_a_stale_lock_does_not(shop: Path) -> None:
    with hold_workspace(shop, what="serve") as me, huaxiang.Workspace.open(shop) as ws, pytest.raises(
        WorkspaceBusyError, match=rf"served by .huaxiang serve. \(pid {me.pid} on host .*since .*build cannot run"
    ):
        ws.build()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (shop / LOCK_FILE).write_text(json.dumps({"what": "build", "pid": int(dead.stdout), "host": os.uname().nodename,
                                              "started_at": "2026-01-01T00:00:00Z"}), encoding="utf-8")
    assert current_holder(shop) is None
    with hold_workspace(shop, what="build") as me:
        assert current_holder(shop) == me


def test_show_rejects_bad_arguments_in_one_line(shop: Path) -> None:
    out = runner.invoke(app, ["show", "orders", "-w", str(shop), "-n", "-1"])
    assert out.exit_code == 1 and "limit -1 is not a row count" in out.output
    assert len(out.output.strip().splitlines()) == 1 and "Binder" not in out.output
    with huaxiang.Workspace.open(shop) as ws:
        with pytest.raises(ArgumentError, match="limit '5' is not a row count"):
            ws.show("orders", limit="5")  # type: ignore[arg-type]
        assert ws.show("orders", limit=0).empty
