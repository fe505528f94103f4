"""The injection corpus through every entry point where user text meets the engine; every table unchanged after."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import huaxiang
from huaxiang.cli import app
from huaxiang.config import parse_config
from huaxiang.errors import HuaxiangError, RuleError
from huaxiang.expressions import ExpressionError, parse_filter
from huaxiang.ingest.mapping import SourceMapper
from huaxiang.tags.compile import compile_rule

pytestmark = pytest.mark.slow

Snapshot = Callable[[Path], dict[str, tuple[int, str]]]

#: Stacked statements, comments, quoting tricks, unions, file and network functions, look-alikes.
CORPUS = [
    "1=1; drop table orders",
    "1=1; update persons set name='X'",
    "1=1\uff1b drop table orders",
    "amount > 0\u037e delete from orders",
    "status = \uff07paid\uff07 or 1=1",
    "amount > 0 -- ; drop table orders",
    "amount > 0 /* */; drop table orders",
    "1=1) ; drop table orders; select (1",
    "' ; drop table orders; --",
    "amount > 0 union select * from persons",
    "amount in (select amount from orders)",
    "(select count(*) from persons) > 0",
    "read_csv('/etc/passwd') is not null",
    "read_text('/etc/passwd') is not null",
    "read_parquet('/tmp/x.parquet') is not null",
    "glob('/etc/*') is not null",
    "read_csv_auto('http://127.0.0.1:1/x.csv') is not null",
    "ATTACH '/tmp/safety-x.db' AS x",
    "COPY orders TO '/tmp/safety-leak.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "CREATE TABLE pwned AS SELECT 1",
    "DROP TABLE orders",
    "DELETE FROM orders",
    "UPDATE persons SET name = 'X'",
    "persons.name = 'X'",
]


def test_show_where_refuses_the_corpus(shop: Path, snapshot: Snapshot) -> None:
    before = snapshot(shop)
    runner = CliRunner()
    with huaxiang.Workspace.open(shop) as ws:
        for text in CORPUS:
            with pytest.raises(ExpressionError, match=r"^--where: "):
                ws.show("orders", where=text)
    for text in CORPUS[:6]:  # what a person types on the command line: one line, exit 1, no traceback
        out = runner.invoke(app, ["show", "orders", "-w", str(shop), "--where", text])
        assert out.exit_code == 1 and "--where" in out.output and "Traceback" not in out.output
    assert snapshot(shop) == before
    assert not Path("/tmp/safety-leak.csv").exists()


def test_filters_for_audiences_and_the_api_refuse_the_corpus(shop: Path, snapshot: Snapshot) -> None:
    before = snapshot(shop)
    with huaxiang.Workspace.open(shop) as ws:
        for table in ("orders", "persons", "features"):
            t = ws.table(table)
            for text in CORPUS:
                if text.startswith(f"{table}."):
                    continue  # a column of this very table, qualified: a fair filter
                with pytest.raises(ExpressionError):
                    ws.engine.execute(t.filter(parse_filter(text, t, where="audience rule", table_name=table)))
    assert snapshot(shop) == before


def test_tag_rules_refuse_the_corpus(shop: Path, snapshot: Snapshot) -> None:
    """Tag rules have their own language (huaxiang.tags.rules), compiled to Ibis: the corpus does not parse."""
    before = snapshot(shop)
    with huaxiang.Workspace.open(shop) as ws:
        features = ws.table("features")
        for text in CORPUS:
            with pytest.raises(RuleError):
                ws.engine.execute(features.filter(compile_rule(text, features)))
    assert snapshot(shop) == before


def test_mapping_expr_and_quarantine_if_refuse_the_corpus(shop: Path, snapshot: Snapshot) -> None:
    """The ingest mapper compiles `expr:` and `quarantine_if` on the raw source; nothing reaches the engine."""
    before = snapshot(shop)
    base = yaml.safe_load((shop / "huaxiang.yaml").read_text(encoding="utf-8"))
    with huaxiang.Workspace.open(shop) as ws:
        raw = ws.engine.read_delimited([shop / "orders.csv"], name="_hx_raw_pos",
                                       columns=["单号", "客户", "时间", "金额"])[0]
        for text in CORPUS:
            for key in ("expr", "when"):
                config = yaml.safe_load(yaml.safe_dump(base))
                source = config["sources"][0]
                if key == "expr":
                    source["columns"]["promo_id"] = {"expr": text}
                else:
                    source["quarantine_if"] = [{"when": text, "reason": "x"}]
                spec = parse_config(config).sources[0]
                with pytest.raises(ExpressionError, match=r"source 'pos': (columns\.promo_id\.expr|quarantine_if)"):
                    SourceMapper(ws.engine, spec).mapped(raw)
    assert snapshot(shop) == before


def test_a_build_with_an_injected_expression_fails_and_changes_nothing(shop: Path, snapshot: Snapshot) -> None:
    before = snapshot(shop)
    config = yaml.safe_load((shop / "huaxiang.yaml").read_text(encoding="utf-8"))
    config["sources"][0]["quarantine_if"] = [{"when": "1=1; drop table orders", "reason": "x"}]
    (shop / "huaxiang.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with huaxiang.Workspace.open(shop) as ws, pytest.raises(HuaxiangError, match="statement separator"):
        ws.build()
    assert snapshot(shop) == before


def test_reader_connections_have_external_access_off(shop: Path) -> None:
    """A read-only reader cannot reach files even through the raw connection."""
    import duckdb

    from huaxiang.engine import create_engine

    eng = create_engine("duckdb", workspace_dir=shop, read_only=True)
    try:
        with pytest.raises(duckdb.PermissionException, match="file system operations are disabled"):
            eng.raw.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()  # type: ignore[attr-defined]
    finally:
        eng.close()
