"""Every source format reads into the same canonical rows: CSV, TSV, whitespace, Parquet, JSON Lines,
Excel, SQLite, and the local PostgreSQL and MariaDB servers over real connections."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from huaxiang.errors import SourceError

MEMBERS = pd.DataFrame(
    {
        "member_id": ["M1", "M2", "M3"],
        "name": ["張偉", "李 娜", "Wang Fang"],
        "gender": ["男", "F", ""],
        "phone": ["138 0013 8000", "+86 139-0000-1111", "n/a"],
        "email": [" Zhang.Wei@Example.COM ", "lina@qq.com", None],
        "joined": ["2024/01/05", "2024/02/29", "2023/12/31"],
        "consent": ["是", "否", "yes"],
    }
)

COLUMNS: dict[str, Any] = {
    "source_customer_id": "member_id",
    "name": "name",
    "gender": {"column": "gender", "normalize": "gender"},
    "phone": "phone",
    "email": "email",
    "registered_at": {"column": "joined", "format": "%Y/%m/%d"},
    "consent_marketing": "consent",
}

EXPECTED = pd.DataFrame(
    {
        "source_customer_id": ["M1", "M2", "M3"],
        "name": ["张伟", "李娜", "Wang Fang"],
        "gender": ["male", "female", "unknown"],
        "phone": ["+8613800138000", "+8613900001111", None],
        "email": ["zhang.wei@example.com", "lina@qq.com", None],
        "registered_at": pd.to_datetime(["2024-01-05", "2024-02-29", "2023-12-31"]),
        "consent_marketing": [True, False, True],
    }
)


def members_config(source: dict[str, Any]) -> dict[str, Any]:
    return {"name": "formats", "sources": [{"name": "crm", "table": "customers_raw", "columns": COLUMNS, **source}]}


def check_members(ws: Any) -> None:
    report = ws.build(stages=["ingest", "clean"])
    (src,) = report.sources
    assert (src["rows_read"], src["rows_loaded"], src["rows_quarantined"]) == (3, 3, 0)
    got = ws.engine.execute(ws.table("customers_raw").order_by("source_customer_id"))[list(EXPECTED.columns)]
    got["registered_at"] = pd.to_datetime(got["registered_at"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), EXPECTED, check_dtype=False)
    flags = ws.engine.execute(ws.table("clean_flags"))
    assert flags[["column_name", "raw_value"]].values.tolist() == [["phone", "n/a"]]


def test_csv(make_workspace: Any, engine_name: str) -> None:
    text = MEMBERS.to_csv(index=False)
    check_members(make_workspace(members_config({"format": "csv", "path": "m.csv"}), {"m.csv": text},
                                 engine=engine_name))


def test_tsv(make_workspace: Any) -> None:
    text = MEMBERS.to_csv(index=False, sep="\t")
    check_members(make_workspace(members_config({"format": "tsv", "path": "m.tsv"}), {"m.tsv": text}))


def test_folder_of_csv_files(make_workspace: Any) -> None:
    files = {"crm/a.csv": MEMBERS.iloc[:2].to_csv(index=False), "crm/b.csv": MEMBERS.iloc[2:].to_csv(index=False)}
    check_members(make_workspace(members_config({"format": "csv", "path": "crm"}), files))


def test_parquet(make_workspace: Any, tmp_path: Path, engine_name: str) -> None:
    ws = make_workspace(members_config({"format": "parquet", "path": "m.parquet"}), engine=engine_name)
    MEMBERS.to_parquet(ws.path / "m.parquet")
    check_members(ws)


def test_jsonl_with_a_bad_line(make_workspace: Any, engine_name: str) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in MEMBERS.to_dict(orient="records")]
    lines.insert(1, '{"member_id": "M9", "name": ')  # a truncated JSON object
    ws = make_workspace(members_config({"format": "jsonl", "path": "m.jsonl"}), {"m.jsonl": "\n".join(lines)},
                        engine=engine_name)
    report = ws.build(stages=["ingest"])
    (src,) = report.sources
    assert (src["rows_read"], src["rows_loaded"], src["rows_quarantined"]) == (4, 3, 1)
    q = ws.engine.execute(ws.table("quarantine"))
    assert q["reason"][0].startswith("malformed line 2 in m.jsonl: invalid JSON")
    assert json.loads(q["payload"][0]) == {"line": lines[1]}


def test_xlsx(make_workspace: Any, engine_name: str) -> None:
    ws = make_workspace(members_config({"format": "xlsx", "path": "m.xlsx", "sheet": "members"}), engine=engine_name)
    with pd.ExcelWriter(ws.path / "m.xlsx") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="other", index=False)
        MEMBERS.to_excel(writer, sheet_name="members", index=False)
    check_members(ws)


def test_xlsx_missing_sheet_is_named(make_workspace: Any) -> None:
    ws = make_workspace(members_config({"format": "xlsx", "path": "m.xlsx", "sheet": "会员"}))
    MEMBERS.to_excel(ws.path / "m.xlsx", sheet_name="members", index=False)
    with pytest.raises(SourceError, match=r"has no sheet '会员'; sheets: members"):
        ws.build(stages=["ingest"])


def test_sqlite_query(make_workspace: Any, tmp_path: Path) -> None:
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as con:
        MEMBERS.to_sql("members", con, index=False)
    source = {"format": "sql", "url": f"sqlite:///{db}", "query": "SELECT * FROM members ORDER BY member_id"}
    check_members(make_workspace(members_config(source)))


def test_sql_error_names_the_source(make_workspace: Any, tmp_path: Path) -> None:
    source = {"format": "sql", "url": f"sqlite:///{tmp_path / 'empty.sqlite'}", "db_table": "nope"}
    ws = make_workspace(members_config(source))
    with pytest.raises(SourceError, match=r"source 'crm': could not read from sqlite:///.*no such table: nope"):
        ws.build(stages=["ingest"])


# --------------------------------------------------------------- real database servers

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
MARIA_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


@pytest.fixture
def db_tables() -> Iterator[dict[str, str]]:
    """An orders table in PostgreSQL and a members table in MariaDB, dropped afterwards."""
    import sqlalchemy as sa

    suffix = uuid.uuid4().hex[:8]
    names = {"orders": f"hx_orders_{suffix}", "members": f"hx_members_{suffix}"}
    orders = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "customer": ["M1", "M2", "M1", "M3"],
            "created_at": pd.to_datetime(["2024-03-01 10:00", "2024-03-02 11:30", "2024-03-05 20:15", "2024-03-06 09:00"]),
            "total": [99.5, 10.0, -3.0, 42.0],
            "pay": ["支付宝", "微信支付", "支付宝", "银联"],
            "state": ["已支付", "已支付", "已支付", "已退款"],
        }
    )
    pg, maria = sa.create_engine(PG_URL), sa.create_engine(MARIA_URL)
    try:
        with pg.begin() as con:
            orders.to_sql(names["orders"], con, index=False)
        with maria.begin() as con:
            MEMBERS.to_sql(names["members"], con, index=False)
        yield names
    finally:
        with pg.begin() as con:
            con.execute(sa.text(f'DROP TABLE IF EXISTS "{names["orders"]}"'))
        with maria.begin() as con:
            con.execute(sa.text(f"DROP TABLE IF EXISTS `{names['members']}`"))
        pg.dispose()
        maria.dispose()


@pytest.mark.db
def test_orders_from_postgresql_and_members_from_mariadb(
    make_workspace: Any, db_tables: dict[str, str], engine_name: str
) -> None:
    config = members_config({"format": "sql", "url": MARIA_URL, "db_table": db_tables["members"]})
    config["sources"].append(
        {
            "name": "shop_db", "table": "orders", "format": "sql", "url": PG_URL,
            "query": f'SELECT * FROM "{db_tables["orders"]}" WHERE created_at >= \'2024-03-01\'',
            "columns": {
                "order_id": "id", "source_customer_id": "customer", "order_ts": "created_at", "amount": "total",
                "payment_method": {"column": "pay", "map": {"支付宝": "alipay", "微信支付": "wechat_pay", "银联": "unionpay"}},
                "status": {"column": "state", "map": {"已支付": "paid", "已退款": "refunded"}},
                "channel": {"value": "web"},
            },
        }
    )
    ws = make_workspace(config, engine=engine_name)
    report = ws.build(stages=["ingest", "clean"])
    by_name = {s["name"]: s for s in report.sources}
    print("\n", {k: (v["rows_read"], v["rows_loaded"], v["rows_quarantined"]) for k, v in by_name.items()})
    assert (by_name["crm"]["rows_read"], by_name["crm"]["rows_loaded"]) == (3, 3)
    # Order 3 is a paid order with a negative total: quarantined, the rest load.
    assert (by_name["shop_db"]["rows_read"], by_name["shop_db"]["rows_loaded"], by_name["shop_db"]["rows_quarantined"]) == (4, 3, 1)
    orders = ws.engine.execute(ws.table("orders").order_by("order_id"))
    assert orders["order_id"].tolist() == ["1", "2", "4"]
    assert orders["payment_method"].tolist() == ["alipay", "wechat_pay", "unionpay"]
    assert orders["status"].tolist() == ["paid", "paid", "refunded"]
    assert str(orders["order_ts"][1]) == "2024-03-02 11:30:00"
    members = ws.engine.execute(ws.table("customers_raw").order_by("source_customer_id"))
    assert members["phone"].tolist()[:2] == ["+8613800138000", "+8613900001111"]
