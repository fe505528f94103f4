"""Amounts of money and yes/no flags written as text, parsed into numbers and booleans."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from huaxiang.normalize.text import _clean_text

__all__ = ["parse_amount", "parse_bool"]


# --------------------------------------------------------------------------- amounts and flags

_CURRENCY = r"(?:rmb|cny|usd|eur|gbp|hkd|jpy|us\$|hk\$|[¥￥$£€元])"
_NUM_DOT = r"[0-9]{1,3}(?:[, ][0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_NUM_COMMA = r"[0-9]{1,3}(?:[. ][0-9]{3})+(?:,[0-9]+)?|[0-9]+,[0-9]+"


def _amount_re(number: str) -> str:
    return rf"^{_CURRENCY}? ?([-+])? ?{_CURRENCY}? ?({number}) ?{_CURRENCY}?$"


def parse_amount(value: ir.StringValue) -> ir.FloatingValue:
    """Parse money text to a float, or NULL.

    Accepted: an optional currency (``¥ ￥ $ £ € 元 RMB CNY USD EUR GBP HKD JPY
    US$ HK$``, case-insensitive) before and/or after the number, a sign
    (``-5``, ``-¥5``, ``¥-5``) and accounting parentheses (``(12.00)`` → -12.0).
    The number uses ``.`` for decimals and ``,`` or a space for thousands
    (``¥1,234.50``, ``CNY 1 234.00``). Only when the text names the euro
    (``€`` or ``EUR``) is the European form read first: ``.`` or a space for
    thousands and ``,`` for decimals (``1.234,56 €`` → 1234.56, ``1,5 €`` → 1.5);
    a euro amount not in that form is read as above (``€3.20``). Full-width
    digits and whitespace are cleaned first. Not accepted (→ NULL): a trailing
    minus (``12.30-``), unbalanced parentheses, ``1,5`` without a euro sign, exponents, ``万``, empty
    or other text. Plain numbers parse exactly as a double (``0.1`` → 0.1).

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    FloatingValue
        The amount as float64, or NULL.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"a": ["¥1,234.50", "(12.00)", "1.234,56 €", "n/a"]})
    >>> parse_amount(t.a).execute().tolist()
    [1234.5, -12.0, 1234.56, nan]
    """
    s = _clean_text(value.translate("\u2212", "-")).lower()
    paren = s.re_search(r"^[^()]*\([^()]+\)[^()]*$")
    stray_paren = s.re_search("[()]") & ~paren
    s = s.re_replace("[()]", "").re_replace("^ | $", "")
    euro = s.re_search("€|eur")
    dot_re, comma_re = _amount_re(_NUM_DOT), _amount_re(_NUM_COMMA)
    dot_num = s.re_extract(dot_re, 2).re_replace("[, ]", "")
    comma_num = s.re_extract(comma_re, 2).re_replace("[. ]", "").translate(",", ".")
    use_comma = euro & s.re_search(comma_re)
    sign = ibis.cases((use_comma, s.re_extract(comma_re, 1)), else_=s.re_extract(dot_re, 1))
    number = ibis.cases(
        (use_comma, comma_num),
        (s.re_search(dot_re), dot_num),
        else_=ibis.null("string"),
    ).try_cast("float64")
    negative = paren | (sign == "-")
    return ibis.cases((stray_paren, ibis.null("float64")), (negative, -number), else_=number)


def parse_bool(value: ir.StringValue) -> ir.BooleanValue:
    """Parse a yes/no value to a boolean, or NULL.

    True: ``是 y yes true t 1 同意``; false: ``否 n no false f 0 不同意``
    (case-insensitive, full-width and whitespace cleaned). Anything else is NULL.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    BooleanValue
        True, False or NULL.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"b": ["是", "ＮＯ", "maybe"]})
    >>> parse_bool(t.b).execute().tolist()
    [True, False, None]
    """
    s = _clean_text(value).lower()
    return ibis.cases(
        (s.isin(["是", "y", "yes", "true", "t", "1", "同意"]), ibis.literal(True)),
        (s.isin(["否", "n", "no", "false", "f", "0", "不同意"]), ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
