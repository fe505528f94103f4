"""Persona cards name the features that set a planted group apart; tree rules explain clusters."""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from huaxiang.engine import create_engine
from huaxiang.segments.personas import explain_clusters, name_group, persona_cards


@pytest.fixture(scope="module")
def planted() -> dict[str, pd.DataFrame]:
    """400 persons: group 1 (first 100) young app users on discount, everyone else older store buyers."""
    rng = np.random.default_rng(0)
    n, g = 400, 100
    young = np.arange(n) < g
    ids = [f"p{i:03d}" for i in range(n)]
    features = pd.DataFrame({
        "person_id": ids,
        "age": np.where(young, rng.normal(23, 2, n), rng.normal(50, 8, n)),
        "share_app": np.where(young, rng.uniform(0.8, 1.0, n), rng.uniform(0.0, 0.2, n)),
        "share_discounted_orders": np.where(young, rng.uniform(0.6, 0.9, n), rng.uniform(0.0, 0.3, n)),
        "orders_total": rng.integers(1, 10, n).astype(float),   # same for everyone
        "share_night_orders": rng.uniform(0.0, 0.2, n),         # same for everyone
        "top_channel": np.where(young, "app", "store"),
        "top_payment_method": np.where(young, "alipay", "wechat_pay"),
        "peak_hour": np.where(young, 21, 10),
    })
    segments = pd.DataFrame({"person_id": ids, "cluster_id": np.where(young, 1, 2)})
    tags = pd.DataFrame({"person_id": [*ids[:g], ids[g], ids[g + 1]], "tag_id": "mobile_first",
                         "name_zh": "移动端偏好", "name_en": "Mobile-first"})
    prefs = pd.DataFrame({"person_id": [*ids[:g], *ids[:g], *ids[g:]],
                          "category": ["美妆"] * g + ["零食"] * g + ["家电"] * (n - g),
                          "spend": [300.0] * g + [100.0] * g + [500.0] * (n - g)})
    return {"features": features, "segments": segments, "tags": tags, "prefs": prefs}


@pytest.fixture(scope="module")
def cards(planted: dict[str, pd.DataFrame]) -> pd.DataFrame:
    eng = create_engine("duckdb")
    return persona_cards(eng, ibis.memtable(planted["segments"]), ibis.memtable(planted["features"]),
                         person_tags=ibis.memtable(planted["tags"]), category_pref=ibis.memtable(planted["prefs"]),
                         kinds=["cluster_id"]).set_index("key")


def test_card_names_the_planted_features(cards: pd.DataFrame) -> None:
    card = cards.loc["1"]
    assert (card["kind"], card["size"], card["share"]) == ("cluster", 100, 0.25)
    top = {e["feature"]: e for e in json.loads(card["top_features"])}
    assert set(top) == {"age", "share_app", "share_discounted_orders"}  # the planted differences only
    assert top["age"]["z"] < -1 and top["share_app"]["z"] > 1 and top["share_discounted_orders"]["z"] > 1
    assert 21 < top["age"]["value"] < 25 and 40 < top["age"]["population"] < 45
    assert card["name_zh"] == "年轻移动端促销敏感型"
    assert card["name_en"] == "Young mobile promotion-sensitive"
    assert cards.loc["2", ["name_zh", "name_en"]].tolist() == ["年长型", "Senior"]  # low shares have no word


def test_card_habits_tags_and_basket(cards: pd.DataFrame) -> None:
    card = cards.loc["1"]
    assert (card["top_channel"], card["top_payment_method"], card["peak_hour"]) == ("app", "alipay", 21)
    tags = json.loads(card["top_tags"])
    # 100 of 100 in the group, 102 of 400 overall: lift 1 / 0.255
    assert tags == [{"tag_id": "mobile_first", "name_zh": "移动端偏好", "name_en": "Mobile-first", "share": 1.0,
                     "lift": round(1 / 0.255, 3)}]
    assert json.loads(card["top_categories"]) == [{"category": "美妆", "share": 0.75}, {"category": "零食", "share": 0.25}]
    assert json.loads(cards.loc["2", "top_tags"]) == []  # 2 of 300: no lift
    assert "年轻" in card["description_zh"] and "美妆（75%）" in card["description_zh"]
    assert card["description_en"].startswith("Young mobile promotion-sensitive: 100 persons (25.0%).")


def test_tree_rules_explain_the_planted_group(planted: dict[str, pd.DataFrame]) -> None:
    f = planted["features"]
    labels = planted["segments"]["cluster_id"].to_numpy()
    rules = explain_clusters(f, labels, ["orders_total", "share_night_orders", "share_app", "age"])
    assert rules[1]["precision"] == 1.0 and rules[1]["recall"] == 1.0
    feature, op, _ = rules[1]["rules"].split(" ")
    assert feature in ("share_app", "age") and " and " not in rules[1]["rules"]
    assert op == (">" if feature == "share_app" else "<=")


def test_name_group_skips_weak_and_unnamed_effects() -> None:
    assert name_group([("age", 0.1), ("share_web", -3.0)]) == ("普通型", "Average")
    assert name_group([("orders_total", 1.0), ("orders_365d", 0.9), ("recency_days", -0.5)]) == (
        "近期活跃高频型", "Recently active frequent")


def test_cards_show_labelled_means_and_medians(cards: pd.DataFrame, planted: dict[str, pd.DataFrame]) -> None:
    f = planted["features"].merge(planted["segments"], on="person_id")
    group = f[f["cluster_id"] == 1]
    top = {e["feature"]: e for e in json.loads(cards.loc["1", "top_features"])}
    for feature, e in top.items():  # independent: pandas on the planted frame
        assert e["mean"] == pytest.approx(group[feature].mean(), abs=1e-4)
        assert e["median"] == pytest.approx(group[feature].median(), abs=1e-4)
        assert e["population_mean"] == pytest.approx(f[feature].mean(), abs=1e-4)
        assert e["population_median"] == pytest.approx(f[feature].median(), abs=1e-4)
    age = top["age"]
    assert f"age mean {age['mean']:.3g}, median {age['median']:.3g}; everyone: mean" in cards.loc["1", "description_en"]
    assert "age 均值" in cards.loc["1", "description_zh"] and "总体均值" in cards.loc["1", "description_zh"]


def test_spend_without_a_category_is_never_named(planted: dict[str, pd.DataFrame]) -> None:
    # Online Retail's lines have no categories: their spend sits under "unknown"
    prefs = planted["prefs"].copy()
    prefs.loc[prefs["category"] == "家电", "category"] = "unknown"
    eng = create_engine("duckdb")
    cards = persona_cards(eng, ibis.memtable(planted["segments"]), ibis.memtable(planted["features"]),
                          category_pref=ibis.memtable(prefs), kinds=["cluster_id"]).set_index("key")
    assert json.loads(cards.loc["2", "top_categories"]) == []
    assert "unknown" not in cards.loc["2", "description_en"] and "Buy mostly" not in cards.loc["2", "description_en"]
    assert json.loads(cards.loc["1", "top_categories"])[0] == {"category": "美妆", "share": 0.75}
