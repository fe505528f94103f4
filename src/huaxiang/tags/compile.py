"""Rules at work: compiled to Ibis for a whole table, evaluated and explained for one person.

:func:`compile_rule` turns a parsed rule (:mod:`huaxiang.tags.rules`) into an Ibis boolean
expression over a table, so the same rule runs on DuckDB and Spark; :func:`explain_rule` tells,
from one person's values, which comparisons held (``share_discounted_orders = 0.72 ≥ 0.5``), and
:func:`reason_expr` builds the same text as an Ibis string expression for every row of a table.
:func:`evaluate_rule` is the reference evaluator in Python (SQL NULL logic), used to explain and test.

Examples
--------
>>> import ibis
>>> t = ibis.memtable({"person_id": ["a", "b"], "share_discounted_orders": [0.72, 0.1],
...                    "orders_365d": [4, 9]})
>>> rule = parse_rule("share_discounted_orders >= 0.5 and orders_365d >= 3", columns=t.columns)
>>> t.filter(compile_rule(rule, t)).person_id.to_list()
['a']
>>> explain_rule(rule, {"share_discounted_orders": 0.72, "orders_365d": 4})
['share_discounted_orders = 0.72 ≥ 0.5', 'orders_365d = 4 ≥ 3']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from huaxiang.errors import RuleError
from huaxiang.tags.rules import (
    _ARITHMETIC,
    _LOGIC,
    _NEGATE,
    _SYMBOL,
    Between,
    Binary,
    Column,
    In,
    IsNull,
    Literal,
    Node,
    Not,
    Rule,
    _error,
    _format_value,
    parse_rule,
    unknown_name_error,
)

__all__ = ["compile_rule", "evaluate_rule", "explain_rule", "reason_expr"]


# ----------------------------------------------------------------------------- compile to Ibis


def _kind(value: ir.Value) -> str:
    t = value.type()
    if t.is_boolean():
        return "boolean"
    if t.is_numeric():
        return "number"
    if t.is_string():
        return "text"
    if t.is_temporal():
        return "time"
    if t.is_null():
        return "null"
    return str(t)


class _Compiler:
    def __init__(self, rule: Rule, table: ir.Table) -> None:
        self.rule = rule
        self.table = table

    def fail(self, node: Node, message: str, hint: str = "") -> RuleError:
        return _error(self.rule.source, message, node.pos, node.end, hint)

    def boolean(self, node: Node) -> ir.BooleanValue:
        value = self.value(node)
        if _kind(value) not in ("boolean", "null"):
            raise self.fail(node, f"{node.to_text()!r} is a {_kind(value)}, not a condition",
                            hint="compare it, e.g. orders_365d >= 3")
        return value.cast("boolean") if _kind(value) == "null" else value

    def value(self, node: Node) -> ir.Value:
        if isinstance(node, Literal):
            return ibis.literal(node.value) if node.value is not None else ibis.null()
        if isinstance(node, Column):
            if node.name not in self.table.columns:
                raise unknown_name_error(self.rule.source, node.name, node.pos, self.table.columns)
            return self.table[node.name]
        if isinstance(node, Not):
            return ~self.boolean(node.operand)
        if isinstance(node, Binary) and node.op in _LOGIC:
            left, right = self.boolean(node.left), self.boolean(node.right)
            return (left & right) if node.op == "and" else (left | right)
        if isinstance(node, Binary) and node.op in _ARITHMETIC:
            left, right = (self.number(node.left), self.number(node.right))
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            return ibis.ifelse(right == 0, ibis.null("float64"), left / right)
        if isinstance(node, Binary):
            left, right = self.comparable(node.left, node.right)
            ops = {"=": left.__eq__, "!=": left.__ne__, "<": left.__lt__, "<=": left.__le__,
                   ">": left.__gt__, ">=": left.__ge__}
            result: ir.Value = ops[node.op](right)
            return result
        if isinstance(node, In):
            operand = self.value(node.operand)
            values = [self.comparable_literal(node.operand, operand, v) for v in node.values if v.value is not None]
            if len(values) != len(node.values):
                raise self.fail(node, "null never equals anything; 'in' cannot list null",
                                hint=f"write ({node.operand.to_text()} is null or …)")
            return operand.notin(values) if node.negated else operand.isin(values)
        if isinstance(node, Between):
            operand, low = self.comparable(node.operand, node.low)
            _, high = self.comparable(node.operand, node.high)
            within = operand.between(low, high)
            return ~within if node.negated else within
        if isinstance(node, IsNull):
            operand = self.value(node.operand)
            return operand.notnull() if node.negated else operand.isnull()
        raise self.fail(node, f"cannot compile {type(node).__name__}")  # pragma: no cover

    def number(self, node: Node) -> ir.NumericValue:
        value = self.value(node)
        if _kind(value) == "null":
            return value.cast("float64")
        if _kind(value) != "number":
            raise self.fail(node, f"arithmetic needs numbers but {node.to_text()!r} is a {_kind(value)}")
        return value

    def comparable(self, left_node: Node, right_node: Node) -> tuple[ir.Value, ir.Value]:
        left, right = self.value(left_node), self.value(right_node)
        lk, rk = _kind(left), _kind(right)
        if lk == "null" or rk == "null":
            bad = left_node if lk == "null" else right_node
            raise self.fail(bad, "comparing with null is never true",
                            hint="write 'is null' or 'is not null' instead")
        if lk == rk:
            return left, right
        if lk == "time" and isinstance(right_node, Literal) and rk == "text":
            return left, self._time_literal(right_node, left.type())
        if rk == "time" and isinstance(left_node, Literal) and lk == "text":
            return self._time_literal(left_node, right.type()), right
        raise self.fail(right_node, f"cannot compare {left_node.to_text()!r} (a {lk}) with "
                        f"{right_node.to_text()!r} (a {rk})",
                        hint="texts need quotes, e.g. top_channel = 'app'; numbers need none")

    def comparable_literal(self, operand_node: Node, operand: ir.Value, lit: Literal) -> Any:
        ok, lk = _kind(operand), _kind(ibis.literal(lit.value))
        if ok == lk or (ok == "time" and lk == "text"):
            return lit.value
        raise self.fail(lit, f"{lit.to_text()} is a {lk} but {operand_node.to_text()!r} is a {ok}",
                        hint="texts need quotes, e.g. top_channel in ('app', 'web')")

    def _time_literal(self, node: Literal, to: dt.DataType) -> ir.Value:
        try:
            import pandas as pd

            stamp = pd.Timestamp(str(node.value))
        except ValueError:
            raise self.fail(node, f"{node.to_text()} is not a date or time",
                            hint="write dates as 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'") from None
        return ibis.literal(stamp.to_pydatetime()).cast(to)


def compile_rule(rule: Rule | str, table: ir.Table) -> ir.BooleanValue:
    """The rule as an Ibis boolean expression over ``table`` (NULL where a value it needs is NULL).

    Parameters
    ----------
    rule
        A parsed :class:`Rule` or rule text.
    table
        The table whose columns the rule names (usually ``features``).

    Raises
    ------
    RuleError
        On unknown names, type mistakes (text against number) or a rule that is not a condition.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"person_id": ["a", "b", "c"], "top_channel": ["app", "store", None],
    ...                    "orders_90d": [3, 1, 0], "orders_prev_90d": [1, 1, 2]})
    >>> cond = compile_rule("top_channel in ('app', 'web') or orders_90d - orders_prev_90d < 0", t)
    >>> t.filter(cond).person_id.to_list()
    ['a', 'c']
    """
    parsed = rule if isinstance(rule, Rule) else parse_rule(rule, columns=table.columns)
    return _Compiler(parsed, table).boolean(parsed.root)


# ----------------------------------------------------------------------------- evaluate & explain


def evaluate_rule(rule: Rule | str, values: Mapping[str, Any]) -> bool | None:
    """The rule on one person's values in Python, with SQL's NULL logic (``None`` = unknown).

    Use it to explain and check rules; tags on a table use :func:`compile_rule`.

    >>> evaluate_rule("orders_365d >= 3 or avg_rating > 4", {"orders_365d": None, "avg_rating": 4.5})
    True
    >>> evaluate_rule("orders_365d >= 3", {"orders_365d": None}) is None
    True
    """
    parsed = rule if isinstance(rule, Rule) else parse_rule(rule)
    result = _eval(parsed, parsed.root, values)
    return None if result is None else bool(result)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN / NaT
    except (TypeError, ValueError):
        return False


def _eval(rule: Rule, node: Node, values: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Column):
        if node.name not in values:
            raise unknown_name_error(rule.source, node.name, node.pos, values.keys())
        value = values[node.name]
        return None if _missing(value) else value
    if isinstance(node, Not):
        inner = _eval(rule, node.operand, values)
        return None if inner is None else not inner
    if isinstance(node, Binary) and node.op in _LOGIC:
        left, right = _eval(rule, node.left, values), _eval(rule, node.right, values)
        if node.op == "and":
            if left is False or right is False:
                return False
            return None if left is None or right is None else True
        if left is True or right is True:
            return True
        return None if left is None or right is None else False
    if isinstance(node, Binary):
        left, right = _eval(rule, node.left, values), _eval(rule, node.right, values)
        if left is None or right is None:
            return None
        if node.op in _ARITHMETIC:
            if node.op == "/":
                return None if right == 0 else left / right
            return {"+": left + right, "-": left - right, "*": left * right}[node.op]
        return _compare(node.op, left, right)
    if isinstance(node, In):
        operand = _eval(rule, node.operand, values)
        if operand is None:
            return None
        hit = any(_compare("=", operand, v.value) for v in node.values)
        return not hit if node.negated else hit
    if isinstance(node, Between):
        operand, low, high = (_eval(rule, n, values) for n in (node.operand, node.low, node.high))
        if operand is None or low is None or high is None:
            return None
        within = _compare(">=", operand, low) and _compare("<=", operand, high)
        return not within if node.negated else within
    if isinstance(node, IsNull):
        is_null = _eval(rule, node.operand, values) is None
        return not is_null if node.negated else is_null
    raise RuleError(f"cannot evaluate {type(node).__name__}")  # pragma: no cover


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) != isinstance(right, str) and not _is_time(left) and not _is_time(right):
        return False
    if _is_time(left) or _is_time(right):
        import pandas as pd

        left, right = pd.Timestamp(left), pd.Timestamp(right)
    return bool({"=": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                 ">": left > right, ">=": left >= right}[op])


def _is_time(value: Any) -> bool:
    from datetime import date

    return isinstance(value, date)


def _display(value: Any) -> str:
    if isinstance(value, int | float | str | bool) or value is None:
        return _format_value(value)
    if hasattr(value, "item"):  # numpy scalars
        return _display(value.item())
    return str(value)


def _leaf_text(node: Node, positive: bool, describe: Any) -> Any:
    """Parts of a leaf's explanation: literal strings and described sub-expressions."""
    if isinstance(node, Binary):
        op = node.op if positive else _NEGATE[node.op]
        if op == "=" and isinstance(node.right, Literal):  # 'top_channel = 'app'' says it all
            return [node.left.to_text(), " = ", node.right.to_text()]
        return [describe(node.left), f" {_SYMBOL.get(op, op)} ", describe(node.right)]
    if isinstance(node, In):
        word = "in" if positive != node.negated else "not in"
        return [describe(node.operand), f" {word} ({', '.join(v.to_text() for v in node.values)})"]
    if isinstance(node, Between):
        word = "between" if positive != node.negated else "not between"
        return [describe(node.operand), f" {word} ", describe(node.low), " and ", describe(node.high)]
    if isinstance(node, IsNull):
        return [node.operand.to_text(), " is null" if positive != node.negated else " is not null"]
    # a bare boolean column or expression
    return [describe(node), "" if positive else " is false"]


