"""The compiler of checked user expressions: a sqlglot tree, node by node, into an Ibis expression.

Every node must be of a type in :data:`_HANDLERS` or :data:`_HELPERS`, every column must exist in the
table and every function must be on :data:`ALLOWED_FUNCTIONS`; anything else is refused with an
:class:`ExpressionError`. The text checks and the public functions are in :mod:`huaxiang.expressions`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from sqlglot import exp

from huaxiang.errors import ConfigError, RuleError

__all__ = ["ALLOWED_FUNCTIONS", "ExpressionError"]


class ExpressionError(RuleError, ConfigError):
    """A user expression is not allowed or does not fit the table (a ``RuleError`` and a ``ConfigError``, so a ``ValueError``)."""


#: SQL type names a CAST may name, and the Ibis type they become.
_TYPES: dict[str, str] = {
    "VARCHAR": "string", "TEXT": "string", "CHAR": "string", "NCHAR": "string", "NVARCHAR": "string",
    "BIGINT": "int64", "INT": "int32", "SMALLINT": "int16", "TINYINT": "int8", "UBIGINT": "int64",
    "DOUBLE": "float64", "FLOAT": "float32", "DECIMAL": "float64", "BOOLEAN": "boolean",
    "DATE": "date", "TIMESTAMP": "timestamp", "DATETIME": "timestamp",
}
#: Statement kinds named in refusals (checked before anything else in the tree).
_STATEMENTS: dict[type[exp.Expression], str] = {
    exp.Select: "a query (SELECT)", exp.Subquery: "a subquery", exp.Union: "UNION", exp.Intersect: "INTERSECT",
    exp.Except: "EXCEPT", exp.Drop: "DROP", exp.Create: "CREATE", exp.Insert: "INSERT", exp.Update: "UPDATE",
    exp.Delete: "DELETE", exp.Alter: "ALTER", exp.Copy: "COPY", exp.Attach: "ATTACH", exp.Detach: "DETACH",
    exp.Pragma: "PRAGMA", exp.Set: "SET", exp.Install: "INSTALL", exp.Command: "a command", exp.Use: "USE",
    exp.Merge: "MERGE", exp.TruncateTable: "TRUNCATE", exp.Table: "a table reference", exp.From: "FROM",
    exp.Join: "JOIN", exp.Placeholder: "a parameter placeholder", exp.Star: "'*'",
}


#: Functions an expression may call (by their SQL names), for error messages.
ALLOWED_FUNCTIONS: tuple[str, ...] = (
    "abs", "ceil", "coalesce", "concat", "contains", "ends_with", "floor", "greatest", "if", "least", "left",
    "length", "lower", "ltrim", "nullif", "regexp_extract", "regexp_matches", "replace", "right", "round", "rtrim",
    "starts_with", "strpos", "substr", "trim", "upper", "year", "month", "day", "cast", "try_cast",
)


def _str(v: ir.Value) -> ir.StringValue:
    return v if v.type().is_string() else v.cast("string")


class _Compiler:
    """Checks a sqlglot tree node by node and builds the Ibis expression."""

    def __init__(self, text: str, table: ir.Table, where: str, table_name: str | None) -> None:
        self.text, self.table, self.where = text, table, where
        self.table_name = table_name
        self.columns = list(table.columns)

    # ------------------------------------------------------------- errors
    def fail(self, what: str, node: exp.Expression | None = None, *, fix: str = "", at: int | None = None) -> None:
        pos = at if at is not None else self._position(node)
        where_in = f" at character {pos}" if pos else ""
        tail = fix or f"write one expression over the columns of {self.table_name or 'the table'}"
        raise ExpressionError(f"{self.where}: {what}{where_in} in {self.text!r} is not allowed; {tail}")

    def _position(self, node: exp.Expression | None) -> int | None:
        while node is not None:
            if "start" in node.meta:
                return int(node.meta["start"]) + 1
            for child in node.iter_expressions():
                if "start" in child.meta:
                    return int(child.meta["start"]) + 1
            node = node.this if isinstance(node.this, exp.Expression) else None
        return None

    # ------------------------------------------------------------ columns
    def column(self, node: exp.Column) -> ir.Value:
        if isinstance(node.this, exp.Star):
            self.fail("'*'", node)
        qualifier = node.table
        name = node.name
        if (qualifier and qualifier != self.table_name) or node.args.get("db") or node.args.get("catalog"):
            self.fail(f"column {node.sql(dialect='duckdb')!r} of another table", node,
                      fix=f"name columns of {self.table_name or 'this table'} only")
        if name in self.columns:
            return self.table[name]
        folded = [c for c in self.columns if c.lower() == name.lower()]
        if len(folded) == 1:
            return self.table[folded[0]]
        close = difflib.get_close_matches(name, self.columns, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        shown = [c for c in self.columns if not c.startswith("_hx_")] or self.columns
        listed = ", ".join(shown[:40]) + (", …" if len(shown) > 40 else "")
        pos = self._position(node)
        raise ExpressionError(
            f"{self.where}: unknown column {name!r}" + (f" at character {pos}" if pos else "")
            + f" in {self.text!r}; {hint}columns: {listed}"
        )

    # ------------------------------------------------------------ compile
    def compile(self, node: exp.Expression) -> ir.Value:
        kind = type(node)
        for statement, label in _STATEMENTS.items():
            if isinstance(node, statement):
                self.fail(label, node)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return handler(self, node)
        text = _HELPERS.get(kind)
        if text is not None:
            return text(self.compile(node.this))
        if isinstance(node, exp.Anonymous | exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            self.fail(f"function {name.lower()}()", node,
                      fix=f"allowed functions: {', '.join(ALLOWED_FUNCTIONS)}")
        self.fail(f"{node.sql(dialect='duckdb')!r} ({kind.__name__})", node)
        raise AssertionError  # pragma: no cover - fail always raises

    def args(self, node: exp.Expression) -> list[ir.Value]:
        return [self.compile(e) for e in node.expressions]


# --------------------------------------------------------------------------- helpers


def _literal(c: _Compiler, node: exp.Literal) -> ir.Value:
    if node.is_string:
        return ibis.literal(node.this, type="string")
    text = node.this
    try:
        return ibis.literal(int(text), type="int64") if text.lstrip("-").isdigit() else ibis.literal(float(text))
    except ValueError:
        c.fail(f"number {text!r}", node)
        raise AssertionError from None  # pragma: no cover


def _coerce(a: ir.Value, b: ir.Value) -> tuple[ir.Value, ir.Value]:
    """Make two operands comparable the way DuckDB's implicit casts do (text read as the other type)."""
    ta, tb = a.type(), b.type()
    if ta.is_null() and not tb.is_null():
        return ibis.null(tb), b
    if tb.is_null() and not ta.is_null():
        return a, ibis.null(ta)
    for x, y, swap in ((a, b, False), (b, a, True)):
        tx, ty = x.type(), y.type()
        if tx.is_string() and (ty.is_numeric() or ty.is_temporal() or ty.is_boolean()) and not ty.is_null():
            target = dt.float64 if ty.is_numeric() else ty
            x = x.try_cast(target)
            return (y, x) if swap else (x, y)
    return a, b


