"""The tag rule language: parsed (never ``eval``-ed), compiled to Ibis, explained per person.

A rule is a condition over the columns of the ``features`` table, read the way a marketer writes it::

    share_discounted_orders >= 0.5 and orders_365d >= 3
    not (top_channel in ('store', 'web')) or channel_count >= 3
    recency_days between 180 and 720 and orders_total >= 2
    avg_rating is not null and avg_rating >= 4.5
    orders_90d - orders_prev_90d <= -2 and lifecycle_stage = 'declining'

Grammar (keywords are case-insensitive, feature names are not)::

    rule       := or
    or         := and ('or' and)*
    and        := not ('and' not)*
    not        := 'not' not | predicate
    predicate  := sum [ CMP sum | ['not'] 'in' '(' literal (',' literal)* ')'
                      | ['not'] 'between' sum 'and' sum | 'is' ['not'] 'null' ]
    sum        := product (('+' | '-') product)*
    product    := unary (('*' | '/') unary)*
    unary      := '-' unary | atom
    atom       := NUMBER | STRING | 'true' | 'false' | 'null' | NAME | '(' rule ')'
    CMP        := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | '≥' | '≤' | '≠'

:func:`parse_rule` turns the text into a small AST (:class:`Node` subclasses, each remembering the
characters it came from); mistakes raise :class:`~huaxiang.errors.RuleError` pointing at the
character. :mod:`huaxiang.tags.compile` turns the AST into an Ibis boolean expression (the same
rule runs on DuckDB and Spark) and explains, per person, which comparisons held.

Examples
--------
>>> rule = parse_rule("share_discounted_orders >= 0.5 and orders_365d >= 3")
>>> rule.columns(), rule.to_text()
(['share_discounted_orders', 'orders_365d'], 'share_discounted_orders ≥ 0.5 and orders_365d ≥ 3')
>>> parse_rule("orders_356d >= 3", columns=["orders_365d", "person_id", "share_discounted_orders"])
Traceback (most recent call last):
...
huaxiang.errors.RuleError: unknown feature 'orders_356d' at character 1:
  orders_356d >= 3
  ^^^^^^^^^^^
did you mean 'orders_365d'? valid features: orders_365d, person_id, share_discounted_orders
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from huaxiang.errors import RuleError

__all__ = ["Between", "Binary", "Column", "In", "IsNull", "Literal", "Node", "Not", "Rule", "check_rules",
           "parse_rule", "tokenize", "unknown_name_error"]

Scalar = float | int | str | bool | None

# ----------------------------------------------------------------------------- tokens

_KEYWORDS = frozenset({"and", "or", "not", "in", "between", "is", "null", "true", "false"})
_COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "≠": "!=", "<": "<", "<=": "<=", "≤": "<=",
                ">": ">", ">=": ">=", "≥": ">="}
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<name>[^\W\d]\w*)
  | (?P<op>==|!=|<>|<=|>=|[=<>≠≤≥()+\-*/,])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    """One token: its kind (``number``, ``string``, ``name``, ``keyword``, ``op``, ``end``), text and offset."""

    kind: str
    text: str
    pos: int
    value: Any = None


def _caret(source: str, pos: int, end: int | None = None) -> str:
    width = max((end if end is not None else pos + 1) - pos, 1)
    return f"  {source}\n  {' ' * pos}{'^' * width}"


def _error(source: str, message: str, pos: int, end: int | None = None, hint: str = "") -> RuleError:
    text = f"{message} at character {pos + 1}:\n{_caret(source, pos, end)}"
    return RuleError(text + (f"\n{hint}" if hint else ""))


def tokenize(source: str) -> list[Token]:
    """Split a rule into tokens (whitespace dropped, an ``end`` token appended).

    >>> [t.text for t in tokenize("orders_365d>=3 and top_channel in ('app')")]
    ['orders_365d', '>=', '3', 'and', 'top_channel', 'in', '(', "'app'", ')', '']
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN_RE.match(source, pos)
        if m is None:
            ch = source[pos]
            if ch in "'\"":
                raise _error(source, f"unclosed text starting with {ch}", pos,
                             hint=f"close it with a matching {ch}")
            raise _error(source, f"unexpected character {ch!r}", pos,
                         hint="use and/or/not, comparisons (= != < <= > >=), + - * / and parentheses")
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "number":
            value: Any = float(text) if any(c in text for c in ".eE") else int(text)
            tokens.append(Token("number", text, pos, value))
        elif kind == "string":
            quote = text[0]
            tokens.append(Token("string", text, pos, text[1:-1].replace(quote * 2, quote)))
        elif kind == "name":
            if text.lower() in _KEYWORDS:
                tokens.append(Token("keyword", text, pos, text.lower()))
            else:
                tokens.append(Token("name", text, pos, text))
        elif kind == "op":
            tokens.append(Token("op", text, pos, _COMPARISONS.get(text, text)))
        pos = m.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# ----------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Node:
    """A node of the rule AST; ``pos``/``end`` are the character offsets it was read from."""

    pos: int
    end: int

    def to_text(self) -> str:  # pragma: no cover - every subclass overrides
        """The node written back as rule text (canonical spacing)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Literal(Node):
    """A number, text, boolean or NULL."""

    value: Scalar

    def to_text(self) -> str:
        return _format_value(self.value)


@dataclass(frozen=True)
class Column(Node):
    """A feature name."""

    name: str

    def to_text(self) -> str:
        return self.name


@dataclass(frozen=True)
class Binary(Node):
    """``left op right``: arithmetic (+ - * /), comparison (= != < <= > >=) or logic (and, or)."""

    op: str
    left: Node
    right: Node

    def to_text(self) -> str:
        return f"{_wrap(self.left, self.op)} {_SYMBOL.get(self.op, self.op)} {_wrap(self.right, self.op, right=True)}"


@dataclass(frozen=True)
class Not(Node):
    """``not x`` (logic) — arithmetic negation is ``0 - x``."""

    operand: Node

    def to_text(self) -> str:
        return f"not {_wrap(self.operand, 'not')}"


@dataclass(frozen=True)
class In(Node):
    """``x [not] in (a, b, …)``."""

    operand: Node
    values: tuple[Literal, ...]
    negated: bool = False

    def to_text(self) -> str:
        inner = ", ".join(v.to_text() for v in self.values)
        return f"{_wrap(self.operand, 'in')} {'not in' if self.negated else 'in'} ({inner})"


@dataclass(frozen=True)
class Between(Node):
    """``x [not] between low and high`` (bounds inclusive)."""

    operand: Node
    low: Node
    high: Node
    negated: bool = False

    def to_text(self) -> str:
        word = "not between" if self.negated else "between"
        return f"{_wrap(self.operand, 'in')} {word} {_wrap(self.low, '+')} and {_wrap(self.high, '+')}"


@dataclass(frozen=True)
class IsNull(Node):
    """``x is [not] null``."""

    operand: Node
    negated: bool = False

    def to_text(self) -> str:
        return f"{_wrap(self.operand, 'in')} is {'not null' if self.negated else 'null'}"


_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "=": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4,
               "+": 5, "-": 5, "*": 6, "/": 6}
_SYMBOL = {"!=": "≠", "<=": "≤", ">=": "≥"}
_ARITHMETIC = frozenset({"+", "-", "*", "/"})
_COMPARE = frozenset({"=", "!=", "<", "<=", ">", ">="})
_LOGIC = frozenset({"and", "or"})
_NEGATE = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _wrap(node: Node, parent_op: str, *, right: bool = False) -> str:
    text = node.to_text()
    if isinstance(node, Binary):
        mine, theirs = _PRECEDENCE[node.op], _PRECEDENCE[parent_op]
        if mine < theirs or (right and mine == theirs and parent_op in ("-", "/")):
            return f"({text})"
    elif isinstance(node, Not | In | Between | IsNull) and _PRECEDENCE[parent_op] > _PRECEDENCE["not"]:
        return f"({text})"
    return text


def _format_value(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):
        return repr(float(round(value, 2))) if math.isfinite(value) else repr(float(value))
    return str(value)


# ----------------------------------------------------------------------------- parser


@dataclass(frozen=True)
class Rule:
    """A parsed rule: its source text and AST.

    >>> Rule.parse("orders_365d>=3 AND share_app>0.5").to_text()
    'orders_365d ≥ 3 and share_app > 0.5'
    """

    source: str
    root: Node

    @classmethod
    def parse(cls, source: str, columns: Collection[str] | None = None) -> Rule:
        """Same as :func:`parse_rule`."""
        return parse_rule(source, columns=columns)

    def to_text(self) -> str:
        """The rule in canonical form (``≥``, ``≤``, ``≠``; minimal parentheses)."""
        return self.root.to_text()

    def columns(self) -> list[str]:
        """The feature names the rule reads, in order of first use."""
        found: list[str] = []
        _collect_columns(self.root, found)
        return found


def _collect_columns(node: Node, found: list[str]) -> None:
    if isinstance(node, Column):
        if node.name not in found:
            found.append(node.name)
        return
    for child in _children(node):
        _collect_columns(child, found)


def _children(node: Node) -> list[Node]:
    if isinstance(node, Binary):
        return [node.left, node.right]
    if isinstance(node, Not | IsNull):
        return [node.operand]
    if isinstance(node, In):
        return [node.operand, *node.values]
    if isinstance(node, Between):
        return [node.operand, node.low, node.high]
    return []


class _Parser:
    def __init__(self, source: str, columns: Collection[str] | None) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.columns = columns

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _is_keyword(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def _is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def _fail(self, expected: str, tok: Token | None = None) -> RuleError:
        tok = tok or self.tok
        found = "the end of the rule" if tok.kind == "end" else repr(tok.text)
        return _error(self.source, f"expected {expected} but found {found}", tok.pos, tok.pos + max(len(tok.text), 1))

    def _expect_keyword(self, word: str) -> Token:
        if not self._is_keyword(word):
            raise self._fail(f"'{word}'")
        return self._advance()

    def _expect_op(self, op: str, what: str) -> Token:
        if not self._is_op(op):
            raise self._fail(what)
        return self._advance()

    # -- grammar
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise _error(self.source, "the rule is empty", 0, hint="write a condition, e.g. orders_365d >= 3")
        node = self._or()
        if self.tok.kind != "end":
            raise self._fail("'and', 'or' or the end of the rule")
        return node

    def _or(self) -> Node:
        node = self._and()
        while self._is_keyword("or"):
            self._advance()
            right = self._and()
            node = Binary(node.pos, right.end, "or", node, right)
        return node

    def _and(self) -> Node:
        node = self._not()
        while self._is_keyword("and"):
            self._advance()
            right = self._not()
            node = Binary(node.pos, right.end, "and", node, right)
        return node

    def _not(self) -> Node:
        if self._is_keyword("not"):
            start = self._advance().pos
            operand = self._not()
            return Not(start, operand.end, operand)
        return self._predicate()

    def _predicate(self) -> Node:
        left = self._sum()
        tok = self.tok
        if tok.kind == "op" and tok.value in _COMPARE:
            self._advance()
            right = self._sum()
            return Binary(left.pos, right.end, str(tok.value), left, right)
        negated = False
        if self._is_keyword("not") and self.tokens[self.i + 1].kind == "keyword" and \
                self.tokens[self.i + 1].value in ("in", "between"):
            self._advance()
            negated = True
        if self._is_keyword("in"):
            self._advance()
            self._expect_op("(", "'(' starting the list of values")
            values = [self._list_value()]
            while self._is_op(","):
                self._advance()
                values.append(self._list_value())
            close = self._expect_op(")", "',' or ')' closing the list")
            return In(left.pos, close.pos + 1, left, tuple(values), negated)
        if self._is_keyword("between"):
            self._advance()
            low = self._sum()
            self._expect_keyword("and")
            high = self._sum()
            return Between(left.pos, high.end, left, low, high, negated)
        if self._is_keyword("is"):
            self._advance()
            neg = False
            if self._is_keyword("not"):
                self._advance()
                neg = True
            tok_null = self._expect_keyword("null")
            return IsNull(left.pos, tok_null.pos + len(tok_null.text), left, neg)
        return left

    def _list_value(self) -> Literal:
        node = self._unary()
        if not isinstance(node, Literal):
            raise _error(self.source, "a list after 'in' holds only numbers or quoted texts", node.pos, node.end,
                         hint="quote texts, e.g. top_channel in ('app', 'web')")
        return node

    def _sum(self) -> Node:
        node = self._product()
        while self._is_op("+", "-"):
            op = str(self._advance().value)
            right = self._product()
            node = Binary(node.pos, right.end, op, node, right)
        return node

    def _product(self) -> Node:
        node = self._unary()
        while self._is_op("*", "/"):
            op = str(self._advance().value)
            right = self._unary()
            node = Binary(node.pos, right.end, op, node, right)
        return node

    def _unary(self) -> Node:
        if self._is_op("-"):
            start = self._advance().pos
            operand = self._unary()
            if isinstance(operand, Literal) and isinstance(operand.value, int | float) and \
                    not isinstance(operand.value, bool):
                return Literal(start, operand.end, -operand.value)
            return Binary(start, operand.end, "-", Literal(start, start, 0), operand)
        return self._atom()

    def _atom(self) -> Node:
        tok = self.tok
        end = tok.pos + len(tok.text)
        if tok.kind in ("number", "string"):
            self._advance()
            return Literal(tok.pos, end, tok.value)
        if tok.kind == "keyword" and tok.value in ("true", "false", "null"):
            self._advance()
            return Literal(tok.pos, end, {"true": True, "false": False, "null": None}[str(tok.value)])
        if tok.kind == "name":
            self._advance()
            self._check_column(tok)
            return Column(tok.pos, end, str(tok.value))
        if self._is_op("("):
            self._advance()
            inner = self._or()
            close = self._expect_op(")", "')' closing the parenthesis")
            return _with_span(inner, tok.pos, close.pos + 1)
        raise self._fail("a feature name, a number or a quoted text")

    def _check_column(self, tok: Token) -> None:
        if self.columns is None or tok.text in self.columns:
            return
        raise unknown_name_error(self.source, tok.text, tok.pos, self.columns)


def unknown_name_error(source: str, name: str, pos: int, columns: Collection[str]) -> RuleError:
    """The error for an unknown feature: caret, closest names (difflib) and the valid names."""
    valid = sorted(columns)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in valid}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    hint = (f"did you mean {close[0]!r}? " if close else "") + \
        f"valid features: {', '.join(valid)}"
    if not close:
        hint = f"if {name!r} is a text value, quote it: '{name}'; " + hint
    return _error(source, f"unknown feature {name!r}", pos, pos + len(name), hint)


def _with_span(node: Node, pos: int, end: int) -> Node:
    """``node`` re-spanned over its parentheses (so carets cover them)."""
    from dataclasses import replace

    return replace(node, pos=pos, end=end)


def parse_rule(source: str, columns: Collection[str] | None = None) -> Rule:
    """Parse a rule; with ``columns``, every name must be one of them.

    Parameters
    ----------
    source
        The rule text, e.g. ``"share_discounted_orders >= 0.5 and orders_365d >= 3"``.
    columns
        The valid feature names; ``None`` skips the check.

    Returns
    -------
    Rule
        The source and its AST.

    Raises
    ------
    RuleError
        On a syntax mistake or an unknown name, with a caret under the character.

    Examples
    --------
    >>> parse_rule("top_channel in ('app', 'web') and not share_store > 0.2").to_text()
    "top_channel in ('app', 'web') and not share_store > 0.2"
    >>> parse_rule("orders_365d >=")
    Traceback (most recent call last):
    ...
    huaxiang.errors.RuleError: expected a feature name, a number or a quoted text but found the end of the rule at character 15:
      orders_365d >=
                    ^
    """
    if not isinstance(source, str):
        raise RuleError(f"a rule is text, got {type(source).__name__}: {source!r}")
    return Rule(source, _Parser(source, columns).parse())


def check_rules(rules: Mapping[str, str], columns: Sequence[str]) -> dict[str, RuleError]:
    """Parse several rules against ``columns``; returns the errors by key (empty when all parse).

    >>> sorted(check_rules({"a": "x > 1", "b": "y > 1"}, ["x"]))
    ['b']
    """
    errors: dict[str, RuleError] = {}
    for key, text in rules.items():
        try:
            parse_rule(text, columns=columns)
        except RuleError as exc:
            errors[key] = exc
    return errors
