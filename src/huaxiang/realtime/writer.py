"""Write a mapped micro-batch into the canonical tables, exactly once.

Every row is keyed like a build keys it: ``events`` by ``(source, event_id)`` (the messageId),
``orders`` by ``(source, order_id)``, ``order_items`` by ``(source, order_id, line_no)``,
``products`` by ``product_id``, ``customers_raw`` by ``(source, source_customer_id)``. A key
already stored is not stored again (events, orders, lines, products) or is updated (a customer
record takes the newer non-empty traits), so replaying a journal range after a crash changes
nothing. Values go through the clean stage's normalisers (phones, e-mails, names, genders,
regions, cities) and the orders get the defaults the clean stage fills (currency, discount 0).

DuckDB only: the live path runs on the embedded engine.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from huaxiang.config import WorkspaceConfig
from huaxiang.engine.base import Engine
from huaxiang.errors import UnsupportedOperationError
from huaxiang.realtime.segment import MappedBatch
from huaxiang.schema import CANONICAL, empty_table

__all__ = ["WriteResult", "ensure_tables", "write_batch"]

#: Customer-record columns that say when or where the row came from, not who the customer is: a
#: record that differs only in these is not changed (every identify stamps a new ``updated_at``).
_BOOKKEEPING = frozenset({"updated_at", "source_row"})


@dataclass
class WriteResult:
    """What a batch changed: the customer keys and anonymous ids it touched, the customer records it
    created or changed (a repeat of stored traits is not a change), the (source, user id, anonymous id)
    links its events carry, rows per table."""

    records: set[tuple[str, str]] = field(default_factory=set)
    anonymous_ids: set[str] = field(default_factory=set)
    anonymous_links: set[tuple[str, str, str]] = field(default_factory=set)
    customer_records: set[tuple[str, str]] = field(default_factory=set)
    rows: dict[str, int] = field(default_factory=dict)


def ensure_tables(engine: Engine) -> None:
    """Create the canonical tables a live workspace needs when they are missing (empty)."""
    for name in ("customers_raw", "orders", "order_items", "products", "events", "interactions"):
        if not engine.has_table(name):
            engine.materialize(name, empty_table(name))


def _arrow(frame: pd.DataFrame, table: str) -> pa.Table:
    schema = CANONICAL[table].ibis_schema.to_pyarrow()
    frame = frame.reindex(columns=schema.names)
    frame = frame.astype(object).where(frame.notna(), None)
    return pa.Table.from_pydict({c: frame[c].tolist() for c in schema.names}, schema=schema)


#: Per engine: the clean stage's normalisers over ``_hx_rt_in_raw_customers``, compiled once (compiling
#: them took a quarter of a second of every micro-batch with customer rows).
_CLEAN_SQL: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _clean_customers(engine: Engine, frame: pd.DataFrame) -> pa.Table:
    """The clean stage's normalisers on incoming customer rows (the same expressions a build runs)."""
    from huaxiang.clean.stage import _DISTINCT_FIRST, _normalizers
    from huaxiang.features.refresh import register_inputs

    raw: Any = engine.raw  # type: ignore[attr-defined]
    raw.register("_hx_rt_in_raw_customers", _arrow(frame, "customers_raw"))
    try:
        if engine not in _CLEAN_SQL:
            t = engine.connection_table("_hx_rt_in_raw_customers")
            fns = _normalizers()["customers_raw"]
            # The build normalises the distinct non-NULL values of these columns: a NULL stays NULL there.
            out = t.mutate(**{c: (ibis.ifelse(t[c].isnull(), ibis.null(t[c].type()), fn(t[c]))
                                  if c in _DISTINCT_FIRST else fn(t[c])).cast(t[c].type())
                              for c, fn in fns.items() if c in t.columns})
            register_inputs(engine, out)
            _CLEAN_SQL[engine] = engine.sql_of(out)
        table: pa.Table = raw.execute(_CLEAN_SQL[engine]).fetch_arrow_table()
        return table
    finally:
        raw.unregister("_hx_rt_in_raw_customers")


