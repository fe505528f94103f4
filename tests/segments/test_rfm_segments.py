"""RFM scores, the segment map and the 8 cells, against hand-computed expectations."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest

from huaxiang.engine import create_engine
from huaxiang.segments.rfm import assign_rfm_segments, compute_rfm_segments
from huaxiang.segments.settings import DEFAULT_RFM_MAP

# Ten buyers p0..p9 and one person without a purchase (p10).
# R: recency 1..10 ranked descending; n - 1 = 9, score = floor(rank * 5 / 9) + 1 (at most 5):
#    ranks 9..0 -> 5 5 4 4 3 3 2 2 1 1.
# F: orders 1 1 1 1 2 2 3 5 8 13, minimum ranks 0 0 0 0 4 4 6 7 8 9 -> 1 1 1 1 3 3 4 4 5 5.
# M: spend ranks 4 0 8 2 6 1 9 3 5 7 -> 3 1 5 2 4 1 5 2 3 4.
FEATURES = pd.DataFrame({
    "person_id": [f"p{i}" for i in range(11)],
    "recency_days": [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, None],
    "orders_total": [1, 1, 1, 1, 2, 2, 3, 5, 8, 13, None],
    "spend_total": [50.0, 10, 90, 30, 70, 20, 100, 40, 60, 80, None],
})
R = [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
F = [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
M = [3, 1, 5, 2, 4, 1, 5, 2, 3, 4]
# First matching rule of DEFAULT_RFM_MAP, by hand:
SEGMENTS = ["new_customers", "new_customers", "new_customers", "new_customers",  # R4-5 F1
            "loyal_customers",     # R3 F3 M4: R2-5 F3-5 M3-5
            "potential_loyalist",  # R3 F3 M1: not loyal (M1), R3-5 M1-3
            "loyal_customers",     # R2 F4 M5
            "at_risk",             # R2 F4 M2: R1-2 F2-5 M2-5
            "at_risk",             # R1 F5 M3: not can't-lose (M3)
            "cant_lose_them",      # R1 F5 M4
            "no_purchase"]
# 8 cells against the buyers' means: recency 5.5, orders 3.7, spend 55.
CELLS_MEAN = ["general_development", "general_development", "important_development", "general_development",
              "important_development", "general_winback", "important_winback", "general_retention",
              "important_retention", "important_retention", "no_purchase"]


def _run(features: pd.DataFrame, settings: dict[str, Any] | None = None) -> Any:
    eng = create_engine("duckdb")
    res = compute_rfm_segments(eng, ibis.memtable(features), settings)
    return res, eng.execute(res.table).set_index("person_id").loc[features["person_id"]]


def test_scores_are_rank_quintiles_and_ties_share_a_score() -> None:
    _, out = _run(FEATURES)
    buyers = out.iloc[:10]
    assert buyers.rfm_r.astype(int).tolist() == R
    assert buyers.rfm_f.astype(int).tolist() == F
    assert buyers.rfm_m.astype(int).tolist() == M
    assert buyers.rfm_score.tolist() == [f"{r}{f}{m}" for r, f, m in zip(R, F, M, strict=True)]
    assert out.loc["p10", ["rfm_r", "rfm_f", "rfm_m", "rfm_score"]].isna().all()


def test_segment_is_the_first_matching_rule() -> None:
    _, out = _run(FEATURES)
    assert out.rfm_segment.tolist() == SEGMENTS
    assert out.loc["p9", "rfm_segment_zh"] == "不可流失客户"
    assert out.loc["p10", ["rfm_segment_zh", "rfm_segment_en"]].tolist() == ["未购买", "No purchase"]


@pytest.mark.parametrize(("scores", "segment"), [
    ((5, 5, 5), "champions"), ((1, 1, 1), "lost"), ((1, 1, 5), "hibernating"), ((1, 2, 5), "at_risk"), ((2, 2, 2), "need_attention"),
    ((2, 1, 1), "about_to_sleep"), ((3, 1, 5), "promising"), ((4, 5, 1), "potential_loyalist"),
    ((2, 5, 1), "others"),
])
def test_default_map_cells(scores: tuple[int, int, int], segment: str) -> None:
    t = ibis.memtable({"rfm_r": [scores[0]], "rfm_f": [scores[1]], "rfm_m": [scores[2]]})
    assert assign_rfm_segments(t, DEFAULT_RFM_MAP).execute().rfm_segment.tolist() == [segment]


def test_eight_cells_against_mean_and_median() -> None:
    res, out = _run(FEATURES)
    assert res.centres == pytest.approx({"recency": 5.5, "frequency": 3.7, "monetary": 55.0})
    assert out.rfm_cell.tolist() == CELLS_MEAN
    assert out.loc["p8", ["rfm_cell_zh", "rfm_cell_en"]].tolist() == ["重要保持客户", "Important retention customers"]
    # median orders = 2: p6 (3 orders) becomes frequent -> important_retention
    res, out = _run(FEATURES, {"cells": {"split": "median"}})
    assert res.centres == pytest.approx({"recency": 5.5, "frequency": 2.0, "monetary": 55.0})
    expected = list(CELLS_MEAN)
    expected[6] = "important_retention"
    assert out.rfm_cell.tolist() == expected


def test_edited_map_from_config() -> None:
    settings = {"rfm": {"frequency": "orders_total"}, "rfm_map": [
        {"id": "recent", "name_zh": "近期", "name_en": "Recent", "r": [4, 5]},
        {"id": "big", "name_zh": "大户", "name_en": "Big", "m": 5},
    ]}
    _, out = _run(FEATURES, settings)
    # R 4-5: p0..p3; then M 5: p6 (p2 is already recent); the rest match nothing
    assert out.rfm_segment.tolist() == ["recent"] * 4 + ["others", "others", "big", "others", "others", "others",
                                                         "no_purchase"]
    assert out.loc["p6", "rfm_segment_zh"] == "大户"
    assert out.loc["p4", "rfm_segment_en"] == "Others"


def test_three_bins_and_frequency_column() -> None:
    f = FEATURES.assign(frequency=[0, 0, 0, 0, 1, 1, 2, 4, 7, 12, None])
    three = [{"id": "recent", "name_zh": "近期", "name_en": "Recent", "r": 3},
             {"id": "often", "name_zh": "常买", "name_en": "Often", "f": [3, 3]}]
    _, out = _run(f, {"rfm": {"bins": 3, "frequency": "frequency"}, "rfm_map": three})
    # n - 1 = 9, score = floor(rank * 3 / 9) + 1: recency ranks 9..0 -> 3 3 3 3 2 2 2 1 1 1
    assert out.rfm_r.iloc[:10].astype(int).tolist() == [3, 3, 3, 3, 2, 2, 2, 1, 1, 1]
    # frequency minimum ranks 0 0 0 0 4 4 6 7 8 9 -> 1 1 1 1 2 2 3 3 3 3
    assert out.rfm_f.iloc[:10].astype(int).tolist() == [1, 1, 1, 1, 2, 2, 3, 3, 3, 3]
    assert out.rfm_segment.tolist() == ["recent"] * 4 + ["others"] * 2 + ["often"] * 4 + ["no_purchase"]
