"""Configuration errors name the file, the key and the fix — all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from huaxiang.config import load_config, parse_config
from huaxiang.errors import ConfigError, HuaxiangError


def test_all_problems_reported_together(tmp_path: Path) -> None:
    file = tmp_path / "huaxiang.yaml"
    file.write_text(
        """
name: shop
enigne: {name: duckdb}
sources:
  - name: crm
    table: customer
    format: csv
    path: a.csv
    columns: {source_customer_id: id}
  - name: pos
    table: orders
    format: xls
    path: b.xls
    columns: {order_id: id}
  - name: web
    table: orders
    format: csv
    columns: {order_id: id, colour: x}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    text = str(info.value)
    assert text.startswith(f"{file} has 4 problems:")
    assert "enigne: unknown key; remove it or check its spelling" in text
    assert "sources[0] (crm).table: unknown table 'customer'; use one of customers_raw" in text
    assert "sources[1] (pos).format: Input should be 'csv'" in text
    assert "sources[2] (web): a 'csv' source needs 'path'" in text
    assert "sources[2] (web): columns ['colour'] are not columns of orders" not in text  # path error comes first
    assert isinstance(info.value, ValueError) and isinstance(info.value, HuaxiangError)


def test_unknown_canonical_column_lists_valid_ones() -> None:
    raw = {"sources": [{"name": "web", "table": "orders", "format": "csv", "path": "a.csv",
                        "columns": {"order_id": "id", "colour": "x"}}]}
    with pytest.raises(ConfigError, match=r"columns \['colour'\] are not columns of orders; valid: source, source_row, order_id"):
        parse_config(raw)


def test_column_map_needs_exactly_one_origin() -> None:
    raw = {"sources": [{"name": "web", "table": "orders", "format": "csv", "path": "a.csv",
                        "columns": {"order_id": {"column": "id", "value": "x"}}}]}
    with pytest.raises(ConfigError, match=r"columns.order_id: give exactly one of 'column'.*got \['column', 'value'\]"):
        parse_config(raw)


def test_value_map_targets_must_be_valid_enum_values() -> None:
    raw = {"sources": [{"name": "web", "table": "orders", "format": "csv", "path": "a.csv",
                        "columns": {"payment_method": {"column": "p", "map": {"支付宝": "ali_pay"}}}}]}
    with pytest.raises(ConfigError, match=r"maps to \['ali_pay'\], which are not valid payment_method values; valid: alipay"):
        parse_config(raw)


def test_duplicate_source_names() -> None:
    src = {"name": "web", "table": "orders", "format": "csv", "path": "a.csv", "columns": {"order_id": "id"}}
    with pytest.raises(ConfigError, match="source name 'web' is used twice"):
        parse_config({"sources": [src, src]})


def test_sql_source_needs_url_and_one_of_query_or_table() -> None:
    raw = {"sources": [{"name": "db", "table": "orders", "format": "sql", "url": "sqlite://",
                        "query": "select 1", "db_table": "t", "columns": {"order_id": "id"}}]}
    with pytest.raises(ConfigError, match="needs exactly one of 'query' or 'db_table'"):
        parse_config(raw)


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    (tmp_path / "huaxiang.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"huaxiang.yaml: line 2, column 1: not valid YAML"):
        load_config(tmp_path)


def test_missing_config_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no workspace configuration here; create one with `huaxiang init"):
        load_config(tmp_path)


def test_environment_variables_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HX_TEST_DATA", "/data/shop")
    (tmp_path / "huaxiang.yaml").write_text(
        "data_dir: ${HX_TEST_DATA}\nname: ${HX_UNSET_VAR:-fallback}\n", encoding="utf-8"
    )
    cfg = load_config(tmp_path)
    assert (cfg.data_dir, cfg.name) == ("/data/shop", "fallback")


def test_shorthand_column_is_a_rename() -> None:
    cfg = parse_config({"sources": [{"name": "x", "table": "orders", "format": "csv", "path": "a.csv",
                                     "columns": {"order_id": "单号"}}]})
    assert cfg.sources[0].columns["order_id"].column == "单号"
    assert cfg.sources[0].system_name == "x"
