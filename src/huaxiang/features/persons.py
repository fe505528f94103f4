"""Which person every customer key belongs to.

The identity stage writes ``record_persons(source, source_customer_id, person_id)``.
Until it has run, each customer key is its own person: ``source || ':' || source_customer_id``.

>>> from huaxiang.engine import create_engine
>>> from huaxiang.schema import empty_table
>>> eng = create_engine("duckdb")
>>> for name in ("customers_raw", "orders", "interactions", "events"):
...     _ = eng.materialize(name, empty_table(name))
>>> person_keys(eng).columns
('source', 'source_customer_id', 'person_id')
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.engine.base import Engine


def person_keys(engine: Engine) -> ir.Table:
    """``(source, source_customer_id, person_id)`` for every customer key in the workspace."""
    if engine.has_table("record_persons"):
        return engine.table("record_persons").select("source", "source_customer_id", "person_id")
    parts = []
    for name in ("customers_raw", "orders", "interactions"):
        t = engine.table(name)
        parts.append(t.select("source", "source_customer_id"))
    events = engine.table("events")
    parts.append(events.select("source", source_customer_id=events.user_id))
    keys = ibis.union(*parts, distinct=True)
    keys = keys.filter(keys.source_customer_id.notnull())
    return keys.mutate(person_id=keys.source + ":" + keys.source_customer_id)


def person_orders(engine: Engine, *, as_of: ir.Value, guests: bool = False, keys: ir.Table | None = None) -> ir.Table:
    """Orders before ``as_of`` with their ``person_id`` and net value.

    ``net_amount`` is what the order adds to spend: a sale (paid/pending) its amount; a credit note
    (cancelled/refunded with a negative amount, e.g. an Online Retail ``C…`` invoice) its negative
    amount, netting the original sale; a voided order (cancelled/refunded, amount ≥ 0) nothing.
    ``is_purchase`` marks sales — the purchases every frequency counts. A credit note is not a
    purchase, and a sale later cancelled by a credit note stays one (the customer did buy; the
    spend nets out and the cancellation shows in ``share_refunded_orders``).

    Guest orders (no customer key) are left out unless ``guests=True``, which keeps them with a
    NULL ``person_id`` for population figures (category shares, price percentiles). ``keys``:
    :func:`person_keys` when already computed.
    """
    orders = engine.table("orders")
    keys = person_keys(engine) if keys is None else keys
    o = orders.filter(orders.order_ts < as_of)
    if guests:
        joined = o.left_join(keys, ["source", "source_customer_id"])
        joined = joined.drop(*[c for c in joined.columns if c.endswith("_right")])
    else:
        o = o.filter(o.source_customer_id.notnull())
        joined = o.inner_join(keys, ["source", "source_customer_id"])
    sale = joined.status.isin(["paid", "pending"])
    net = ibis.cases((sale, joined.amount), (joined.amount < 0, joined.amount), else_=0.0)
    return joined.mutate(net_amount=net.cast("float64"), is_purchase=sale)


def person_table(person_ids: Sequence[str]) -> ir.Table:
    """A one-column table of ``person_ids`` (distinct) to semi-join with: unlike ``isin`` of a list, its
    cost does not grow with thousands of literals in the query.

    >>> person_table(["P2", "P1", "P2"]).to_pandas()["person_id"].tolist()
    ['P1', 'P2']
    """
    frame = pd.DataFrame({"person_id": pd.Series(sorted({str(p) for p in person_ids}), dtype="object")})
    return ibis.memtable(frame, schema={"person_id": "string"})