def _numeric(v: ir.Value) -> ir.NumericValue:
    t = v.type()
    if t.is_numeric():
        return v
    return v.try_cast("float64")


def _binary(op: Callable[[Any, Any], ir.Value], numeric: bool = False) -> Callable[[_Compiler, exp.Expression], ir.Value]:
    def run(c: _Compiler, node: exp.Expression) -> ir.Value:
        left, right = c.compile(node.this), c.compile(node.expression)
        if numeric:
            left, right = _numeric(left), _numeric(right)
        else:
            left, right = _coerce(left, right)
        try:
            return op(left, right)
        except Exception as exc:  # Ibis refuses operands whose types do not fit (e.g. date + text)
            c.fail(f"{node.sql(dialect='duckdb')!r} ({type(exc).__name__}: {str(exc).splitlines()[0]})", node)
            raise AssertionError from None  # pragma: no cover

    return run


def _boolean(c: _Compiler, node: exp.Expression, v: ir.Value) -> ir.BooleanValue:
    if not v.type().is_boolean():
        c.fail(f"{node.sql(dialect='duckdb')!r} as a condition (it is {v.type()}, not true/false)", node,
               fix="compare it, e.g. x > 0 or x is not null")
    return v


def _cast(c: _Compiler, node: exp.Cast, *, try_: bool) -> ir.Value:
    to = node.to
    name = to.this.name if isinstance(to.this, exp.DataType.Type) else str(to.this)
    target = _TYPES.get(name.upper())
    if target is None:
        c.fail(f"cast to {to.sql(dialect='duckdb')}", node, fix=f"cast to one of {', '.join(sorted(_TYPES))}")
    value = c.compile(node.this)
    assert target is not None
    if try_:
        return value.try_cast(target)
    return value.cast(target)


