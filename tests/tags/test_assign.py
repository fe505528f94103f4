"""assign_tags: every rule over a features table, groups exclusive, incremental equals full."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from huaxiang.errors import RuleError
from huaxiang.tags.assign import assign_tags
from huaxiang.tags.specs import TagSpec, builtin_specs

FEATURES = pd.DataFrame({
    "person_id": ["a", "b", "c", "d"],
    "spend_365d": [8000.0, 1500.0, 20.0, None],
    "share_night_orders": [0.8, 0.1, 0.6, 0.9],
    "orders_total": pd.array([10, 3, 1, None], dtype="Int64"),
    "top_channel": ["app", "store", "app", None],
})


def _spec(id: str, rule: str, **kw: Any) -> TagSpec:
    return TagSpec(id=id, name_zh=id, name_en=id, rule=rule, **kw)


SPECS = [
    _spec("tier_high", "spend_365d >= 5000", group="tier", priority=3),
    _spec("tier_mid", "spend_365d >= 1000", group="tier", priority=2),
    _spec("tier_low", "spend_365d > 0", group="tier", priority=1),
    _spec("night_owl", "orders_total >= 3 and share_night_orders >= 0.5"),
    _spec("app_user", "top_channel = 'app'"),
    _spec("off", "orders_total > 0", enabled=False),
]


def _rows(table: Any) -> list[tuple[str, str, str]]:
    frame = table.to_pandas().sort_values(["person_id", "tag_id"])
    return [tuple(r) for r in frame[["person_id", "tag_id", "reason"]].itertuples(index=False)]


def test_assign_tags_with_groups_and_reasons(ibis_con: Any) -> None:
    t = ibis_con.create_table("features_assign", FEATURES, overwrite=True)
    assert _rows(assign_tags(t, SPECS)) == [
        ("a", "app_user", "top_channel = 'app'"),
        ("a", "night_owl", "orders_total = 10 ≥ 3; share_night_orders = 0.8 ≥ 0.5"),
        ("a", "tier_high", "spend_365d = 8000.0 ≥ 5000"),
        ("b", "tier_mid", "spend_365d = 1500.0 ≥ 1000"),
        ("c", "app_user", "top_channel = 'app'"),
        ("c", "tier_low", "spend_365d = 20.0 > 0"),
    ]


def test_group_ties_go_to_the_smaller_id() -> None:
    import ibis

    t = ibis.memtable(FEATURES)
    specs = [_spec("zz", "spend_365d > 0", group="g"), _spec("aa", "spend_365d > 100", group="g")]
    assert {(p, tag) for p, tag, _ in _rows(assign_tags(t, specs))} == {("a", "aa"), ("b", "aa"), ("c", "zz")}


def test_incremental_equals_full_for_the_given_persons(ibis_con: Any) -> None:
    t = ibis_con.create_table("features_incr", FEATURES, overwrite=True)
    full = _rows(assign_tags(t, SPECS))
    for ids in (["a"], ["b", "c"], ["d"], ["a", "b", "c", "d"]):
        part = _rows(assign_tags(t, SPECS, person_ids=ids))
        assert part == [r for r in full if r[0] in ids]


def test_no_specs_gives_an_empty_table_with_the_columns() -> None:
    import ibis

    out = assign_tags(ibis.memtable(FEATURES), [])
    assert out.columns == ("person_id", "tag_id", "reason")
    assert out.count().execute() == 0


def test_unknown_column_is_a_rule_error() -> None:
    import ibis

    with pytest.raises(RuleError, match="unknown feature 'churn_prob' at character 1"):
        assign_tags(ibis.memtable(FEATURES), [_spec("x", "churn_prob > 0.5")])


def test_builtin_library_compiles_on_a_features_table_with_every_contract_column(ibis_con: Any) -> None:
    from huaxiang.tags.library import FEATURE_NAMES

    text = {"person_id", "gender", "age_band", "region", "city", "city_tier", "occupation", "member_level",
            "top_category", "top_brand", "top_payment_method", "top_channel", "lifecycle_stage", "entry_channel"}
    times = {"as_of", "first_order_ts", "last_order_ts"}
    row: dict[str, Any] = {}
    for name in FEATURE_NAMES:
        row[name] = ["p1"] if name == "person_id" else ["x"] if name in text else (
            [pd.Timestamp("2025-01-01")] if name in times else [1.0])
    t = ibis_con.create_table("features_builtin", pd.DataFrame(row), overwrite=True)
    frame = assign_tags(t, builtin_specs()).to_pandas()
    assert set(frame.person_id) <= {"p1"}
    assert "value_low" in set(frame.tag_id) and "value_mid" not in set(frame.tag_id)
