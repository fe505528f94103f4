"""What the CLI prints: formats written once, both label catalogues complete, titled tables, --lang, --version."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import ibis
import pandas as pd
import pytest
from typer.testing import CliRunner

from huaxiang.cli import app, output
from huaxiang.labels import _ENTRIES, LABELS, LANGS, label

runner = CliRunner()
CLI = Path(__file__).resolve().parents[2] / "src" / "huaxiang" / "cli"
CJK = re.compile(r"[\u4e00-\u9fff]")

ORDERS = ("单号,客户,时间,金额\nA1,c1,2024-01-02 10:00:00,1234.5\nA2,c2,昨天,3\nA3,c1,2024-01-03 11:00:00,7\n"
          "A4,c3,#VALUE!,8\n")
CONFIG = """
name: out
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
def built(tmp_path: Path) -> Path:
    (tmp_path / "huaxiang.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    result = runner.invoke(app, ["build", "-w", str(tmp_path), "--stage", "ingest", "--stage", "clean", "--json"])
    assert result.exit_code == 0, result.output
    return tmp_path


# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize(("seconds", "en", "zh"), [
    (13_952_807.0, "161 d 11 h", "161天11小时"),     # 161 * 86400 + 11 * 3600 = 13,950,000; rest < 1 h
    (3 * 3600 + 59 * 60 + 59, "3 h 59 min", "3小时59分钟"),
    (62.0, "1 min 2 s", "1分钟2秒"),
    (45.4, "45 s", "45秒"),
])
def test_durations_read_in_days_hours_minutes(seconds: float, en: str, zh: str) -> None:
    assert output.fmt_duration(seconds, "en") == en
    assert output.fmt_duration(seconds, "zh") == zh


def test_numbers_shares_and_money() -> None:
    assert output.fmt_count(13952807) == "13,952,807"
    assert output.fmt_share(0.910884) == "91.1%"
    assert output.fmt_money(1234.5, "CNY") == "¥1,234.50" and output.fmt_money(-2, "EUR") == "-€2.00"
    assert output.fmt_value(float("nan")) == "" and output.fmt_value(None) == "" and output.fmt_value(pd.NaT) == ""
    assert output.fmt_value(0.910884) == "0.9109"
    assert output.formatter("drop_off")(0.080906) == "8.1%"
    assert output.formatter("median_seconds_from_previous", "en")(13509287.0) == "156 d 8 h"


# -------------------------------------------------------------------------------------- catalogues


def _keys_used_by_the_cli() -> set[str]:
    """Every literal key passed to ``label(...)`` in cli/*.py, with ``f"title.{k}"`` expanded over its values."""
    keys: set[str] = set()
    for path in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "label" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    keys.add(first.value)
                elif isinstance(first, ast.JoinedStr):
                    prefix = "".join(str(v.value) for v in first.values if isinstance(v, ast.Constant))
                    keys |= {k for k in LABELS["en"] if k.startswith(prefix) and prefix.endswith(".")}
    return keys


def test_both_catalogues_hold_every_key() -> None:
    names = [key for key, _, _ in _ENTRIES]
    assert len(names) == len(set(names)), [k for k in names if names.count(k) > 1]
    for lang in LANGS:
        for other in LANGS:
            missing = set(LABELS[other]) - set(LABELS[lang])
            assert not missing, f"{lang} lacks {sorted(missing)}"
        empty = [k for k, v in LABELS[lang].items() if not v.strip()]
        assert not empty, f"{lang} has empty labels: {empty}"
    used = _keys_used_by_the_cli()
    assert len(used) > 30
    for lang in LANGS:
        assert not used - set(LABELS[lang]), f"{lang} lacks keys the CLI prints: {sorted(used - set(LABELS[lang]))}"
    untranslated = [k for k in LABELS["zh"] if k.startswith(("title.", "msg.", "unit.", "dim.", "reason."))
                    and not CJK.search(LABELS["zh"][k]) and k not in ("dim.rfm",)]
    assert not untranslated, f"zh labels without Chinese: {untranslated}"


