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

from huaxiang.normalize.contact import normalize_email, normalize_phone
from huaxiang.normalize.people import normalize_gender, normalize_name
from huaxiang.normalize.places import PROVINCES, city_tier, normalize_city, normalize_region
from huaxiang.normalize.text import _ts_table, to_halfwidth, to_simplified
from huaxiang.normalize.values import parse_amount, parse_bool

__all__ = [
    "PROVINCES",
    "_ts_table",
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
