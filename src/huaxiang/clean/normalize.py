"""The clean stage's normalisers: they live in :mod:`huaxiang.normalize`, below both stages that use them.

Ingest maps typed columns with the same normalisers the clean stage runs, and a stage may not import
a later one; so the code sits in one package under both, and this name stays for existing imports.

>>> import huaxiang.normalize
>>> from huaxiang.clean.normalize import normalize_phone
>>> normalize_phone is huaxiang.normalize.normalize_phone
True
"""

from __future__ import annotations

from huaxiang.normalize import *  # noqa: F403 - the same names, listed once in huaxiang.normalize
from huaxiang.normalize import __all__ as __all__
