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
        "category": ["food/tea", "food/tea", None, None, "toys", "toys", None, "food"],
    }
)
EVENTS["visitor_id"] = EVENTS["person_id"]


def test_funnel_by_hand(ibis_con: Any) -> None:
    f = ibis_con.execute(population_funnel(ibis.memtable(EVENTS)))
    # view: a, b, c; cart: a, b (c never carted); order: a; pay: a; after_sale: nobody.
    assert f["step"].tolist() == ["view", "cart", "order", "pay", "after_sale"]
    assert f["persons"].tolist() == [3, 2, 1, 1, 0]
    # sessions: s1 goes all the way to pay; s2 view -> cart; s4 view; s3 has only an order.
    assert f["sessions"].tolist() == [3, 2, 1, 1, 0]
    assert f["session_conversion"].tolist()[1:3] == pytest.approx([2 / 3, 1 / 2])
    assert f["conversion"].tolist()[1:4] == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert f["median_seconds_from_previous"].tolist()[1:4] == pytest.approx([180.0, 120.0, 30.0])
    p = ibis_con.execute(compute_path(ibis.memtable(EVENTS))).set_index("person_id")
    assert p.loc["a", "view_to_cart_rate"] == 1.0 and p.loc["a", "entry_channel"] == "app"
    assert p.loc["c", "entry_channel"] == "web" and p.loc["c", "sessions"] == 2
    assert p.loc["c", "view_to_cart_rate"] == 0.0  # viewed, never carted
    assert (p.loc["a", "peak_active_hour"], p.loc["a", "peak_active_weekday"]) == (10, 0)  # 2024-01-01: Monday
    assert p.loc["c", "peak_active_hour"] == 8 and p.loc["a", "top_browsed_category"] == "food"
    assert p.loc["b", "top_browsed_category"] == "toys"


def test_funnel_order_and_split_by_hand(ibis_con: Any) -> None:
    # d carts before viewing, then views and carts again 5 minutes later: reaches cart at the second.
    extra = pd.DataFrame({
        "person_id": ["d", "d", "d"], "visitor_id": ["d", "d", "d"],
        "event_ts": pd.to_datetime(["2024-01-05 09:00", "2024-01-05 09:10", "2024-01-05 09:15"]),
        "event_type": ["add_to_cart", "product_view", "add_to_cart"], "channel": ["web"] * 3,
        "session_id": [None, None, None], "category": [None, None, None],
    })
    e = ibis.memtable(pd.concat([EVENTS, extra], ignore_index=True))
    steps = {"view": "product_view", "cart": ["add_to_cart", "favorite"]}
    f = ibis_con.execute(population_funnel(e, steps)).set_index("step")
    assert f.loc["cart", "persons"] == 3 and f.loc["cart", "event_types"] == "add_to_cart,favorite"
    # dwell: a 60 s, b 300 s, d 300 s -> median 300
    assert f.loc["cart", "median_seconds_from_previous"] == 300.0
    assert f.loc["cart", "sessions"] == 3  # s1, s2 and d's day-session
    by = ibis_con.execute(population_funnel(e, steps, by="channel"))
    got = {(r.channel, r.step): r.persons for r in by.itertuples()}
    # app: a views and carts; web: b, c, d view; b and d cart; mini_program: nobody views.
    assert got == {("app", "view"): 1, ("app", "cart"): 1, ("web", "view"): 3, ("web", "cart"): 2,
                   ("mini_program", "view"): 0, ("mini_program", "cart"): 0}


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
    last = raw.groupby(["user", "type"])["when"].max().unstack()
    viewers = first["pv"].notna()
    carters = viewers & last["cart"].notna() & (last["cart"] >= first["pv"])  # some cart after the first view
    funnel = ws.engine.execute(ws.table("funnel")).set_index("step")
    print(funnel.to_string())
    assert funnel.loc["view", "persons"] == int(viewers.sum())
    assert funnel.loc["cart", "persons"] == int(carters.sum())
    # pv -> fav or cart -> buy, each step at or after the previous one, by a plain loop per user.
    reach = [0, 0, 0]
    for _, g in raw.sort_values("when").groupby("user"):
        t = None
        for k, types in enumerate((["pv"], ["fav", "cart"], ["buy"])):
            hit = g[g["type"].isin(types) & ((g["when"] >= t) if t is not None else True)]
            if hit.empty:
                break
            t, reach[k] = hit["when"].iloc[0], reach[k] + 1
    steps = {"view": "product_view", "consider": ["favorite", "add_to_cart"], "buy": "order"}
    from huaxiang.features.stage import default_as_of, population_events

    events = population_events(ws.engine, as_of=default_as_of(ws.engine))
    custom = ws.engine.execute(population_funnel(events, steps))
    print(custom.to_string())
    assert custom["persons"].tolist() == reach
    # Hour-of-day, weekday and category peaks of each user's events, smallest on ties.
    def mode(column: pd.Series) -> Any:
        counts = column.value_counts()
        return min(counts[counts == counts.max()].index)

    raw["hour"], raw["weekday"] = raw["when"].dt.hour, raw["when"].dt.weekday
    want = raw.groupby("user").agg(hour=("hour", mode), weekday=("weekday", mode),
                                   cat=("cat", lambda c: mode(c.astype(str))))
    got = f.loc[want.index]
    assert (got["peak_active_hour"] == want["hour"]).all()
    assert (got["peak_active_weekday"] == want["weekday"]).all()
    assert (got["top_browsed_category"] == want["cat"]).all()
