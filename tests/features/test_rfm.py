"""RFM and CLV inputs: equal to lifetimes on CDNOW; credit notes net out on Online Retail; habits by hand."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

import huaxiang
from huaxiang.features.habits import compute_habits
from huaxiang.features.rfm import compute_rfm


def build(example: str, tmp_path: Path, engine: str, request: pytest.FixtureRequest, data: Path) -> Any:
    huaxiang.Workspace.init(tmp_path / example, example=example, data=data)
    options = {"session": request.getfixturevalue("spark_session")} if engine == "spark" else {}
    ws = huaxiang.Workspace.open(tmp_path / example, engine=engine, **options)
    ws.build(stages=["ingest", "clean", "features"])
    return ws


@pytest.mark.slow
def test_cdnow_clv_inputs_equal_lifetimes(
    tmp_path: Path, engine_name: str, request: pytest.FixtureRequest, shared_data: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data

    ws = build("cdnow", tmp_path, engine_name, request, shared_data)
    got = ws.engine.execute(ws.table("features").select("person_id", "frequency", "recency", "T", "monetary_value"))
    got["customer_id"] = got["person_id"].str.removeprefix("cdnow:")
    raw = pd.read_csv(shared_data / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str})
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    want = summary_data_from_transaction_data(raw, "customer_id", "date", monetary_value_col="dollar_value",
                                              freq="D").reset_index()
    merged = want.merge(got, on="customer_id", suffixes=("_want", "_got"), validate="one_to_one")
    assert len(merged) == len(want) == 23_570
    diffs = {c: float((merged[f"{c}_want"] - merged[f"{c}_got"]).abs().max())
             for c in ("frequency", "recency", "T", "monetary_value")}
    print(f"\n[{engine_name}] CDNOW max |lifetimes - huaxiang|: {diffs}")
    assert all(d <= 1e-9 for d in diffs.values())


@pytest.mark.slow
def test_online_retail_cancellations_net_out(tmp_path: Path, shared_data: Path, request: pytest.FixtureRequest) -> None:
    ws = build("online_retail", tmp_path, "duckdb", request, shared_data)
    f = ws.engine.execute(ws.table("features"))
    f = f.set_index("person_id")
    # Customer 12346 bought 74,215 units and cancelled them: no spend left.
    assert f.loc["online_retail:12346", "spend_total"] == pytest.approx(0.0, abs=1e-6)
    assert f.loc["online_retail:12346", "orders_total"] == 1
    # An independent computation of net spend for every customer: all lines kept by the example's rules.
    frame = pd.read_parquet(shared_data / "online_retail" / "online_retail.parquet")
    kept = frame[~frame["InvoiceNo"].str.startswith("A") & ~((frame["Quantity"] < 0) & ~frame["InvoiceNo"].str.startswith("C"))]
    kept = kept[~kept.duplicated()].dropna(subset=["CustomerID"])
    spend = (kept["Quantity"] * kept["UnitPrice"]).groupby(kept["CustomerID"].astype(int).astype(str)).sum()
    got = f["spend_total"].rename(lambda p: p.removeprefix("online_retail:"))
    joined = pd.concat([spend.rename("want"), got.rename("got")], axis=1, join="inner")
    assert len(joined) == len(spend)
    assert (joined["want"] - joined["got"]).abs().max() < 1e-6


def _hand_orders() -> pd.DataFrame:
    """Two persons' orders, as person_orders gives them (a: four, b: a sale and its credit note)."""
    orders = pd.DataFrame(
        {
            "person_id": ["a", "a", "a", "a", "b", "b"],
            "order_ts": pd.to_datetime(["2024-03-10 23:30", "2024-03-10 23:50", "2024-03-12 09:00",
                                        "2024-03-16 13:00", "2024-03-02 01:00", "2024-03-03 12:00"]),
            "amount": [100.0, 50.0, 80.0, 30.0, 20.0, -20.0],
            "discount_amount": [20.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "promo_id": [None, None, "P1", None, None, None],
            "channel": ["app", "app", "store", "app", "web", "web"],
            "payment_method": ["alipay", "alipay", "cash", "wechat_pay", "card", "card"],
            "status": ["paid", "paid", "paid", "refunded", "paid", "cancelled"],
        }
    )
    sale = orders["status"].isin(["paid", "pending"])
    orders["is_purchase"] = sale
    orders["net_amount"] = orders["amount"].where(sale | (orders["amount"] < 0), 0.0)
    return orders


def test_rfm_and_habits_by_hand(ibis_con: Any) -> None:
    orders = _hand_orders()
    t = ibis.memtable(orders)
    rfm = ibis_con.execute(compute_rfm(t, as_of=datetime(2024, 3, 21))).set_index("person_id")
    a, b = rfm.loc["a"], rfm.loc["b"]
    # a: purchase days 10th (150) and 12th (80); the refunded order is voided (adds nothing).
    assert (a["orders_total"], a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (3, 1, 2.0, 10.0, 80.0)
    assert a.spend_total == 230.0 and a.avg_order_value == pytest.approx(230 / 3)
    assert a.recency_days == pytest.approx(9 - 9 / 24)
    # b: a 20.0 sale netted by a -20.0 credit note.
    assert (b["orders_total"], b["spend_total"], b["frequency"], b["T"]) == (1, 0.0, 0, 18.0)
    habits = ibis_con.execute(compute_habits(t)).set_index("person_id")
    ha = habits.loc["a"]
    assert ha.share_night_orders == pytest.approx(2 / 3) and ha.share_payday_orders == pytest.approx(1.0)
    assert ha.payday_lift == pytest.approx(1.0 / (5 / 30.44))
    assert ha.share_discounted_orders == pytest.approx(2 / 3)
    assert ha.avg_discount_depth == pytest.approx((20 / 120 + 0 / 80) / 2)
    assert (ha.top_channel, ha.top_channel_share, ha.top_payment_method) == ("app", pytest.approx(2 / 3), "alipay")
    assert (ha.peak_hour, ha.peak_weekday, ha.channel_count) == (23, 6, 2)
    assert ha.share_refunded_orders == pytest.approx(1 / 4)
    # b: one purchase, cancelled by a credit note: every order placed was cancelled.
    assert habits.loc["b"].share_refunded_orders == 1.0


def test_habits_read_coded_orders_and_are_null_past_the_counters(ibis_con: Any, monkeypatch: Any) -> None:
    from huaxiang.features import habits as habits_module

    t = ibis.memtable(_hand_orders())
    plain = ibis_con.execute(compute_habits(t)).set_index("person_id").sort_index()
    coded = ibis_con.execute(compute_habits(habits_module.coded_enums(t))).set_index("person_id").sort_index()
    pd.testing.assert_frame_equal(plain, coded)
    # A person with as many purchases as a histogram counter holds gets NULL, never a wrong
    # value: with counters of one bit, a (3 purchases) is past them, b (1 purchase) is not.
    monkeypatch.setattr(habits_module, "LANE_LIMIT", 2)
    small = ibis_con.execute(compute_habits(t)).set_index("person_id")
    columns = ["peak_hour", "peak_weekday", "peak_month", "top_channel", "top_payment_method", "share_app",
               "channel_count"]
    assert small.loc["a", columns].isna().all()
    assert small.loc["b", columns].tolist() == plain.loc["b", columns].tolist()
    assert small.loc["a", "share_night_orders"] == plain.loc["a", "share_night_orders"]


def test_credit_notes_count_on_later_purchase_days_only(ibis_con: Any) -> None:
    # c buys on the 1st (100), 5th (60) and 9th (40); credit notes on the 1st (-5, the first
    # purchase day: not a repeat), the 5th (-10: that day is worth 50) and the 7th (-7: no
    # purchase that day, so no transaction of its own).
    orders = pd.DataFrame({
        "person_id": ["c"] * 6,
        "order_ts": pd.to_datetime(["2024-03-01 10:00", "2024-03-05 10:00", "2024-03-09 10:00",
                                    "2024-03-01 18:00", "2024-03-05 18:00", "2024-03-07 12:00"]),
        "amount": [100.0, 60.0, 40.0, -5.0, -10.0, -7.0],
        "status": ["paid", "paid", "paid", "refunded", "refunded", "cancelled"],
    })
    sale = orders["status"].isin(["paid", "pending"])
    orders["is_purchase"] = sale
    orders["net_amount"] = orders["amount"].where(sale | (orders["amount"] < 0), 0.0)
    c = ibis_con.execute(compute_rfm(ibis.memtable(orders), as_of=datetime(2024, 3, 21))).iloc[0]
    assert (c["frequency"], c["recency"], c["T"]) == (2, 8.0, 19.0)
    assert c["monetary_value"] == pytest.approx((50.0 + 40.0) / 2)
    assert c["spend_total"] == pytest.approx(200.0 - 22.0)
    assert (c["repurchase_interval_days"], c["repurchase_interval_cv"]) == (4.0, 0.0)