def _in(c: _Compiler, node: exp.In) -> ir.Value:
    if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
        c.fail("a subquery in IN (...)", node, fix="list the values: x in ('a', 'b')")
    value = c.compile(node.this)
    options = c.args(node)
    if not options:
        c.fail("an empty IN list", node)
    pairs = [_coerce(value, o) for o in options]
    return pairs[0][0].isin([p[1] for p in pairs])


def _like(c: _Compiler, node: exp.Like | exp.ILike, *, case: bool) -> ir.Value:
    if node.args.get("escape"):
        c.fail("LIKE ... ESCAPE", node)
    value, pattern = _str(c.compile(node.this)), c.compile(node.expression)
    return value.like(pattern) if case else value.ilike(pattern)


def _case(c: _Compiler, node: exp.Case) -> ir.Value:
    subject = c.compile(node.this) if node.this is not None else None
    branches = []
    for branch in node.args.get("ifs") or []:
        cond = c.compile(branch.this)
        if subject is not None:
            s, v = _coerce(subject, cond)
            cond = s == v
        branches.append((_boolean(c, branch.this, cond), c.compile(branch.args["true"])))
    default = node.args.get("default")
    if not branches:
        c.fail("CASE without WHEN", node)
    return ibis.cases(*branches, else_=c.compile(default) if default is not None else None)


def _if(c: _Compiler, node: exp.If) -> ir.Value:
    cond = _boolean(c, node.this, c.compile(node.this))
    other = node.args.get("false")
    return ibis.ifelse(cond, c.compile(node.args["true"]), c.compile(other) if other is not None else ibis.null())


def _is(c: _Compiler, node: exp.Is) -> ir.Value:
    value = c.compile(node.this)
    right = node.expression
    if isinstance(right, exp.Null):
        return value.isnull()
    if isinstance(right, exp.Boolean):
        return (value == ibis.literal(right.this)).fill_null(False)
    c.fail(f"IS {right.sql(dialect='duckdb')}", node, fix="use IS NULL, IS NOT NULL, IS TRUE or IS FALSE")
    raise AssertionError  # pragma: no cover


def _substring(c: _Compiler, node: exp.Substring) -> ir.Value:
    value = _str(c.compile(node.this))
    start = c.compile(node.args["start"]) if node.args.get("start") is not None else ibis.literal(1)
    length = node.args.get("length")
    return value.substr(start - 1, c.compile(length) if length is not None else None)


def _trim(c: _Compiler, node: exp.Trim) -> ir.Value:
    if node.expression is not None:
        c.fail("TRIM of given characters", node, fix="use trim(x) for whitespace")
    value = _str(c.compile(node.this))
    side = (node.args.get("position") or "").upper()
    return value.lstrip() if side == "LEADING" else value.rstrip() if side == "TRAILING" else value.strip()


