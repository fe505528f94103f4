"""The customer 360: everything the workspace knows about one person, as one JSON-ready dict.

:func:`customer_profile` finds the person (by ``person_id``, phone, e-mail, a source's customer
id, an app user id or an anonymous device id — phone and e-mail normalised the way the clean stage
does) and gathers the golden
record (``persons``, else the person's ``customers_raw`` records), the features grouped by
dimension (``feature_catalog``), the tags with their reasons and history, recent orders and
events, and — when those tables exist — ``scores``, ``segments`` and ``recommendations``.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> _ = ws.build(stages=["ingest", "clean"])
>>> customer_profile(ws, phone="138 0013 8000")
Traceback (most recent call last):
...
huaxiang.errors.PersonNotFoundError: no person has phone +8613800138000 (normalised from '138 0013 8000'); check the number or look the person up by --email or --source-id
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.errors import AmbiguousPersonError, PersonNotFoundError, WorkspaceError
from huaxiang.profiles.documents import gather_documents, record_keys

if TYPE_CHECKING:
    from huaxiang.engine.base import Engine
    from huaxiang.workspace import Workspace

__all__ = ["customer_profile", "find_person", "gather_profile"]

def _normalise(engine: Engine, value: str, fn: Callable[[ir.StringValue], ir.StringValue]) -> str | None:
    """Run a clean-stage normaliser on one value, on the workspace's engine."""
    one = ibis.memtable(pd.DataFrame({"v": [value]}, dtype="string"))
    out = engine.execute(one.select(n=fn(one.v.cast("string"))))
    got = out["n"].iloc[0] if len(out) else None
    return None if got is None or pd.isna(got) else str(got)


def _persons_for_identifier(engine: Engine, kind: str, value: str) -> list[str]:
    if engine.has_table("identities"):
        ids = engine.table("identities")
        hits = ids.filter((ids.identifier_type == kind) & (ids.identifier_value == value))
        frame = engine.execute(hits.select("person_id").distinct())
        if len(frame):
            return sorted(str(v) for v in frame["person_id"])
    raw = engine.table("customers_raw")
    if kind not in raw.columns:
        return []
    records = raw.filter(raw[kind] == value).select("source", "source_customer_id")
    keys = record_keys(engine)
    frame = engine.execute(records.inner_join(keys, ["source", "source_customer_id"]).select("person_id").distinct())
    return sorted(str(v) for v in frame["person_id"])


