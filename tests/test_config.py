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


# ------------------------------------------------- every section checked at load, before ingest

ORDERS_CSV = "单号,客户,时间,金额\nA1,c1,2024-01-02 10:00:00,12.5\nA2,c2,2024-01-03 11:00:00,3\n"
SOURCE = {"name": "pos", "table": "orders", "format": "csv", "path": "orders.csv",
          "columns": {"order_id": "单号", "source_customer_id": "客户",
                      "order_ts": {"column": "时间", "format": "%Y-%m-%d %H:%M:%S"}, "amount": "金额"}}

#: (section written with one misspelt key, the key path named, the closest valid key named)
MISSPELT = {
    "models": ({"models": {"horizon_dayz": 30}}, "models.horizon_dayz", "churn.horizon_days"),
    "models_nested": ({"models": {"churn": {"horizon_dayz": 30}}}, "models.churn.horizon_dayz", "horizon_days"),
    "tags": ({"tags": [{"id": "x", "rulee": "orders_total > 1"}]}, "tags.define[0] (x).rulee", "rule"),
    "tags_define": ({"tags": {"defien": []}}, "tags.defien", "define"),
    "identity": ({"identity": {"hub_treshold": 5}}, "identity.hub_treshold", "hub_threshold"),
    "identity_nested": ({"identity": {"probabilistic": {"treshold": 0.9}}}, "identity.probabilistic.treshold",
                        "threshold"),
    "segments": ({"segments": {"clusters": {"k_mx": 5}}}, "segments.clusters.k_mx", "k_max"),
    "features": ({"features": {"paydayz": [10]}}, "features.paydayz", "paydays"),
    "sources": ({"sources": [{**SOURCE, "delimter": ","}]}, "sources[0] (pos).delimter", "delimiter"),
    "sources_columns": ({"sources": [{**SOURCE, "columns": {**SOURCE["columns"], "amount": {"colum": "金额"}}}]},
                        "sources[0] (pos).columns.amount.colum", "column"),
    "engine": ({"engine": {"nmae": "duckdb"}}, "engine.nmae", "name"),
    "service": ({"service": {"prot": 8000}}, "service.prot", "port"),
    "journal": ({"journal": {"knid": "nats"}}, "journal.knid", "kind"),
    "privacy": ({"privacy": {"pii_colums": ["phone"]}}, "privacy.pii_colums", "pii_columns"),
    "clean": ({"clean": {"skip_column": ["city"]}}, "clean.skip_column", "skip_columns"),
    "top_level": ({"contry": "CN"}, "contry", "country"),
}


def _workspace(folder: Path, extra: dict[str, object]) -> Path:
    import yaml

    config = {"name": "shop", "sources": [SOURCE], **extra}
    (folder / "huaxiang.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    (folder / "orders.csv").write_text(ORDERS_CSV, encoding="utf-8")
    return folder


@pytest.mark.parametrize(("extra", "where", "closest"), list(MISSPELT.values()), ids=list(MISSPELT))
def test_a_misspelt_key_in_any_section_fails_the_build_before_ingest(
        tmp_path: Path, extra: dict[str, object], where: str, closest: str) -> None:
    from typer.testing import CliRunner

    from huaxiang.cli import app

    folder = _workspace(tmp_path, extra)
    result = CliRunner().invoke(app, ["build", "--workspace", str(folder)])
    text = " ".join(result.output.split())  # the console may wrap long lines
    assert result.exit_code == 1, result.output
    assert f"{folder / 'huaxiang.yaml'} has 1 problem" in text
    assert f"- {where}: unknown key; remove it or check its spelling (did you mean {closest}? valid keys:" in text
    assert not (folder / "warehouse.duckdb").exists()  # nothing ingested: the engine was never opened


def test_the_same_section_written_correctly_loads(tmp_path: Path) -> None:
    """The control of the test above: each section's keys, spelt right, are accepted."""
    fixed = {"models": {"churn": {"horizon_days": 30}}, "tags": [{"id": "x", "rule": "orders_total > 1",
                                                                   "name_zh": "甲", "name_en": "X"}],
             "identity": {"hub_threshold": 5}, "segments": {"clusters": {"k_max": 5}}, "features": {"paydays": [10]},
             "engine": {"name": "duckdb"}, "service": {"port": 8000, "refresh_every": "15m"},
             "journal": {"kind": "nats"}, "privacy": {"pii_columns": ["phone"]}, "clean": {"skip_columns": ["city"]},
             "country": "DE"}
    cfg = load_config(_workspace(tmp_path, fixed))
    assert cfg.models.churn.horizon_days == 30 and cfg.identity.hub_threshold == 5
    assert cfg.segments.clusters.k_max == 5 and cfg.features.paydays == [10] and cfg.country == "DE"
    assert cfg.tags.define[0].rule == "orders_total > 1" and cfg.clean.get("skip_columns") == ["city"]
    assert cfg.service.refresh_interval.total_seconds() == 900 and cfg.journal.kind == "nats"


def test_build_fails_on_a_misspelt_key_within_a_second(tmp_path: Path) -> None:
    """From the command's start to its error; the imports every command pays are done beforehand."""
    import time

    from typer.testing import CliRunner

    import huaxiang.workspace  # noqa: F401  (the imports, the same for every command)
    from huaxiang.cli import app

    folder = _workspace(tmp_path, {"models": {"horizon_dayz": 30}})
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["build", "--workspace", str(folder)])
    seconds = time.perf_counter() - started
    assert result.exit_code == 1 and "models.horizon_dayz" in result.output
    assert seconds < 1.0, f"build took {seconds:.2f} s to report a misspelt key"


