"""Safe user expressions: text a person or a file writes, parsed and checked, never run as SQL.

``show --where``, a source's ``quarantine_if`` ``when:`` and its ``expr:`` mappings, and the
audience rules and API filters to come are written in SQL's expression syntax (DuckDB dialect).
The text is tokenised and parsed by sqlglot into a tree; every node must be of a type on the
whitelist below, every column must exist in the table, every function must be on the allow-list;
the checked tree is then compiled into an Ibis expression over the table, so it runs on DuckDB
and Spark alike and no user text is ever handed to the engine. Anything else — a statement
separator, a comment, DDL/DML, ``ATTACH``/``COPY``/``INSTALL``/``LOAD``/``PRAGMA``/``SET``, a
subquery or another table, a file or network function (``read_csv``, ``read_text``, ``glob``…),
a look-alike character such as a fullwidth semicolon — is refused with a one-line
:class:`ExpressionError` naming the offending part, its character position and where the text
came from.

Examples
--------
>>> import ibis
>>> t = ibis.table({"amount": "float64", "status": "string"}, name="orders")
>>> parse_filter("amount > 100 and status in ('paid', 'pending')", t).type()
Boolean(nullable=True)
>>> parse_filter("1=1; drop table orders", t, where="--where")
Traceback (most recent call last):
...
huaxiang.expressions.ExpressionError: --where: statement separator ';' at character 4 in '1=1; drop table orders' is not allowed; write one condition over the columns of orders
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from huaxiang.expressions.compiler import _STATEMENTS, ALLOWED_FUNCTIONS, ExpressionError, _boolean, _Compiler

__all__ = ["ALLOWED_FUNCTIONS", "ExpressionError", "check_expression", "parse_expression", "parse_filter"]

# The public name, as tracebacks and error listings show it (it is defined with the compiler).
ExpressionError.__module__ = __name__


# --------------------------------------------------------------------------- text checks

_DIALECT = Dialect.get_or_raise("duckdb")
#: ASCII characters whose look-alikes (fullwidth forms, …) are refused outside quotes.
_LOOKALIKE_TARGETS = frozenset(";'\"`()=<>,.|*-/")


def _scan(text: str, where: str, subject: str) -> None:
    """Refuse separators, comments and look-alike punctuation before parsing."""

    def refuse(what: str, pos: int, fix: str) -> None:
        raise ExpressionError(f"{where}: {what} at character {pos} in {text!r} is not allowed; {fix}")

    if not text.strip():
        raise ExpressionError(f"{where}: the expression is empty; write one expression over the columns of {subject}")
    try:
        tokens = _DIALECT.tokenize(text)
    except TokenError as exc:
        raise ExpressionError(f"{where}: cannot read {text!r}: {str(exc).splitlines()[0]}") from None
    quoted = [(t.start, t.end) for t in tokens if t.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING)]
    for i, ch in enumerate(text):
        if any(a - 1 <= i <= b + 1 for a, b in quoted):
            continue
        folded = unicodedata.normalize("NFKC", ch)
        if folded != ch and folded in _LOOKALIKE_TARGETS:
            refuse(f"look-alike character {ch!r} (U+{ord(ch):04X}, like {folded!r})", i + 1,
                   f"type the ASCII {folded!r} if you mean it")
        if unicodedata.category(ch) == "Cf":
            refuse(f"invisible character U+{ord(ch):04X}", i + 1, "delete it")
    for t in tokens:
        if t.token_type == TokenType.SEMICOLON:
            refuse("statement separator ';'", t.start + 1, f"write one condition over the columns of {subject}")
        if t.comments:
            refuse("a comment", t.end + 2, "remove the comment ('--' or '/* */')")


def _parse(text: str, where: str, subject: str) -> exp.Expression:
    _scan(text, where, subject)
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)  # sqlglot warns before falling back to a generic Command
    try:
        trees = sqlglot.parse(text, read="duckdb")
    except ParseError as exc:
        first = str(exc).splitlines()[0]
        raise ExpressionError(f"{where}: cannot parse {text!r}: {first}") from None
    finally:
        logger.setLevel(level)
    found = [t for t in trees if t is not None]
    if len(found) != 1:
        raise ExpressionError(f"{where}: {text!r} holds {len(found)} statements; write one expression")
    return found[0]


# --------------------------------------------------------------------------- public API


def parse_expression(text: str, table: ir.Table, *, where: str = "expression", table_name: str | None = None,
                     condition: bool = False) -> ir.Value:
    """Parse, check and compile ``text`` into an Ibis value expression over ``table``.

    Parameters
    ----------
    text
        The expression, in SQL expression syntax (DuckDB dialect).
    table
        The Ibis table whose columns the expression may name.
    where
        Where the text came from, for error messages (``"--where"``, ``"sources[pos].columns.x.expr"``).
    table_name
        The table's name: columns may be qualified with it (``orders.amount``). Default: ``table``'s own name.
    condition
        Require a true/false result.

    Raises
    ------
    ExpressionError
        The text holds anything but one expression over the table's columns with allowed functions.

    Examples
    --------
    >>> import ibis
    >>> raw = ibis.memtable({"customer_id": ["c1"], "_hx_row": [7]})
    >>> e = parse_expression("customer_id || '-' || CAST(_hx_row AS VARCHAR)", raw)
    >>> ibis.duckdb.connect().execute(raw.select(v=e))["v"][0]
    'c1-7'
    >>> parse_expression("read_text('/etc/passwd')", raw, where="columns.note.expr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    huaxiang.expressions.ExpressionError: columns.note.expr: function read_text() at character 1 in "read_text('/etc/passwd')" is not allowed; allowed functions: abs, ceil, ...
    """
    name = table_name if table_name is not None else _table_name(table)
    tree = _parse(text, where, name or "the table")
    compiler = _Compiler(text, table, where, name)
    for node in tree.walk():  # a query or statement anywhere is named as such, before any function
        for statement, label in _STATEMENTS.items():
            if isinstance(node, statement):
                compiler.fail(label, node)
    value = compiler.compile(tree)
    if condition:
        value = _boolean(compiler, tree, value)
    return value


def parse_filter(text: str, table: ir.Table, *, where: str = "filter", table_name: str | None = None) -> ir.BooleanValue:
    """A row filter over ``table`` from user text (``show --where``, audience rules, API filters).

    The result is an Ibis boolean expression: ``table.filter(parse_filter(text, table))``.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"amount": [5.0, 50.0], "status": ["paid", "refunded"]})
    >>> ibis.duckdb.connect().execute(t.filter(parse_filter("amount > 10 or status = 'paid'", t))).shape[0]
    2
    """
    value = parse_expression(text, table, where=where, table_name=table_name, condition=True)
    return value


def check_expression(text: str, columns: Sequence[str] | dict[str, str], *, where: str = "expression",
                     condition: bool = False) -> None:
    """Check ``text`` against column names (all text unless types are given) without any data.

    >>> check_expression("Quantity < 0 AND InvoiceNo NOT LIKE 'C%'", ["Quantity", "InvoiceNo"], condition=True)
    >>> check_expression("x; drop table t", ["x"])
    Traceback (most recent call last):
    ...
    huaxiang.expressions.ExpressionError: expression: statement separator ';' at character 2 in 'x; drop table t' is not allowed; write one condition over the columns of the table
    """
    schema = dict(columns) if isinstance(columns, dict) else {c: "string" for c in columns}
    parse_expression(text, ibis.table(schema, name="_hx_check"), where=where, table_name="", condition=condition)


def _table_name(table: ir.Table) -> str | None:
    try:
        op = table.op()
        name = getattr(op, "name", None)
        return str(name) if name and not str(name).startswith(("ibis_", "_hx_check")) else None
    except Exception:  # pragma: no cover - a table always has an op
        return None