def test_the_columns_of_what_the_cli_prints_are_in_both_catalogues() -> None:
    from huaxiang.workspace import Workspace

    printed = {
        "funnel": ["step_order", "step", "event_types", "persons", "sessions", "conversion", "drop_off",
                   "session_conversion", "median_seconds_from_previous", "channel", "segment"],
        "model_reports": ["model", "metric", "value", "baseline", "baseline_value", "train_window", "n", "note",
                          "beats_baseline"],
        "scores": ["clv", "expected_purchases_90d", "p_alive", "churn_prob", "p_purchase_30d",
                   "expected_days_to_next_purchase", "anomaly_score", "anomaly_reasons"],
        "segments": ["key", "name", "size", "share", "k", "inertia", "silhouette", "chosen", "elbow", "n_fit",
                     "reused"],
        "quarantine": list(pd.DataFrame(columns=Workspace.quarantine_summary.__annotations__ and [
            "source", "target_table", "reason", "rows", "example_rows", "example_values", "example"]).columns),
        "tags": ["id", "name", "category", "group", "priority", "rule", "description", "enabled", "tag_id",
                 "valid_from", "valid_to", "built_at", "as_of", "persons"],
        "identity": ["record_key", "linked_record_key", "rule", "identifier_value", "match_probability"],
    }
    for lang in LANGS:
        for what, columns in printed.items():
            missing = [c for c in columns if c not in LABELS[lang]]
            assert not missing, f"{lang}: {what} columns without a label: {missing}"


# ------------------------------------------------------------------------------------------ commands


def test_version() -> None:
    import huaxiang

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"huaxiang {huaxiang.__version__}"


def test_quarantine_in_both_languages_shows_the_offending_values(built: Path) -> None:
    as_json = json.loads(runner.invoke(app, ["quarantine", "-w", str(built), "--json"]).output)
    (group,) = [g for g in as_json if g["reason"].startswith("order_ts")]
    assert group["rows"] == 2 and group["example_values"] == ["昨天", "#VALUE!"]
    zh = runner.invoke(app, ["quarantine", "-w", str(built), "--lang", "zh"])
    assert zh.exit_code == 0, zh.output
    assert label("title.quarantine", "zh") in zh.output and "问题值" in zh.output and "#VALUE!" in zh.output
    en = runner.invoke(app, ["quarantine", "-w", str(built)])
    assert "quarantine" in en.output and "offending values" in en.output
    assert "NaN" not in zh.output + en.output


def test_build_prints_titled_tables_with_separators(built: Path) -> None:
    result = runner.invoke(app, ["build", "-w", str(built), "--stage", "ingest", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    for key in ("title.sources", "title.tables", "title.stages", "rows_read"):
        assert label(key, "zh") in result.output


def test_show_list_hides_engine_scratch_tables(built: Path) -> None:
    from huaxiang.workspace import Workspace

    with Workspace.open(built) as ws:
        ws.engine.materialize("__splink__df_predict_1afa05ea1", ibis.memtable({"a": [1]}))
        ws.engine.materialize("_hx_scratch", ibis.memtable({"a": [1]}))
    listed = runner.invoke(app, ["show", "--list", "-w", str(built)]).output.split()
    assert "orders" in listed and not [t for t in listed if t.startswith(("__splink__", "_hx_"))]


def test_piped_output_is_not_cut_at_80_columns(built: Path) -> None:
    from huaxiang.workspace import Workspace

    long = "a" * 150
    with Workspace.open(built) as ws:
        ws.engine.materialize("notes", ibis.memtable(pd.DataFrame({"id": [1], "text": [long], "missing": pd.Series([None], dtype="float64")})))
    result = runner.invoke(app, ["show", "notes", "-w", str(built)])
    assert result.exit_code == 0 and long in result.output and "notes" in result.output
    assert "NaN" not in result.output and "None" not in result.output


def test_build_on_a_terminal_prints_a_line_per_stage(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    monkeypatch.setattr("huaxiang.cli.build.is_terminal", lambda: True)
    result = runner.invoke(app, ["build", "-w", str(built), "--stage", "ingest", "--stage", "clean"])
    assert result.exit_code == 0, result.output
    assert re.search(r"✓ ingest\s+\d+\.\d s", result.output) and re.search(r"✓ clean\s+\d+\.\d s", result.output)


def test_bad_lang_is_refused_everywhere(built: Path) -> None:
    for command in (["quarantine"], ["funnel"], ["models", "report"], ["build"], ["tags", "list"]):
        result = runner.invoke(app, [*command, "-w", str(built), "--lang", "fr"])
        assert result.exit_code != 0 and "use zh or en" in result.output, command
