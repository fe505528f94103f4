"""The ``segments:`` section: defaults, and every error names the key and the fix."""

from __future__ import annotations

from pathlib import Path

import ibis
import pytest

from huaxiang.engine import create_engine
from huaxiang.errors import ConfigError
from huaxiang.segments.rfm import compute_rfm_segments
from huaxiang.segments.settings import DEFAULT_CLUSTER_FEATURES, parse_settings


def test_defaults() -> None:
    s = parse_settings(None)
    assert s.rfm.bins == 5 and s.rfm.frequency == "orders_total" and s.cells.split == "mean"
    assert [r.id for r in s.rfm_map][-1] == "hibernating" and len(s.rfm_map) == 11
    assert s.clusters.k == "auto" and (s.clusters.k_min, s.clusters.k_max) == (3, 8)
    features = s.clusters.feature_list()
    assert features == list(DEFAULT_CLUSTER_FEATURES) and 8 <= len(features) <= 12
    assert s.clusters.log_list(features) == ["recency_days", "orders_total", "spend_total", "avg_order_value",
                                             "category_breadth"]


@pytest.mark.parametrize(("raw", "message"), [
    ({"clusterz": {}}, r"segments\.clusterz: unknown key; remove it or check its spelling \(did you mean clusters\? "
                       r"valid keys: rfm, rfm_map, cells, clusters, personas\)"),
    ({"cells": {"split": "mode"}}, r"segments\.cells\.split: Input should be 'mean' or 'median' \(fix: give cells"),
    ({"clusters": {"k": 1}}, r"segments\.clusters\.k: k must be auto or at least 2, got 1 \(fix: see the clusters keys"),
    ({"rfm_map": [{"id": "a", "name_zh": "甲", "name_en": "A", "f": [5, 4]}]},
     r"segments\.rfm_map\[0\] \(a\)\.f: low score 5 is above high score 4"),
    ({"rfm_map": [{"id": "a", "name_zh": "甲", "name_en": "A"}, {"id": "a", "name_zh": "乙", "name_en": "B"}]},
     r"segments\.rfm_map: segment ids listed twice: a"),
    ({"rfm_map": [{"id": "others", "name_zh": "甲", "name_en": "A"}]}, r"others is reserved"),
    ({"rfm_map": [{"id": "a", "name_zh": "甲"}]}, r"segments\.rfm_map\[0\] \(a\)\.name_en: required key is missing; add it"),
    ({"rfm_map": [{"id": "a", "name_zh": "甲", "name_en": "A", "m": [0, 2]}, ]},
     r"segments\.rfm_map\[0\] \(a\)\.m: scores run from 1 to 5, got \[0, 2\] \(fix: give a score or \[low, high\]"),
])
def test_errors_name_key_and_fix(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(raw)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"cells": {"split": "x"}, "personas": {"top_features": 0}})
    assert "segments.cells.split" in str(err.value) and "segments.personas.top_features" in str(err.value)


def test_rfm_column_missing_from_features() -> None:
    f = ibis.memtable({"person_id": ["a"], "recency_days": [1.0], "orders_total": [1], "spend_total": [2.0]})
    with pytest.raises(ConfigError, match=r"segments\.rfm\.monetary \(net_spend\): the features table has no such "
                                          r"column \(fix: name one of its numeric columns"):
        compute_rfm_segments(create_engine("duckdb"), f, {"rfm": {"monetary": "net_spend"}})


@pytest.mark.parametrize(("features", "message"), [
    (["spend_total", "share_vr"], r"segments\.clusters\.features: share_vr not in the features table \(fix: use "
                                  r"numeric features it has"),
    (["spend_total", "top_channel"], r"segments\.clusters\.features: top_channel are not numeric \(fix: cluster on "
                                     r"numeric features"),
])
def test_cluster_features_must_be_numeric_columns(features: list[str], message: str, tmp_path: Path) -> None:
    from huaxiang.config import WorkspaceConfig
    from huaxiang.pipeline import StageContext
    from huaxiang.segments.stage import run_segments

    eng = create_engine("duckdb")
    eng.materialize("features", ibis.memtable({"person_id": ["a"], "recency_days": [1.0], "orders_total": [1],
                                               "spend_total": [2.0], "top_channel": ["app"]}))
    config = WorkspaceConfig.model_validate({"segments": {"clusters": {"features": features}}})
    with pytest.raises(ConfigError, match=message):
        run_segments(StageContext(engine=eng, config=config, workspace_dir=tmp_path, data_dir=tmp_path))
