"""Consumption path and population funnel: by hand, and on the real Taobao events against pandas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

import huaxiang
from huaxiang.features.behaviour import compute_path, population_funnel

EVENTS = pd.DataFrame(
    {
        "person_id": ["a", "a", "a", "a", "b", "b", "c", "c"],
        "event_ts": pd.to_datetime(["2024-01-01 10:00:00", "2024-01-01 10:01:00", "2024-01-01 10:03:00",
                                    "2024-01-01 10:03:30", "2024-01-02 09:00:00", "2024-01-02 09:05:00",
                                    "2024-01-03 08:00:00", "2024-01-02 08:00:00"]),
        "event_type": ["product_view", "add_to_cart", "order", "pay", "product_view", "add_to_cart",
                       "order", "product_view"],
        "channel": ["app", "app", "app", "app", "web", "web", "mini_program", "web"],
        "session_id": ["s1", "s1", "s1", "s1", "s2", "s2", "s3", "s4"],
    }
)


def test_funnel_by_hand(ibis_con: Any) -> None:
    f = ibis_con.execute(population_funnel(ibis.memtable(EVENTS)))
    # view: a, b, c; cart: a, b (c never carted); order: a; pay: a; after_sale: nobody.
    assert f["step"].tolist() == ["view", "cart", "order", "pay", "after_sale"]
    assert f["persons"].tolist() == [3, 2, 1, 1, 0]
    assert f["conversion"].tolist()[1:4] == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert f["median_seconds_from_previous"].tolist()[1:4] == pytest.approx([180.0, 120.0, 30.0])
    p = ibis_con.execute(compute_path(ibis.memtable(EVENTS))).set_index("person_id")
    assert p.loc["a", "view_to_cart_rate"] == 1.0 and p.loc["a", "entry_channel"] == "app"
    assert p.loc["c", "entry_channel"] == "web" and p.loc["c", "sessions"] == 2
    assert p.loc["c", "view_to_cart_rate"] == 0.0  # viewed, never carted


@pytest.mark.slow
def test_taobao_path_and_patterns_match_pandas(tmp_path: Path, shared_data: Path) -> None:
    huaxiang.Workspace.init(tmp_path / "tb", example="taobao", data=shared_data)
    ws = huaxiang.Workspace.open(tmp_path / "tb")
    report = ws.build(stages=["ingest", "clean", "features"])
    assert report.tables["features"] == 814  # published: 814 users
    raw = pd.read_csv(shared_data / "taobao" / "UserBehavior_sample.csv", header=None,
                      names=["user", "item", "cat", "type", "ts"])
    raw["when"] = pd.to_datetime(raw["ts"], unit="s") + pd.Timedelta(hours=8)
    raw = raw[(raw["when"] >= "2017-11-25") & (raw["when"] < "2017-12-04")]
    counts = raw.pivot_table(index="user", columns="type", values="item", aggfunc="count", fill_value=0)
    f = ws.engine.execute(ws.table("features")).set_index("person_id")
    f.index = f.index.str.removeprefix("taobao:").astype(int)
    joined = counts.join(f[["product_views", "add_to_carts", "order_events", "view_to_cart_rate"]], how="inner")
    assert len(joined) == 814
    assert (joined["pv"] == joined["product_views"]).all()
    assert (joined["cart"] == joined["add_to_carts"]).all()
    assert (joined["buy"] == joined["order_events"]).all()
    want_rate = (joined["cart"] / joined["pv"]).where(joined["pv"] > 0)
    assert ((want_rate - joined["view_to_cart_rate"]).abs().fillna(0) < 1e-12).all()
    # Population funnel view -> cart with order respected, computed independently.
    first = raw.groupby(["user", "type"])["when"].min().unstack()
    viewers = first["pv"].notna()
    carters = viewers & first["cart"].notna() & (first["cart"] >= first["pv"])
    funnel = ws.engine.execute(ws.table("funnel")).set_index("step")
    print(funnel.to_string())
    assert funnel.loc["view", "persons"] == int(viewers.sum())
    assert funnel.loc["cart", "persons"] == int(carters.sum())
