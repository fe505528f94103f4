"""The rule language: parsing, errors that point at the character, compiling on both engines,
explanations."""

from __future__ import annotations

import math
import random
import re
from typing import Any

import pandas as pd
import pytest

from huaxiang.errors import HuaxiangError, RuleError
from huaxiang.tags.compile import compile_rule, evaluate_rule, explain_rule, reason_expr
from huaxiang.tags.rules import Between, Binary, Column, In, IsNull, Literal, Not, parse_rule, tokenize

COLUMNS = ["person_id", "orders_365d", "orders_90d", "orders_prev_90d", "share_discounted_orders",
           "top_channel", "avg_rating", "is_member", "spend_365d"]

ROWS = pd.DataFrame({
    "person_id": ["a", "b", "c", "d", "e"],
    "orders_365d": pd.array([4, 1, 12, None, 3], dtype="Int64"),
    "orders_90d": pd.array([2, 0, 1, 0, 3], dtype="Int64"),
    "orders_prev_90d": pd.array([1, 0, 4, 2, 0], dtype="Int64"),
    "share_discounted_orders": [0.72, 0.1, 0.5, None, 0.0],
    "top_channel": ["app", "store", "web", None, "mini_program"],
    "avg_rating": [4.8, None, 3.0, 5.0, 4.5],
    "is_member": [True, False, True, None, False],
    "spend_365d": [1200.0, 30.0, 8000.0, 0.0, 450.5],
})


def _matches(con: Any, rule: str) -> list[str]:
    t = con.create_table("features_rules", ROWS, overwrite=True)
    out = t.filter(compile_rule(rule, t).fill_null(False)).person_id.to_pyarrow().to_pylist()
    return sorted(out)


# ------------------------------------------------------------------------------------------ parser


def test_tokens_keep_their_offsets() -> None:
    toks = tokenize("a>=3 AND b in ('x','y''s')")
    assert [(t.kind, t.pos) for t in toks[:4]] == [("name", 0), ("op", 1), ("number", 3), ("keyword", 5)]
    assert toks[3].value == "and"
    assert [t.value for t in toks if t.kind == "string"] == ["x", "y's"]


def test_precedence_and_binds_tighter_than_or_and_not_is_lowest_before_and() -> None:
    root = parse_rule("not a = 1 and b = 2 or c = 3").root
    assert isinstance(root, Binary) and root.op == "or"
    assert isinstance(root.left, Binary) and root.left.op == "and"
    assert isinstance(root.left.left, Not)
    assert isinstance(root.right, Binary) and root.right.op == "="


def test_arithmetic_precedence_and_unary_minus() -> None:
    root = parse_rule("a - b * 2 / c >= -1.5").root
    assert isinstance(root, Binary) and root.op == ">="
    assert isinstance(root.right, Literal) and root.right.value == -1.5
    assert isinstance(root.left, Binary) and root.left.op == "-"
    right = root.left.right
    assert isinstance(right, Binary) and right.op == "/" and isinstance(right.left, Binary)


def test_predicates_parse_to_their_nodes() -> None:
    assert isinstance(parse_rule("x in ('a', 'b')").root, In)
    neg = parse_rule("x not in (1, 2)").root
    assert isinstance(neg, In) and neg.negated and [v.value for v in neg.values] == [1, 2]
    between = parse_rule("x not between 1 and y + 2").root
    assert isinstance(between, Between) and between.negated and isinstance(between.high, Binary)
    isnull = parse_rule("x is not null").root
    assert isinstance(isnull, IsNull) and isnull.negated
    assert isinstance(parse_rule("x").root, Column)


def test_keywords_are_case_insensitive_and_symbols_have_aliases() -> None:
    a = parse_rule("X >= 1 AND Y <> 'p' OR NOT Z IS NULL").to_text()
    b = parse_rule("X ≥ 1 and Y != 'p' or not Z is null").to_text()
    assert a == b == "X ≥ 1 and Y ≠ 'p' or not Z is null"


@pytest.mark.parametrize("text", [
    "(a + b) * c > 1 and not (d or e)",
    "a - (b - c) > 0",
    "x in ('it''s', 'b') or y between 1 and 2",
    "not (a = 1) and b is not null",
])
def test_to_text_round_trips(text: str) -> None:
    once = parse_rule(text)
    again = parse_rule(once.to_text())
    assert again.to_text() == once.to_text()
    assert _shape(again.root) == _shape(once.root)


def _shape(node: Any) -> Any:
    if isinstance(node, Literal):
        return ("lit", node.value)
    if isinstance(node, Column):
        return ("col", node.name)
    fields = {k: v for k, v in vars(node).items() if k not in ("pos", "end")}
    return (type(node).__name__, {k: (tuple(_shape(x) for x in v) if isinstance(v, tuple) else
                                      _shape(v) if hasattr(v, "pos") else v) for k, v in fields.items()})


def test_columns_lists_names_in_order() -> None:
    assert parse_rule("b > 1 and a < b or c is null").columns() == ["b", "a", "c"]


# ------------------------------------------------------------------------------------------ errors


