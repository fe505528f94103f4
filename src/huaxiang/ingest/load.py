"""The ingest stage: every source read, mapped, validated and loaded into the canonical tables.

>>> # see huaxiang.workspace.Workspace.build for the usual entry point
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from huaxiang.config import WorkspaceConfig
from huaxiang.engine.base import Engine, safe_name
from huaxiang.ingest.mapping import SourceMapper
from huaxiang.ingest.readers import read_source
from huaxiang.schema import CANONICAL, ORDER_LINE_COLUMNS

#: Quarantine rows are kept in this order of columns.
QUARANTINE_COLUMNS = tuple(CANONICAL["quarantine"].columns)


@dataclass
class SourceReport:
    """What happened to one source. ``rows_read == rows_loaded + rows_quarantined`` always."""

    name: str
    table: str
    format: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    #: Events of this source written as orders too (``purchase_events``).
    purchases_from_events: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class IngestResult:
    """Per-source reports and the row count of every canonical table."""

    sources: list[SourceReport]
    table_rows: dict[str, int]


def _typed(expr: ir.Table, columns: dict[str, str]) -> ir.Table:
    return expr.select(**{c: expr[c].cast(t) for c, t in columns.items()})


def _empty(engine: Engine, name: str) -> ir.Table:
    schema = CANONICAL[name].ibis_schema.to_pyarrow()
    return engine.register_arrow(f"_hx_empty_{name}", pa.Table.from_pylist([], schema=schema))


_STATUS_RANK = {"paid": 1, "pending": 2, "refunded": 3, "cancelled": 4}


def split_order_lines(lines: ir.Table) -> dict[str, ir.Table]:
    """Split invoice lines into ``orders``, ``order_items`` and ``products``.

    An order's time is its earliest line's (some exports stamp lines of one
    invoice a minute apart); its amount is the sum of quantity × unit price
    less discounts; its status is the strongest of its lines'
    (cancelled > refunded > pending > paid). A product's name is its most
    frequent name; its list price the median positive unit price.
    """
    rank = ibis.cases(*[(lines.status == k, v) for k, v in _STATUS_RANK.items()], else_=0)
    with_rank = lines.mutate(_rank=rank, _line_amount=lines.quantity * lines.unit_price)
    orders = with_rank.group_by(["source", "order_id"]).aggregate(
        source_row=with_rank.source_row.min(),
        source_customer_id=with_rank.source_customer_id.max(),
        order_ts=with_rank.order_ts.min(),
        amount=with_rank._line_amount.sum() - with_rank.discount_amount.fill_null(0).sum(),
        discount_amount=with_rank.discount_amount.fill_null(0).sum(),
        promo_id=with_rank.promo_id.max(),
        channel=with_rank.channel.max(),
        payment_method=with_rank.payment_method.max(),
        store_id=with_rank.store_id.max(),
        _rank=with_rank._rank.max(),
        currency=with_rank.currency.max(),
        country=with_rank.country.max(),
    )
    inverse = {v: k for k, v in _STATUS_RANK.items()}
    orders = orders.mutate(
        status=ibis.cases(*[(orders._rank == k, v) for k, v in inverse.items()], else_=ibis.null("string"))
    ).drop("_rank")
    orders = _typed(orders, dict(CANONICAL["orders"].columns))
    items = _typed(lines, dict(CANONICAL["order_items"].columns))
    names = (
        lines.filter(lines.product_name.notnull())
        .group_by(["source", "product_id", "product_name"])
        .aggregate(n=ibis._.count())
    )
    names = names.mutate(
        _rn=ibis.row_number().over(
            group_by=[names.source, names.product_id], order_by=[ibis.desc(names.n), names.product_name]
        )
    )
    top_names = names.filter(names._rn == 0).select("source", "product_id", name="product_name")
    priced = lines.mutate(_price=ibis.ifelse(lines.unit_price > 0, lines.unit_price, ibis.null("float64")))
    facts = priced.group_by(["source", "product_id"]).aggregate(
        source_row=priced.source_row.min(),
        category=priced.category.max(),
        brand=priced.brand.max(),
        list_price=priced._price.approx_median(),
    )
    products = facts.left_join(top_names, ["source", "product_id"]).select(
        facts.source, facts.source_row, facts.product_id, top_names.name, facts.category, facts.brand,
        facts.list_price,
    )
    products = _typed(products, dict(CANONICAL["products"].columns))
    return {"orders": orders, "order_items": items, "products": products}


def purchases_from_events(events: ir.Table, orders: ir.Table, system: str,
                          event_types: tuple[str, ...]) -> dict[str, ir.Table]:
    """``orders`` and ``order_items`` rows for the purchase events of one source.

    An event of ``event_types`` from ``system`` is a paid order: its ``order_id`` (else its
    ``event_id``), its user as the customer, its time, its channel; the amount is unknown (NULL:
    the spend features say "no data"). It becomes one order line of its product (quantity 1, unit
    price unknown). An event whose order the orders table already has (the same order sent as a
    row and as an event) is not repeated.

    >>> import ibis, pandas as pd
    >>> from huaxiang.schema import empty_table
    >>> e = pd.concat([empty_table("events").execute(), pd.DataFrame({"source": ["tb", "tb"], "event_id": ["1", "2"],
    ...     "user_id": ["u", "u"], "event_ts": pd.to_datetime(["2017-11-25 10:00", "2017-11-25 11:00"]),
    ...     "event_type": ["product_view", "order"], "product_id": ["p", "p"]})])
    >>> out = purchases_from_events(ibis.memtable(e, schema=empty_table("events").schema()), empty_table("orders"),
    ...                             "tb", ("order",))
    >>> out["orders"].execute()[["order_id", "source_customer_id", "status"]].values.tolist()
    [['2', 'u', 'paid']]
    """
    e = events.filter((events.source == system) & events.event_type.isin(list(event_types)))
    e = e.mutate(_order=ibis.coalesce(e.order_id, e.event_id))
    e = e.anti_join(orders.filter(orders.source == system), e._order == orders.order_id)
    new_orders = e.mutate(order_id=e._order, source_customer_id=e.user_id, order_ts=e.event_ts,
                          amount=ibis.null("float64"),
                          discount_amount=ibis.null("float64"), promo_id=ibis.null("string"),
                          payment_method=ibis.null("string"), store_id=ibis.null("string"),
                          status=ibis.literal("paid"), currency=ibis.null("string"), country=ibis.null("string"))
    items = e.filter(e.product_id.notnull())
    items = items.mutate(order_id=items._order, line_no=ibis.row_number().over(
        group_by=items._order, order_by=items.event_id).cast("int64") + 1, quantity=ibis.literal(1.0),
        unit_price=ibis.null("float64"))
    return {"orders": _typed(new_orders, dict(CANONICAL["orders"].columns)),
            "order_items": _typed(items, dict(CANONICAL["order_items"].columns))}


def _rejects_to_quarantine(engine: Engine, source: str, table: str, rejects: Any) -> ir.Table:
    rows = [
        {
            "source": source,
            "source_row": int(r.line),
            "target_table": table,
            "reason": f"malformed line {int(r.line)} in {Path(str(r.file)).name}: {r.error}",
            "payload": _json_line(str(r.payload)),
        }
        for r in rejects.itertuples(index=False)
    ]
    schema = CANONICAL["quarantine"].ibis_schema.to_pyarrow()
    return engine.register_arrow(f"_hx_rejects_{safe_name(source)}", pa.Table.from_pylist(rows, schema=schema))


def _json_line(text: str) -> str:
    import json

    return json.dumps({"line": text}, ensure_ascii=False)


def ingest_sources(
    engine: Engine, config: WorkspaceConfig, *, base_dir: Path, staging_dir: Path, progress: Any = None
) -> IngestResult:
    """Read every source of ``config`` and write the canonical tables and ``quarantine``.

    Parameters
    ----------
    engine
        Where to write.
    config
        The workspace configuration.
    base_dir
        Relative source paths start here (``data_dir`` or the workspace folder).
    staging_dir
        Scratch folder for transcoded files.
    progress
        Optional callable ``progress(source_name)`` called before each source.
    """
    reports: list[SourceReport] = []
    scratch: list[str] = []
    # Every canonical table starts empty; each source appends its rows (no full-size union pass).
    for name in CANONICAL:
        engine.materialize(name, _empty(engine, name))
    if any(spec.table == "order_lines" for spec in config.sources):
        lines_schema = pa.schema([(c, ibis.dtype(t).to_pyarrow()) for c, t in ORDER_LINE_COLUMNS.items()])
        engine.materialize(
            "_hx_order_lines", engine.register_arrow("_hx_empty_order_lines", lines_schema.empty_table()),
            temp=True,
        )
        scratch.append("_hx_order_lines")
    for spec in config.sources:
        if progress is not None:
            progress(spec.name)
        started = time.perf_counter()
        raw = read_source(engine, spec, base_dir, staging_dir)
        if raw.empty:
            reports.append(
                SourceReport(name=spec.name, table=spec.table, format=spec.format,
                             seconds=round(time.perf_counter() - started, 3), files=[str(f) for f in raw.files])
            )
            continue
        mapper = SourceMapper(engine, spec, timezone=config.timezone)
        mapped = mapper.mapped(raw.table)
        scratch += [f"_hx_stage1_{spec.name}", f"_hx_dups_{spec.name}", f"_hx_bad_{spec.name}", raw.table.get_name()]
        target = "_hx_order_lines" if spec.table == "order_lines" else spec.table
        total = int(engine.execute(engine.table(f"_hx_stage1_{spec.name}").count()))
        before = int(engine.execute(engine.table(target).count()))
        engine.append(target, mapper.loaded(mapped))
        loaded = int(engine.execute(engine.table(target).count())) - before
        engine.append("quarantine", _typed(mapper.quarantined(mapped), dict(CANONICAL["quarantine"].columns)))
        n_rejects = len(raw.rejects)
        if n_rejects:
            engine.append("quarantine", _rejects_to_quarantine(engine, spec.name, spec.table, raw.rejects))
        reports.append(
            SourceReport(
                name=spec.name, table=spec.table, format=spec.format,
                rows_read=total + n_rejects, rows_loaded=loaded, rows_quarantined=total - loaded + n_rejects,
                seconds=round(time.perf_counter() - started, 3), files=[str(f) for f in raw.files],
            )
        )
    if "_hx_order_lines" in scratch:
        for name, expr in split_order_lines(engine.table("_hx_order_lines")).items():
            engine.append(name, expr)
    done: set[str] = set()
    for spec, report in zip(config.sources, reports, strict=True):
        if spec.purchase_events and spec.system_name not in done:
            done.add(spec.system_name)
            derived = purchases_from_events(engine.table("events"), engine.table("orders"), spec.system_name,
                                            spec.purchase_events)
            scratch_orders = engine.materialize(f"_hx_event_orders_{safe_name(spec.name)}", derived["orders"],
                                                temp=True)
            scratch.append(scratch_orders.get_name())
            engine.append("orders", scratch_orders)
            engine.append("order_items", derived["order_items"])
            report.purchases_from_events = int(engine.execute(scratch_orders.count()))
    table_rows = {name: int(engine.execute(engine.table(name).count())) for name in CANONICAL}
    for name in scratch:
        engine.drop(name)
    return IngestResult(reports, table_rows)
