"""The clean stage's normalisers: they live in :mod:`huaxiang.normalize`, below both stages that use them.

Ingest maps typed columns with the same normalisers the clean stage runs, and a stage may not import
a later one; so the code sits in one module under both, and this name stays for existing imports.

>>> import huaxiang.normalize
>>> from huaxiang.clean.normalize import normalize_phone
>>> normalize_phone is huaxiang.normalize.normalize_phone
True
"""

from __future__ import annotations

from huaxiang.normalize import (
    PROVINCES,
    _ts_table,
    city_tier,
    normalize_city,
    normalize_email,
    normalize_gender,
    normalize_name,
    normalize_phone,
    normalize_region,
    parse_amount,
    parse_bool,
    to_halfwidth,
    to_simplified,
)

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