def explain_rule(rule: Rule | str, values: Mapping[str, Any]) -> list[str]:
    """Why a rule holds for one person: each comparison that held, with the person's values.

    Only the parts that made the rule true are listed (the branches of an ``or`` that held; under
    ``not`` a comparison is shown the way it is true: ``orders_365d = 2 < 3``). Empty when the rule
    does not hold.

    Parameters
    ----------
    rule
        A parsed :class:`Rule` or rule text.
    values
        The person's feature values by name (e.g. one row of ``features`` as a dict).

    Examples
    --------
    >>> explain_rule("share_discounted_orders >= 0.5 and not orders_365d < 3",
    ...              {"share_discounted_orders": 0.72, "orders_365d": 5})
    ['share_discounted_orders = 0.72 ≥ 0.5', 'orders_365d = 5 ≥ 3']
    >>> explain_rule("top_channel in ('app') or share_store > 0.5", {"top_channel": "app", "share_store": 0.1})
    ["top_channel = 'app' in ('app')"]
    """
    parsed = rule if isinstance(rule, Rule) else parse_rule(rule)
    if _eval(parsed, parsed.root, values) is not True:
        return []

    def describe(node: Node) -> str:
        if isinstance(node, Literal):
            return node.to_text()
        return f"{node.to_text()} = {_display(_eval(parsed, node, values))}"

    out: list[str] = []

    def walk(node: Node, positive: bool) -> None:
        if isinstance(node, Not):
            walk(node.operand, not positive)
            return
        if isinstance(node, Binary) and node.op in _LOGIC:
            conjunctive = (node.op == "and") == positive
            for child in (node.left, node.right):
                if conjunctive or _eval(parsed, child, values) is positive:
                    walk(child, positive)
                    if not conjunctive:
                        break  # one true branch of an 'or' is reason enough
            return
        if isinstance(node, Literal):
            return
        out.append("".join(_leaf_text(node, positive, describe)))

    walk(parsed.root, True)
    return out