def write_batch(engine: Engine, batch: MappedBatch, config: WorkspaceConfig) -> WriteResult:
    """Store ``batch`` in the canonical tables (see the module docstring) in one transaction."""
    if not engine.supports("replace_rows"):
        raise UnsupportedOperationError(f"the live path writes to the duckdb engine, not {engine.name}; "
                                        "serve a duckdb workspace (engine: {name: duckdb})")
    raw: Any = engine.raw  # type: ignore[attr-defined]
    result = WriteResult()
    regs: list[str] = []

    def reg(name: str, table: pa.Table) -> str:
        raw.register(name, table)
        regs.append(name)
        return name

    try:
        raw.execute("BEGIN TRANSACTION")
        if len(batch.customers):
            new = reg("_hx_rt_in_customers", _clean_customers(engine, batch.customers))
            cols = [c for c in CANONICAL["customers_raw"].columns if c not in ("source", "source_customer_id")]
            merged = ", ".join(f'coalesce(n."{c}", o."{c}") AS "{c}"' for c in cols)
            raw.execute(
                "CREATE OR REPLACE TEMP TABLE _hx_rt_cust AS SELECT n.source, n.source_customer_id, "
                f"{merged} FROM {new} n LEFT JOIN customers_raw o USING (source, source_customer_id)")
            # SDKs repeat the same traits on every identify: only a record that is new or differs now
            # counts as changed (and makes the identity step and the attribute features run again)
            differs = " OR ".join(f'n."{c}" IS DISTINCT FROM o."{c}"' for c in cols if c not in _BOOKKEEPING)
            changed = raw.execute(
                "SELECT n.source, n.source_customer_id FROM _hx_rt_cust n LEFT JOIN customers_raw o "
                f"USING (source, source_customer_id) WHERE o.source IS NULL OR {differs}").fetchall()
            raw.execute("DELETE FROM customers_raw WHERE (source, source_customer_id) IN "
                        "(SELECT (source, source_customer_id) FROM _hx_rt_cust)")
            raw.execute("INSERT INTO customers_raw BY NAME SELECT * FROM _hx_rt_cust")
            result.customer_records |= {(str(s), str(c)) for s, c in changed}
            result.rows["customers_raw"] = len(batch.customers)
        if len(batch.products):
            new = reg("_hx_rt_in_products", _arrow(batch.products, "products"))
            raw.execute(f"INSERT INTO products BY NAME SELECT * FROM {new} n "
                        "WHERE n.product_id NOT IN (SELECT product_id FROM products)")
        if len(batch.orders):
            orders = batch.orders.copy()
            if config.currency:
                orders["currency"] = orders["currency"].where(orders["currency"].notna(), config.currency)
            orders["discount_amount"] = orders["discount_amount"].where(orders["discount_amount"].notna(), 0.0)
            new = reg("_hx_rt_in_orders", _arrow(orders, "orders"))
            raw.execute(f"CREATE OR REPLACE TEMP TABLE _hx_rt_new_orders AS SELECT * FROM {new} n "
                        "ANTI JOIN orders o USING (source, order_id)")
            raw.execute("INSERT INTO orders BY NAME SELECT * FROM _hx_rt_new_orders")
            items = reg("_hx_rt_in_items", _arrow(batch.items, "order_items"))
            raw.execute(f"INSERT INTO order_items BY NAME SELECT i.* FROM {items} i "
                        "SEMI JOIN _hx_rt_new_orders o USING (source, order_id)")
            result.rows["orders"] = int(raw.execute("SELECT count(*) FROM _hx_rt_new_orders").fetchone()[0])
        if len(batch.status_updates):
            upd = reg("_hx_rt_in_status", pa.Table.from_pandas(batch.status_updates[["source", "order_id", "status"]],
                                                              preserve_index=False))
            raw.execute(f"UPDATE orders SET status = u.status FROM {upd} u "
                        "WHERE orders.source = u.source AND orders.order_id = u.order_id")
            owners = raw.execute(f"SELECT DISTINCT o.source, o.source_customer_id FROM orders o "
                                 f"SEMI JOIN {upd} u USING (source, order_id) "
                                 "WHERE o.source_customer_id IS NOT NULL").fetchall()
            result.records |= {(str(s), str(c)) for s, c in owners}
        if len(batch.events):
            new = reg("_hx_rt_in_events", _arrow(batch.events, "events"))
            raw.execute(f"CREATE OR REPLACE TEMP TABLE _hx_rt_new_events AS SELECT * FROM {new} n "
                        "ANTI JOIN events e USING (source, event_id)")
            raw.execute("INSERT INTO events BY NAME SELECT * FROM _hx_rt_new_events")
            result.rows["events"] = int(raw.execute("SELECT count(*) FROM _hx_rt_new_events").fetchone()[0])
        raw.execute("COMMIT")
    except Exception:
        raw.execute("ROLLBACK")
        raise
    finally:
        for name in regs:
            raw.unregister(name)
    for frame, user in ((batch.orders, "source_customer_id"), (batch.events, "user_id"),
                        (batch.customers, "source_customer_id")):
        known = frame[frame[user].notna()]
        result.records |= set(zip(known["source"].astype(str), known[user].astype(str), strict=True))
    result.anonymous_ids |= {str(a) for a in batch.events["anonymous_id"].dropna()}
    both = batch.events[batch.events["user_id"].notna() & batch.events["anonymous_id"].notna()]
    result.anonymous_links |= set(zip(both["source"].astype(str), both["user_id"].astype(str),
                                      both["anonymous_id"].astype(str), strict=True))
    return result
