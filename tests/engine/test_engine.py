"""The engine layer: tables, scratch tables, errors that carry their SQL, declared gaps, lazy Spark."""

from __future__ import annotations

import sys
from pathlib import Path

import ibis
import pytest

from huaxiang.config import parse_config
from huaxiang.engine import create_engine
from huaxiang.engine.duckdb import DuckDBEngine
from huaxiang.errors import ConfigError, EngineError, UnsupportedOperationError
from huaxiang.ingest.mapping import SourceMapper


def test_materialize_persists_and_temp_does_not(tmp_path: Path) -> None:
    eng = create_engine("duckdb", workspace_dir=tmp_path)
    eng.materialize("kept", ibis.memtable({"x": [1, 2, 3]}))
    eng.materialize("scratch", ibis.memtable({"y": [1]}), temp=True)
    assert {"kept", "scratch"} <= set(eng.list_tables())
    eng.close()
    again = create_engine("duckdb", workspace_dir=tmp_path)
    assert again.has_table("kept") and not again.has_table("scratch")
    assert int(again.execute(again.table("kept").x.sum())) == 6
    again.drop("kept")
    assert not again.has_table("kept")


def test_backend_errors_carry_the_sql() -> None:
    eng = DuckDBEngine()
    t = ibis.memtable({"s": ["not a number"]})
    with pytest.raises(EngineError, match=r"(?s)duckdb failed while writing table 'bad'.*Conversion Error.*SQL:\nSELECT"):
        eng.materialize("bad", t.select(n=t.s.cast("int64")))


def test_missing_table_says_to_build() -> None:
    with pytest.raises(EngineError, match=r"table 'orders' does not exist in this workspace; run `huaxiang build` first"):
        DuckDBEngine().table("orders")


def test_declared_gaps_are_refused_before_running() -> None:
    from huaxiang.engine.spark import SparkEngine

    assert "csv_skip_rows" in SparkEngine.unsupported
    eng = object.__new__(SparkEngine)  # no JVM needed to check a declared gap
    with pytest.raises(UnsupportedOperationError, match="the spark engine does not support csv_skip_rows"):
        eng.require("csv_skip_rows")
    DuckDBEngine().require("csv_skip_rows")  # DuckDB has no such gap


def test_unknown_engine() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'oracle'; use one of duckdb, spark"):
        create_engine("oracle")


def test_spark_without_pyspark_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from huaxiang.engine import spark

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ImportError, match=r'pip install "huaxiang\[spark\]"'):
        spark.build_spark_session()


def test_mapping_compiles_for_spark_without_a_jvm() -> None:
    """SQL snapshot: the mapping of a source compiles to Spark SQL with none of the known traps."""
    cfg = parse_config({"sources": [{
        "name": "pos", "table": "orders", "format": "csv", "path": "x.csv",
        "columns": {"order_id": "id", "order_ts": {"column": "ts", "format": "%Y-%m-%d"}, "amount": "amt",
                    "status": {"column": "st", "map": {"pv": "paid", "fav": "cancelled"}}}}]})
    eng = DuckDBEngine()
    raw = eng.register_arrow("_hx_raw_pos", ibis.memtable({"id": ["1"], "ts": ["2024-01-01"], "amt": ["2"],
                                                           "st": ["pv"], "_hx_row": [1]}).to_pyarrow())
    mapper = SourceMapper(eng, cfg.sources[0])
    expr = mapper.map_column(raw, "status").value
    sql = ibis.to_sql(raw.select(s=expr), dialect="pyspark")
    assert "TRIM(" not in sql  # Ibis' TRIM strips the letters v and f on Spark
    assert "WHEN" in sql and "'paid'" in sql and "'cancelled'" in sql
    assert eng.execute(raw.select(s=expr))["s"].tolist() == ["paid"]
