"""Tag specs: the built-in library, the ``tags:`` section, errors collected with key and fix."""

from __future__ import annotations

import re

import pytest

from huaxiang.errors import ConfigError
from huaxiang.tags.library import BUILTIN_TAGS, FEATURE_NAMES
from huaxiang.tags.rules import parse_rule
from huaxiang.tags.specs import TagSpec, builtin_specs, resolve_tag_specs

MARKETER_TAGS = {
    "high_value", "churn_risk", "price_sensitive", "promotion_sensitive", "high_price_preference",
    "loyal_repurchaser", "payday_shopper", "night_owl", "new_customer", "sleeping", "omnichannel",
    "weekend_shopper", "festival_shopper", "mobile_first", "store_first", "high_returns", "complainer",
    "happy_reviewer", "browser_not_buyer", "cart_abandoner", "value_high", "value_mid", "value_low",
}


def test_contract_feature_names_match_docs() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md").read_text(encoding="utf-8")
    section = text.split("## features", 1)[1].split("A `feature_catalog`", 1)[0]
    section = section.split("with at least these columns", 1)[1]
    documented = set(re.findall(r"\b([A-Za-z][A-Za-z0-9_]*)\b", re.sub(r"\([^)]*\)", " ", section)))
    assert set(FEATURE_NAMES) <= documented
    assert {"share_night_orders", "repurchase_interval_cv", "price_tier_index", "T"} <= set(FEATURE_NAMES)


def test_builtin_library_covers_what_a_marketer_expects_in_both_languages() -> None:
    specs = builtin_specs()
    ids = [s.id for s in specs]
    assert len(ids) == len(set(ids))
    assert set(ids) >= MARKETER_TAGS
    zh = {s.id: s.name_zh for s in specs}
    assert (zh["high_value"], zh["churn_risk"], zh["night_owl"], zh["payday_shopper"]) == (
        "高价值客户", "潜在流失", "夜猫子", "发薪日购物")
    for s in specs:
        assert s.name_zh and s.name_en and s.description_zh and s.description_en, s.id
        assert re.search(r"[\u4e00-\u9fff]", s.name_zh), s.id


def test_builtin_rules_use_only_contract_feature_names() -> None:
    for tag in BUILTIN_TAGS:
        rule = parse_rule(tag["rule"], columns=FEATURE_NAMES)
        assert set(rule.columns()) <= set(FEATURE_NAMES), tag["id"]


def test_value_tiers_form_one_group_with_distinct_priorities() -> None:
    tiers = [s for s in builtin_specs() if s.group == "value_tier"]
    assert {s.id for s in tiers} == {"value_high", "value_mid", "value_low"}
    assert sorted(s.priority for s in tiers) == [1, 2, 3]


def test_user_tags_add_override_and_disable_builtins() -> None:
    specs = resolve_tag_specs({"define": [
        {"id": "vip", "name_zh": "至尊会员", "name_en": "VIP", "rule": "spend_365d >= 20000",
         "group": "value_tier", "priority": 4},
        {"id": "night_owl", "rule": "share_night_orders >= 0.7"},
        {"id": "gen_z", "enabled": False},
    ]})
    by_id = {s.id: s for s in specs}
    assert by_id["vip"].group == "value_tier" and by_id["vip"].category == "custom"
    assert by_id["night_owl"].rule == "share_night_orders >= 0.7"
    assert by_id["night_owl"].name_zh == "夜猫子"  # keys not given keep the built-in's
    assert "gen_z" not in by_id
    everything = {s.id: s for s in resolve_tag_specs({"define": [{"id": "gen_z", "enabled": False}]},
                                                     include_disabled=True)}
    assert everything["gen_z"].enabled is False


def test_builtin_false_keeps_only_the_workspace_tags() -> None:
    specs = resolve_tag_specs({"builtin": False, "define": [
        {"id": "vip", "name_zh": "至尊", "name_en": "VIP", "rule": "spend_365d >= 20000"}]})
    assert [s.id for s in specs] == ["vip"]
    assert resolve_tag_specs({"builtin": False}) == []


def test_all_problems_are_reported_at_once_with_key_and_fix() -> None:
    raw = {
        "colour": "red",
        "define": [
            {"id": "vip", "name_zh": "至尊", "rule": "spend_365d >= 2e4"},
            {"id": "Bad-Id", "name_zh": "x", "name_en": "x", "rule": "orders_365d > 1"},
            {"id": "night_owl", "rule": "share_nite_orders >= 0.5"},
            {"id": "vip2", "name_zh": "x", "name_en": "x", "rule": "orders_365d > 1", "prio": 3},
            {"id": "vip", "name_zh": "y"},
            {"name_zh": "no id"},
            "just text",
        ],
    }
    with pytest.raises(ConfigError) as info:
        resolve_tag_specs(raw)
    msg = str(info.value)
    assert msg.startswith("huaxiang.yaml has 8 problems:\n")
    assert "  - tags.colour: unknown key; remove it or check its spelling" in msg
    assert ("  - tags.define[0] (vip).name_en: required key is missing; add it "
            "(a new tag needs id, name_zh, name_en and rule)") in msg
    assert "  - tags.define[1] (Bad-Id).id: String should match pattern" in msg
    assert "use lower-case letters, digits and _ starting with a letter" in msg
    assert "  - tags.define[2] (night_owl).rule: unknown feature 'share_nite_orders' at character 1:" in msg
    assert "did you mean 'share_night_orders'?" in msg
    assert ("  - tags.define[3] (vip2).prio: unknown key; remove it or check its spelling (did you mean priority? "
            "valid keys: id, ") in msg
    assert "  - tags.define[4] (vip).id: 'vip' is defined twice; merge the two entries" in msg
    assert "  - tags.define[5].id: required key is missing; give the tag an id, e.g. id: vip" in msg
    assert "  - tags.define[6]: each tag is a mapping with id, name_zh, name_en and rule" in msg


def test_rules_are_checked_against_given_columns() -> None:
    raw = {"builtin": False, "define": [{"id": "x", "name_zh": "x", "name_en": "x", "rule": "churn_prob > 0.5"}]}
    with pytest.raises(ConfigError, match=r"tags.define\[0\] \(x\).rule: unknown feature 'churn_prob'"):
        resolve_tag_specs(raw)
    assert [s.id for s in resolve_tag_specs(raw, columns=["person_id", "churn_prob"])] == ["x"]


def test_tag_spec_rejects_bad_values() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="name_en"):
        TagSpec(id="a", name_zh="甲", name_en="", rule="x > 1")
    assert TagSpec(id="a", name_zh="甲", name_en="A", rule="x > 1").name("en") == "A"