def find_person(ws: Workspace, person_id: str | None = None, *, phone: str | None = None,
                email: str | None = None, source_id: str | None = None, user_id: str | None = None,
                anonymous_id: str | None = None) -> str:
    """The ``person_id`` for exactly one of the lookups.

    Parameters
    ----------
    ws
        An open workspace (built at least through clean).
    person_id
        A person id as stored (returned as is when the person is known; a retired id merged into
        another person gives that person's id, following ``person_aliases``).
    phone, email
        Normalised like the clean stage (``138 0013 8000`` → ``+8613800138000``), then looked up in
        ``identities`` (or ``customers_raw`` before the identity stage exists).
    source_id
        ``SOURCE:CUSTOMER_ID`` (the source system and its customer id), via ``record_persons``.
    user_id, anonymous_id
        An app/web account id or a device id, looked up in ``identities`` (else the
        ``customers_raw`` column of that name).

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
    >>> # find_person(ws, phone="+86 138-0013-8000")  ->  'P000123'
    """
    given = {k: v for k, v in (("person_id", person_id), ("phone", phone), ("email", email),
                               ("source_id", source_id), ("user_id", user_id), ("anonymous_id", anonymous_id))
             if v}
    if len(given) != 1:
        raise WorkspaceError("give exactly one of PERSON_ID, --phone, --email or --source-id"
                             + (f" (got {', '.join(given)})" if given else ""))
    engine = ws.engine
    if person_id:
        keys = record_keys(engine)
        known = int(engine.execute(keys.filter(keys.person_id == person_id).count()))
        if not known and engine.has_table("features"):
            f = engine.table("features")
            known = int(engine.execute(f.filter(f.person_id == person_id).count()))
        if not known and engine.has_table("person_aliases"):
            # a retired id (merged into another person) answers with the person it went to
            al = engine.table("person_aliases")
            hit = engine.execute(al.filter(al.alias_id == person_id).select("person_id"))
            if len(hit):
                return str(hit["person_id"].iloc[0])
        if not known:
            raise PersonNotFoundError(f"no person {person_id!r} in this workspace; find one with "
                                 "`huaxiang show persons` or look up by --phone/--email/--source-id")
        return person_id
    if source_id:
        if ":" not in source_id:
            raise WorkspaceError(f"--source-id {source_id!r}: write SOURCE:CUSTOMER_ID, e.g. crm:M000123")
        source, _, key = source_id.partition(":")
        keys = record_keys(engine)
        frame = engine.execute(keys.filter((keys.source == source) & (keys.source_customer_id == key))
                               .select("person_id").distinct())
        matches = sorted(str(v) for v in frame["person_id"])
        what = f"source id {source_id}"
    elif user_id or anonymous_id:
        kind, ident = ("user_id", str(user_id).strip()) if user_id else ("anonymous_id", str(anonymous_id).strip())
        matches = _persons_for_identifier(engine, kind, ident)
        if not matches and kind == "user_id":  # the live path stores app users as SOURCE:USER_ID
            matches = _persons_for_identifier(engine, kind, f"{ws.config.service.source}:{ident}")
        what = f"{kind.replace('_', ' ')} {ident!r}"
    else:
        from huaxiang.normalize import normalize_email, normalize_phone

        kind, raw_value = ("phone", str(phone)) if phone else ("email", str(email))
        fn = normalize_phone if kind == "phone" else normalize_email
        value = _normalise(engine, raw_value, fn)
        if value is None:
            raise WorkspaceError(f"{raw_value!r} is not a valid {kind}; give it as the customer wrote it, "
                                 "e.g. 138 0013 8000 or name@example.com")
        matches = _persons_for_identifier(engine, kind, value)
        what = f"{kind} {value} (normalised from {raw_value!r})"
    if not matches:
        raise PersonNotFoundError(f"no person has {what}; check the number or look the person up by "
                                  f"{'--email or --source-id' if phone else '--phone or --source-id'}")
    if len(matches) > 1:
        raise AmbiguousPersonError(f"{len(matches)} persons have {what}: {', '.join(matches[:10])}; "
                             "pass one PERSON_ID")
    return matches[0]


def feature_catalog(engine: Engine, lang: str) -> dict[str, dict[str, str]]:
    """``feature -> {dimension, definition (in lang), needs (when this data cannot support it)}``."""
    if not engine.has_table("feature_catalog"):
        return {}
    text = "definition_en" if lang == "en" else "definition_zh"
    out: dict[str, dict[str, str]] = {}
    for row in engine.execute(engine.table("feature_catalog")).to_dict(orient="records"):
        item = {"dimension": str(row.get("dimension") or "other"), "definition": str(row.get(text) or "")}
        if row.get("supported") is False or row.get("supported") == 0:
            item["needs"] = str(row.get("needs") or "")
        out[str(row["name"])] = item
    return out