def _text_of(value: ir.Value) -> ir.StringValue:
    kind = _kind(value)
    if kind == "number":
        num: Any = value
        if value.type().is_integer():
            text = num.cast("string")
        else:
            text = num.round(2).cast("float64").cast("string")
    elif kind == "text":
        text = "'" + value.cast("string") + "'"
    elif kind == "boolean":
        text = ibis.ifelse(value, "true", "false")
    else:
        text = value.cast("string")
    return text.fill_null("null")


def reason_expr(rule: Rule | str, table: ir.Table, *, separator: str = "; ") -> ir.StringValue:
    """The explanation of :func:`explain_rule` as an Ibis string expression for every row of ``table``.

    Meaningful on the rows where the rule holds (elsewhere it may be empty or partial). Numbers are
    shown rounded to two decimals.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"share_discounted_orders": [0.7234], "orders_365d": [4]})
    >>> reason_expr("share_discounted_orders >= 0.5 and orders_365d >= 3", t).to_pandas().iloc[0]
    'share_discounted_orders = 0.72 ≥ 0.5; orders_365d = 4 ≥ 3'
    """
    parsed = rule if isinstance(rule, Rule) else parse_rule(rule, columns=table.columns)
    comp = _Compiler(parsed, table)

    def describe(node: Node) -> ir.StringValue | str:
        if isinstance(node, Literal):
            return node.to_text()
        return f"{node.to_text()} = " + _text_of(comp.value(node))

    def truth(node: Node, positive: bool) -> ir.BooleanValue:
        cond = comp.boolean(node)
        return (cond if positive else ~cond).fill_null(False)

    parts: list[ir.StringValue] = []

    def walk(node: Node, positive: bool, guard: ir.BooleanValue) -> None:
        if isinstance(node, Not):
            walk(node.operand, not positive, guard)
            return
        if isinstance(node, Binary) and node.op in _LOGIC:
            conjunctive = (node.op == "and") == positive
            if conjunctive:
                for child in (node.left, node.right):
                    walk(child, positive, guard)
            else:
                left_true = truth(node.left, positive)
                walk(node.left, positive, guard & left_true)
                walk(node.right, positive, guard & ~left_true & truth(node.right, positive))
            return
        if isinstance(node, Literal):
            return
        pieces = _leaf_text(node, positive, describe)
        text: Any = ibis.literal("")
        for piece in pieces:
            text = text + piece
        parts.append(ibis.ifelse(guard, text, ibis.null("string")))

    walk(parsed.root, True, ibis.literal(True))
    if not parts:
        return ibis.literal("")
    return ibis.literal(separator).join(parts)
