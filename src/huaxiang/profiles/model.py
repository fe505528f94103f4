"""The customer 360 as a typed object: :class:`Profile`, returned by ``ws.profiles.get(...)``.

Every face shows the same object: the CLI prints it, the HTTP service returns it as JSON
(``profile.model_dump(mode="json")``), the dashboard renders it.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> _ = ws.build(stages=["ingest", "clean"])
>>> ws.profiles.get(phone="138 0013 8000")
Traceback (most recent call last):
...
huaxiang.errors.PersonNotFoundError: no person has phone +8613800138000 (normalised from '138 0013 8000'); check the number or look the person up by --email or --source-id
>>> ws.close()
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from huaxiang.profiles.gather import gather_profile

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace

__all__ = ["FeatureValue", "Profile", "ProfileTag", "ProfilesComponent"]


class ProfileTag(BaseModel):
    """One tag a person holds now, with the rule's reason and when it started."""

    model_config = ConfigDict(frozen=True)

    id: str
    name_zh: str | None = None
    name_en: str | None = None
    reason: str | None = None
    since: datetime | None = None

    def name(self, lang: str = "zh") -> str:
        """The tag's name in ``lang`` (its id when the catalogue has none).

        >>> ProfileTag(id="night_owl", name_zh="夜猫子", name_en="Night owl").name("en")
        'Night owl'
        """
        return (self.name_en if lang == "en" else self.name_zh) or self.id


class FeatureValue(BaseModel):
    """A feature's value and its definition (in the profile's language)."""

    value: Any = None
    definition: str = ""
    #: True when this workspace's data cannot support the feature (its value is then NULL for everyone).
    no_data: bool = False
    #: The inputs the feature reads (e.g. ``time_of_day``), shown when ``no_data``.
    needs: str = ""


class Profile(BaseModel):
    """Everything the workspace knows about one person.

    ``features`` is grouped by dimension (``rfm``, ``time``, ``channel`` …, ``other`` for the
    features the catalogue does not list); ``scores`` is the person's row of the ``scores`` table
    (empty before the models stage); ``as_of`` is the date the features describe, ``updated_at``
    when the workspace was last built.
    """

    person_id: str
    lang: str = "zh"
    records: list[dict[str, Any]] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    features: dict[str, dict[str, FeatureValue]] = Field(default_factory=dict)
    tags: list[ProfileTag] = Field(default_factory=list)
    tag_history: list[dict[str, Any]] = Field(default_factory=list)
    segments: list[dict[str, Any]] = Field(default_factory=list)
    scores: dict[str, Any] = Field(default_factory=dict)
    recommendations: list[dict[str, Any]] = Field(default_factory=list)
    orders: list[dict[str, Any]] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    as_of: datetime | None = None
    updated_at: datetime | None = None

    def to_json(self) -> str:
        """The profile as JSON (Chinese kept as is).

        >>> Profile(person_id="P1").to_json().splitlines()[1]
        '  "person_id": "P1",'
        """
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2)


class ProfilesComponent:
    """``ws.profiles``: the customer 360 of one person."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def get(self, person_id: str | None = None, *, phone: str | None = None, email: str | None = None,
            source_id: str | None = None, user_id: str | None = None, anonymous_id: str | None = None,
            lang: str = "zh", recent: int = 10) -> Profile:
        """The :class:`Profile` of the one person a lookup names.

        Parameters
        ----------
        person_id, phone, email, source_id, user_id, anonymous_id
            Exactly one lookup (see :func:`huaxiang.profiles.find_person`).
        lang
            ``zh`` or ``en``: the language of feature definitions.
        recent
            How many recent orders and events to include.

        Raises
        ------
        PersonNotFoundError
            When nobody matches.
        WorkspaceError
            When several persons match or not exactly one lookup is given.

        Examples
        --------
        >>> import tempfile, huaxiang
        >>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
        >>> _ = ws.build(stages=["ingest", "clean"])
        >>> ws.profiles.get(source_id="crm:M1")
        Traceback (most recent call last):
        ...
        huaxiang.errors.PersonNotFoundError: no person has source id crm:M1; check the number or look the person up by --phone or --source-id
        >>> ws.close()
        """
        data = gather_profile(self._ws, person_id, phone=phone, email=email, source_id=source_id,
                              user_id=user_id, anonymous_id=anonymous_id, lang=lang, recent=recent)
        scores = data.get("scores") or [{}]
        features_row = {name: item["value"] for group in data["features"].values() for name, item in group.items()}
        last = self._ws.last_build()
        return Profile(
            person_id=data["person_id"], lang=lang, records=data["records"], attributes=data["attributes"],
            features=data["features"],
            tags=[ProfileTag(id=t["tag_id"], name_zh=t.get("name_zh"), name_en=t.get("name_en"),
                             reason=t.get("reason"), since=t.get("since")) for t in data["tags"]],
            tag_history=data["tag_history"], segments=data.get("segments", []),
            scores={k: v for k, v in scores[0].items() if k != "person_id"},
            recommendations=data.get("recommendations", []), orders=data["orders"], events=data["events"],
            as_of=features_row.get("as_of") or scores[0].get("as_of"),
            updated_at=datetime.fromisoformat(last.started_at) if last is not None else None,
        )
