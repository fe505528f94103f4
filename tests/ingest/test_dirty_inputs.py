"""Dirty input never crashes and is never silently lost: it loads, is quarantined, or fails clearly.

Every test here runs on DuckDB and on Spark and checks ``rows_read == rows_loaded + rows_quarantined``.
"""

from __future__ import annotations

from typing import Any

import pytest

from huaxiang.errors import ConfigError, SourceError, SourceNotFoundError

ORDERS_COLUMNS = {
    "order_id": "单号",
    "source_customer_id": "客户",
    "order_ts": {"column": "时间", "format": "%Y-%m-%d %H:%M:%S"},
    "amount": "金额",
    "payment_method": {"column": "支付", "map": {"支付宝": "alipay", "微信": "wechat_pay", "现金": "cash"}},
    "status": {"value": "paid"},
    "channel": {"value": "store"},
}

HEADER = "单号,客户,时间,金额,支付\n"


def orders_config(path: str = "orders.csv", **extra: Any) -> dict[str, Any]:
    source = {"name": "pos", "table": "orders", "format": "csv", "path": path, "columns": ORDERS_COLUMNS}
    source.update(extra)
    return {"name": "t", "sources": [source]}


def reasons(ws: Any) -> dict[int, str]:
    q = ws.engine.execute(ws.table("quarantine"))
    return dict(zip(q["source_row"].astype(int), q["reason"], strict=True))


def check_reconciles(report: Any) -> dict[str, Any]:
    (src,) = report.sources
    print(f"\n{src['name']}: read {src['rows_read']} loaded {src['rows_loaded']} quarantined {src['rows_quarantined']}")
    assert src["rows_read"] == src["rows_loaded"] + src["rows_quarantined"]
    assert report.tables["orders"] == src["rows_loaded"]
    assert report.tables["quarantine"] == src["rows_quarantined"]
    return dict(src)


def test_each_kind_of_bad_row_gets_its_reason(make_workspace: Any, engine_name: str) -> None:
    text = HEADER + (
        "A1,c1,2024-01-02 10:00:00,12.5,支付宝\n"   # 1 good
        "A2,c2,2024-13-02 10:00:00,3,微信\n"        # 2 bad date
        "A3,c3,2024-01-03 11:00:00,abc,现金\n"      # 3 text in a numeric column
        ",c4,2024-01-03 11:00:00,5,现金\n"          # 4 missing id
        "A1,c1,2024-01-02 10:00:00,12.5,支付宝\n"   # 5 exact duplicate of 1
        "A1,c9,2024-01-05 10:00:00,1,支付宝\n"      # 6 duplicate key of 1
        "A4,c3,2024-01-05 10:00:00,8,比特币\n"      # 7 unknown enum value
        "A5,c3,2024-01-05 10:00:00,-5,现金\n"       # 8 negative amount on a sale
        "A6,c5,2024-01-06 09:30:00,7,现金\n"        # 9 good
    )
    ws = make_workspace(orders_config(), {"orders.csv": text}, engine=engine_name)
    src = check_reconciles(ws.build(stages=["ingest"]))
    assert (src["rows_read"], src["rows_loaded"], src["rows_quarantined"]) == (9, 2, 7)
    got = reasons(ws)
    assert set(got) == {2, 3, 4, 5, 6, 7, 8}
    assert "order_ts: cannot read '2024-13-02 10:00:00'" in got[2]
    assert "amount: cannot read 'abc' as a number" in got[3]
    assert got[4] == "missing order_id"
    assert got[5] == "exact duplicate of source row 1"
    assert got[6].startswith("duplicate key (order_id=A1)") and got[6].endswith("first at source row 1")
    assert "payment_method: unknown value '比特币'" in got[7] and "columns.payment_method.map" in got[7]
    assert got[8] == "negative amount on a sale"
    loaded = ws.engine.execute(ws.table("orders").order_by("source_row"))
    assert list(loaded["order_id"]) == ["A1", "A6"]
    assert list(loaded["payment_method"]) == ["alipay", "cash"]
    assert loaded["amount"].tolist() == [12.5, 7.0]


def test_quarantine_payload_keeps_the_raw_row(make_workspace: Any, engine_name: str) -> None:
    import json

    text = HEADER + 'A1,"c""1",2024-01-02 10:00:00,oops,支付宝\n'
    ws = make_workspace(orders_config(), {"orders.csv": text}, engine=engine_name)
    check_reconciles(ws.build(stages=["ingest"]))
    payload = json.loads(ws.engine.execute(ws.table("quarantine"))["payload"][0])
    assert payload == {"单号": "A1", "客户": 'c"1', "时间": "2024-01-02 10:00:00", "金额": "oops", "支付": "支付宝"}


