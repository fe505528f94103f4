"""Text as it comes: full-width to half-width, traditional to simplified, invisible characters and
odd whitespace removed. The other normalisers start from :func:`_clean_text`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import ibis
import ibis.expr.types as ir

__all__ = ["to_halfwidth", "to_simplified"]


# --------------------------------------------------------------------------- character classes

#: Full-width ASCII block (U+FF01-U+FF5E) plus the ideographic space U+3000.
_FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALFWIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "

#: Whitespace the engines' ``\s`` does not cover (NBSP, en/em/thin spaces, ideographic space …).
_WS = r"\s\x{00a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
#: Invisible copy-paste artefacts: soft hyphen, zero-width space/joiners, word joiner, BOM.
_ZERO_WIDTH = r"[\x{00ad}\x{200b}-\x{200f}\x{2060}\x{feff}]"
#: CJK unified ideographs: extension A, the basic block and the compatibility block.
_CJK = r"\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}"


def _clean_text(value: ir.StringValue) -> ir.StringValue:
    """Half-width, drop zero-width characters, collapse whitespace runs to one space, strip."""
    s = to_halfwidth(value).re_replace(_ZERO_WIDTH, "")
    s = s.re_replace(f"[{_WS}]+", " ")
    return s.re_replace("^ | $", "")


# --------------------------------------------------------------------------- width and script


def to_halfwidth(value: ir.StringValue) -> ir.StringValue:
    """Map full-width ASCII (U+FF01-U+FF5E) and the ideographic space U+3000 to half-width.

    Only that block changes: ``￥`` (U+FFE5), CJK punctuation such as ``。`` and
    every other character are kept as they are.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    StringValue
        The same text with ``１３８`` → ``138``, ``ＡＢＣ`` → ``ABC``, ``＠`` → ``@``,
        ``（`` → ``(`` and U+3000 → ``" "``; NULL stays NULL.

    Examples
    --------
    >>> import ibis
    >>> ibis.literal("ＡＢＣ　１２３＠").pipe(to_halfwidth).execute()
    'ABC 123@'
    """
    # DuckDB's translate rebuilds its character map on every row; most text has no full-width
    # character at all, so a (compiled-once) regex guard skips it (bench/README.md).
    return ibis.ifelse(
        value.re_search("[\uff01-\uff5e\u3000]"), value.translate(_FULLWIDTH, _HALFWIDTH), value
    )


def _opencc_dictionary_dir() -> Path:
    import opencc

    return Path(opencc.__file__).resolve().parent / "dictionary"


@lru_cache(maxsize=1)
def _ts_table() -> tuple[str, str]:
    """(traditional, simplified) character strings for ``translate``, built once.

    Read from ``TSCharacters.txt`` of the installed opencc-python-reimplemented
    package; each traditional character maps to its first simplified
    candidate. Entries that are not one character to one character, or that
    map a character to itself, are left out.
    """
    path = _opencc_dictionary_dir() / "TSCharacters.txt"
    src: list[str] = []
    dst: list[str] = []
    seen: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, candidates = line.partition("\t")
        first = candidates.split(" ")[0].strip() if candidates else ""
        if len(key) != 1 or len(first) != 1 or key == first or key in seen:
            continue
        seen.add(key)
        src.append(key)
        dst.append(first)
    return "".join(src), "".join(dst)


def to_simplified(value: ir.StringValue) -> ir.StringValue:
    """Convert traditional Chinese characters to simplified, character by character.

    Uses opencc's ``TSCharacters`` dictionary (first candidate per character,
    about 4,100 characters) as one ``translate``; phrase-level conversions
    (``乾隆`` keeps ``乾`` in opencc's phrase mode) are out of reach of a
    character map, so ``乾`` always becomes ``干``.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    StringValue
        The text with every traditional character replaced; others unchanged.

    Examples
    --------
    >>> import ibis
    >>> ibis.literal("張偉 陳小明").pipe(to_simplified).execute()
    '张伟 陈小明'
    """
    # DuckDB's `translate` rebuilds this large map on every row; a Python UDF over str.translate
    # does not (bench/README.md), and the regex guard keeps it off the (usual) rows that hold no
    # traditional character at all.
    guard = value.re_search(_ts_class())
    return ibis.ifelse(guard, _simplify_udf(value), value)


@lru_cache(maxsize=1)
def _ts_class() -> str:
    src, _ = _ts_table()
    return "[" + "".join(re.escape(c) for c in src) + "]"


@lru_cache(maxsize=1)
def _ts_translation() -> dict[int, int]:
    src, dst = _ts_table()
    return str.maketrans(src, dst)


@ibis.udf.scalar.python(name="hx_to_simplified")
def _simplify_udf(text: str) -> str:
    """Traditional -> simplified by ``str.translate`` (used behind the regex guard)."""
    return text.translate(_ts_translation()) if text is not None else None
