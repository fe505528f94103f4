"""``GET /v1/profiles/{person_id}`` and ``GET /v1/profiles?user_id=|anonymous_id=|phone=|email=|source_id=``.

The customer 360 of one person, as the real-time updater last wrote it (a read never waits for a
batch or a rebuild: the updater writes on its own connection). Admin keys only. Labels (tag names,
feature definitions) in Chinese or English by ``Accept-Language``. A retired person id (merged into
another) answers with the profile of the id it was merged into, naming the id asked for in
``resolved_from``. 404 when nobody matches, 409 when several do.

The profile comes from the core (``ws.profiles.get``: the profile store the updater publishes to, one
key read, on the event loop; the warehouse, in a worker thread, for a person not published yet);
:func:`public_profile` only shapes it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from huaxiang.errors import AmbiguousPersonError, PersonNotFoundError
from huaxiang.service.deps import WorkspaceDep, require_role

if TYPE_CHECKING:
    from huaxiang.profiles import Profile
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


def public_profile(profile: Profile, lang: str) -> ProfilePublic:
    """The core's :class:`~huaxiang.profiles.Profile` as the API shows it."""
    data = profile.model_dump(mode="json")
    return ProfilePublic(
        person_id=profile.person_id, resolved_from=profile.resolved_from, records=data["records"],
        attributes=data["attributes"], features=data["features"],
        tags=[TagPublic(id=t.id, name=t.name(lang), name_zh=t.name_zh, name_en=t.name_en, reason=t.reason,
                        since=t.since.isoformat() if t.since else None, tier=t.tier) for t in profile.tags],
        segments=data["segments"], scores=[data["scores"]] if data["scores"] else [],
        recommendations=data["recommendations"], orders=data["orders"], events=data["events"],
        as_of=data["as_of"], updated_at=data["updated_at"],
    )


async def _answer(ws: Workspace, lang: str, **lookup: Any) -> ProfilePublic:
    """``ws.profiles.get_stored`` on the event loop (one key read of the profile store), else
    ``ws.profiles.get`` in a worker thread (it may read the warehouse)."""
    try:
        profile = ws.profiles.get_stored(lang=lang, **lookup)
        if profile is None:
            profile = await run_in_threadpool(partial(ws.profiles.get, lang=lang, **lookup))
    except PersonNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except AmbiguousPersonError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return public_profile(profile, lang)


@router.get("/{person_id}", response_model=ProfilePublic, responses={404: {"description": "no such person"}})
async def read_profile_by_id(ws: WorkspaceDep, person_id: Annotated[str, Path(description="a person id")],
                       accept_language: Annotated[str | None, Header()] = None) -> ProfilePublic:
    """The profile of ``person_id`` (a retired id answers with the id it was merged into)."""
    return await _answer(ws, _language(accept_language), person_id=person_id)


@router.get("", response_model=ProfilePublic, responses={404: {"description": "nobody matches"},
                                                         409: {"description": "several persons match"}})
async def read_profile_by_identifier(
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
    return await _answer(ws, _language(accept_language), **given)