def _concat(c: _Compiler, node: exp.Concat) -> ir.Value:
    # DuckDB's concat() skips NULLs (``||`` does not).
    parts = [_str(v).fill_null("") for v in c.args(node)]
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


def _dpipe(c: _Compiler, node: exp.DPipe) -> ir.Value:
    return _str(c.compile(node.this)) + _str(c.compile(node.expression))


def _round(c: _Compiler, node: exp.Round) -> ir.Value:
    digits = node.args.get("decimals")
    value = _numeric(c.compile(node.this))
    if digits is None:
        return value.round()
    if not isinstance(digits, exp.Literal) or digits.is_string:
        c.fail("round() with non-constant digits", node)
    return value.round(int(digits.this))


def _regexp(c: _Compiler, node: exp.Expression, *, extract: bool) -> ir.Value:
    value, pattern = _str(c.compile(node.this)), node.expression
    if not isinstance(pattern, exp.Literal) or not pattern.is_string:
        c.fail("a regular expression that is not a constant text", node)
    if node.args.get("flag") or node.args.get("parameters") or node.args.get("position") or node.args.get("occurrence"):
        c.fail(f"options of {node.key}()", node)
    if not extract:
        return value.re_search(pattern.this)
    group = node.args.get("group")
    index = int(group.this) if isinstance(group, exp.Literal) else 0
    return value.re_extract(pattern.this, index).nullif("")


def _extract(c: _Compiler, node: exp.Extract) -> ir.Value:
    part = node.this.name.lower()
    fns = {"year": "year", "month": "month", "day": "day", "hour": "hour", "minute": "minute",
           "dow": "day_of_week", "quarter": "quarter"}
    if part not in fns:
        c.fail(f"EXTRACT({part})", node, fix=f"extract one of {', '.join(fns)}")
    value = c.compile(node.expression)
    return _part(value, fns[part])


def _part(value: ir.Value, name: str) -> ir.Value:
    if value.type().is_string():
        value = value.try_cast("timestamp")
    if name == "day_of_week":
        return value.day_of_week.index()
    return getattr(value, name)()


def _date_part(name: str) -> Callable[[_Compiler, exp.Expression], ir.Value]:
    return lambda c, node: _part(c.compile(node.this), name)


def _left_right(c: _Compiler, node: exp.Left | exp.Right, *, left: bool) -> ir.Value:
    value = _str(c.compile(node.this))
    n = c.compile(node.expression)
    return value.left(n) if left else value.right(n)


def _neg(c: _Compiler, node: exp.Neg) -> ir.Value:
    return -_numeric(c.compile(node.this))


def _not(c: _Compiler, node: exp.Not) -> ir.Value:
    return ~_boolean(c, node.this, c.compile(node.this))


def _logic(op: Callable[[Any, Any], ir.Value]) -> Callable[[_Compiler, exp.Expression], ir.Value]:
    def run(c: _Compiler, node: exp.Expression) -> ir.Value:
        left = _boolean(c, node.this, c.compile(node.this))
        right = _boolean(c, node.expression, c.compile(node.expression))
        return op(left, right)

    return run


def _between(c: _Compiler, node: exp.Between) -> ir.Value:
    value = c.compile(node.this)
    lo = _coerce(value, c.compile(node.args["low"]))
    hi = _coerce(value, c.compile(node.args["high"]))
    return (lo[0] >= lo[1]) & (hi[0] <= hi[1])


def _varargs(fn: Callable[..., ir.Value]) -> Callable[[_Compiler, exp.Expression], ir.Value]:
    def run(c: _Compiler, node: exp.Expression) -> ir.Value:
        values = [c.compile(node.this), *c.args(node)]
        first = values[0]
        values = [first] + [_coerce(first, v)[1] for v in values[1:]]
        return fn(*values)

    return run


def _two_text(op: Callable[[ir.StringValue, Any], ir.Value]) -> Callable[[_Compiler, exp.Expression], ir.Value]:
    return lambda c, node: op(_str(c.compile(node.this)), c.compile(node.expression))


