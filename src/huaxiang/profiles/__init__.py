"""Profiles: the customer 360 of one person, behind ``ws.profiles``.

>>> from huaxiang.profiles import Profile
>>> Profile(person_id="P1").tags
[]
"""

from __future__ import annotations

from huaxiang.errors import PersonNotFoundError
from huaxiang.profiles.gather import customer_profile, find_person, gather_profile
from huaxiang.profiles.model import FeatureValue, Profile, ProfilesComponent, ProfileTag

__all__ = [
    "FeatureValue",
    "PersonNotFoundError",
    "Profile",
    "ProfileTag",
    "ProfilesComponent",
    "customer_profile",
    "find_person",
    "gather_profile",
]