def _caret_column(message: str) -> tuple[str, int, int]:
    lines = message.splitlines()
    i = next(k for k, line in enumerate(lines) if line.strip().startswith("^"))
    return lines[i - 1], lines[i].index("^") - 2, lines[i].count("^")


def test_unknown_feature_points_at_it_suggests_and_lists_valid_names() -> None:
    rule = "share_discounted_orders >= 0.5 and orders_356d >= 3"
    with pytest.raises(RuleError, match=r"unknown feature 'orders_356d' at character 36") as info:
        parse_rule(rule, columns=COLUMNS)
    msg = str(info.value)
    line, col, width = _caret_column(msg)
    assert line.strip() == rule and col == rule.index("orders_356d") and width == len("orders_356d")
    assert "did you mean 'orders_365d'?" in msg
    assert "valid features: avg_rating, is_member, orders_365d" in msg


def test_unquoted_text_gets_a_quoting_hint() -> None:
    with pytest.raises(RuleError, match=r"unknown feature 'app'.*\n.*\n.*\nif 'app' is a text value, quote it"):
        parse_rule("top_channel = app", columns=COLUMNS)


@pytest.mark.parametrize(("rule", "message", "at"), [
    ("orders_365d >=", "expected a feature name, a number or a quoted text but found the end of the rule", 14),
    ("orders_365d >= 3 and", "expected a feature name, a number or a quoted text but found the end", 20),
    ("(orders_365d >= 3", "expected ')' closing the parenthesis", 17),
    ("orders_365d >= 3 orders_90d", "expected 'and', 'or' or the end of the rule but found 'orders_90d'", 17),
    ("top_channel = 'app", "unclosed text starting with '", 14),
    ("orders_365d >= 3 ; drop table x", "unexpected character ';'", 17),
    ("top_channel in 'app'", "expected '(' starting the list of values", 15),
    ("top_channel in ('app' 'web')", "expected ',' or ')' closing the list", 22),
    ("orders_365d between 1 or 3", "expected 'and' but found 'or'", 22),
    ("top_channel in (orders_90d)", "a list after 'in' holds only numbers or quoted texts", 16),
    ("   ", "the rule is empty", 0),
])
def test_syntax_errors_point_at_the_character(rule: str, message: str, at: int) -> None:
    with pytest.raises(RuleError, match=re.escape(message)) as info:
        parse_rule(rule)
    assert f"at character {at + 1}:" in str(info.value)
    _, col, _ = _caret_column(str(info.value))
    assert col == at


def test_rule_error_is_a_value_error_and_a_huaxiang_error() -> None:
    with pytest.raises(ValueError, match="unexpected character"):
        parse_rule("a > 1 && b")
    with pytest.raises(HuaxiangError, match="unexpected character '&'"):
        parse_rule("a > 1 && b")


@pytest.mark.parametrize(("rule", "message", "at"), [
    ("top_channel >= 3", "cannot compare 'top_channel' \\(a text\\) with '3' \\(a number\\)", 15),
    ("orders_365d = 'many'", "cannot compare 'orders_365d' \\(a number\\) with \"'many'\" \\(a text\\)", 14),
    ("orders_365d + 1", "'orders_365d \\+ 1' is a number, not a condition", 0),
    ("top_channel + 1 > 2", "arithmetic needs numbers but 'top_channel' is a text", 0),
    ("avg_rating = null", "comparing with null is never true", 13),
    ("top_channel in ('app', 3)", "3 is a number but 'top_channel' is a text", 23),
    ("orders_365d > 1 and top_channel", "'top_channel' is a text, not a condition", 20),
])
def test_type_errors_point_at_the_part(rule: str, message: str, at: int) -> None:
    import ibis

    t = ibis.memtable(ROWS)
    with pytest.raises(RuleError, match=message) as info:
        compile_rule(rule, t)
    _, col, _ = _caret_column(str(info.value))
    assert col == at


def test_compile_checks_names_against_the_table() -> None:
    import ibis

    t = ibis.memtable(ROWS)
    with pytest.raises(RuleError, match="unknown feature 'churn_prob'"):
        compile_rule(parse_rule("churn_prob > 0.5"), t)


# ----------------------------------------------------------------------------- compile, both engines