def _replace(c: _Compiler, node: exp.Expression) -> ir.Value:
    value = _str(c.compile(node.this))
    return value.replace(c.compile(node.expression), c.compile(node.args["replacement"]))


_HANDLERS: dict[type[exp.Expression], Callable[[_Compiler, Any], ir.Value]] = {
    exp.Column: lambda c, n: c.column(n),
    exp.Literal: _literal,
    exp.Boolean: lambda c, n: ibis.literal(bool(n.this)),
    exp.Null: lambda c, n: ibis.null(),
    exp.Paren: lambda c, n: c.compile(n.this),
    exp.EQ: _binary(lambda a, b: a == b), exp.NEQ: _binary(lambda a, b: a != b),
    exp.GT: _binary(lambda a, b: a > b), exp.GTE: _binary(lambda a, b: a >= b),
    exp.LT: _binary(lambda a, b: a < b), exp.LTE: _binary(lambda a, b: a <= b),
    exp.NullSafeEQ: _binary(lambda a, b: a.identical_to(b)),
    exp.Add: _binary(lambda a, b: a + b, numeric=True), exp.Sub: _binary(lambda a, b: a - b, numeric=True),
    exp.Mul: _binary(lambda a, b: a * b, numeric=True), exp.Div: _binary(lambda a, b: a / b, numeric=True),
    exp.Mod: _binary(lambda a, b: a % b, numeric=True), exp.IntDiv: _binary(lambda a, b: a // b, numeric=True),
    exp.Neg: _neg, exp.Not: _not, exp.And: _logic(lambda a, b: a & b), exp.Or: _logic(lambda a, b: a | b),
    exp.In: _in, exp.Between: _between, exp.Is: _is,
    exp.Like: lambda c, n: _like(c, n, case=True), exp.ILike: lambda c, n: _like(c, n, case=False),
    exp.Case: _case, exp.If: _if,
    exp.Cast: lambda c, n: _cast(c, n, try_=False), exp.TryCast: lambda c, n: _cast(c, n, try_=True),
    exp.DPipe: _dpipe, exp.Concat: _concat, exp.Substring: _substring, exp.Trim: _trim,
    exp.Coalesce: _varargs(ibis.coalesce), exp.Greatest: _varargs(ibis.greatest), exp.Least: _varargs(ibis.least),
    exp.Nullif: lambda c, n: c.compile(n.this).nullif(_coerce(c.compile(n.this), c.compile(n.expression))[1]),
    exp.Abs: lambda c, n: _numeric(c.compile(n.this)).abs(),
    exp.Floor: lambda c, n: _numeric(c.compile(n.this)).floor(),
    exp.Ceil: lambda c, n: _numeric(c.compile(n.this)).ceil(),
    exp.Round: _round,
    exp.StrPosition: lambda c, n: _str(c.compile(n.this)).find(c.compile(n.args["substr"])) + 1,
    exp.StartsWith: _two_text(lambda s, x: s.startswith(x)),
    exp.EndsWith: _two_text(lambda s, x: s.endswith(x)),
    exp.Contains: _two_text(lambda s, x: s.contains(x)),
    exp.Replace: _replace,
    exp.RegexpLike: lambda c, n: _regexp(c, n, extract=False),
    exp.RegexpExtract: lambda c, n: _regexp(c, n, extract=True),
    exp.Left: lambda c, n: _left_right(c, n, left=True), exp.Right: lambda c, n: _left_right(c, n, left=False),
    exp.Year: _date_part("year"), exp.Month: _date_part("month"), exp.Day: _date_part("day"),
    exp.Extract: _extract,
}
_HELPERS: dict[type[exp.Expression], Callable[[ir.Value], ir.Value]] = {
    exp.Lower: lambda s: _str(s).lower(), exp.Upper: lambda s: _str(s).upper(),
    exp.Length: lambda s: _str(s).length(), exp.Initcap: lambda s: _str(s).capitalize(),
}
