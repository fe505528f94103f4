"""The command line: every command has --help, --json is one JSON object, user errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huaxiang.cli import app

runner = CliRunner()

ORDERS = "单号,客户,时间,金额\nA1,c1,2024-01-02 10:00:00,12.5\nA2,c2,bad,3\nA3,c1,2024-01-03 11:00:00,7\n"
CONFIG = """
name: cli
sources:
  - name: pos
    table: orders
    format: csv
    path: orders.csv
    columns:
      order_id: 单号
      source_customer_id: 客户
      order_ts: {column: 时间, format: "%Y-%m-%d %H:%M:%S"}
      amount: 金额
      status: {value: paid}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "huaxiang.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("command", ["init", "build", "show", "quarantine", "demo"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_build_json_reports_counts_and_stage_seconds(workspace: Path) -> None:
    result = runner.invoke(app, ["build", "-w", str(workspace), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (src,) = report["sources"]
    assert (src["name"], src["rows_read"], src["rows_loaded"], src["rows_quarantined"]) == ("pos", 3, 2, 1)
    assert set(report["stages"]) >= {"ingest", "clean"}
    assert all(isinstance(v, float) for v in report["stages"].values())
    assert (workspace / "runs" / "last_build.json").exists()


def test_show_and_quarantine(workspace: Path) -> None:
    assert runner.invoke(app, ["build", "-w", str(workspace), "--json"]).exit_code == 0
    shown = runner.invoke(app, ["show", "orders", "-w", str(workspace), "--where", "amount > 10", "--json"])
    assert shown.exit_code == 0, shown.output
    rows = [json.loads(line) for line in shown.output.strip().splitlines()]
    assert [r["order_id"] for r in rows] == ["A1"]
    listed = runner.invoke(app, ["show", "--list", "-w", str(workspace)])
    assert {"orders", "quarantine", "customers_raw"} <= set(listed.output.split())
    q = runner.invoke(app, ["quarantine", "-w", str(workspace), "--json"])
    (group,) = json.loads(q.output)
    assert group["rows"] == 1 and group["example_rows"] == [2]
    assert group["reason"].startswith("order_ts: cannot read '…' as format")


def test_user_errors_are_one_line_with_exit_1(workspace: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["show", "orders", "-w", str(workspace)])
    assert result.exit_code == 1
    assert "table 'orders' does not exist in this workspace; run `huaxiang build` first" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["build", "-w", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "huaxiang init" in missing.output
    bad_where = runner.invoke(app, ["build", "-w", str(workspace), "--stage", "nosuch"])
    assert bad_where.exit_code == 1 and "unknown stage(s) ['nosuch']" in bad_where.output


def test_debug_shows_the_traceback(workspace: Path) -> None:
    result = runner.invoke(app, ["--debug", "show", "orders", "-w", str(workspace)])
    assert result.exit_code == 1
    assert result.exception is not None and "does not exist" in str(result.exception)


def test_init_lists_and_writes_examples(tmp_path: Path, shared_data: Path) -> None:
    listed = runner.invoke(app, ["init", "--list-examples"])
    for name in ("demo", "cdnow", "online_retail", "online_retail_ii", "groceries", "taobao"):
        assert name in listed.output
    made = runner.invoke(app, ["init", str(tmp_path / "c"), "--example", "cdnow", "--data", str(shared_data)])
    assert made.exit_code == 0, made.output
    text = (tmp_path / "c" / "huaxiang.yaml").read_text(encoding="utf-8")
    assert str(shared_data.resolve()) in text
    again = runner.invoke(app, ["init", str(tmp_path / "c"), "--example", "cdnow"])
    assert again.exit_code == 1 and "already exists; pass --force" in again.output
    empty = runner.invoke(app, ["init", str(tmp_path / "e")])
    assert empty.exit_code == 0 and "sources: []" in (tmp_path / "e" / "huaxiang.yaml").read_text(encoding="utf-8")
    unknown = runner.invoke(app, ["init", str(tmp_path / "u"), "--example", "nope"])
    assert unknown.exit_code == 1 and "unknown example 'nope'" in unknown.output


def test_demo_builds_the_synthetic_shop(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--dir", str(tmp_path / "demo"), "--customers", "1000", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    names = {s["name"] for s in report["sources"]}
    assert {"crm", "app_users", "online_orders", "pos_orders", "events", "tickets", "reviews", "campaigns"} <= names
    for s in report["sources"]:
        assert s["rows_read"] == s["rows_loaded"] + s["rows_quarantined"] > 0
    assert report["tables"]["customers_raw"] > 1000 * 0.8
