"""The identity stage: one ``person_id`` per real customer, explained and stable across rebuilds.

Steps, all on the engine (DuckDB or Spark):

1. **Records and identifiers.** Every customer key ``(source, source_customer_id)`` seen in
   customers_raw, orders, interactions and events is a record; each identifier it carries (phone,
   email, member card, user id scoped to its source, WeChat ids, device, anonymous id, and the
   ``source_keys`` — e.g. a POS customer id that *is* a member card) is an edge.
2. **Guard rails.** A value carried by more than ``hub_threshold`` records, or blocklisted, is a
   *hub*: refused for linking and reported in ``identity_hubs``.
3. **Deterministic tiers** in identifier priority, then a **probabilistic tier** (Splink, on the same
   connection, for records sharing no strong identifier: pinyin of the name, birth date, city,
   phone digits, e-mail local part). Each tier merges persons through connected components; a
   merge that would give a person two values of a unique identifier (two member cards, two app
   user ids) or more values than ``max_values`` is refused and reported in ``identity_conflicts``.
   Operator merges come first; operator splits act as a unique identifier.
4. **Stable ids.** A person keeps the id it had in the previous build; when persons merge the
   oldest id survives and the others go to ``person_aliases``.
5. Tables: ``record_persons``, ``identities``, ``identity_links`` (which rule joined each record,
   with the match probability for Splink links), ``persons`` (golden record), ``person_aliases``,
   ``person_ids``, ``identity_hubs``, ``identity_conflicts``.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp(), example="demo", customers=300)  # doctest: +SKIP
>>> ws.build(stages=["ingest", "clean", "identity"]).tables["persons"]  # doctest: +SKIP
282
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.engine.base import Engine
from huaxiang.identity.golden import golden_attributes
from huaxiang.identity.graph import RECORD, find_hubs, record_key, resolve_tiers
from huaxiang.identity.settings import (
    IDENTIFIER_COLUMNS,
    IdentitySettings,
    Overrides,
    load_overrides,
    parse_settings,
)
from huaxiang.pipeline import StageContext, StageResult

__all__ = ["parse_settings", "run_identity"]

SCOPED_TYPES = ("user_id",)  # values only meaningful within one source


def _records(engine: Engine) -> ir.Table:
    parts = [engine.table(n).select("source", "source_customer_id") for n in ("customers_raw", "orders", "interactions")
             if engine.has_table(n)]
    if engine.has_table("events"):
        ev = engine.table("events")
        parts.append(ev.select("source", source_customer_id=ev.user_id))
    keys = ibis.union(*parts, distinct=True)
    keys = keys.filter(keys.source_customer_id.notnull())
    return keys.mutate(**{RECORD: record_key(keys.source, keys.source_customer_id)})


def _edges(engine: Engine, records: ir.Table, settings: IdentitySettings) -> ir.Table:
    """``record_key, identifier_type, identifier_value`` for every identifier a record carries."""
    c = engine.table("customers_raw")
    key = record_key(c.source, c.source_customer_id)
    parts = []
    for col in IDENTIFIER_COLUMNS:
        if col not in c.columns:
            continue
        value = c[col].cast("string")
        if col in SCOPED_TYPES:
            value = c.source + ":" + value
        parts.append(c.filter(c[col].notnull() & (c[col].cast("string") != ""))
                     .select(**{RECORD: key}, identifier_type=ibis.literal(col), identifier_value=value))
    for system, id_type in settings.source_keys.items():
        r = records.filter(records.source == system)
        parts.append(r.select(RECORD, identifier_type=ibis.literal(id_type), identifier_value=r.source_customer_id))
    if engine.has_table("events"):
        ev = engine.table("events")
        ev = ev.filter(ev.user_id.notnull() & ev.anonymous_id.notnull())
        parts.append(
            ev.select(**{RECORD: record_key(ev.source, ev.user_id)}, identifier_type=ibis.literal("anonymous_id"),
                      identifier_value=ev.anonymous_id).distinct()
        )
    return ibis.union(*parts, distinct=True)


def _override_tiers(overrides: Overrides) -> tuple[ir.Table, ir.Table]:
    """Operator merges as edges; operator splits as a unique pseudo-identifier per split."""
    m_rows = [(rk, f"merge:{i}") for i, group in enumerate(overrides.merge) for rk in group]
    s_rows = []
    for i, split in enumerate(overrides.split):
        s_rows += [(rk, f"_split_{i}", "apart") for rk in split.get("apart", [])]
        s_rows += [(rk, f"_split_{i}", "rest") for rk in split.get("from", [])]
    merges = ibis.memtable(pd.DataFrame(m_rows or [("~none~", "~none~")], columns=[RECORD, "identifier_value"]))
    merges = merges.filter(merges[RECORD] != "~none~").mutate(identifier_type=ibis.literal("operator_merge"))
    splits = ibis.memtable(pd.DataFrame(s_rows or [("~none~", "~none~", "~none~")],
                                        columns=[RECORD, "identifier_type", "identifier_value"]))
    splits = splits.filter(splits[RECORD] != "~none~")
    return merges.select(RECORD, "identifier_type", "identifier_value"), splits


def _stable_ids(engine: Engine, labels: ir.Table, build_at: str) -> tuple[ir.Table, ir.Table, ir.Table]:
    """``record_key -> person_id`` keeping previous ids; returns (assignment, new aliases, person_ids)."""
    fresh = "P" + labels.label.hexdigest("md5").substr(0, 16)
    if not (engine.has_table("record_persons") and engine.has_table("person_ids")
            and RECORD in engine.table("record_persons").columns):
        assigned = labels.select(RECORD, person_id=fresh)
        ids = assigned.select("person_id").distinct().mutate(created_at=ibis.literal(build_at))
        none = ids.filter(ibis.literal(False)).select(alias_id=ids.person_id, person_id=ids.person_id,
                                                      reason=ibis.literal(""), recorded_at=ibis.literal(""))
        return assigned, none, ids
    prev_rp = engine.materialize("_hx_id_prev_rp", engine.table("record_persons").select(
        RECORD, old=ibis._.person_id), temp=True)
    prev_ids = engine.materialize("_hx_id_prev_ids", engine.table("person_ids"), temp=True)
    j = labels.inner_join(prev_rp, RECORD)
    cand = j.group_by(["label", "old"]).aggregate(n=j.count())
    cand = cand.left_join(prev_ids, cand.old == prev_ids.person_id).select(
        "label", "old", "n", created=ibis.coalesce(ibis._.created_at, ibis.literal(build_at)))
    # the oldest previous id of each new person is its candidate ...
    w = ibis.window(group_by="label", order_by=["created", "old"])
    best = cand.mutate(r=ibis.row_number().over(w)).filter(ibis._.r == 0)
    # ... unless that id went to a bigger part of a split person
    size = labels.group_by("label").aggregate(size=labels.count())
    best = best.inner_join(size, "label")
    w2 = ibis.window(group_by="old", order_by=[ibis.desc("size"), "label"])
    best = best.mutate(r2=ibis.row_number().over(w2)).filter(ibis._.r2 == 0).select("label", "old")
    best = engine.materialize("_hx_id_best", best, temp=True)
    per_label = labels.left_join(best, "label").select(RECORD, "label", "old")
    new_id = "P" + per_label.label.hexdigest("md5").substr(0, 16)
    taken = prev_ids.select(taken=prev_ids.person_id)
    pl = per_label.mutate(cand_id=ibis.coalesce(per_label.old, new_id))
    pl = pl.left_join(taken, (pl.cand_id == taken.taken) & pl.old.isnull())
    clash_id = "P" + (pl.label + ":" + build_at).hexdigest("md5").substr(0, 16)
    assigned = engine.materialize("_hx_id_assigned", pl.select(
        RECORD, person_id=ibis.ifelse(pl.taken.notnull(), clash_id, pl.cand_id)), temp=True)
    # aliases: previous ids that no longer name a person, pointing to the id their records now have
    alive = assigned.select(alive=assigned.person_id).distinct()
    moved = prev_rp.inner_join(assigned, RECORD).filter(lambda t: t.old != t.person_id)
    moved = moved.anti_join(alive, moved.old == alive.alive)
    moved = moved.group_by("old").aggregate(person_id=moved.person_id.mode())
    aliases = moved.select(alias_id=moved.old, person_id=moved.person_id, reason=ibis.literal("merged"),
                           recorded_at=ibis.literal(build_at))
    ids = alive.left_join(prev_ids, alive.alive == prev_ids.person_id).select(
        person_id=ibis._.alive, created_at=ibis.coalesce(ibis._.created_at, ibis.literal(build_at)))
    return assigned, aliases, ids


def _aliases(engine: Engine, new: ir.Table, alive: ir.Table) -> ir.Table:
    """Accumulate aliases across builds; an alias of a now-merged id points to its new owner."""
    if not engine.has_table("person_aliases"):
        return new
    old = engine.materialize("_hx_id_prev_aliases", engine.table("person_aliases"), temp=True)
    hop = new.select(via=new.alias_id, to=new.person_id)
    old = old.left_join(hop, old.person_id == hop.via)
    old = old.select(alias_id=old.alias_id, person_id=ibis.coalesce(old.to, old.person_id), reason=old.reason,
                     recorded_at=old.recorded_at)
    both = ibis.union(old.anti_join(new, "alias_id"), new, distinct=True)
    return both.anti_join(alive, both.alias_id == alive.person_id)


def _first_seen(engine: Engine, record_persons: ir.Table) -> ir.Table:
    parts = []
    c = engine.table("customers_raw")
    parts.append(c.select("source", "source_customer_id", ts=c.registered_at))
    if engine.has_table("orders"):
        o = engine.table("orders")
        parts.append(o.select("source", "source_customer_id", ts=o.order_ts))
    if engine.has_table("interactions"):
        i = engine.table("interactions")
        parts.append(i.select("source", "source_customer_id", ts=i.ts))
    if engine.has_table("events"):
        e = engine.table("events")
        parts.append(e.select("source", source_customer_id=e.user_id, ts=e.event_ts))
    u = ibis.union(*[p.cast({"ts": "timestamp"}) for p in parts], distinct=False)
    per_rec = u.group_by(["source", "source_customer_id"]).aggregate(ts=u.ts.min())
    j = record_persons.inner_join(per_rec, ["source", "source_customer_id"])
    return j.group_by("person_id").aggregate(first_seen=j.ts.min())


def _persons(engine: Engine, record_persons: ir.Table, settings: IdentitySettings) -> ir.Table:
    c = engine.table("customers_raw").inner_join(record_persons, ["source", "source_customer_id"])
    attrs = golden_attributes(c, settings)
    reg = c.group_by("person_id").aggregate(registered_at=c.registered_at.min())
    counts = record_persons.group_by("person_id").aggregate(
        n_records=record_persons.count(),
        sources=record_persons.source.collect(distinct=True).sort().join(","),
    )
    out = counts.left_join(attrs, "person_id").drop("person_id_right")
    out = out.left_join(reg, "person_id").drop("person_id_right")
    out = out.left_join(_first_seen(engine, record_persons), "person_id").drop("person_id_right")
    return out


def _links(engine: Engine, edges: ir.Table, rk: ir.Table, pairs: ir.Table | None,
           merges: ir.Table) -> ir.Table:
    """Why each record is in its person: the shared identifier (joined to the first record carrying it),
    or the Splink pair with its match probability, or the operator's merge."""
    e = ibis.union(edges, merges, distinct=False).inner_join(rk, RECORD)
    w = ibis.window(group_by=["person_id", "identifier_type", "identifier_value"], order_by=RECORD)
    e = e.mutate(anchor=e[RECORD].first().over(w), n=e[RECORD].count().over(
        ibis.window(group_by=["person_id", "identifier_type", "identifier_value"])))
    det = e.filter(e.n > 1).select(
        "person_id", RECORD, linked_record_key=e.anchor, rule=e.identifier_type, identifier_value=e.identifier_value,
        match_probability=ibis.null("float64"),
    )
    det = det.filter(det[RECORD] != det.linked_record_key)
    parts = [det]
    if pairs is not None:
        p = pairs.inner_join(rk, pairs.record_key_l == rk[RECORD]).select(
            "person_id", "record_key_l", "record_key_r", "match_probability")
        rk2 = rk.select(r2=rk[RECORD], p2=rk.person_id)
        p = p.inner_join(rk2, (p.record_key_r == rk2.r2) & (p.person_id == rk2.p2))
        parts.append(p.select("person_id", **{RECORD: p.record_key_r}, linked_record_key=p.record_key_l,
                              rule=ibis.literal("splink"), identifier_value=ibis.null("string"),
                              match_probability=p.match_probability.cast("float64")))
    return ibis.union(*parts, distinct=False)


