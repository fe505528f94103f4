"""``GET /v1/profiles/{person_id}`` and ``GET /v1/profiles?user_id=|anonymous_id=|phone=|email=|source_id=``.

The customer 360 of one person, as the real-time updater last wrote it (a read never waits for a
batch or a rebuild: the updater writes on its own connection). Admin keys only. Labels (tag names,
feature definitions) in Chinese or English by ``Accept-Language``. A retired person id (merged into
another) answers with the profile of the id it was merged into, naming the id asked for in
``resolved_from``. 404 when nobody matches, 409 when several do.

The profile comes from the core through :func:`read_profile`, the one place the route touches it.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from huaxiang.errors import WorkspaceError
from huaxiang.service.deps import WorkspaceDep, require_role

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace

router = APIRouter(prefix="/v1/profiles", tags=["profiles"], dependencies=[require_role("admin")])


class TagPublic(BaseModel):
    """A tag the person has now."""

    id: str
    name: str | None = Field(None, description="in the language asked for")
    name_zh: str | None = None
    name_en: str | None = None
    reason: str | None = Field(None, description="why, e.g. `spend_total = 8200.0 ≥ 5000`")
    since: str | None = None
    tier: str | None = Field(None, description="`event` (updated with events) or `scheduled` (with time)")


class ProfilePublic(BaseModel):
    """Everything the workspace knows about one person."""

    person_id: str
    resolved_from: str | None = Field(None, description="the retired id asked for, when it was merged")
    records: list[dict[str, Any]] = []
    attributes: dict[str, Any] = {}
    features: dict[str, dict[str, Any]] = Field({}, description="dimension -> feature -> {value, definition}")
    tags: list[TagPublic] = []
    segments: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    recommendations: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = Field([], description="the latest orders, newest first")
    events: list[dict[str, Any]] = Field([], description="the latest events, newest first")
    as_of: str | None = Field(None, description="the cut-off of the features (data before it)")
    updated_at: str | None = Field(None, description="when the person was last refreshed")


# One DuckDB connection must not run two queries at once: reads on the service's connection take turns.
_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _lock_for(ws: Any) -> threading.Lock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(ws)
        if lock is None:
            lock = _LOCKS[ws] = threading.Lock()
        return lock


def _language(accept_language: str | None) -> str:
    """``en`` when English comes before Chinese in ``Accept-Language``, else ``zh``.

    >>> _language("en-US,en;q=0.9,zh;q=0.5"), _language("zh-CN"), _language(None)
    ('en', 'zh', 'zh')
    """
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        lang, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, i, lang.strip().lower()[:2]))
    for _, _, lang in sorted(ranked):
        if lang in ("zh", "en"):
            return lang
    return "zh"


def _one(engine: Any, expr: Any) -> list[str]:
    return sorted({str(v) for v in engine.execute(expr).iloc[:, 0]})


def _resolve(ws: Workspace, person_id: str | None, user_id: str | None, anonymous_id: str | None) -> tuple[
        str | None, str | None]:
    """``(person_id, resolved_from)``: follows ``person_aliases``; maps a user or anonymous id to a person."""
    eng = ws.engine
    if person_id and eng.has_table("person_aliases") and eng.has_table("record_persons"):
        rp = eng.table("record_persons")
        if not _one(eng, rp.filter(rp.person_id == person_id).select("person_id").limit(1)):
            al = eng.table("person_aliases")
            hit = _one(eng, al.filter(al.alias_id == person_id).select("person_id"))
            if hit:
                return hit[0], person_id
        return person_id, None
    if user_id is None and anonymous_id is None:
        return person_id, None
    found: list[str] = []
    if eng.has_table("identities"):
        ids = eng.table("identities")
        if user_id is not None:
            source = str(ws.config.service.source)
            cond = (ids.identifier_type == "user_id") & ids.identifier_value.isin([f"{source}:{user_id}"])
        else:
            cond = ids.identifier_type.isin(["anonymous_id", "device_id"]) & (ids.identifier_value == anonymous_id)
        found = _one(eng, ids.filter(cond).select("person_id"))
    if not found and user_id is not None and eng.has_table("record_persons"):
        rp = eng.table("record_persons")
        found = _one(eng, rp.filter(rp.source_customer_id == user_id).select("person_id"))
    what = f"user id {user_id!r}" if user_id is not None else f"anonymous id {anonymous_id!r}"
    if not found:
        raise WorkspaceError(f"no person has {what}; the events may not be applied yet, or look up by phone/email")
    if len(found) > 1:
        raise WorkspaceError(f"{len(found)} persons have {what}: {', '.join(found[:10])}; ask by person id")
    return found[0], None


def read_profile(ws: Workspace, person_id: str | None = None, *, phone: str | None = None,
                 email: str | None = None, source_id: str | None = None, user_id: str | None = None,
                 anonymous_id: str | None = None, lang: str = "zh") -> ProfilePublic:
    """The adapter between the route and the core's profile (today :func:`huaxiang.profile.customer_profile`).

    Raises :class:`~huaxiang.errors.WorkspaceError` when nobody or several persons match.
    """
    from huaxiang.profile import customer_profile

    eng = ws.engine
    pid, resolved_from = _resolve(ws, person_id, user_id, anonymous_id)
    profile = customer_profile(ws, pid, phone=phone, email=email, source_id=source_id, lang=lang)
    pid = str(profile["person_id"])
    names: dict[str, tuple[Any, Any]] = {}
    if eng.has_table("person_tags"):
        pt = eng.table("person_tags")
        frame = eng.execute(pt.filter(pt.person_id == pid).select("tag_id", "name_zh", "name_en"))
        names = {str(t): (zh, en) for t, zh, en in zip(frame["tag_id"], frame["name_zh"], frame["name_en"],
                                                       strict=True)}
    tiers = _tiers(ws)
    tags = [TagPublic(id=t["tag_id"], name=t.get("name"), name_zh=names.get(t["tag_id"], (None, None))[0],
                      name_en=names.get(t["tag_id"], (None, None))[1], reason=t.get("reason"),
                      since=t.get("since"), tier=tiers.get(t["tag_id"])) for t in profile.get("tags", [])]
    as_of = None
    for group in profile.get("features", {}).values():
        if "as_of" in group:
            as_of = group["as_of"]["value"]
    updated_at = None
    if eng.has_table("person_refresh"):
        pr = eng.table("person_refresh")
        got = eng.execute(pr.filter(pr.person_id == pid).select("refreshed_at", "as_of"))
        if len(got):
            updated_at = str(got["refreshed_at"].iloc[0].isoformat())
            as_of = str(got["as_of"].iloc[0].isoformat())
    if updated_at is None:
        last = ws.last_build()
        updated_at = last.started_at if last else None
    return ProfilePublic(
        person_id=pid, resolved_from=resolved_from, records=profile.get("records", []),
        attributes=profile.get("attributes", {}), features=profile.get("features", {}), tags=tags,
        segments=profile.get("segments", []), scores=profile.get("scores", []),
        recommendations=profile.get("recommendations", []), orders=profile.get("orders", []),
        events=profile.get("events", []), as_of=as_of, updated_at=updated_at,
    )


def _tiers(ws: Workspace) -> dict[str, str]:
    from huaxiang.tags.refresh import tag_tiers
    from huaxiang.tags.specs import resolve_tag_specs

    return tag_tiers(resolve_tag_specs(ws.config.tags))


def _answer(ws: Workspace, lang: str, **lookup: Any) -> ProfilePublic:
    try:
        with _lock_for(ws):
            return read_profile(ws, lang=lang, **lookup)
    except WorkspaceError as exc:
        message = str(exc)
        code = status.HTTP_409_CONFLICT if " persons have " in message else status.HTTP_404_NOT_FOUND
        raise HTTPException(code, message) from None


@router.get("/{person_id}", response_model=ProfilePublic, responses={404: {"description": "no such person"}})
def read_profile_by_id(ws: WorkspaceDep, person_id: Annotated[str, Path(description="a person id")],
                       accept_language: Annotated[str | None, Header()] = None) -> ProfilePublic:
    """The profile of ``person_id`` (a retired id answers with the id it was merged into)."""
    return _answer(ws, _language(accept_language), person_id=person_id)


@router.get("", response_model=ProfilePublic, responses={404: {"description": "nobody matches"},
                                                         409: {"description": "several persons match"}})
def read_profile_by_identifier(
    ws: WorkspaceDep,
    user_id: Annotated[str | None, Query(description="the Segment userId")] = None,
    anonymous_id: Annotated[str | None, Query(description="the Segment anonymousId")] = None,
    phone: Annotated[str | None, Query(description="as the customer wrote it")] = None,
    email: Annotated[str | None, Query()] = None,
    source_id: Annotated[str | None, Query(description="SOURCE:CUSTOMER_ID")] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> ProfilePublic:
    """The profile of the one person an identifier names (give exactly one)."""
    given = {k: v for k, v in (("user_id", user_id), ("anonymous_id", anonymous_id), ("phone", phone),
                               ("email", email), ("source_id", source_id)) if v}
    if len(given) != 1:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY,
                            "give exactly one of user_id, anonymous_id, phone, email, source_id"
                            + (f" (got {', '.join(given)})" if given else ""))
    return _answer(ws, _language(accept_language), **given)
