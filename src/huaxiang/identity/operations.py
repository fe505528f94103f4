"""Operator verbs on a built workspace: explain a person, merge two persons, split records off a person.

Corrections are stored in ``identity_overrides.yaml`` (record keys, not person ids, so they survive
rebuilds) and applied by the identity stage on every build.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp(), example="demo", customers=300)  # doctest: +SKIP
>>> _ = ws.build(stages=["ingest", "clean", "identity"])  # doctest: +SKIP
>>> records, links = explain_person(ws, "P0123456789abcdef")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from huaxiang.errors import WorkspaceError
from huaxiang.identity.graph import RECORD
from huaxiang.identity.settings import load_overrides, save_overrides

_SHOWN = ("name", "phone", "email", "member_card", "user_id", "wechat_unionid", "birth_date", "city", "registered_at")


def resolve_person_id(ws: Any, person_id: str) -> str:
    """The current id of ``person_id`` (following ``person_aliases``); raises if unknown."""
    eng = ws.engine
    rp = eng.table("record_persons")
    if int(eng.execute(rp.filter(rp.person_id == person_id).count())):
        return person_id
    if eng.has_table("person_aliases"):
        al = eng.table("person_aliases")
        hit = eng.execute(al.filter(al.alias_id == person_id).select("person_id"))
        if len(hit):
            return str(hit["person_id"].iloc[0])
    raise WorkspaceError(f"person {person_id!r} is not in this workspace; find ids with `huaxiang show persons`")


def person_records(ws: Any, person_id: str) -> list[str]:
    """Record keys (``source:source_customer_id``) of a person."""
    rp = ws.engine.table("record_persons")
    frame = ws.engine.execute(rp.filter(rp.person_id == person_id).select(RECORD).order_by(RECORD))
    return [str(v) for v in frame[RECORD]]


def explain_person(ws: Any, person_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records of a person (with their main attributes) and why each was joined.

    Returns ``(records, links)``; ``links`` has ``record_key, linked_record_key, rule,
    identifier_value, match_probability`` (rule is the shared identifier type, ``splink`` or
    ``operator_merge``).
    """
    pid = resolve_person_id(ws, person_id)
    eng = ws.engine
    rp = eng.table("record_persons")
    mine = rp.filter(rp.person_id == pid)
    c = eng.table("customers_raw")
    shown = [col for col in _SHOWN if col in c.columns]
    records = mine.left_join(c.select("source", "source_customer_id", *shown), ["source", "source_customer_id"])
    records = records.select(RECORD, *shown).order_by(RECORD)
    lk = eng.table("identity_links")
    links = lk.filter(lk.person_id == pid).drop("person_id").order_by([RECORD, "rule"])
    return eng.execute(records), eng.execute(links)


def _applies_now(ws: Any) -> bool:
    """Corrections apply at once on a built DuckDB workspace; on Spark they wait for the next build
    (the in-place row replacement of the incremental path is DuckDB's)."""
    return ws.engine.supports("replace_rows") and ws.engine.has_table("record_persons")


def merge_persons(ws: Any, person_ids: Sequence[str], *, note: str = "",
                  refresh: Callable[[list[str]], Any] | None = None) -> list[str]:
    """Record that these persons are one and apply it now. Returns the record keys.

    The correction is stored (every later build applies it) and applied at once on a built DuckDB
    workspace (on Spark at the next build):
    the records move to the oldest id, the other ids become its aliases (:func:`resolve_person_id`
    answers them with it), and the survivor's identities and golden record are recomputed;
    ``refresh(person_ids)`` then refreshes what later stages derived for them (``ws.identity.merge``
    passes :func:`huaxiang.realtime.refresh.refresh_persons`: features, tags, segments, scores).
    """
    if len(person_ids) < 2:
        raise WorkspaceError("merge needs at least two person ids")
    keys: list[str] = []
    for p in person_ids:
        keys += person_records(ws, resolve_person_id(ws, p))
    overrides = load_overrides(ws.path)
    overrides.merge.append(sorted(set(keys)))
    # an earlier split between these records no longer holds
    overrides.split = [s for s in overrides.split
                       if not (set(s.get("apart", [])) & set(keys) and set(s.get("from", [])) & set(keys))]
    save_overrides(ws.path, overrides)
    if _applies_now(ws):
        from huaxiang.identity.incremental import apply_merge

        survivor, _retired = apply_merge(ws, person_ids)
        if refresh is not None:
            refresh([survivor])
    return sorted(set(keys))


def split_person(ws: Any, person_id: str, records: Sequence[str], *,
                 refresh: Callable[[list[str]], Any] | None = None) -> list[str]:
    """Record that ``records`` are not the same person as the rest of ``person_id``'s records, and apply
    it now (they become a new person; both are refreshed as :func:`merge_persons` does). Returns the
    records left with ``person_id``."""
    pid = resolve_person_id(ws, person_id)
    mine = person_records(ws, pid)
    unknown = sorted(set(records) - set(mine))
    if unknown:
        raise WorkspaceError(f"records {unknown} do not belong to person {pid}; its records: {', '.join(mine)}")
    rest = sorted(set(mine) - set(records))
    if not rest:
        raise WorkspaceError(f"splitting all records off person {pid} changes nothing; name a subset of: "
                             f"{', '.join(mine)}")
    overrides = load_overrides(ws.path)
    overrides.split.append({"apart": sorted(set(records)), "from": rest})
    overrides.merge = [g for g in overrides.merge if not (set(g) & set(records) and set(g) & set(rest))]
    save_overrides(ws.path, overrides)
    if _applies_now(ws):
        from huaxiang.identity.incremental import apply_split

        new_id = apply_split(ws, pid, records)
        if refresh is not None:
            refresh([pid, new_id])
    return rest


def attach_records(ws: Any, *, refresh: Callable[[list[str]], Any] | None = None) -> dict[str, int]:
    """Attach records that appeared since the last identity build, without recomputing everyone.

    The persons they join or form get their identities and golden record recomputed, then
    ``refresh(person_ids)`` (as in :func:`merge_persons`).

    A new record whose identifiers (phone, e-mail, device, …) name exactly one existing person joins
    it, unless that would break a limit (a second user id or card for a unique type); a record that
    names no one, or would break a limit, becomes a new person (as a full build would decide); a record naming several persons is left
    for the next full build (it would merge persons) and counted as ``deferred``. Returns counts.
    """
    from huaxiang.identity.incremental import attach_new, rebuild_person_rows

    counts, persons = attach_new(ws)
    if persons and ws.engine.supports("replace_rows"):
        rebuild_person_rows(ws, sorted(persons))
        if refresh is not None:
            refresh(sorted(persons))
    return counts