def group_features(values: dict[str, Any], catalog: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Feature values grouped by dimension, each ``{value, definition}`` (plus ``no_data``/``needs``).

    >>> group_features({"orders_total": 3}, {"orders_total": {"dimension": "rfm", "definition": "orders"}})
    {'rfm': {'orders_total': {'value': 3, 'definition': 'orders'}}}
    """
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if name == "person_id":
            continue
        entry = catalog.get(name, {})
        item: dict[str, Any] = {"value": value, "definition": entry.get("definition", "")}
        if "needs" in entry:
            item["no_data"] = True
            item["needs"] = entry["needs"]
        grouped.setdefault(entry.get("dimension", "other"), {})[name] = item
    return grouped


def shape_document(doc: dict[str, Any], lang: str, catalog: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A stored document as :func:`gather_profile` returns it: features grouped with their definitions in
    ``lang``, each tag's ``name`` in ``lang`` beside both names."""
    out = {k: v for k, v in doc.items() if k not in ("features", "tags")}
    out["features"] = group_features(doc.get("features", {}), catalog)
    out["tags"] = [{"tag_id": t["tag_id"], "name": t.get("name_en" if lang == "en" else "name_zh"),
                    "name_zh": t.get("name_zh"), "name_en": t.get("name_en"), "reason": t.get("reason"),
                    "since": t.get("since")} for t in doc.get("tags", [])]
    return out


def customer_profile(ws: Workspace, person_id: str | None = None, *, phone: str | None = None,
                     email: str | None = None, source_id: str | None = None, user_id: str | None = None,
                     anonymous_id: str | None = None, lang: str = "zh", recent: int = 10) -> dict[str, Any]:
    """The customer 360 of one person as a JSON-ready dict.

    Parameters
    ----------
    ws
        An open, built workspace.
    person_id, phone, email, source_id, user_id, anonymous_id
        Exactly one lookup (see :func:`find_person`).
    lang
        ``zh`` or ``en``: the language of tag names and feature definitions.
    recent
        How many recent orders and events to include.

    Returns
    -------
    dict
        ``person_id``, ``records`` (the person's source keys), ``attributes``, ``features``
        (dimension → name → {value, definition}), ``tags`` (tag_id, name, reason, since),
        ``tag_history``, ``orders``, ``events``, and ``scores``/``segments``/``recommendations``
        when those tables exist.

    Raises
    ------
    PersonNotFoundError
        When the lookup matches nobody.
    WorkspaceError
        When the lookup matches several persons.

    Examples
    --------
    >>> # profile = customer_profile(ws, phone="13800138000", lang="en")
    >>> # [t["name"] for t in profile["tags"]]  ->  ['Night owl', 'Value tier: high']
    """
    out = gather_profile(ws, person_id, phone=phone, email=email, source_id=source_id, user_id=user_id,
                         anonymous_id=anonymous_id, lang=lang, recent=recent)
    out["tags"] = [{k: t[k] for k in ("tag_id", "name", "reason", "since")} for t in out["tags"]]
    return out


def gather_profile(ws: Workspace, person_id: str | None = None, *, phone: str | None = None,
                   email: str | None = None, source_id: str | None = None, user_id: str | None = None,
                   anonymous_id: str | None = None, lang: str = "zh", recent: int = 10) -> dict[str, Any]:
    """What :func:`customer_profile` returns, with each tag's name in both languages.

    Reads the warehouse (:func:`~huaxiang.profiles.documents.gather_documents`, the one reader of the
    person's tables, which the profile store's documents come from too); :func:`customer_profile`
    shapes it for scripts, :meth:`huaxiang.profiles.ProfilesComponent.get` reads the store first.

    >>> import tempfile, huaxiang
    >>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
    >>> _ = ws.build(stages=["ingest", "clean"])
    >>> gather_profile(ws, "P1", lang="fr")
    Traceback (most recent call last):
    ...
    huaxiang.errors.WorkspaceError: --lang 'fr': use zh or en
    """
    if lang not in ("zh", "en"):
        raise WorkspaceError(f"--lang {lang!r}: use zh or en")
    pid = find_person(ws, person_id, phone=phone, email=email, source_id=source_id, user_id=user_id,
                      anonymous_id=anonymous_id)
    docs = gather_documents(ws.engine, [pid], recent=recent)
    if pid not in docs:
        raise PersonNotFoundError(f"no person {pid!r} in this workspace; find one with `huaxiang show persons`")
    return shape_document(docs[pid], lang, feature_catalog(ws.engine, lang))


