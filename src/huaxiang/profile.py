"""Moved to :mod:`huaxiang.profiles`; this name stays so existing imports keep working.

>>> from huaxiang.profile import customer_profile
>>> customer_profile.__module__
'huaxiang.profiles.gather'
"""

from __future__ import annotations

from huaxiang.profiles.gather import customer_profile, find_person

__all__ = ["customer_profile", "find_person"]