def test_truncated_last_line_is_quarantined_not_lost(make_workspace: Any, engine_name: str) -> None:
    text = HEADER + "A1,c1,2024-01-02 10:00:00,12.5,支付宝\nA2,c2,2024-01-02 1"
    ws = make_workspace(orders_config(), {"orders.csv": text}, engine=engine_name)
    src = check_reconciles(ws.build(stages=["ingest"]))
    assert (src["rows_read"], src["rows_loaded"], src["rows_quarantined"]) == (2, 1, 1)
    assert 2 in reasons(ws)


def test_line_with_extra_fields_is_quarantined_and_rows_keep_their_numbers(
    make_workspace: Any, engine_name: str
) -> None:
    text = HEADER + (
        "A1,c1,2024-01-02 10:00:00,12.5,支付宝\n"
        "A2,c2,2024-01-02 10:00:00,3,微信,surplus\n"
        "A3,c3,2024-01-02 10:00:00,4,现金\n"
    )
    ws = make_workspace(orders_config(), {"orders.csv": text}, engine=engine_name)
    src = check_reconciles(ws.build(stages=["ingest"]))
    assert (src["rows_loaded"], src["rows_quarantined"]) == (2, 1)
    got = reasons(ws)
    assert list(got) == [2] and got[2].startswith("malformed line 2")
    rows = ws.engine.execute(ws.table("orders").order_by("source_row"))
    assert rows["source_row"].tolist() == [1, 3]


def test_gbk_file_loads_with_its_encoding(make_workspace: Any, engine_name: str) -> None:
    text = HEADER + "A1,张三,2024-01-02 10:00:00,12.5,支付宝\n"
    ws = make_workspace(orders_config(encoding="gbk"), {"orders.csv": text.encode("gbk")}, engine=engine_name)
    check_reconciles(ws.build(stages=["ingest"]))
    rows = ws.engine.execute(ws.table("orders"))
    assert rows["source_customer_id"].tolist() == ["张三"]
    assert rows["payment_method"].tolist() == ["alipay"]


def test_gbk_file_read_as_utf8_fails_clearly(make_workspace: Any) -> None:
    text = HEADER + "A1,张三,2024-01-02 10:00:00,12.5,支付宝\n"
    ws = make_workspace(orders_config(), {"orders.csv": text.encode("gbk")})
    with pytest.raises(SourceError, match=r"not valid UTF-8 \(byte 0, line 1\); set `encoding: gbk`"):
        ws.build(stages=["ingest"])


def test_empty_file_loads_nothing(make_workspace: Any, engine_name: str) -> None:
    ws = make_workspace(orders_config(), {"orders.csv": ""}, engine=engine_name)
    src = check_reconciles(ws.build(stages=["ingest"]))
    assert src["rows_read"] == 0


def test_header_only_file_loads_nothing(make_workspace: Any, engine_name: str) -> None:
    ws = make_workspace(orders_config(), {"orders.csv": HEADER}, engine=engine_name)
    src = check_reconciles(ws.build(stages=["ingest"]))
    assert src["rows_read"] == 0


def test_missing_file_names_source_and_path(make_workspace: Any) -> None:
    ws = make_workspace(orders_config(path="nowhere/orders.csv"))
    with pytest.raises(SourceNotFoundError, match=r"source 'pos': no csv file at .*nowhere/orders.csv"):
        ws.build(stages=["ingest"])


def test_mapping_a_column_the_file_lacks_names_it(make_workspace: Any) -> None:
    config = orders_config()
    config["sources"][0]["columns"] = {**ORDERS_COLUMNS, "amount": "总额"}
    ws = make_workspace(config, {"orders.csv": HEADER + "A1,c1,2024-01-02 10:00:00,1,现金\n"})
    with pytest.raises(ConfigError, match=r"columns.amount reads column '总额'.*available: 单号, 客户, 时间, 金额, 支付"):
        ws.build(stages=["ingest"])


def test_other_sources_still_load_when_one_has_bad_rows(make_workspace: Any) -> None:
    good = {"name": "web", "table": "orders", "format": "csv", "path": "web.csv", "columns": ORDERS_COLUMNS}
    config = orders_config()
    config["sources"].append(good)
    files = {
        "orders.csv": HEADER + "A1,c1,not a date,1,现金\n",
        "web.csv": HEADER + "W1,c1,2024-01-02 10:00:00,1,现金\n",
    }
    ws = make_workspace(config, files)
    report = ws.build(stages=["ingest"])
    by_name = {s["name"]: s for s in report.sources}
    assert (by_name["pos"]["rows_loaded"], by_name["pos"]["rows_quarantined"]) == (0, 1)
    assert (by_name["web"]["rows_loaded"], by_name["web"]["rows_quarantined"]) == (1, 0)
