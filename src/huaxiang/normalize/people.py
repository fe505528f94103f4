"""Person names (simplified, spacing of Chinese and Latin names) and gender codes."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from huaxiang.normalize.text import _CJK, _clean_text, to_simplified

__all__ = ["normalize_gender", "normalize_name"]


# --------------------------------------------------------------------------- names


def normalize_name(value: ir.StringValue) -> ir.StringValue:
    """Clean a person's name: width, spacing, middle dot, traditional → simplified.

    Full-width ASCII and U+3000 become half-width, zero-width characters are
    removed, whitespace runs become one space and the ends are stripped.
    Name middle dots (``•`` U+2022, ``・`` U+30FB, ``‧`` U+2027, ``･`` U+FF65) become ``·``
    (``阿卜杜拉·买买提``). Traditional characters become simplified
    (:func:`to_simplified`). Latin letters keep their case.

    When the name has no Latin letters or digits, every space is removed
    (``张 三`` → ``张三``, ``欧阳 娜娜`` → ``欧阳娜娜``). In mixed-script names
    (``李 小龙 Bruce Lee``) spaces are kept as they are: removing only the
    spaces *between two CJK characters* needs a back-reference or look-around,
    which the two engines' regex dialects do not share.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    StringValue
        The cleaned name, or NULL when nothing is left.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"n": ["張 偉", "  John   Smith ", "陳小明\\u200b"]})
    >>> normalize_name(t.n).execute().tolist()
    ['张伟', 'John Smith', '陈小明']
    """
    s = _clean_text(value).translate("•・‧･", "····").re_replace(" ?· ?", "·")
    cjk_only = s.re_search(f"[{_CJK}]") & ~s.re_search("[A-Za-z0-9]")
    s = ibis.cases((cjk_only, s.re_replace(" ", "")), else_=s)
    # the big translate comes last so that it appears once in the compiled SQL
    return to_simplified(s).nullif("")


def normalize_gender(value: ir.StringValue) -> ir.StringValue:
    """Map a gender value to ``male``, ``female`` or ``unknown``.

    ``男 男性 男士 先生 m male 1`` → ``male``; ``女 女性 女士 小姐 f female 2`` →
    ``female`` (case-insensitive, full-width and spaces cleaned); anything
    else, ``0`` and NULL → ``unknown``.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    StringValue
        ``male``, ``female`` or ``unknown``; never NULL.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"g": ["男", " Female ", "0", None]})
    >>> normalize_gender(t.g).execute().tolist()
    ['male', 'female', 'unknown', 'unknown']
    """
    s = _clean_text(value).lower()
    return ibis.cases(
        (s.isin(["男", "男性", "男士", "先生", "m", "male", "1"]), "male"),
        (s.isin(["女", "女性", "女士", "小姐", "f", "female", "2"]), "female"),
        else_="unknown",
    )
