"""The identity stage's incremental path: attach, merge and split a few records without a rebuild.

Used by the live updater (records and visitors named by an event batch) and by the operator's
corrections (``identity merge``, ``split``, ``attach``). Each function reads only the rows of the
records concerned: the stage's own record and edge functions (:func:`~huaxiang.identity.stage._records`,
:func:`~huaxiang.identity.stage._edges`, :func:`~huaxiang.identity.stage._persons`) run on a
*scoped* view of the engine whose ``customers_raw``, ``orders``, ``interactions`` and ``events``
hold only those records' rows, so the rules are the build's and the cost is the records'.

The guard rails hold: a value in ``identity_hubs`` never links; a record joins a person only when
its identifiers name exactly that one person and joining keeps every identifier type within its
limit (a second user id or card for a unique type is refused — the record becomes its own person);
a record naming several persons is deferred to the next build (counted). An identifier value two
persons now carry leaves ``identities`` (ambiguous), as a build decides.

Examples
--------
>>> # persons = attach_touched(ws, [("app", "u1")], ["anon-7"])
>>> # survivor, retired = apply_merge(ws, ["P1", "P2"])
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.identity.graph import RECORD
from huaxiang.identity.operations import resolve_person_id

__all__ = ["apply_merge", "apply_split", "attach_new", "attach_touched", "rebuild_person_rows"]

_RECORD_TABLES = ("customers_raw", "orders", "interactions", "events")


class _Scoped:
    """The engine as the identity functions see it: record tables restricted to some records."""

    def __init__(self, engine: Any, names: dict[str, str]) -> None:
        self._engine = engine
        self._names = names

    def has_table(self, name: str) -> bool:
        return name in self._names or bool(self._engine.has_table(name))

    def table(self, name: str) -> ir.Table:
        return self._engine.table(self._names.get(name, name))

    def __getattr__(self, item: str) -> Any:
        return getattr(self._engine, item)


def _keys_table(eng: Any, name: str, keys: Sequence[tuple[str, str]]) -> ir.Table:
    frame = pd.DataFrame(sorted(set(keys)), columns=["source", "source_customer_id"], dtype="object")
    return eng.materialize(name, ibis.memtable(frame, schema={"source": "string", "source_customer_id": "string"}),
                           temp=True)


def _scope(eng: Any, keys: ir.Table, prefix: str = "_hx_ops_s_") -> _Scoped:
    """A view of ``eng`` whose record tables hold only the rows of ``keys`` (source, source_customer_id)."""
    names: dict[str, str] = {}
    for table in _RECORD_TABLES:
        if not eng.has_table(table):
            continue
        t = eng.table(table)
        if table == "events":
            part = t.semi_join(keys, [t.source == keys.source, t.user_id == keys.source_customer_id])
        else:
            part = t.semi_join(keys, ["source", "source_customer_id"])
        names[table] = f"{prefix}{table}"
        eng.materialize(names[table], part, temp=True)
    return _Scoped(eng, names)


def _ids_table(eng: Any, name: str, values: Sequence[str], column: str = "person_id") -> ir.Table:
    frame = pd.DataFrame({column: pd.Series(sorted({str(v) for v in values}), dtype="object")})
    return eng.materialize(name, ibis.memtable(frame, schema={column: "string"}), temp=True)


def _drop_scratch(eng: Any) -> None:
    for name in eng.list_tables():
        if name.startswith("_hx_ops_"):
            eng.drop(name)


def attach_new(ws: Any, candidates: Sequence[tuple[str, str]] | None = None) -> tuple[dict[str, int], set[str]]:
    """Attach the records not yet in ``record_persons`` (among ``candidates`` when given: the keys an
    event batch named). Returns counts (``attached``, ``new_persons``, ``deferred``) and the persons
    the records joined or formed."""
    from huaxiang.identity.settings import parse_settings
    from huaxiang.identity.stage import _edges, _records

    eng = ws.engine
    settings = parse_settings(ws.config.identity)
    rp = eng.table("record_persons")
    if candidates is not None:
        if not candidates:
            return {"attached": 0, "new_persons": 0, "deferred": 0}, set()
        keys = _keys_table(eng, "_hx_ops_cand", candidates)
        keys = eng.materialize("_hx_ops_cand_new", keys.anti_join(rp, ["source", "source_customer_id"]), temp=True)
        if not int(eng.execute(keys.count())):
            _drop_scratch(eng)
            return {"attached": 0, "new_persons": 0, "deferred": 0}, set()
        view: Any = _scope(eng, keys)
    else:
        view = eng
    try:
        new = eng.materialize("_hx_ops_new", _records(view).anti_join(rp, RECORD), temp=True)
        if not int(eng.execute(new.count())):
            return {"attached": 0, "new_persons": 0, "deferred": 0}, set()
        edges = eng.materialize("_hx_ops_edges", _edges(view, new, settings).semi_join(new, RECORD), temp=True)
        ids = eng.table("identities")
        hubs = eng.table("identity_hubs").select("identifier_type", "identifier_value")
        # only linking identifiers join (the build's tiers); attach-only ones (device, anonymous id) never do
        linking = edges.filter(edges.identifier_type.isin(settings.identifiers))
        hits = linking.anti_join(hubs, ["identifier_type", "identifier_value"]).inner_join(
            ids, ["identifier_type", "identifier_value"])
        per = hits.group_by(RECORD).aggregate(n=hits.person_id.nunique(), person_id=hits.person_id.min())
        per = eng.materialize("_hx_ops_per", per, temp=True)
        # the same limits as a full build: joining must not give the person two user ids, two cards, …
        limits = settings.limits()
        lim = ibis.memtable({"identifier_type": list(limits) or ["~none~"],
                             "max_values": list(limits.values()) or [1]})
        one = per.filter(per.n == 1)
        theirs = one.inner_join(ids, "person_id").select(RECORD, "identifier_type", "identifier_value")
        mine = edges.semi_join(one, RECORD).select(RECORD, "identifier_type", "identifier_value")
        both = ibis.union(theirs, mine, distinct=True).inner_join(lim, "identifier_type")
        over = both.group_by([RECORD, "identifier_type", "max_values"]).aggregate(n=both.identifier_value.nunique())
        over = over.filter(over.n > over.max_values).select(RECORD).distinct()
        ok = one.anti_join(over, RECORD)
        attach = new.inner_join(ok, RECORD).select("source", "source_customer_id", "person_id", RECORD)
        fresh = new.anti_join(ok, RECORD).anti_join(per.filter(per.n > 1), RECORD)
        fresh = fresh.select("source", "source_customer_id",
                             person_id="P" + fresh[RECORD].hexdigest("md5").substr(0, 16), **{RECORD: fresh[RECORD]})
        added = eng.materialize("_hx_ops_added", ibis.union(attach, fresh, distinct=False), temp=True)
        counts = {"attached": int(eng.execute(attach.count())), "new_persons": int(eng.execute(fresh.count())),
                  "deferred": int(eng.execute(per.filter(per.n > 1).count()))}
        eng.append("record_persons", added)
        if counts["new_persons"] and eng.has_table("person_ids"):
            eng.append("person_ids", fresh.select("person_id", created_at=ibis.literal(
                pd.Timestamp.now().isoformat(timespec="seconds"))))
        new_ids = edges.inner_join(added.select(RECORD, "person_id"), RECORD).select(
            "identifier_type", "identifier_value", "person_id").anti_join(ids, ["identifier_type", "identifier_value"])
        eng.append("identities", new_ids.distinct())
        persons = {str(p) for p in eng.execute(added.select("person_id").distinct())["person_id"]}
        return counts, persons
    finally:
        _drop_scratch(eng)


def rebuild_person_rows(ws: Any, person_ids: Sequence[str]) -> set[str]:
    """Recompute the ``identities`` and ``persons`` rows of ``person_ids`` from their current records
    (after records moved between persons, or a record gained identifiers).

    Returns the other persons who held a value that is now ambiguous (it left ``identities``: their
    anonymous events, for one, are no longer theirs) — they need a refresh too.
    """
    from huaxiang.identity.settings import parse_settings
    from huaxiang.identity.stage import _edges, _persons, _records

    eng = ws.engine
    if not person_ids or not eng.has_table("record_persons"):
        return set()
    settings = parse_settings(ws.config.identity)
    losers: set[str] = set()
    try:
        ids = _ids_table(eng, "_hx_ops_pids", person_ids)
        rp = eng.table("record_persons")
        mine = eng.materialize("_hx_ops_rp", rp.semi_join(ids, "person_id"), temp=True)
        view: Any = _scope(eng, mine.select("source", "source_customer_id"))
        records = _records(view)
        edges = _edges(view, records, settings)
        if eng.has_table("identity_hubs"):
            edges = edges.anti_join(eng.table("identity_hubs"), ["identifier_type", "identifier_value"])
        lk = edges.inner_join(mine.select(RECORD, "person_id"), RECORD).select(
            "identifier_type", "identifier_value", "person_id").distinct()
        lk = eng.materialize("_hx_ops_lk", lk, temp=True)
        if eng.has_table("identities"):
            clash = eng.materialize("_hx_ops_clash", _ambiguous(eng, lk, settings), temp=True)
            held = clash.select("person_id").distinct().anti_join(ids, "person_id")
            losers = {str(p) for p in eng.execute(held)["person_id"]}
            clash = clash.select("identifier_type", "identifier_value").distinct()
            new = lk.anti_join(clash, ["identifier_type", "identifier_value"])
            _replace_identities(eng, ids, clash, new)
        else:
            eng.materialize("identities", lk)
        if eng.has_table("persons"):
            fresh = eng.execute(_persons(view, mine.select("source", "source_customer_id", "person_id"), settings))
            stored = eng.table("persons").schema()
            fresh = fresh.reindex(columns=[c for c in stored.names if c in fresh.columns])
            eng.replace_rows("persons", _arrow_like(fresh, stored), list(person_ids))
    finally:
        _drop_scratch(eng)
    return losers


def _ambiguous(eng: Any, lk: ir.Table, settings: Any) -> ir.Table:
    """The values of ``lk`` (type, value, person) that do not name exactly one person, or that more than
    ``hub_threshold`` records carry: ``identifier_type, identifier_value, person_id`` of every person
    holding one. Every record carrying one of the values is looked at (not only ``identities``, which
    keeps no ambiguous value)."""
    from huaxiang.identity.settings import IDENTIFIER_COLUMNS
    from huaxiang.identity.stage import SCOPED_TYPES, _edges, _records

    vals = lk.select("identifier_type", "identifier_value").distinct()
    c = eng.table("customers_raw")
    carriers = [lk.select("person_id").distinct().inner_join(eng.table("record_persons"), "person_id")
                .select("source", "source_customer_id")]
    for col in IDENTIFIER_COLUMNS:
        if col in c.columns and col not in SCOPED_TYPES:
            v = vals.filter(vals.identifier_type == col)
            carriers.append(c.semi_join(v, c[col].cast("string") == v.identifier_value)
                            .select("source", "source_customer_id"))
    if eng.has_table("events"):
        ev = eng.table("events")
        v = vals.filter(vals.identifier_type == "anonymous_id")
        carriers.append(ev.filter(ev.user_id.notnull()).semi_join(v, ev.anonymous_id == v.identifier_value)
                        .select("source", source_customer_id=ev.user_id))
    keys = eng.materialize("_hx_ops_carriers", ibis.union(*carriers, distinct=True), temp=True)
    view: Any = _scope(eng, keys, prefix="_hx_ops_c_")
    edges = _edges(view, _records(view), settings).semi_join(vals, ["identifier_type", "identifier_value"])
    held = edges.inner_join(eng.table("record_persons").select(RECORD, "person_id"), RECORD)
    per = held.group_by(["identifier_type", "identifier_value"]).aggregate(
        persons=held.person_id.nunique(), records=held[RECORD].nunique())
    bad = per.filter((per.persons > 1) | (per.records > settings.hub_threshold))
    return held.semi_join(bad, ["identifier_type", "identifier_value"]).select(
        "identifier_type", "identifier_value", "person_id").distinct()


def _arrow_like(frame: pd.DataFrame, schema: ibis.Schema) -> Any:
    import pyarrow as pa

    arrow = schema.to_pyarrow()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.cast(pa.schema([arrow.field(c) for c in frame.columns]), safe=False)


def _replace_identities(eng: Any, ids: ir.Table, clash: ir.Table, new: ir.Table) -> None:
    """identities := rows of other persons whose value is not clashing ∪ ``new``."""
    if eng.supports("replace_rows"):
        raw = eng.raw
        eng.materialize("_hx_ops_new_ident", new, temp=True)
        raw.execute("BEGIN TRANSACTION")
        try:
            raw.execute("DELETE FROM identities WHERE person_id IN (SELECT person_id FROM _hx_ops_pids) "
                        "OR (identifier_type, identifier_value) IN "
                        "(SELECT (identifier_type, identifier_value) FROM _hx_ops_clash)")
            raw.execute("INSERT INTO identities BY NAME SELECT * FROM _hx_ops_new_ident")
            raw.execute("COMMIT")
        except Exception:
            raw.execute("ROLLBACK")
            raise
        return
    old = eng.table("identities")
    kept = old.anti_join(ids, "person_id").anti_join(clash, ["identifier_type", "identifier_value"])
    eng.materialize("_hx_ops_ident", ibis.union(kept.select(*new.columns), new, distinct=False), temp=True)
    eng.materialize("identities", eng.table("_hx_ops_ident"))


def attach_touched(ws: Any, records: Sequence[tuple[str, str]] = (), anonymous_ids: Sequence[str] = (), *,
                   changed: Sequence[tuple[str, str]] | None = None,
                   links: Sequence[tuple[str, str, str]] = ()) -> set[str]:
    """The identity step of the live path; returns the persons the batch touched.

    New records among ``records`` (``(source, source_customer_id)`` keys an event batch named) are
    attached (:func:`attach_new`); the holders of ``anonymous_ids`` (visitors the batch named) are
    touched too. The identifiers and golden records are recomputed (:func:`rebuild_person_rows`) for
    the persons whose records gained identifiers: those of ``changed`` records (customer records the
    batch wrote; None: every touched record), of the new records, and of ``links``
    (``(source, user id, anonymous id)`` an event carried) not yet in ``identities``.
    """
    eng = ws.engine
    _, attached = attach_new(ws, list(records))
    touched = set(attached)
    rebuild = set(attached)
    try:
        if records:
            keys = _keys_table(eng, "_hx_ops_keys", list(records))
            rp = eng.table("record_persons")
            frame = eng.execute(rp.semi_join(keys, ["source", "source_customer_id"])
                                .select("source", "source_customer_id", "person_id"))
            owner = {(str(s), str(c)): str(p) for s, c, p in zip(frame["source"], frame["source_customer_id"],
                                                                 frame["person_id"], strict=True)}
            touched |= set(owner.values())
            grown = set(owner) if changed is None else set(changed)
            if links and eng.has_table("identities"):
                ids = eng.table("identities")
                anon = _ids_table(eng, "_hx_ops_links", [a for _, _, a in links], "identifier_value")
                held = eng.execute(ids.filter(ids.identifier_type == "anonymous_id").semi_join(
                    anon, "identifier_value").select("identifier_value", "person_id"))
                holder = dict(zip(held["identifier_value"], held["person_id"], strict=True))
                grown |= {(s, u) for s, u, a in links if holder.get(a) != owner.get((s, u))}
            rebuild |= {owner[k] for k in grown if k in owner}
    finally:
        _drop_scratch(eng)
    touched |= rebuild_person_rows(ws, sorted(rebuild))
    if anonymous_ids and eng.has_table("identities"):
        try:
            anon = _ids_table(eng, "_hx_ops_anon", anonymous_ids, "identifier_value")
            ids = eng.table("identities")
            hits = ids.filter(ids.identifier_type.isin(["anonymous_id", "device_id"])).semi_join(
                anon, "identifier_value")
            touched |= {str(p) for p in eng.execute(hits.select("person_id").distinct())["person_id"]}
        finally:
            _drop_scratch(eng)
    return touched


def _retire(ws: Any, retired: dict[str, str], reason: str) -> None:
    """Point retired ids at their new owner in ``person_aliases`` and drop their derived rows."""

    eng = ws.engine
    if not retired:
        return
    now = pd.Timestamp.now().isoformat(timespec="seconds")
    rows = pd.DataFrame({"alias_id": list(retired), "person_id": list(retired.values()), "reason": reason,
                         "recorded_at": now})
    new = ibis.memtable(rows, schema={"alias_id": "string", "person_id": "string", "reason": "string",
                                      "recorded_at": "string"})
    if eng.has_table("person_aliases"):
        old = eng.table("person_aliases")
        hop = new.select(via=new.alias_id, to=new.person_id)
        old = old.left_join(hop, old.person_id == hop.via).select(
            alias_id=old.alias_id, person_id=ibis.coalesce(ibis._.to, old.person_id), reason=old.reason,
            recorded_at=old.recorded_at)
        old = eng.materialize("_hx_ops_alias", old.anti_join(new, "alias_id"), temp=True)
        eng.materialize("person_aliases", ibis.union(old, new.cast(old.schema()), distinct=False))
        eng.drop("_hx_ops_alias")
    else:
        eng.materialize("person_aliases", new)
    empty = pd.DataFrame({"person_id": pd.Series([], dtype="object")})
    for table in ("person_ids", "persons", "features", "person_category_pref", "person_tags", "segments", "scores",
                  "recommendations", "person_refresh"):
        if eng.has_table(table) and "person_id" in eng.table(table).columns:
            eng.replace_rows(table, empty, list(retired))


def _move_records(ws: Any, moves: pd.DataFrame) -> None:
    """Reassign records: ``moves`` has ``record_key`` and the new ``person_id``."""
    eng = ws.engine
    m = ibis.memtable(moves[[RECORD, "person_id"]].astype(str)).rename(_new="person_id")
    rp = eng.table("record_persons")
    moved = rp.inner_join(m, RECORD).select("source", "source_customer_id", person_id=ibis._._new,
                                            **{RECORD: rp[RECORD]})
    rest = rp.anti_join(m, RECORD).select("source", "source_customer_id", "person_id", RECORD)
    eng.materialize("_hx_ops_rp_next", ibis.union(rest, moved, distinct=False), temp=True)
    eng.materialize("record_persons", eng.table("_hx_ops_rp_next"))
    eng.drop("_hx_ops_rp_next")


def apply_merge(ws: Any, person_ids: Sequence[str]) -> tuple[str, list[str]]:
    """Merge persons now: the oldest id survives (as a build keeps it), the others become its aliases.

    Returns ``(survivor, retired ids)``.
    """
    eng = ws.engine
    current = sorted({resolve_person_id(ws, p) for p in person_ids})
    if len(current) < 2:
        return current[0], []
    created: dict[str, str] = {}
    if eng.has_table("person_ids"):
        pi = eng.table("person_ids")
        frame = eng.execute(pi.filter(pi.person_id.isin(current)))
        created = {str(p): str(c) for p, c in zip(frame["person_id"], frame["created_at"], strict=True)}
    survivor = min(current, key=lambda p: (created.get(p, "~"), p))
    retired = [p for p in current if p != survivor]
    rp = eng.table("record_persons")
    moves = eng.execute(rp.filter(rp.person_id.isin(retired)).select(RECORD))
    moves["person_id"] = survivor
    _move_records(ws, moves)
    _retire(ws, dict.fromkeys(retired, survivor), "merged")
    rebuild_person_rows(ws, [survivor])
    return survivor, retired


def apply_split(ws: Any, person_id: str, records: Sequence[str]) -> str:
    """Split ``records`` off ``person_id`` now; they become a new person, whose id is returned."""
    pid = resolve_person_id(ws, person_id)
    new_id = "P" + hashlib.md5(("split:" + "|".join(sorted(records))).encode()).hexdigest()[:16]
    _move_records(ws, pd.DataFrame({RECORD: sorted(records), "person_id": new_id}))
    eng = ws.engine
    if eng.has_table("person_ids"):
        row = ibis.memtable(pd.DataFrame({"person_id": [new_id],
                                          "created_at": [pd.Timestamp.now().isoformat(timespec="seconds")]}))
        eng.append("person_ids", row.cast(eng.table("person_ids").schema()))
    rebuild_person_rows(ws, [pid, new_id])
    return new_id
