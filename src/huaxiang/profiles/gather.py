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

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.errors import PersonNotFoundError, WorkspaceError

if TYPE_CHECKING:
    from huaxiang.engine.base import Engine
    from huaxiang.workspace import Workspace

__all__ = ["customer_profile", "find_person", "gather_profile"]

#: Tables shown only when a later stage wrote them.
OPTIONAL_TABLES = ("scores", "segments", "recommendations")


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return _jsonable(value.item())
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _normalise(engine: Engine, value: str, fn: Callable[[ir.StringValue], ir.StringValue]) -> str | None:
    """Run a clean-stage normaliser on one value, on the workspace's engine."""
    one = ibis.memtable(pd.DataFrame({"v": [value]}, dtype="string"))
    out = engine.execute(one.select(n=fn(one.v.cast("string"))))
    got = out["n"].iloc[0] if len(out) else None
    return None if got is None or pd.isna(got) else str(got)


def _person_keys(engine: Engine) -> ir.Table:
    if engine.has_table("record_persons"):
        return engine.table("record_persons").select("source", "source_customer_id", "person_id")
    from huaxiang.features.persons import person_keys

    return person_keys(engine)


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
    keys = _person_keys(engine)
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
    WorkspaceError
        When several persons match, or not exactly one lookup is given.

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
        keys = _person_keys(engine)
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
        keys = _person_keys(engine)
        frame = engine.execute(keys.filter((keys.source == source) & (keys.source_customer_id == key))
                               .select("person_id").distinct())
        matches = sorted(str(v) for v in frame["person_id"])
        what = f"source id {source_id}"
    elif user_id or anonymous_id:
        kind, ident = ("user_id", str(user_id).strip()) if user_id else ("anonymous_id", str(anonymous_id).strip())
        matches = _persons_for_identifier(engine, kind, ident)
        what = f"{kind} {ident}"
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
        raise WorkspaceError(f"{len(matches)} persons have {what}: {', '.join(matches[:10])}; "
                             "pass one PERSON_ID")
    return matches[0]


def _attributes(engine: Engine, person_id: str, keys: pd.DataFrame) -> dict[str, Any]:
    if engine.has_table("persons"):
        p = engine.table("persons")
        frame = engine.execute(p.filter(p.person_id == person_id), limit=1)
        if len(frame):
            return _records(frame)[0]
    raw = engine.table("customers_raw")
    records = raw.inner_join(ibis.memtable(keys[["source", "source_customer_id"]].astype("string")),
                             ["source", "source_customer_id"])
    records = records.drop(*[c for c in records.columns if c.endswith("_right") or c.startswith("_hx")])
    frame = engine.execute(records)
    if "registered_at" in frame.columns:
        frame = frame.sort_values("registered_at", ascending=False, na_position="last")
    out: dict[str, Any] = {"person_id": person_id}
    for column in frame.columns:
        known = frame[column].dropna()
        out[column] = _jsonable(known.iloc[0]) if len(known) else None
    out["n_records"] = len(frame)
    return out


