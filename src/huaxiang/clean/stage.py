"""The clean stage: normalise identifiers and attributes in place, fill defaults, flag gaps.

Normalisers come from :mod:`huaxiang.normalize` and run as engine
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
from huaxiang.exprs import strip_text
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
    from huaxiang import normalize as n

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


#: Columns with many repeats: each distinct value is normalised once and joined back
#: (far fewer values to normalise than rows; bench/README.md).
_DISTINCT_FIRST = frozenset({"name", "gender", "region", "city"})


def _normalised_columns(
    engine: Engine, t: ir.Table, columns: dict[str, Callable[[ir.Value], ir.Value]], prefix: str
) -> ir.Table:
    """``t`` plus a column ``_new_<col>`` with the normalised value of every column in ``columns``."""
    inline = {f"_new_{c}": fn(t[c]).cast(t[c].type()) for c, fn in columns.items() if c not in _DISTINCT_FIRST}
    out = t.mutate(**inline) if inline else t
    for col, fn in columns.items():
        if col not in _DISTINCT_FIRST:
            continue
        distinct = t.select(_raw=t[col]).filter(ibis._._raw.notnull()).distinct()
        mapping = engine.materialize(
            f"{prefix}{col}", distinct.mutate(**{f"_new_{col}": fn(distinct._raw).cast(t[col].type())}), temp=True
        )
        out = out.left_join(mapping, out[col] == mapping._raw).drop("_raw")
    return out


def clean_tables(engine: Engine, config: WorkspaceConfig) -> StageResult:
    """Normalise the canonical tables of ``engine`` in place and write ``clean_flags``.

    Returns per table and column how many values changed and how many were flagged.
    """
    stats: dict[str, dict[str, dict[str, int]]] = {}
    flags: list[ir.Table] = []
    tables: dict[str, int] = {}
    scratch: list[str] = []
    disabled = set(config.clean.get("skip_columns", []))
    for table_name, all_columns in _normalizers().items():
        columns = {c: fn for c, fn in all_columns.items() if f"{table_name}.{c}" not in disabled}
        if not columns:
            continue
        t = engine.table(table_name)
        prefix = f"_hx_clean_{table_name}_"
        scratch += [f"{prefix}{c}" for c in columns if c in _DISTINCT_FIRST]
        staged = engine.materialize(f"{prefix}staged", _normalised_columns(engine, t, columns, prefix), temp=True)
        scratch.append(f"{prefix}staged")
        agg: dict[str, ir.Value] = {}
        for col in columns:
            raw, new = staged[col], staged[f"_new_{col}"]
            changed = raw.notnull() & (new.isnull() | (new.cast("string") != raw.cast("string")))
            nulled = raw.notnull() & (strip_text(raw.cast("string")) != "") & new.isnull()
            agg[f"{col}__changed"] = changed.sum().fill_null(0)
            agg[f"{col}__flagged"] = nulled.sum().fill_null(0)
            flags.append(
                staged.filter(nulled).select(
                    source=staged.source, source_row=staged.source_row, table_name=ibis.literal(table_name),
                    column_name=ibis.literal(col), raw_value=raw.cast("string"),
                    reason=ibis.literal(f"{col} could not be normalised; set to NULL"),
                )
            )
        counts = engine.execute(staged.aggregate(**agg)).iloc[0].to_dict()
        stats[table_name] = {
            col: {"changed": int(counts[f"{col}__changed"]), "flagged": int(counts[f"{col}__flagged"])}
            for col in columns
        }
        flag_name = f"{prefix}flags"
        engine.materialize(flag_name, ibis.union(*flags, distinct=False), temp=True)
        scratch.append(flag_name)
        flags = [engine.table(flag_name)]
        final = staged.select(*[staged[f"_new_{c}"].name(c) if c in columns else staged[c] for c in t.columns])
        out = engine.materialize(table_name, final)
        tables[table_name] = int(engine.execute(out.count()))
    engine.fill_null("orders", {"currency": config.currency, "discount_amount": 0.0})
    tables["orders"] = int(engine.execute(engine.table("orders").count()))
    all_flags = engine.materialize("clean_flags", ibis.union(*flags, distinct=False) if flags else _empty_flags())
    tables["clean_flags"] = int(engine.execute(all_flags.count()))
    for name in scratch:
        engine.drop(name)
    return StageResult(tables=tables, details={"normalised": stats})


def _empty_flags() -> ir.Table:
    import pyarrow as pa

    schema = ibis.schema(CLEAN_FLAGS_COLUMNS).to_pyarrow()
    return ibis.memtable(pa.Table.from_pylist([], schema=schema))
