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
    blocked = per_value.filter(per_value.identifier_value.isin(list(blocklist) or ["\x00"])).mutate(
        reason=ibis.literal("blocklisted")
    )
    return ibis.union(too_many, blocked, distinct=False)


def connected_components(engine: Engine, edges: ir.Table, records: ir.Table, *, max_rounds: int = 50) -> ir.Table:
    """``record_key -> label``: the smallest record key of the record's component.

    ``edges`` has ``record_key, identifier_type, identifier_value``; ``records`` every ``record_key``
    (records with no usable identifier are their own component).
    """
    e = edges.select(RECORD, node=edges.identifier_type + "\x1f" + edges.identifier_value)
    e = engine.materialize("_hx_id_edges", e, temp=True)
    labels = engine.materialize("_hx_id_labels_0", records.select(RECORD, label=records[RECORD]), temp=True)
    for round_ in range(1, max_rounds + 1):
        with_label = e.inner_join(labels, RECORD)
        node_label = with_label.group_by("node").aggregate(label=with_label.label.min())
        back = e.inner_join(node_label, "node").group_by(RECORD).aggregate(new=ibis._.label.min())
        nxt = labels.left_join(back, RECORD).select(
            labels[RECORD], label=ibis.least(labels.label, ibis.coalesce(ibis._.new, labels.label))
        )
        nxt = engine.materialize(f"_hx_id_labels_{round_}", nxt, temp=True)
        changed = int(engine.execute((nxt.inner_join(labels, RECORD).filter(lambda t: t.label != t.label_right))
                                     .count()))
        engine.drop(f"_hx_id_labels_{round_ - 1}")
        labels = nxt
        if changed == 0:
            return labels
    raise RuntimeError(f"identity graph did not converge in {max_rounds} rounds")  # pragma: no cover