@pytest.mark.parametrize(("raw", "message"), [
    ({"service": {"refresh_every": "1 hour"}}, r"service\.refresh_every: '1 hour' is not a duration; write a whole "
                                               r"number and s, m, h or d"),
    ({"service": {"port": 70000}}, r"service\.port: Input should be less than or equal to 65535"),
    ({"journal": {"kind": "kafka"}}, r"journal\.kind: Input should be 'sqlite' or 'nats'"),
    ({"privacy": {"pii_columns": ["phone", "passport"]}}, r"privacy\.pii_columns: \['passport'\] are not columns of "
                                                         r"customers_raw"),
    ({"country": "China"}, r"country: 'China' is not an ISO 3166-1 alpha-2 code"),
    ({"tags": [{"id": "vip", "name_zh": "甲", "name_en": "VIP", "rule": "spend_365 > 1"}]},
     r"tags\.define\[0\] \(vip\)\.rule: unknown feature 'spend_365'"),
])
def test_new_sections_check_their_values(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_new_sections_defaults() -> None:
    from huaxiang.schema import CUSTOMERS_RAW

    cfg = parse_config({})
    assert (cfg.service.host, cfg.service.port, cfg.service.refresh_interval.total_seconds()) == ("127.0.0.1", 8000,
                                                                                                  3600)
    assert (cfg.journal.kind, cfg.journal.url, cfg.journal.stream, cfg.journal.path) == (
        "sqlite", "nats://127.0.0.1:4222", "huaxiang", None)
    assert cfg.country == "CN" and parse_config({"country": None}).country is None
    assert {"name", "phone", "email", "birth_date", "address"} <= set(cfg.privacy.pii_columns)
    assert set(cfg.privacy.pii_columns) <= set(CUSTOMERS_RAW.columns)


def test_stages_take_the_validated_sections_back_unchanged() -> None:
    from huaxiang.features.settings import parse_settings as features
    from huaxiang.identity.settings import parse_settings as identity
    from huaxiang.models.settings import parse_settings as models
    from huaxiang.segments.settings import parse_settings as segments
    from huaxiang.tags.specs import resolve_tag_specs

    cfg = parse_config({"tags": {"builtin": False, "define": [{"id": "x", "name_zh": "甲", "name_en": "X",
                                                               "rule": "orders_total > 1"}]}})
    assert identity(cfg.identity) is cfg.identity and features(cfg.features) is cfg.features
    assert segments(cfg.segments) is cfg.segments and models(cfg.models) is cfg.models
    assert [s.id for s in resolve_tag_specs(cfg.tags)] == ["x"] and cfg.tags.get("define")[0]["id"] == "x"


def test_every_section_the_template_documents_loads() -> None:
    """The commented sections of `huaxiang init`'s template, uncommented, are a valid configuration."""
    import re

    import yaml

    from huaxiang.examples import _text

    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in _text("template").splitlines():
        start = re.match(r"^# (\w+):\s*(#.*)?$", line)
        if start:
            current = blocks.setdefault(start.group(1), [line[2:]])
        elif current is not None and line.startswith("#   "):
            current.append(line[2:])
        else:
            current = None
    assert set(blocks) == {"clean", "identity", "features", "tags", "segments", "models", "service", "journal",
                           "privacy"}
    raw = yaml.safe_load("\n".join(line for block in blocks.values() for line in block))
    cfg = parse_config({**yaml.safe_load(_text("template")), **raw})
    assert [t.id for t in cfg.tags.define] == ["vip", "night_owl", "gen_z"] and cfg.service.port == 8000
    assert cfg.models.churn.horizon_days == 90 and cfg.country == "CN"


def test_a_bad_key_does_not_hide_the_other_problems_of_its_section() -> None:
    raw = {"identity": {"identifiers": ["phone", "passport"], "hub_treshold": 3}}
    with pytest.raises(ConfigError, match="has 2 problems") as info:
        parse_config(raw)
    assert "identity.hub_treshold: unknown key" in str(info.value)
    assert "identity.identifiers: unknown identifier types ['passport']" in str(info.value)
