"""Every example workspace builds on DuckDB and Spark and reconciles row for row.

Expected counts come from ``shared/data/README.md`` (published) or from an
independent pandas reading of the same file with the rules each example's
``huaxiang.yaml`` documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import huaxiang
from test_census import DEMO_OPTIONS, example_builds  # noqa: F401  (the session's shared DuckDB builds)

pytestmark = pytest.mark.slow

NON_PRODUCT = {"POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "ADJUST", "CRUK", "PADS", "B", "m"}


def build(example: str, tmp_path: Path, engine: str, request: pytest.FixtureRequest, data: Path) -> Any:
    if engine == "duckdb":  # built once per session, through the tags stage, with the tag census
        ws, report = request.getfixturevalue("example_builds")(example)
    else:
        huaxiang.Workspace.init(tmp_path / example, example=example, data=data)
        ws = huaxiang.Workspace.open(tmp_path / example, engine=engine,
                                     session=request.getfixturevalue("spark_session"))
        report = ws.build(stages=["ingest", "clean"])
    for s in report.sources:
        print(f"\n[{engine}] {example}/{s['name']}: read {s['rows_read']:,} loaded {s['rows_loaded']:,} "
              f"quarantined {s['rows_quarantined']:,}")
        assert s["rows_read"] == s["rows_loaded"] + s["rows_quarantined"]
    assert report.tables["quarantine"] == sum(s["rows_quarantined"] for s in report.sources)
    return ws, report


def quarantine_reasons(ws: Any) -> pd.Series:
    q = ws.engine.execute(ws.table("quarantine"))
    kinds = q["reason"].str.replace(r"source row \d+", "source row N", regex=True)
    return kinds.value_counts()


def test_cdnow(tmp_path: Path, engine_name: str, request: pytest.FixtureRequest, shared_data: Path) -> None:
    ws, report = build("cdnow", tmp_path, engine_name, request, shared_data)
    (orders, items) = report.sources
    assert orders["rows_read"] == 69_659 and orders["rows_quarantined"] == 0  # published: 69,659 transactions
    assert items["rows_loaded"] == 69_659
    o = ws.table("orders")
    stats = ws.engine.execute(o.aggregate(customers=o.source_customer_id.nunique(), spend=o.amount.sum(),
                                          first=o.order_ts.min(), last=o.order_ts.max()))
    raw = pd.read_csv(shared_data / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str})
    assert int(stats["customers"][0]) == 23_570  # published
    assert float(stats["spend"][0]) == pytest.approx(raw["dollar_value"].sum(), rel=1e-12)
    assert str(stats["first"][0])[:10] == "1997-01-01" and str(stats["last"][0])[:10] == "1998-06-30"


def _retail_expectations(frame: pd.DataFrame, inv: str, cust: str) -> dict[str, Any]:
    """Independent pandas reading of the Online Retail rules documented in the example."""
    bad_debt = frame[inv].str.startswith("A")
    stock_note = (frame["Quantity"] < 0) & ~frame[inv].str.startswith("C")
    ruled_out = bad_debt | stock_note
    dup = frame.duplicated(keep="first") & ~ruled_out
    kept = frame[~ruled_out & ~dup]
    return {
        "dups": int(dup.sum()), "stock_notes": int((stock_note & ~bad_debt).sum()), "bad_debt": int(bad_debt.sum()),
        "orders": kept[inv].nunique(), "customers": kept[cust].nunique(),
        "guest_orders": kept.loc[kept[cust].isna(), inv].nunique(),
        "cancelled": kept.loc[kept[inv].str.startswith("C"), inv].nunique(),
        # Ingest trims every text value: '47503J ' and '47503J' are one product.
        "products": kept["StockCode"].str.strip().nunique(), "lines": len(kept),
        "spend": float((kept["Quantity"] * kept.iloc[:, 5]).sum()),
    }


@pytest.mark.parametrize(
    ("example", "file", "inv", "cust", "published"),
    [
        ("online_retail", "online_retail/online_retail.parquet", "InvoiceNo", "CustomerID",
         {"rows": 541_909, "dups": 5_268, "stock_notes": 1_336, "bad_debt": 3, "cancelled": 3_836}),
        ("online_retail_ii", "online_retail_ii/online_retail_ii_2009_2010.parquet", "Invoice", "Customer ID",
         {"rows": 525_461, "dups": 6_865, "stock_notes": 2_121, "bad_debt": 3, "cancelled": 4_592}),
    ],
)
def test_online_retail(
    example: str, file: str, inv: str, cust: str, published: dict[str, int],
    tmp_path: Path, engine_name: str, request: pytest.FixtureRequest, shared_data: Path,
) -> None:
    ws, report = build(example, tmp_path, engine_name, request, shared_data)
    (src,) = report.sources
    frame = pd.read_parquet(shared_data / file)
    want = _retail_expectations(frame, inv, cust)
    # The README's published quirk counts and our independent reading agree with each other...
    assert src["rows_read"] == published["rows"] == len(frame)
    assert want["dups"] == published["dups"] and want["stock_notes"] == published["stock_notes"]
    assert want["bad_debt"] == published["bad_debt"] and want["cancelled"] == published["cancelled"]
    # ... and with what the workspace loaded and quarantined.
    reasons = quarantine_reasons(ws)
    assert reasons["exact duplicate of source row N"] == want["dups"]
    assert reasons["stock note: negative quantity outside a cancellation invoice"] == want["stock_notes"]
    assert reasons["bad-debt adjustment (invoice A…), not a sale"] == want["bad_debt"]
    assert report.tables["order_items"] == want["lines"] == src["rows_loaded"]
    assert report.tables["orders"] == want["orders"]
    assert report.tables["products"] == want["products"]
    o = ws.table("orders")
    got = ws.engine.execute(
        o.aggregate(
            customers=o.source_customer_id.nunique(),
            guests=o.source_customer_id.isnull().sum(),
            cancelled=(o.status == "cancelled").sum(),
            spend=o.amount.sum(),
        )
    ).iloc[0]
    assert int(got["customers"]) == want["customers"]
    assert int(got["guests"]) == want["guest_orders"]
    assert int(got["cancelled"]) == want["cancelled"]
    assert float(got["spend"]) == pytest.approx(want["spend"], rel=1e-9)
    p = ws.table("products")
    flagged = ws.engine.execute(p.filter(p.category == "non-product").product_id)
    assert set(flagged) >= {"POST", "DOT", "M", "BANK CHARGES"} and set(flagged) <= NON_PRODUCT | {
        c for c in flagged if c.startswith(("gift_0001", "DCGS"))
    }


def test_groceries(tmp_path: Path, engine_name: str, request: pytest.FixtureRequest, shared_data: Path) -> None:
    ws, report = build("groceries", tmp_path, engine_name, request, shared_data)
    (src,) = report.sources
    # Published: 38,765 lines, 759 exact duplicates, 14,963 member-days, 3,898 members, 167 items.
    assert (src["rows_read"], src["rows_quarantined"]) == (38_765, 759)
    assert report.tables["orders"] == 14_963
    assert report.tables["products"] == 167
    o = ws.table("orders")
    assert int(ws.engine.execute(o.source_customer_id.nunique())) == 3_898


def test_taobao(tmp_path: Path, engine_name: str, request: pytest.FixtureRequest, shared_data: Path) -> None:
    ws, report = build("taobao", tmp_path, engine_name, request, shared_data)
    (src,) = report.sources
    raw = pd.read_csv(shared_data / "taobao" / "UserBehavior_sample.csv", header=None,
                      names=["user", "item", "cat", "type", "ts"])
    beijing = pd.to_datetime(raw["ts"], unit="s") + pd.Timedelta(hours=8)
    inside = (beijing >= "2017-11-25") & (beijing < "2017-12-04")
    assert src["rows_read"] == 84_287 and src["rows_quarantined"] == int((~inside).sum()) == 35  # published: 35
    e = ws.table("events")
    by_type = ws.engine.execute(e.group_by("event_type").aggregate(n=e.count())).set_index("event_type")["n"]
    want = raw[inside]["type"].map({"pv": "product_view", "fav": "favorite", "cart": "add_to_cart", "buy": "order"})
    assert by_type.sort_index().to_dict() == want.value_counts().sort_index().to_dict()
    first = ws.engine.execute(e.event_ts.min())
    assert pd.Timestamp(first) == beijing[inside].min()


def test_demo(tmp_path: Path, engine_name: str, request: pytest.FixtureRequest) -> None:
    if engine_name == "duckdb":
        ws, report = request.getfixturevalue("example_builds")("demo")
    else:
        huaxiang.Workspace.init(tmp_path / "demo", example="demo", **DEMO_OPTIONS)
        ws = huaxiang.Workspace.open(tmp_path / "demo", engine=engine_name,
                                     session=request.getfixturevalue("spark_session"))
        report = ws.build(stages=["ingest", "clean"])
    for s in report.sources:
        print(f"\n[{engine_name}] demo/{s['name']}: read {s['rows_read']:,} loaded {s['rows_loaded']:,} "
              f"quarantined {s['rows_quarantined']:,}")
        assert s["rows_read"] == s["rows_loaded"] + s["rows_quarantined"] > 0
    data = ws.path / "data"
    truth = pd.read_csv(data / "ground_truth" / "records.csv", dtype=str)
    members = ws.engine.execute(ws.table("customers_raw").select("source", "source_customer_id"))
    # Every CRM and app record of the ground truth is a loaded customer record (dirty rows aside).
    crm_truth = set(truth.loc[truth["source"] == "crm", "source_customer_id"])
    crm_loaded = set(members.loc[members["source"] == "crm", "source_customer_id"])
    assert crm_loaded <= crm_truth and len(crm_loaded) >= 0.99 * len(crm_truth)
    app_truth = set(truth.loc[truth["source"] == "app", "source_customer_id"])
    assert set(members.loc[members["source"] == "app", "source_customer_id"]) == app_truth
    phones = ws.engine.execute(ws.table("customers_raw").phone.notnull().mean())
    assert phones > 0.8
    online = pd.read_parquet(data / "online_orders.parquet")
    o = ws.table("orders")
    n_app = int(ws.engine.execute(o.filter(o.source == "app").count()))
    assert n_app == len(online)