@pytest.mark.parametrize(("rule", "expected"), [
    ("share_discounted_orders >= 0.5 and orders_365d >= 3", ["a", "c"]),
    ("orders_365d >= 3 or avg_rating >= 4.5", ["a", "c", "d", "e"]),
    ("not orders_365d >= 3", ["b"]),  # NULL stays unknown: d is not tagged
    ("not (orders_365d >= 3 or top_channel = 'store')", []),
    ("top_channel in ('app', 'web')", ["a", "c"]),
    ("top_channel not in ('app', 'web')", ["b", "e"]),
    ("spend_365d between 30 and 1200", ["a", "b", "e"]),
    ("spend_365d not between 30 and 1200", ["c", "d"]),
    ("avg_rating is null", ["b"]),
    ("share_discounted_orders is not null and top_channel = 'store'", ["b"]),
    ("top_channel != 'app'", ["b", "c", "e"]),
    ("orders_90d - orders_prev_90d >= 1", ["a", "e"]),
    ("orders_90d * 2 + 1 > orders_prev_90d * 3", ["a", "b", "e"]),
    ("orders_90d / orders_prev_90d >= 2", ["a"]),  # division by zero is NULL, never an error
    ("spend_365d / 1000 > 1", ["a", "c"]),
    ("is_member", ["a", "c"]),
    ("is_member = false", ["b", "e"]),
    ("not is_member and orders_365d > 0", ["b", "e"]),
    ("true", ["a", "b", "c", "d", "e"]),
    ("-orders_365d < -3", ["a", "c"]),
])
def test_rules_select_the_same_persons_on_every_engine(ibis_con: Any, rule: str, expected: list[str]) -> None:
    assert _matches(ibis_con, rule) == expected


def test_compiled_rules_agree_with_the_python_evaluator() -> None:
    """Random rules over random rows: SQL (DuckDB) and the Python evaluator give the same answer."""
    import ibis

    rng = random.Random(3)
    n = 60
    frame = pd.DataFrame({
        "person_id": [f"p{i}" for i in range(n)],
        "x": [None if rng.random() < 0.15 else rng.randint(0, 5) for _ in range(n)],
        "y": [None if rng.random() < 0.15 else round(rng.uniform(0, 1), 2) for _ in range(n)],
        "s": [rng.choice(["app", "web", "store", None]) for _ in range(n)],
    })
    frame["x"] = frame["x"].astype("Int64")
    t = ibis.memtable(frame)
    atoms = ["x >= 2", "y < 0.5", "s = 'app'", "s in ('web', 'store')", "x between 1 and 3", "y is null",
             "x - 1 > y * 2", "x / y > 3", "s is not null", "x != 3"]
    con = ibis.duckdb.connect()
    for _ in range(40):
        parts = [rng.choice(atoms) for _ in range(3)]
        ops = [rng.choice(["and", "or"]) for _ in range(2)]
        rule = f"{'not ' if rng.random() < 0.3 else ''}({parts[0]} {ops[0]} {parts[1]}) {ops[1]} not {parts[2]}"
        got = con.execute(t.select("person_id", v=compile_rule(rule, t)).order_by("person_id"))
        by_id = dict(zip(got.person_id, got.v, strict=True))
        for row in frame.to_dict(orient="records"):
            values = {k: (None if _na(v) else v) for k, v in row.items()}
            want = evaluate_rule(rule, values)
            have = by_id[row["person_id"]]
            have = None if _na(have) else bool(have)
            assert have == want, (rule, row)


def _na(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------------------------------- explain


def test_explain_lists_the_comparisons_that_held_with_values() -> None:
    values = {"share_discounted_orders": 0.7234, "orders_365d": 4}
    assert explain_rule("share_discounted_orders >= 0.5 and orders_365d >= 3", values) == [
        "share_discounted_orders = 0.72 ≥ 0.5", "orders_365d = 4 ≥ 3"]


def test_explain_shows_only_the_or_branch_that_held_and_flips_negations() -> None:
    values = {"orders_365d": 2, "top_channel": "store", "avg_rating": None, "spend_365d": 10.0}
    rule = "(orders_365d >= 3 and spend_365d > 0) or not (top_channel in ('app') or avg_rating is not null)"
    assert explain_rule(rule, values) == ["top_channel = 'store' not in ('app')", "avg_rating is null"]
    assert explain_rule("not orders_365d >= 3", values) == ["orders_365d = 2 < 3"]
    assert explain_rule("orders_365d - 1 between 0 and spend_365d", values) == [
        "orders_365d - 1 = 1 between 0 and spend_365d = 10.0"]
    assert explain_rule("top_channel = 'store'", values) == ["top_channel = 'store'"]


def test_explain_is_empty_when_the_rule_does_not_hold() -> None:
    assert explain_rule("orders_365d >= 3", {"orders_365d": 1}) == []
    assert explain_rule("orders_365d >= 3", {"orders_365d": None}) == []


@pytest.mark.parametrize("rule", [
    "share_discounted_orders >= 0.5 and orders_365d >= 3",
    "top_channel in ('app', 'web') or avg_rating is null",
    "not (orders_365d < 3) and spend_365d / 1000 >= 1",
    "orders_90d - orders_prev_90d >= 1 or not is_member",
    "top_channel = 'store' or top_channel = 'mini_program'",
])
def test_reason_text_matches_explain_on_every_engine(ibis_con: Any, rule: str) -> None:
    t = ibis_con.create_table("features_reasons", ROWS, overwrite=True)
    cond = compile_rule(rule, t).fill_null(False)
    got = t.filter(cond).select("person_id", r=reason_expr(rule, t)).to_pandas()
    assert len(got) > 0
    for row in got.itertuples():
        values = {k: (None if _na(v) else v) for k, v in ROWS.set_index("person_id").loc[row.person_id].items()}
        assert row.r == "; ".join(explain_rule(rule, values)), rule
