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
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from huaxiang.engine.warehouse import live_state
from huaxiang.errors import AmbiguousPersonError, PersonNotFoundError, WorkspaceError
from huaxiang.profiles.documents import gather_documents, lookup_keys
from huaxiang.profiles.gather import _normalise, feature_catalog, find_person, shape_document
from huaxiang.profiles.store import ProfileStore

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
    #: ``event`` (events change it, within a second when served) or ``scheduled`` (time alone changes it too).
    tier: str | None = None

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
    when the person was last refreshed (the last build, for persons no event has touched since).
    """

    person_id: str
    lang: str = "zh"
    #: The retired person id asked for, when it was merged into this person.
    resolved_from: str | None = None
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
    """``ws.profiles``: the customer 360 of one person, from the profile store when it has the person.

    Reads go through :meth:`get`, the one place a face reads a profile (the place that will mask
    what a role may not see). Writers call :meth:`publish` after they change persons and
    :meth:`publish_all` after a build or a scheduled refresh (see :mod:`huaxiang.profiles.store`).
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._store: ProfileStore | None = None
        self._catalogs: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        self._tiers: dict[str, dict[str, str]] = {}
        #: One DuckDB connection runs one query at a time: warehouse reads from request threads take turns.
        self._engine_lock = threading.Lock()

    # ------------------------------------------------------------------ the store
    @property
    def store(self) -> ProfileStore:
        """The profile store of the live build (a new one after a build switched in)."""
        state = live_state(self._ws.path) or {}
        build = str(state.get("build") or "")
        if self._store is None or self._store.build != build:
            self._store = ProfileStore(self._ws.path, build=build)
        return self._store

    def publish(self, person_ids: Sequence[str]) -> int:
        """Write the documents of ``person_ids`` (as the warehouse has them now) into the store; a retired
        id among them, or merged into one of them, leaves it. Returns the documents written."""
        ids = sorted({str(p) for p in person_ids})
        if not ids or not self._ws.path:
            return 0
        eng = self._ws.engine
        docs = gather_documents(eng, ids, plain=False)
        keys = lookup_keys(eng, docs)
        retired = {v for k, v, _ in keys if k == "person_id"} | (set(ids) - set(docs))
        self.store.write(docs, keys, removed=sorted(retired))
        return len(docs)

    def publish_all(self, chunk: int = 5_000) -> int:
        """Write every person's document (after a build or a scheduled refresh), ``chunk`` persons per
        transaction; returns the documents written. Marks the store complete: a lookup it cannot answer
        then names nobody."""
        eng = self._ws.engine
        names = [t for t in ("features", "record_persons") if eng.has_table(t)]
        persons: set[str] = set()
        for name in names:
            persons |= {str(p) for p in eng.execute(eng.table(name).select("person_id").distinct())["person_id"]}
        ordered = sorted(persons)
        written = 0
        for start in range(0, len(ordered), chunk):
            written += self.publish(ordered[start:start + chunk])
        self.store.mark_complete()
        return written

    # ------------------------------------------------------------------ reads
    def _catalog(self, lang: str) -> dict[str, dict[str, str]]:
        key = (lang, self.store.build)
        if key not in self._catalogs:
            with self._engine_lock:
                self._catalogs[key] = feature_catalog(self._ws.engine, lang)
        return self._catalogs[key]

    def tiers(self) -> dict[str, str]:
        """``tag_id -> 'event' | 'scheduled'``: whether events or the passing of time change the tag."""
        from huaxiang.tags.refresh import tag_tiers
        from huaxiang.tags.specs import resolve_tag_specs

        key = self.store.build
        if key not in self._tiers:
            self._tiers[key] = tag_tiers(resolve_tag_specs(self._ws.config.tags))
        return self._tiers[key]

    def _stored(self, lookup: dict[str, str]) -> tuple[dict[str, Any], str | None] | None:
        """``(document, resolved_from)`` from the store, or None when the store cannot answer."""
        store = self.store
        if not store.is_current():
            return None
        (kind, value), = lookup.items()
        value = str(value).strip()
        if kind == "person_id":
            doc = store.get(value)
            if doc is not None:
                return doc, None
            hits = store.find("person_id", value)
            resolved_from: str | None = value
        else:
            resolved_from = None
            what = f"{kind.replace('_', ' ')} {value!r}"
            if kind in ("phone", "email"):
                from huaxiang.normalize import normalize_email, normalize_phone

                with self._engine_lock:
                    normal = _normalise(self._ws.engine, value, normalize_phone if kind == "phone" else normalize_email)
                if normal is None:
                    return None  # the warehouse path words the error
                what = f"{kind} {normal} (normalised from {value!r})"
                hits = store.find(kind, normal)
            elif kind == "user_id":
                source = self._ws.config.service.source
                hits = (store.find("user_id", value) or store.find("user_id", f"{source}:{value}")
                        or store.find("source_id", f"{source}:{value}"))
            elif kind == "anonymous_id":
                hits = sorted(set(store.find("anonymous_id", value)) | set(store.find("device_id", value)))
            else:
                hits = store.find("source_id", value)
            if len(hits) > 1:
                raise AmbiguousPersonError(f"{len(hits)} persons have {what}: {', '.join(hits[:10])}; "
                                           "pass one PERSON_ID")
        if len(hits) == 1:
            doc = store.get(hits[0])
            return (doc, resolved_from) if doc is not None else None
        if not hits and store.is_complete() and kind != "person_id":
            raise PersonNotFoundError(f"no person has {what}; check it, or look the person up another way")
        return None

    def get_stored(self, lang: str = "zh", **lookup: str) -> Profile | None:
        """The profile from the store alone, or None when only :meth:`get` can answer (a person not
        published yet, a phone or e-mail that needs normalising, …). Never touches the warehouse: the
        service calls it on its event loop and :meth:`get` in a worker thread when it returns None.

        Raises :class:`PersonNotFoundError` / :class:`AmbiguousPersonError` as :meth:`get` does.
        """
        given = {k: v for k, v in lookup.items() if v}
        if lang not in ("zh", "en") or len(given) != 1 or set(given) & {"phone", "email"}:
            return None
        if self._store is None or (lang, self._store.build) not in self._catalogs:
            return None  # the first read of a build fills the catalogue from the warehouse
        found = self._stored(given)
        return None if found is None else self._profile(found[0], lang, found[1], 10)

    def get(self, person_id: str | None = None, *, phone: str | None = None, email: str | None = None,
            source_id: str | None = None, user_id: str | None = None, anonymous_id: str | None = None,
            lang: str = "zh", recent: int = 10) -> Profile:
        """The :class:`Profile` of the one person a lookup names.

        Parameters
        ----------
        person_id, phone, email, source_id, user_id, anonymous_id
            Exactly one lookup (see :func:`huaxiang.profiles.find_person`). A retired person id
            (merged into another) gives the survivor's profile, with ``resolved_from`` set.
        lang
            ``zh`` or ``en``: the language of feature definitions and tag names.
        recent
            How many recent orders and events to include (the store keeps 10).

        Raises
        ------
        PersonNotFoundError
            When nobody matches.
        AmbiguousPersonError
            When several persons match.
        WorkspaceError
            When not exactly one lookup is given.

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
        if lang not in ("zh", "en"):
            raise WorkspaceError(f"--lang {lang!r}: use zh or en")
        lookup = {k: v for k, v in (("person_id", person_id), ("phone", phone), ("email", email),
                                    ("source_id", source_id), ("user_id", user_id),
                                    ("anonymous_id", anonymous_id)) if v}
        found = self._stored(lookup) if len(lookup) == 1 and recent <= 10 else None
        if found is None:
            with self._engine_lock:
                pid = find_person(self._ws, **lookup)
                docs = gather_documents(self._ws.engine, [pid], recent=recent)
            if pid not in docs:
                raise PersonNotFoundError(f"no person {pid!r} in this workspace; find one with "
                                          "`huaxiang show persons`")
            found = docs[pid], (person_id if person_id and person_id != pid else None)
        doc, resolved_from = found
        return self._profile(doc, lang, resolved_from, recent)

    def _profile(self, doc: dict[str, Any], lang: str, resolved_from: str | None, recent: int) -> Profile:
        data = shape_document(doc, lang, self._catalog(lang))
        scores = data.get("scores") or [{}]
        tiers = self.tiers()
        updated_at: Any = data.get("refreshed_at")
        if updated_at is None:
            last = self._ws.last_build()
            updated_at = last.started_at if last is not None else None
        return Profile(
            person_id=data["person_id"], lang=lang, resolved_from=resolved_from, records=data["records"],
            attributes=data["attributes"], features=data["features"],
            tags=[ProfileTag(id=t["tag_id"], name_zh=t.get("name_zh"), name_en=t.get("name_en"),
                             reason=t.get("reason"), since=t.get("since"), tier=tiers.get(t["tag_id"]))
                  for t in data["tags"]],
            tag_history=data["tag_history"], segments=data.get("segments", []),
            scores={k: v for k, v in scores[0].items() if k != "person_id"},
            recommendations=data.get("recommendations", []), orders=data["orders"][:recent],
            events=data["events"][:recent], as_of=data.get("as_of") or scores[0].get("as_of"),
            updated_at=updated_at,
        )
