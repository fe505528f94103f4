"""Provinces, cities and city tiers of mainland China, from Chinese or Latin spellings."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from huaxiang.normalize.text import _clean_text, to_simplified

__all__ = ["PROVINCES", "city_tier", "normalize_city", "normalize_region"]


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
