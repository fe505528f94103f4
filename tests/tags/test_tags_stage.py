"""The tags stage: current tags with reasons, history (valid_from/valid_to) and trend over builds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from huaxiang.config import WorkspaceConfig
from huaxiang.engine import create_engine
from huaxiang.errors import RuleError
from huaxiang.pipeline import StageContext, stage_names
from huaxiang.tags.stage import run_tags

TAGS = {"builtin": False, "define": [
    {"id": "night_owl", "name_zh": "夜猫子", "name_en": "Night owl", "rule": "share_night_orders >= 0.5"},
    {"id": "big", "name_zh": "大客户", "name_en": "Big spender", "rule": "spend_365d >= 5000",
     "group": "tier", "priority": 2},
    {"id": "small", "name_zh": "小客户", "name_en": "Small spender", "rule": "spend_365d > 0",
     "group": "tier", "priority": 1},
]}


def _features(as_of: str, night: list[float | None], spend: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame({"person_id": ["a", "b", "c"], "as_of": pd.to_datetime([as_of] * 3),
                         "share_night_orders": night, "spend_365d": spend})


@pytest.fixture
def engine(engine_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    options: dict[str, Any] = {}
    if engine_name == "spark":
        options["session"] = request.getfixturevalue("spark_session")
    eng = create_engine(engine_name, workspace_dir=tmp_path, **options)
    yield eng
    eng.close()


def _build(engine: Any, tmp_path: Path, features: pd.DataFrame, tags: dict[str, Any] | None = None) -> Any:
    engine.materialize("features", ibis.memtable(features))
    config = WorkspaceConfig.model_validate({"tags": tags if tags is not None else TAGS})
    return run_tags(StageContext(engine=engine, config=config, workspace_dir=tmp_path, data_dir=tmp_path))


def _history(engine: Any) -> list[tuple[str, str, str, str]]:
    frame = engine.execute(engine.table("tags"))
    rows = [(r.person_id, r.tag_id, str(pd.Timestamp(r.valid_from).date()),
             "" if pd.isna(r.valid_to) else str(pd.Timestamp(r.valid_to).date())) for r in frame.itertuples()]
    return sorted(rows)


def test_tags_stage_is_registered_after_features() -> None:
    names = stage_names()
    assert "tags" in names
    if "features" in names:
        assert names.index("tags") == names.index("features") + 1


def test_history_opens_keeps_and_closes_tags_across_builds(engine: Any, tmp_path: Path) -> None:
    # build 1: a is a night owl and big; b small; c nothing
    r1 = _build(engine, tmp_path, _features("2025-01-01", [0.8, 0.1, None], [8000.0, 100.0, None]))
    assert r1.tables["person_tags"] == 3 and r1.details["persons_per_tag"] == {"night_owl": 1, "big": 1, "small": 1}
    # build 2: a stops being a night owl, b becomes one and moves up to big, a stays big
    _build(engine, tmp_path, _features("2025-02-01", [0.2, 0.9, None], [9000.0, 6000.0, None]))
    # build 3: a becomes a night owl again
    _build(engine, tmp_path, _features("2025-03-01", [0.7, 0.9, None], [9000.0, 6000.0, None]))
    assert _history(engine) == [
        ("a", "big", "2025-01-01", ""),                    # unchanged: untouched
        ("a", "night_owl", "2025-01-01", "2025-02-01"),    # disappeared: closed
        ("a", "night_owl", "2025-03-01", ""),              # came back: a new row
        ("b", "big", "2025-02-01", ""),
        ("b", "night_owl", "2025-02-01", ""),
        ("b", "small", "2025-01-01", "2025-02-01"),
    ]
    current = engine.execute(engine.table("person_tags")).sort_values(["person_id", "tag_id"])
    assert current[["person_id", "tag_id", "name_zh", "name_en"]].values.tolist() == [
        ["a", "big", "大客户", "Big spender"], ["a", "night_owl", "夜猫子", "Night owl"],
        ["b", "big", "大客户", "Big spender"], ["b", "night_owl", "夜猫子", "Night owl"]]
    assert current.reason.tolist() == ["spend_365d = 9000.0 ≥ 5000", "share_night_orders = 0.7 ≥ 0.5",
                                       "spend_365d = 6000.0 ≥ 5000", "share_night_orders = 0.9 ≥ 0.5"]
    assert [str(pd.Timestamp(v).date()) for v in current.since] == [
        "2025-01-01", "2025-03-01", "2025-02-01", "2025-02-01"]
    trend = engine.execute(engine.table("tag_trend"))
    night = trend[trend.tag_id == "night_owl"].sort_values("as_of")
    assert night.persons.tolist() == [1, 1, 2]
    assert trend.groupby("tag_id").size().to_dict() == {"big": 3, "night_owl": 3, "small": 3}
    assert trend[trend.tag_id == "small"].sort_values("as_of").persons.tolist() == [1, 0, 0]


def test_rebuilding_the_same_features_changes_no_history(engine: Any, tmp_path: Path) -> None:
    f = _features("2025-01-01", [0.8, 0.1, None], [8000.0, 100.0, None])
    _build(engine, tmp_path, f)
    before = _history(engine)
    _build(engine, tmp_path, f)
    assert _history(engine) == before


def test_a_removed_tag_is_closed(engine: Any, tmp_path: Path) -> None:
    _build(engine, tmp_path, _features("2025-01-01", [0.8, 0.1, None], [8000.0, 100.0, None]))
    fewer = {"builtin": False, "define": TAGS["define"][1:]}
    _build(engine, tmp_path, _features("2025-02-01", [0.8, 0.1, None], [8000.0, 100.0, None]), fewer)
    assert ("a", "night_owl", "2025-01-01", "2025-02-01") in _history(engine)


def test_workspace_tag_naming_a_missing_feature_fails(tmp_path: Path) -> None:
    eng = create_engine("duckdb")
    tags = {"define": [{"id": "x", "name_zh": "x", "name_en": "x", "rule": "share_app >= 0.5"}]}
    eng.materialize("features", ibis.memtable(_features("2025-01-01", [0.8, 0.1, None], [1.0, 2.0, 3.0])))
    config = WorkspaceConfig.model_validate({"tags": tags})
    with pytest.raises(RuleError, match=r"tags x \(features lack share_app\) name features the features table "
                                        r"lacks; its columns: person_id, as_of"):
        run_tags(StageContext(engine=eng, config=config, workspace_dir=tmp_path, data_dir=tmp_path))


def test_builtin_tags_without_their_features_are_skipped_and_reported(tmp_path: Path) -> None:
    eng = create_engine("duckdb")
    eng.materialize("features", ibis.memtable(_features("2025-01-01", [0.8, 0.1, None], [8000.0, 2.0, None])))
    result = run_tags(StageContext(engine=eng, config=WorkspaceConfig(), workspace_dir=tmp_path,
                                   data_dir=tmp_path))
    assert result.details["skipped"]["night_owl"] == "features lack orders_total"
    assert result.details["persons_per_tag"] == {"value_high": 1, "value_low": 1}
    assert result.details["as_of"] == str(datetime(2025, 1, 1))


def test_refresh_of_some_persons_equals_a_full_rebuild(engine_name: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    from huaxiang.tags.specs import resolve_tag_specs
    from huaxiang.tags.stage import refresh_tags

    options: dict[str, Any] = {}
    if engine_name == "spark":
        options["session"] = request.getfixturevalue("spark_session")
    first = _features("2025-01-01", [0.8, 0.1, 0.6], [8000.0, 100.0, None])
    # only b changes: becomes a night owl and a big spender
    second = _features("2025-02-01", [0.8, 0.9, 0.6], [8000.0, 7000.0, None])
    results = []
    for mode in ("full", "incremental"):
        (tmp_path / mode).mkdir()
        eng = create_engine(engine_name, workspace_dir=tmp_path / mode, **options)
        _build(eng, tmp_path, first)
        if mode == "full":
            _build(eng, tmp_path, second)
        else:
            eng.materialize("features", ibis.memtable(second))
            got = refresh_tags(eng, resolve_tag_specs(TAGS), ["b"]).to_pandas()
            assert sorted(got.tag_id) == ["big", "night_owl"]
        current = eng.execute(eng.table("person_tags")).drop(columns=["as_of"])
        results.append((_history(eng), current.sort_values(["person_id", "tag_id"]).reset_index(drop=True)))
        eng.close()
    (full_history, full_current), (incr_history, incr_current) = results
    assert incr_history == full_history
    assert ("b", "small", "2025-01-01", "2025-02-01") in incr_history
    pd.testing.assert_frame_equal(incr_current, full_current)
