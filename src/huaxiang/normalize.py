"""Cleaning normalisers as engine expressions (shared by the ingest and clean stages).

Every normaliser maps an Ibis value expression to an Ibis value expression,
so the same code runs inside the ingest SQL on DuckDB and on Spark: no
Python UDFs, no pandas. They are built only from operations that behave the
same on both backends (``translate``, ``re_replace``, ``re_search``,
``re_extract``, ``length``, ``substr``, ``cases``, ``try_cast``, ``isin``)
and from regular expressions in the common subset of RE2 (DuckDB) and
``java.util.regex`` (Spark): no look-arounds, no back-references, code
points written as ``\\x{hhhh}``.

Values that cannot be cleaned become NULL (the caller decides whether to
quarantine the row); nothing here raises on data.

Examples
--------
>>> import ibis
>>> from huaxiang.normalize import normalize_phone, normalize_name
>>> t = ibis.memtable({"phone": ["１３８ ００１３ ８０００"], "name": ["張 偉"]})
>>> row = t.select(p=normalize_phone(t.phone), n=normalize_name(t.name)).execute().iloc[0]
>>> row.p, row.n
('+8613800138000', '张伟')
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import ibis
import ibis.expr.types as ir

from huaxiang.errors import ConfigError

__all__ = [
    "city_tier",
    "normalize_city",
    "normalize_email",
    "normalize_gender",
    "normalize_name",
    "normalize_phone",
    "normalize_region",
    "parse_amount",
    "parse_bool",
    "to_halfwidth",
    "to_simplified",
]

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


# --------------------------------------------------------------------------- phone

#: Mainland number: optional ``+86``/``86`` and trunk ``0``, then the national significant number
#: (mobile, 2-digit area + 8 digits, 3-digit area + 7-8 digits). Group 1 is the NSN.
_CN_NUMBER = r"^(?:\+860?|860?|0)?(1[3-9][0-9]{9}|(?:10|2[0-9])[0-9]{8}|[3-9][0-9]{9,10})$"
_PHONE_LABEL = r"^(?:tel|phone|mobile|cell|电话|手机号?|联系电话|联系方式)[ :]*"
_PHONE_EXTENSION = r" *(?:ext|extension|x|转|分机|#|,|;|、).*$"
#: One digit repeated (``0000000``, ``11111111111``): a placeholder, not a number.
_ONE_DIGIT = r"^\+?(?:" + "|".join(f"{d}+" for d in range(10)) + ")$"


def normalize_phone(value: ir.StringValue, default_country_code: str = "86") -> ir.StringValue:
    """Normalise a phone number to E.164 (``+8613800138000``), or NULL.

    Cleaning: full-width digits and ``＋（）`` are made half-width, zero-width
    characters, spaces, dashes, dots, slashes and parentheses are removed, a
    ``(0)`` trunk marker and a leading label (``Tel:``, ``手机:``) are dropped,
    and an extension (``ext. 12``, ``x12``, ``转123``, ``分机 8``, ``#8``) or a
    second number after ``,``/``;``/``、`` is cut off. Anything else left
    (letters, ``n/a``, ``无``) makes the value NULL.

    With the default country ``86`` (mainland China) the national significant
    number must be a mobile ``1[3-9]`` + 9 digits, a landline with a 2-digit
    (``10``, ``2x``) area code and 8 digits, or a 3-digit area code (``3xx``-``9xx``,
    which includes the ``400`` service numbers) and 7-8 digits. The trunk
    ``0`` is dropped (``010-12345678`` → ``+861012345678``) and ``86`` (or ``860``)
    in front of such a number is taken as the country code (``8613800138000``).
    One digit repeated (``0000000``) is a placeholder, not a number. A number written with
    ``+CC`` or ``00CC`` for another country is kept as ``+`` and its digits when
    it has 8-15 digits; no per-country numbering plan is checked there.

    For another ``default_country_code`` the national number loses one leading
    trunk ``0`` and is kept when the result has 8-15 digits.

    Parameters
    ----------
    value
        A string expression with phone numbers as people type them.
    default_country_code
        Calling code (digits, no ``+``) of numbers written without one.

    Returns
    -------
    StringValue
        E.164 text, or NULL when the value cannot be a phone number.

    Raises
    ------
    ConfigError
        If ``default_country_code`` is not 1-3 digits.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"p": ["0086 138-0013-8000", "(0755) 8888 8888 转 12", "n/a"]})
    >>> normalize_phone(t.p).execute().tolist()
    ['+8613800138000', '+8675588888888', None]
    """
    cc = default_country_code.lstrip("+")
    if not (cc.isascii() and cc.isdigit() and 1 <= len(cc) <= 3 and cc[0] != "0"):
        raise ConfigError(
            f"normalize_phone: default_country_code={default_country_code!r} is not a calling code; "
            "pass 1-3 digits such as '86' or '44'"
        )
    # One linear chain of replacements, then two anchored extractions: every intermediate
    # expression is referenced once, so the compiled SQL stays small on both engines.
    s = _clean_text(value).lower()
    s = s.re_replace(_PHONE_LABEL, "").re_replace(_PHONE_EXTENSION, "").re_replace(r"\(0\)", "")
    s = s.re_replace(r"[ ./()\-]", "").re_replace(_ONE_DIGIT, "").re_replace("^00", "+")
    if cc == "86":
        national = s.re_extract(_CN_NUMBER, 1)
        foreign = s.re_extract(r"^\+([1-79][0-9]{7,14}|8[0-57-9][0-9]{6,13})$", 1)
    else:
        low, high = 7 - len(cc), 14 - len(cc)
        national = s.re_extract(f"^0?([1-9][0-9]{{{low},{high}}})$", 1)
        foreign = s.re_extract(r"^\+([1-9][0-9]{7,14})$", 1)
    # exactly one of the two is non-empty; an empty one must not leave its bare prefix behind
    own = (f"+{cc}" + national).re_replace(f"^\\+{cc}$", "")
    other = ("+" + foreign).re_replace(r"^\+$", "")
    return (own + other).nullif("")


# --------------------------------------------------------------------------- email

_EMAIL_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_RE = (
    rf"^{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*@"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)


def normalize_email(value: ir.StringValue) -> ir.StringValue:
    """Normalise an e-mail address, or NULL when it is not a sane ``local@domain.tld``.

    Full-width characters (``＠``, ``．``) and the ideographic full stop ``。``
    become ASCII, zero-width characters go, whitespace (also U+3000 and NBSP)
    is stripped and removed around ``@`` and ``.``, a ``mailto:`` prefix and
    enclosing ``<>`` are removed, and everything is lower-cased. The result
    must match a dot-atom local part (at most 64 characters) ``@`` a domain of
    letter/digit/hyphen labels and an alphabetic or ``xn--`` top-level domain,
    254 characters in all.

    Dots in Gmail local parts are *not* removed (``a.b@gmail.com`` and
    ``ab@gmail.com`` reach the same mailbox); identity matching may want to
    fold them.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    StringValue
        The lower-case address, or NULL.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"e": ["  Zhang.San＠QQ．com ", "mailto:Bob@Example.org", "无"]})
    >>> normalize_email(t.e).execute().tolist()
    ['zhang.san@qq.com', 'bob@example.org', None]
    """
    s = _clean_text(value.translate("。｡", "..")).lower()
    s = s.re_replace("^mailto:", "").re_replace("^<|>$", "")
    s = s.re_replace(" *@ *", "@").re_replace(r" *\. *", ".")
    local_ok = s.re_search(r"^[^@]{1,64}@")
    ok = s.re_search(_EMAIL_RE) & local_ok & (s.length() <= 254)
    return ibis.cases((ok, s), else_=ibis.null("string"))


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


# --------------------------------------------------------------------------- places

#: The 34 provincial-level divisions, canonical short names.
PROVINCES: tuple[str, ...] = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
    "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
)  # fmt: skip

_PROVINCE_LATIN: dict[str, str] = {
    "beijing": "北京", "peking": "北京", "tianjin": "天津", "shanghai": "上海", "chongqing": "重庆",
    "hebei": "河北", "shanxi": "山西", "liaoning": "辽宁", "jilin": "吉林", "heilongjiang": "黑龙江",
    "jiangsu": "江苏", "zhejiang": "浙江", "anhui": "安徽", "fujian": "福建", "jiangxi": "江西",
    "shandong": "山东", "henan": "河南", "hubei": "湖北", "hunan": "湖南", "guangdong": "广东",
    "hainan": "海南", "sichuan": "四川", "guizhou": "贵州", "yunnan": "云南", "shaanxi": "陕西",
    "gansu": "甘肃", "qinghai": "青海", "taiwan": "台湾", "neimenggu": "内蒙古", "neimongol": "内蒙古",
    "innermongolia": "内蒙古", "guangxi": "广西", "xizang": "西藏", "tibet": "西藏", "ningxia": "宁夏",
    "xinjiang": "新疆", "hongkong": "香港", "xianggang": "香港", "macau": "澳门", "macao": "澳门",
    "aomen": "澳门",
}  # fmt: skip

_PROVINCE_SUFFIX_ZH = "(?:省|市|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区)$"
_PROVINCE_SUFFIX_LATIN = (
    "(?:province|sheng|municipality|city|shi|autonomousregion|zizhiqu|specialadministrativeregion|sar)$"
)


def normalize_region(value: ir.StringValue) -> ir.StringValue:
    """Map a Chinese provincial-level division to its canonical short name.

    All 34 divisions: ``广东省``/``广东``/``廣東``/``Guangdong``/``Guangdong Province``
    → ``广东``; ``北京市``/``Beijing`` → ``北京``; ``内蒙古自治区``/``Inner Mongolia`` →
    ``内蒙古``; ``广西壮族自治区`` → ``广西``; ``香港特别行政区``/``Hong Kong`` →
    ``香港`` … Abbreviations (``GD``, ``粤``) are not recognised. A value that is
    not a division is returned cleaned (width, whitespace, strip) but
    otherwise unchanged; an empty one becomes NULL.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    StringValue
        Canonical short name, or the cleaned input.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"r": ["广东省", "Inner Mongolia", "香港特别行政区", " 火星 "]})
    >>> normalize_region(t.r).execute().tolist()
    ['广东', '内蒙古', '香港', '火星']
    """
    cleaned = _clean_text(value).nullif("")
    zh = to_simplified(cleaned).re_replace(" ", "").re_replace(_PROVINCE_SUFFIX_ZH, "")
    latin = cleaned.lower().re_replace("[ '_.-]", "").re_replace(_PROVINCE_SUFFIX_LATIN, "")
    # simple CASEs (``CASE x WHEN …``) keep each key expression once in the compiled SQL
    # `substitute`/`isin` reference each input once; a `cases` chain repeated the whole
    # cleaning expression per branch (34x) in the SQL.
    by_latin = latin.substitute(dict(_PROVINCE_LATIN), else_=cleaned)
    return ibis.ifelse(zh.isin(list(PROVINCES)), zh, by_latin)


def normalize_city(value: ir.StringValue) -> ir.StringValue:
    """Clean a city name: width, whitespace, traditional → simplified, no trailing ``市``/``地区``.

    The suffix is removed only when at least two characters remain (``沙市``
    stays). Latin names are only cleaned of spacing.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    StringValue
        The cleaned city, or NULL when nothing is left.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"c": ["深圳市", "廣州", "ＨＡＮＧＺＨＯＵ", "阿里地区"]})
    >>> normalize_city(t.c).execute().tolist()
    ['深圳', '广州', 'HANGZHOU', '阿里']
    """
    s = to_simplified(_clean_text(value))
    return s.re_extract(r"^(..+?|.)(?:市|地区)?$", 1).nullif("")


_TIER1: dict[str, tuple[str, ...]] = {
    "北京": ("beijing", "peking"), "上海": ("shanghai",), "广州": ("guangzhou", "canton"),
    "深圳": ("shenzhen",),
}  # fmt: skip
#: 第一财经·新一线城市研究所《2023城市商业魅力排行榜》 new first-tier list.
_NEW_TIER1_2023: dict[str, tuple[str, ...]] = {
    "成都": ("chengdu",), "重庆": ("chongqing",), "杭州": ("hangzhou",), "西安": ("xian",),
    "武汉": ("wuhan",), "苏州": ("suzhou",), "郑州": ("zhengzhou",), "南京": ("nanjing",),
    "天津": ("tianjin",), "长沙": ("changsha",), "东莞": ("dongguan",), "宁波": ("ningbo",),
    "佛山": ("foshan",), "合肥": ("hefei",), "青岛": ("qingdao",),
}  # fmt: skip


def _names(table: dict[str, tuple[str, ...]]) -> list[str]:
    return [n for zh, latin in table.items() for n in (zh, *latin)]


def city_tier(value: ir.StringValue) -> ir.StringValue:
    """Classify a city as ``tier1``, ``new_tier1`` or ``other``.

    ``tier1``: 北京 上海 广州 深圳. ``new_tier1``: the 15 cities of the 2023 list
    of 第一财经·新一线城市研究所 (*2023 城市商业魅力排行榜*): 成都 重庆 杭州 西安
    武汉 苏州 郑州 南京 天津 长沙 东莞 宁波 佛山 合肥 青岛. Everything else,
    NULL included, is ``other``. The value goes through
    :func:`normalize_city` first; pinyin names (``Shenzhen``, ``Xi'an``) are
    recognised too.

    Parameters
    ----------
    value
        A string expression with city names.

    Returns
    -------
    StringValue
        ``tier1``, ``new_tier1`` or ``other``; never NULL.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"c": ["深圳市", "Hangzhou", "大理"]})
    >>> city_tier(t.c).execute().tolist()
    ['tier1', 'new_tier1', 'other']
    """
    city = normalize_city(value)
    key = city.lower().re_replace("[ '_.-]", "").re_replace("(?:city|shi)$", "")
    tiers = [(n, "tier1") for n in _names(_TIER1)] + [(n, "new_tier1") for n in _names(_NEW_TIER1_2023)]
    return key.cases(*tiers, else_="other").fill_null("other")


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