def _features(engine: Engine, person_id: str, lang: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    if not engine.has_table("features"):
        return {}, {}
    f = engine.table("features")
    frame = engine.execute(f.filter(f.person_id == person_id), limit=1)
    if not len(frame):
        return {}, {}
    values = _records(frame)[0]
    catalog: dict[str, tuple[str, str]] = {}
    no_data: dict[str, str] = {}  # feature -> the inputs this workspace's data lacks
    if engine.has_table("feature_catalog"):
        cat = engine.execute(engine.table("feature_catalog"))
        text = "definition_en" if lang == "en" else "definition_zh"
        for row in cat.to_dict(orient="records"):
            catalog[str(row["name"])] = (str(row.get("dimension") or "other"), str(row.get(text) or ""))
            if row.get("supported") is False or row.get("supported") == 0:
                no_data[str(row["name"])] = str(row.get("needs") or "")
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if name in ("person_id",):
            continue
        dimension, definition = catalog.get(name, ("other", ""))
        item: dict[str, Any] = {"value": value, "definition": definition}
        if name in no_data:
            item["no_data"] = True
            item["needs"] = no_data[name]
        grouped.setdefault(dimension, {})[name] = item
    return grouped, values


def _tags(engine: Engine, person_id: str, lang: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    current: list[dict[str, Any]] = []
    if engine.has_table("person_tags"):
        t = engine.table("person_tags")
        frame = engine.execute(t.filter(t.person_id == person_id).order_by("tag_id"))
        for row in _records(frame):
            current.append({"tag_id": row["tag_id"], "name": row.get("name_en" if lang == "en" else "name_zh"),
                            "name_zh": row.get("name_zh"), "name_en": row.get("name_en"),
                            "reason": row.get("reason"), "since": row.get("since")})
    history: list[dict[str, Any]] = []
    if engine.has_table("tags"):
        h = engine.table("tags")
        frame = engine.execute(h.filter(h.person_id == person_id).order_by(["valid_from", "tag_id"]))
        history = _records(frame.drop(columns=["person_id"]))
    return current, history


def _orders(engine: Engine, keys: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    o = engine.table("orders")
    mine = o.inner_join(ibis.memtable(keys[["source", "source_customer_id"]].astype("string")),
                        ["source", "source_customer_id"])
    cols = [c for c in ("order_ts", "source", "order_id", "amount", "discount_amount", "channel", "payment_method",
                        "status", "promo_id", "store_id") if c in o.columns]
    frame = engine.execute(mine.select(*cols).order_by(ibis.desc("order_ts")), limit=limit)
    return _records(frame)


def _events(engine: Engine, person_id: str, keys: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    e = engine.table("events")
    users = e.inner_join(ibis.memtable(keys[["source", "source_customer_id"]].astype("string")).rename(
        user_id="source_customer_id"), ["source", "user_id"])
    users = users.select(*e.columns)
    found = users
    if engine.has_table("identities"):
        ids = engine.table("identities")
        anon = ids.filter((ids.person_id == person_id) & (ids.identifier_type == "anonymous_id"))
        anon_events = e.semi_join(anon, e.anonymous_id == anon.identifier_value)
        found = ibis.union(users, anon_events.select(*e.columns), distinct=True)
    cols = [c for c in ("event_ts", "event_type", "channel", "session_id", "properties") if c in e.columns]
    frame = engine.execute(found.select(*cols).order_by(ibis.desc("event_ts")), limit=limit)
    return _records(frame)


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

    The one place that reads the person's tables; :func:`customer_profile` (a dict) and
    :meth:`huaxiang.profiles.ProfilesComponent.get` (a :class:`~huaxiang.profiles.Profile`) shape it.

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
    engine = ws.engine
    k = _person_keys(engine)
    keys = engine.execute(k.filter(k.person_id == pid).select("source", "source_customer_id").distinct())
    keys = keys.sort_values(["source", "source_customer_id"]).reset_index(drop=True)
    features, _values = _features(engine, pid, lang)
    tags, history = _tags(engine, pid, lang)
    out: dict[str, Any] = {
        "person_id": pid,
        "records": _records(keys),
        "attributes": _attributes(engine, pid, keys),
        "features": features,
        "tags": tags,
        "tag_history": history,
        "orders": _orders(engine, keys, recent),
        "events": _events(engine, pid, keys, recent) if engine.has_table("events") else [],
    }
    for name in OPTIONAL_TABLES:
        if engine.has_table(name):
            t = engine.table(name)
            if "person_id" in t.columns:
                mine = t.filter(t.person_id == pid)
                if name == "recommendations":
                    mine = _with_product_names(engine, mine)
                out[name] = _records(engine.execute(mine))
    return out


def _with_product_names(engine: Engine, recs: ir.Table) -> ir.Table:
    """Recommendations with ``product_name`` (and category) beside the product code, best first."""
    if "product_id" not in recs.columns or not engine.has_table("products"):
        return recs
    p = engine.table("products")
    names = p.group_by("product_id").aggregate(product_name=p["name"].max(), category=p.category.max())
    joined = recs.left_join(names, "product_id")
    joined = joined.select(*recs.columns, "product_name", *(["category"] if "category" not in recs.columns else []))
    return joined.order_by("rank") if "rank" in recs.columns else joined
