"""Deterministic identity graph: records linked by shared strong identifiers, on the engine.

Records are customer keys ``(source, source_customer_id)``. An *edge* says a record carries an
identifier value (``phone = +8613800138000``). Records that share a value, directly or through a
chain, are one person: the connected components of the record–identifier graph, found by
min-label propagation (each round: every identifier takes the smallest label of its records, every
record the smallest label of its identifiers) until no label changes — a few rounds, each two
joins, on DuckDB and Spark alike.

Guard rails: a value carried by more than ``max_records_per_value`` records (a shop's placeholder
phone typed by staff, a shared family email) is a *hub*: it is refused for linking and reported;
blocklisted values never link.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from huaxiang.engine.base import Engine

RECORD = "record_key"


def record_key(source: ir.StringValue, source_customer_id: ir.StringValue) -> ir.StringValue:
    """The text key of a record: ``source:source_customer_id``."""
    return source + ":" + source_customer_id


def find_hubs(edges: ir.Table, *, max_records_per_value: int, blocklist: Sequence[str]) -> ir.Table:
    """Identifier values refused for linking: ``identifier_type, identifier_value, records, reason``."""
    per_value = edges.group_by(["identifier_type", "identifier_value"]).aggregate(records=edges[RECORD].nunique())
    too_many = per_value.filter(per_value.records > max_records_per_value).mutate(
        reason=ibis.literal(f"shared by more than {max_records_per_value} records")
    )
    blocked = per_value.filter(per_value.identifier_value.isin(list(blocklist) or ["~none~"])).mutate(
        reason=ibis.literal("blocklisted")
    )
    return ibis.union(too_many, blocked, distinct=False)


def connected_components(engine: Engine, edges: ir.Table, records: ir.Table, *, max_rounds: int = 50,
                         prefix: str = "_hx_id") -> ir.Table:
    """``record_key -> label``: the smallest record key of the record's component.

    ``edges`` has ``record_key, identifier_type, identifier_value``; ``records`` every ``record_key``
    (records with no usable identifier are their own component).
    """
    e = edges.select(RECORD, node=edges.identifier_type + "\x1f" + edges.identifier_value)
    e = engine.materialize(f"{prefix}_edges", e, temp=True)
    labels = engine.materialize(f"{prefix}_labels_0", records.select(RECORD, label=records[RECORD]), temp=True)
    for round_ in range(1, max_rounds + 1):
        with_label = e.inner_join(labels, RECORD)
        node_label = with_label.group_by("node").aggregate(label=with_label.label.min())
        back = e.inner_join(node_label, "node").group_by(RECORD).aggregate(new=ibis._.label.min())
        nxt = labels.left_join(back, RECORD).select(
            labels[RECORD], label=ibis.least(labels.label, ibis.coalesce(ibis._.new, labels.label))
        )
        nxt = engine.materialize(f"{prefix}_labels_{round_}", nxt, temp=True)
        changed = int(engine.execute((nxt.inner_join(labels, RECORD).filter(lambda t: t.label != t.label_right))
                                     .count()))
        engine.drop(f"{prefix}_labels_{round_ - 1}")
        labels = nxt
        if changed == 0:
            return labels
    raise RuntimeError(f"identity graph did not converge in {max_rounds} rounds")  # pragma: no cover


def resolve_tiers(
    engine: Engine, records: ir.Table, tiers: Sequence[tuple[str, ir.Table]], values: ir.Table,
    limits: dict[str, int], *, check_first: bool = True,
) -> tuple[ir.Table, ir.Table]:
    """Merge records tier by tier (identifier priority), refusing merges that break a limit.

    ``tiers`` are ``(rule, edges)`` in priority order, edges with ``record_key, identifier_type,
    identifier_value``. Each tier joins the persons found so far through its edges (connected
    components on the engine); a proposed person that would carry more distinct values of a
    limited identifier type than ``limits`` allows (two member cards, four phones) is refused: its
    records stay as they were before that tier, and the conflict is reported. ``values`` holds the
    limited identifiers of every record. With ``check_first=False`` the first tier (operator merges)
    is applied without the check.

    Returns ``(labels, conflicts)``: ``record_key -> label`` and the refused merges
    (``rule, label, identifier_type, n_values, n_records``).
    """
    labels = engine.materialize("_hx_id_tier_labels", records.select(RECORD, label=records[RECORD]), temp=True)
    limit_table = ibis.memtable({"identifier_type": list(limits) or ["~none~"],
                                 "max_values": list(limits.values()) or [1]})
    limited = values.filter(values.identifier_type.isin(list(limits) or ["~none~"]))
    limited = engine.materialize("_hx_id_limited", limited.select(RECORD, "identifier_type", "identifier_value")
                                 .distinct(), temp=True)
    conflicts: list[ir.Table] = []
    for i, (rule, edges) in enumerate(tiers):
        e = edges.inner_join(labels, RECORD).select(
            **{RECORD: ibis._.label}, identifier_type=ibis._.identifier_type, identifier_value=ibis._.identifier_value
        )
        nodes = labels.select(**{RECORD: labels.label}).distinct()
        proposal = connected_components(engine, e, nodes, prefix=f"_hx_id_t{i}")
        rec_new = labels.inner_join(proposal.rename(new="label"), labels.label == proposal[RECORD]).select(
            labels[RECORD], labels.label, ibis._.new
        )
        rec_new = engine.materialize(f"_hx_id_t{i}_new", rec_new, temp=True)
        if i == 0 and not check_first:
            bad = rec_new.filter(ibis.literal(False)).select(new=rec_new.new)
        else:
            grown = rec_new.filter(rec_new.label != rec_new.new).select("new").distinct()
            j = rec_new.semi_join(grown, "new").inner_join(limited, RECORD)
            per = j.group_by(["new", "identifier_type"]).aggregate(
                n_values=j.identifier_value.nunique(), n_records=j[RECORD].nunique()
            )
            per = per.inner_join(limit_table, "identifier_type")
            over = engine.materialize(f"_hx_id_t{i}_over", per.filter(per.n_values > per.max_values), temp=True)
            conflicts.append(over.select(rule=ibis.literal(rule), label=over.new, identifier_type=over.identifier_type,
                                         n_values=over.n_values.cast("int64"), n_records=over.n_records.cast("int64")))
            bad = over.select("new").distinct()
        marked = rec_new.left_join(bad.mutate(refused=ibis.literal(True)), "new")
        nxt = marked.select(
            RECORD, label=ibis.ifelse(marked.refused.fill_null(False), marked.label, marked.new)
        )
        labels = engine.materialize("_hx_id_tier_labels", nxt, temp=True)
    empty = ibis.memtable({"rule": ["x"], "label": ["x"], "identifier_type": ["x"], "n_values": [0], "n_records": [0]})
    empty = empty.cast({"n_values": "int64", "n_records": "int64"}).filter(ibis.literal(False))
    report = ibis.union(empty, *conflicts, distinct=False) if conflicts else empty
    return labels, report