def run_identity(ctx: StageContext) -> StageResult:
    """Resolve identities and write the identity tables (see the module docstring)."""
    from huaxiang.identity.matching import splink_pairs

    engine = ctx.engine
    settings = parse_settings(ctx.config.identity)
    overrides = load_overrides(ctx.workspace_dir)
    build_at = datetime.now().isoformat(timespec="seconds")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    records = engine.materialize("_hx_id_records", _records(engine), temp=True)
    edges = engine.materialize("_hx_id_all_edges", _edges(engine, records, settings), temp=True)
    linking = edges.filter(edges.identifier_type.isin(settings.identifiers))
    hubs = engine.materialize(
        "identity_hubs",
        find_hubs(linking, max_records_per_value=settings.hub_threshold, blocklist=settings.blocklist),
    )
    usable = engine.materialize("_hx_id_usable", edges.anti_join(hubs, ["identifier_type", "identifier_value"]),
                                temp=True)
    merges, splits = _override_tiers(overrides)
    timings["edges"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pairs = splink_pairs(engine, settings, hubs) if settings.probabilistic.enabled else None
    timings["splink"] = time.perf_counter() - t0
    probabilistic: dict[str, Any] = {}
    if pairs is not None:
        # the model's own estimate of how many accepted pairs join strangers: sum of (1 - p)
        stats = engine.execute(pairs.aggregate(n=pairs.count(), e=(1 - pairs.match_probability).sum()))
        probabilistic = {"pairs": int(stats.n[0]), "expected_false_pairs": round(float(stats.e[0] or 0.0), 2)}
    t0 = time.perf_counter()
    present = set(engine.execute(usable.select("identifier_type").distinct())["identifier_type"])
    tiers: list[tuple[str, ir.Table]] = [("operator_merge", merges)] if overrides.merge else []
    tiers += [(t, usable.filter(usable.identifier_type == t)) for t in settings.identifiers if t in present]
    if pairs is not None:
        pid = "pair:" + pairs.record_key_l + "|" + pairs.record_key_r
        tiers.append(("splink", ibis.union(
            pairs.select(**{RECORD: pairs.record_key_l}, identifier_type=ibis.literal("splink"), identifier_value=pid),
            pairs.select(**{RECORD: pairs.record_key_r}, identifier_type=ibis.literal("splink"), identifier_value=pid),
            distinct=False)))
    values = ibis.union(usable, splits, distinct=False)
    limits = settings.limits() | {f"_split_{i}": 1 for i in range(len(overrides.split))}
    labels, conflicts = resolve_tiers(engine, records.select(RECORD), tiers, values, limits,
                                      check_first=not overrides.merge)
    conflicts = engine.materialize("identity_conflicts", conflicts)
    timings["graph"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    assigned, new_aliases, ids = _stable_ids(engine, labels, build_at)
    rp = records.inner_join(assigned, RECORD).select("source", "source_customer_id", "person_id", RECORD)
    rp = engine.materialize("_hx_id_rp", rp, temp=True)
    ids = engine.materialize("_hx_id_ids", ids, temp=True)
    aliases = engine.materialize("_hx_id_aliases", _aliases(engine, new_aliases, ids), temp=True)
    record_persons = engine.materialize("record_persons", rp)
    engine.materialize("person_ids", ids)
    aliases = engine.materialize("person_aliases", aliases)
    links = engine.materialize("identity_links", _links(engine, usable.filter(
        usable.identifier_type.isin(settings.identifiers)), rp, pairs, merges))
    # identities: every usable identifier value that names exactly one person
    lk = usable.inner_join(rp.select(RECORD, "person_id"), RECORD)
    per_value = lk.group_by(["identifier_type", "identifier_value"]).aggregate(persons=lk.person_id.nunique())
    unambiguous = per_value.filter(per_value.persons == 1)
    identities = engine.materialize("identities", lk.semi_join(unambiguous, ["identifier_type", "identifier_value"])
                                    .select("identifier_type", "identifier_value", "person_id").distinct())
    persons = engine.materialize("persons", _persons(engine, record_persons, settings))
    timings["tables"] = time.perf_counter() - t0
    for name in engine.list_tables():
        if name.startswith(("_hx_id_", "_hx_sp_")):
            engine.drop(name)
    tables = {n: int(engine.execute(t.count())) for n, t in (
        ("record_persons", record_persons), ("identities", identities), ("persons", persons),
        ("identity_links", links), ("identity_hubs", hubs), ("identity_conflicts", conflicts),
        ("person_aliases", aliases),
    )}
    details: dict[str, Any] = {"hubs": tables["identity_hubs"], "conflicts": tables["identity_conflicts"],
                               "seconds": {k: round(v, 3) for k, v in timings.items()},
                               "overrides": {"merge": len(overrides.merge), "split": len(overrides.split)},
                               "probabilistic": probabilistic}
    return StageResult(tables=tables, details=details)
