"""What the data can say: per source and column, which inputs of the features are really there.

A feature needs inputs (a time of day, prices, categories …; see
:data:`huaxiang.features.catalog.FEATURE_NEEDS`). A column can exist in a canonical table and
still say nothing: dates read without a time all sit at 00:00 (CDNOW, Groceries), a constant
``unit_price: {value: 0}`` is not a price, one category for every product is no preference.
:func:`detect_capabilities` looks, per source, at what the rows hold and writes one row per
(source, capability) — the table ``data_capabilities``:

=================  ===================  ====================================================
capability         table.column         there when a row of the source has …
=================  ===================  ====================================================
purchases          orders.status        a paid or pending order
amounts            orders.amount        an amount other than 0
time_of_day        orders.order_ts      a time other than 00:00:00
discounts          orders.discount      a discount above 0 or a promotion id
channels           orders.channel       a channel
payment_methods    orders.payment       a payment method
returns            orders.status        a cancelled or refunded order
prices             order_items          a unit price above 0
categories         products.category    a category, and 2+ distinct first levels overall
brands             products.brand       a brand
events             events               any event
event_time_of_day  events.event_ts      a time other than 00:00:00
event_categories   events.category      a category
event_channels     events.channel       a channel
event:<type>       events.event_type    an event of that type (funnel steps)
gender … city      customers_raw        a value of that attribute
tickets, reviews,  interactions.kind    a ticket or complaint / review / campaign message /
campaigns, ratings                      a rating
festival_calendar  (config) country     a country set for the workspace
payday_calendar    (config) paydays     paydays set, or the country's convention
history_180d       orders.order_ts      orders starting 180+ days before ``as_of``
=================  ===================  ====================================================

A capability is available to the workspace when any source has it (:func:`available`). The last
two rows are added by :func:`huaxiang.features.stage.data_capabilities`.

>>> from huaxiang.engine import create_engine
>>> from huaxiang.schema import empty_table
>>> import ibis, pandas as pd
>>> eng = create_engine("duckdb")
>>> for name in ("customers_raw", "products", "order_items", "events", "interactions"):
...     _ = eng.materialize(name, empty_table(name))
>>> o = pd.concat([empty_table("orders").execute(), pd.DataFrame({"source": ["pos"], "order_id": ["1"],
...     "order_ts": pd.to_datetime(["2024-01-01"]), "amount": [9.5], "status": ["paid"]})])
>>> _ = eng.materialize("orders", ibis.memtable(o, schema=empty_table("orders").schema()))
>>> caps = detect_capabilities(eng, country=None)
>>> sorted(available(caps) & {"purchases", "amounts", "time_of_day", "festival_calendar"})
['amounts', 'purchases']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.engine.base import Engine

__all__ = ["CAPABILITY_COLUMNS", "available", "detect_capabilities", "unsupported"]

#: Columns of ``data_capabilities``.
CAPABILITY_COLUMNS = ("capability", "source", "table_name", "column_name", "rows", "rows_with", "distinct_values",
                      "available")

#: Event types whose presence is a capability (``event:<type>``): the steps the path features count.
EVENT_TYPES = ("product_view", "add_to_cart", "checkout", "order", "pay", "after_sale")
_ATTRIBUTES = ("gender", "birth_date", "region", "city", "occupation", "member_level", "registered_at")


def _midnight(ts: ir.TimestampValue) -> ir.BooleanValue:
    return (ts.hour() == 0) & (ts.minute() == 0) & (ts.second() == 0)


def _is_event(event_type: str) -> Callable[[ir.Table], ir.BooleanValue]:
    return lambda t: t.event_type == event_type


def _has(column: str) -> Callable[[ir.Table], ir.BooleanValue]:
    return lambda t: t[column].notnull()


@dataclass(frozen=True)
class _Check:
    capability: str
    table: str
    column: str
    rows_with: Callable[[ir.Table], ir.BooleanValue]
    distinct: Callable[[ir.Table], ir.Value] | None = None  # what must take min_distinct values overall
    min_distinct: int = 1


_CHECKS: tuple[_Check, ...] = (
    _Check("purchases", "orders", "status", lambda t: t.status.isin(["paid", "pending"])),
    _Check("amounts", "orders", "amount", lambda t: t.amount.notnull() & (t.amount != 0)),
    _Check("time_of_day", "orders", "order_ts", lambda t: t.order_ts.notnull() & ~_midnight(t.order_ts)),
    _Check("discounts", "orders", "discount_amount",
           lambda t: (t.discount_amount.fill_null(0) > 0) | t.promo_id.notnull()),
    _Check("channels", "orders", "channel", lambda t: t.channel.notnull()),
    _Check("payment_methods", "orders", "payment_method", lambda t: t.payment_method.notnull()),
    _Check("returns", "orders", "status", lambda t: t.status.isin(["cancelled", "refunded"])),
    _Check("prices", "order_items", "unit_price", lambda t: t.unit_price.notnull() & (t.unit_price > 0)),
    # One category for every product (Online Retail flags only its non-products) says nothing
    # about what a person prefers.
    _Check("categories", "products", "category", lambda t: t.category.notnull(),
           distinct=lambda t: t.category.split("/")[0], min_distinct=2),
    _Check("brands", "products", "brand", lambda t: t.brand.notnull()),
    _Check("events", "events", "event_type", lambda t: t.event_type.notnull()),
    _Check("event_time_of_day", "events", "event_ts", lambda t: t.event_ts.notnull() & ~_midnight(t.event_ts)),
    _Check("event_categories", "events", "category", lambda t: t.category.notnull()),
    _Check("event_channels", "events", "channel", lambda t: t.channel.notnull()),
    *[_Check(f"event:{e}", "events", "event_type", _is_event(e)) for e in EVENT_TYPES],
    *[_Check(a, "customers_raw", a, _has(a)) for a in _ATTRIBUTES],
    _Check("tickets", "interactions", "kind", lambda t: t.kind.isin(["ticket", "complaint"])),
    _Check("reviews", "interactions", "kind", lambda t: t.kind == "review"),
    _Check("campaigns", "interactions", "kind", lambda t: t.kind == "campaign_sent"),
    _Check("ratings", "interactions", "rating", lambda t: t.rating.notnull()),
)


def detect_capabilities(engine: Engine, *, country: str | None) -> pd.DataFrame:
    """One row per source and capability (:data:`CAPABILITY_COLUMNS`): what the data holds.

    One grouped pass per canonical table (by ``source``); tables that do not exist count as empty.
    ``country`` (the workspace's) gives ``festival_calendar``.
    """
    rows: list[dict[str, object]] = []
    by_table: dict[str, list[_Check]] = {}
    for check in _CHECKS:
        by_table.setdefault(check.table, []).append(check)
    for table, checks in by_table.items():
        if not engine.has_table(table):
            continue
        t = engine.table(table)
        aggs: dict[str, ir.Value] = {"_rows": t.count()}
        for i, c in enumerate(checks):
            aggs[f"_w{i}"] = t.count(where=c.rows_with(t))
        per = engine.execute(t.group_by("source").aggregate(**aggs))
        overall: dict[int, int] = {}
        for i, c in enumerate(checks):
            if c.distinct is not None:
                value = c.distinct(t)
                overall[i] = int(engine.execute(t.filter(c.rows_with(t)).aggregate(n=value.nunique()))["n"][0])
        for rec in per.to_dict("records"):
            for i, c in enumerate(checks):
                with_ = int(rec[f"_w{i}"])
                distinct = overall.get(i)
                ok = with_ > 0 and (distinct is None or distinct >= c.min_distinct)
                rows.append({"capability": c.capability, "source": str(rec["source"]), "table_name": table,
                             "column_name": c.column, "rows": int(rec["_rows"]), "rows_with": with_,
                             "distinct_values": distinct, "available": ok})
    rows.append({"capability": "festival_calendar", "source": "(workspace)", "table_name": "(config)",
                 "column_name": "country", "rows": 0, "rows_with": 0, "distinct_values": None,
                 "available": country is not None})
    frame = pd.DataFrame(rows, columns=list(CAPABILITY_COLUMNS))
    frame["distinct_values"] = frame["distinct_values"].astype("Int64")
    return frame


def available(capabilities: pd.DataFrame) -> set[str]:
    """The capabilities some source has (from :func:`detect_capabilities`)."""
    return set(capabilities.loc[capabilities["available"].astype(bool), "capability"])


def unsupported(needs: dict[str, tuple[str, ...]], have: set[str]) -> dict[str, list[str]]:
    """Feature -> the capabilities it needs and the data lacks (only features lacking some).

    >>> unsupported({"peak_hour": ("time_of_day",), "orders_total": ("purchases",)}, {"purchases"})
    {'peak_hour': ['time_of_day']}
    """
    out = {}
    for feature, wanted in needs.items():
        missing = [w for w in wanted if w not in have]
        if missing:
            out[feature] = missing
    return out


def capability_table(frame: pd.DataFrame) -> ir.Table:
    """``frame`` as an in-memory table with stable types (for ``data_capabilities``)."""
    schema = ibis.schema({"capability": "string", "source": "string", "table_name": "string", "column_name": "string",
                          "rows": "int64", "rows_with": "int64", "distinct_values": "int64", "available": "boolean"})
    return ibis.memtable(frame, schema=schema)
