"""Top-k ranking metrics and time splits, checked by hand on tiny fixtures."""

from __future__ import annotations

import pandas as pd
import pytest

from huaxiang.errors import SchemaError
from huaxiang.models.ranking import (
    average_precision_at_k,
    map_at_k,
    precision_at_k,
    recall_at_k,
    score_recommendations,
    time_split,
    user_time_split,
)


def test_precision_recall_ap_by_hand() -> None:
    recommended = ["a", "b", "c", "d", "e"]
    relevant = {"b", "d", "x", "y"}
    # hits at ranks 2 and 4
    assert precision_at_k(recommended, relevant, k=5) == pytest.approx(2 / 5)
    assert precision_at_k(recommended, relevant, k=2) == pytest.approx(1 / 2)
    assert recall_at_k(recommended, relevant, k=5) == pytest.approx(2 / 4)
    assert recall_at_k(recommended, relevant, k=3) == pytest.approx(1 / 4)
    # AP@5 = (1/2 + 2/4) / min(5, 4)
    assert average_precision_at_k(recommended, relevant, k=5) == pytest.approx((0.5 + 0.5) / 4)
    # AP@2 = (1/2) / min(2, 4)
    assert average_precision_at_k(recommended, relevant, k=2) == pytest.approx(0.25)


def test_perfect_and_empty_lists() -> None:
    assert precision_at_k(["a", "b"], {"a", "b"}, k=2) == 1.0
    assert average_precision_at_k(["a", "b"], {"a", "b"}, k=2) == 1.0
    assert average_precision_at_k(["a"], {"a"}, k=10) == 1.0  # min(k, |relevant|) = 1
    assert precision_at_k([], {"a"}, k=3) == 0.0
    assert recall_at_k(["a"], set(), k=3) == 0.0
    assert average_precision_at_k(["a"], set(), k=3) == 0.0


def test_a_repeated_item_is_a_hit_once() -> None:
    assert precision_at_k(["a", "a", "b"], {"a"}, k=3) == pytest.approx(1 / 3)
    assert average_precision_at_k(["a", "a"], {"a", "z"}, k=2) == pytest.approx(1 / 2)


def test_map_averages_users() -> None:
    # user 1: hit at rank 2 of 2, one relevant -> AP 1/2; user 2: hits at 1 and 2 of 3 relevant -> AP 1
    assert map_at_k([["a", "b"], ["x", "y"]], [{"b"}, {"x", "y", "z"}], k=2) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="2 recommendation lists for 1 relevant sets"):
        map_at_k([["a"], ["b"]], [{"a"}], k=2)
    with pytest.raises(ValueError, match="k must be at least 1"):
        precision_at_k(["a"], {"a"}, k=0)


def test_score_recommendations_matches_the_per_user_functions() -> None:
    recs = pd.DataFrame({
        "user": [1, 1, 1, 2, 2, 2, 4],
        "rank": [3, 1, 2, 1, 2, 3, 1],  # unsorted on purpose
        "item": ["c", "a", "b", "q", "x", "x", "a"],
    })
    test = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3], "item": ["c", "z", "x", "x", "a", "b"]})
    lists = {1: ["a", "b", "c"], 2: ["q", "x", "x"], 3: []}
    truth = {1: {"c", "z"}, 2: {"x"}, 3: {"a", "b"}}
    got = score_recommendations(recs, test, k=3)
    assert got["n"] == 3  # user 4 has no test item: not evaluated; user 3 has no recommendation: scores 0
    for name, fn in (("precision@3", precision_at_k), ("recall@3", recall_at_k),
                     ("map@3", average_precision_at_k)):
        expected = sum(fn(lists[u], truth[u], 3) for u in truth) / 3
        assert got[name] == pytest.approx(expected), name
    # by hand: precision (1/3 + 1/3 + 0) / 3; recall (1/2 + 1 + 0) / 3; AP (1/3 / 2 + 1/2 / 1 + 0) / 3
    assert got["precision@3"] == pytest.approx(2 / 9)
    assert got["recall@3"] == pytest.approx(0.5)
    assert got["map@3"] == pytest.approx((1 / 6 + 1 / 2) / 3)
    empty = score_recommendations(recs, test.iloc[0:0], k=3)
    assert empty == {"precision@3": 0.0, "recall@3": 0.0, "map@3": 0.0, "n": 0}


def test_time_splits() -> None:
    f = pd.DataFrame({"user": [1, 1, 1, 2], "item": list("abca"),
                      "ts": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-09", "2024-01-05"])})
    train, test = time_split(f, "2024-01-05")
    assert train["item"].tolist() == ["a"] and sorted(test["item"]) == ["a", "b", "c"]
    with pytest.raises(SchemaError, match="needs a 'ts' column"):
        time_split(f.drop(columns="ts"), "2024-01-05")
    train, test = user_time_split(f, 0.34, min_rows=3)
    assert test["item"].tolist() == ["c"]  # user 1's latest third; user 2 too short, all train
    assert len(train) == 3
