"""The clean stage: normalise identifiers and attributes in place, fill defaults, flag gaps.

Normalisers come from :mod:`huaxiang.clean.normalize` and run as engine
expressions. A value that was present but could not be normalised (a phone
like ``123``) becomes NULL in the canonical table and is recorded in
``clean_flags`` with its raw value, so nothing is silently lost.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from huaxiang.config import WorkspaceConfig
from huaxiang.engine.base import Engine
from huaxiang.pipeline import StageResult

CLEAN_FLAGS_COLUMNS = {
    "source": "string",
    "source_row": "int64",
    "table_name": "string",
    "column_name": "string",
    "raw_value": "string",
    "reason": "string",
}


def _normalizers() -> dict[str, dict[str, Callable[[ir.Value], ir.Value]]]:
    from huaxiang.clean import normalize as n

    return {
        "customers_raw": {
            "name": n.normalize_name,
            "gender": n.normalize_gender,
            "phone": n.normalize_phone,
            "email": n.normalize_email,
            "region": n.normalize_region,
            "city": n.normalize_city,
        },
    }


def clean_tables(engine: Engine, config: WorkspaceConfig) -> StageResult:
    """Normalise the canonical tables of ``engine`` in place and write ``clean_flags``.

    Returns per table and column how many values changed and how many were flagged.
    """
    stats: dict[str, dict[str, dict[str, int]]] = {}
    flags: list[ir.Table] = []
    tables: dict[str, int] = {}
    disabled = set(config.clean.get("skip_columns", []))
    for table_name, columns in _normalizers().items():
        t = engine.table(table_name)
        cleaned: dict[str, ir.Value] = {}
        agg: dict[str, ir.Value] = {}
        for col, fn in columns.items():
            if f"{table_name}.{col}" in disabled:
                continue
            raw = t[col]
            new = fn(raw)
            cleaned[col] = new.cast(raw.type())
            changed = raw.notnull() & (new.isnull() | (new.cast("string") != raw.cast("string")))
            nulled = raw.notnull() & (raw.cast("string").strip() != "") & new.isnull()
            agg[f"{col}__changed"] = changed.sum().fill_null(0)
            agg[f"{col}__flagged"] = nulled.sum().fill_null(0)
            flags.append(
                t.filter(nulled).select(
                    source=t.source, source_row=t.source_row, table_name=ibis.literal(table_name),
                    column_name=ibis.literal(col), raw_value=raw.cast("string"),
                    reason=ibis.literal(f"{col} could not be normalised; set to NULL"),
                )
            )
        if not cleaned:
            continue
        counts = engine.execute(t.aggregate(**agg)).iloc[0].to_dict() if agg else {}
        stats[table_name] = {
            col: {"changed": int(counts[f"{col}__changed"]), "flagged": int(counts[f"{col}__flagged"])}
            for col in cleaned
        }
        flag_name = "_hx_clean_flags_" + table_name
        engine.materialize(flag_name, ibis.union(*flags, distinct=False) if flags else _empty_flags())
        flags = [engine.table(flag_name)]
        out = engine.materialize(table_name, t.mutate(**cleaned))
        tables[table_name] = int(engine.execute(out.count()))
    orders = engine.table("orders")
    filled = engine.materialize(
        "orders",
        orders.mutate(
            currency=orders.currency.fill_null(config.currency),
            discount_amount=orders.discount_amount.fill_null(0.0),
        ),
    )
    tables["orders"] = int(engine.execute(filled.count()))
    all_flags = engine.materialize("clean_flags", ibis.union(*flags, distinct=False) if flags else _empty_flags())
    tables["clean_flags"] = int(engine.execute(all_flags.count()))
    for table_name in _normalizers():
        engine.drop("_hx_clean_flags_" + table_name)
    return StageResult(tables=tables, details={"normalised": stats})


def _empty_flags() -> ir.Table:
    import pyarrow as pa

    schema = ibis.schema(CLEAN_FLAGS_COLUMNS).to_pyarrow()
    return ibis.memtable(pa.Table.from_pylist([], schema=schema))
