"""Map a raw source onto a canonical table and decide, row by row, load or quarantine.

Everything here is an Ibis expression, so it runs unchanged on DuckDB and
Spark. For each row we compute the canonical columns and a *reason*: the first
rule it breaks, or NULL when it is fit to load. Rules, in order:

1. the line was malformed (wrong number of fields);
2. a ``quarantine_if`` rule of the source matched;
3. a mapped value was present but could not be read (a date that does not
   parse, text in a numeric column);
4. a required column (primary key and the table's required columns) is empty;
5. an enumerated column holds a value outside :data:`huaxiang.schema.ENUMS`;
6. a sale (status paid/pending) carries a negative amount, price or quantity;
7. the row is an exact duplicate of an earlier row of the same source
   (when ``dedupe_exact``);
8. the row repeats the primary key of an earlier valid row.

Rows with a reason go to ``quarantine`` with the raw row as JSON; every other
row is loaded. So ``rows_read == rows_loaded + rows_quarantined`` always.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from huaxiang.config import ColumnMap, SourceSpec, target_columns
from huaxiang.engine.base import FILE_COLUMN, ROW_COLUMN, Engine
from huaxiang.errors import ConfigError
from huaxiang.exprs import strip_text
from huaxiang.schema import CANONICAL, ENUMS

REASON = "_hx_reason"
#: The first row rule a row breaks, before duplicates are looked for.
_REASON0 = "_hx_reason0"
_INTERNAL = (ROW_COLUMN, FILE_COLUMN, "_hx_malformed", "_hx_fields", "_hx_line")

#: Primary key, required, enum and non-negative rules of the ``order_lines`` target.
_ORDER_LINE_RULES = {
    "primary_key": ("source", "order_id", "line_no"),
    "required": ("order_ts", "product_id", "quantity", "unit_price", "status"),
    "enums": ("channel", "payment_method", "status"),
    "non_negative": ("quantity", "unit_price"),
}


@dataclass(frozen=True)
class TableRules:
    """Validation rules of one mappable table."""

    primary_key: tuple[str, ...]
    required: tuple[str, ...]
    enums: tuple[str, ...]
    non_negative: tuple[str, ...]


def rules_for(table: str) -> TableRules:
    """Rules of ``table`` (a canonical table or ``order_lines``)."""
    if table == "order_lines":
        return TableRules(**_ORDER_LINE_RULES)
    s = CANONICAL[table]
    return TableRules(s.primary_key, s.required, s.enums, s.non_negative)


def _normalizers() -> Mapping[str, Callable[[ir.Value], ir.Value]]:
    from huaxiang import normalize as n

    return {
        "phone": n.normalize_phone,
        "email": n.normalize_email,
        "name": n.normalize_name,
        "gender": n.normalize_gender,
        "region": n.normalize_region,
        "city": n.normalize_city,
        "amount": n.parse_amount,
        "bool": n.parse_bool,
    }


def _blank_to_null(
    value: ir.StringValue, null_values: tuple[str, ...], strip: Callable[[ir.StringValue], ir.StringValue] = strip_text
) -> ir.StringValue:
    # A chain of NULLIFs references the stripped text once (a CASE repeated the regex per test).
    out = strip(value).nullif("")
    for null in dict.fromkeys(v for v in null_values if v != ""):
        out = out.nullif(null)
    return out


def _utc_offset_seconds(tz: str) -> int:
    offset = datetime(2020, 1, 1, tzinfo=ZoneInfo(tz)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@dataclass
class MappedColumn:
    """A canonical column's value and its parse-failure message (NULL when it parsed)."""

    value: ir.Value
    failure: ir.StringValue | None


class SourceMapper:
    """Builds the mapped + validated table of one source.

    Parameters
    ----------
    engine
        Engine the raw table lives in.
    spec
        The source's configuration.
    timezone
        Business time zone: epoch timestamps are converted to it (naive local time).
    """

    def __init__(self, engine: Engine, spec: SourceSpec, *, timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.spec = spec
        self.timezone = timezone
        self.targets = target_columns(spec.table)
        self.rules = rules_for(spec.table)

    # -------------------------------------------------------------- columns
    def _with_sql_columns(self, raw: ir.Table, view: str) -> ir.Table:
        """Add ``expr`` mappings and ``quarantine_if`` conditions as columns.

        They are written in SQL's expression syntax but never run as SQL: each is parsed,
        checked against the source's columns and the allowed functions, and compiled to an Ibis
        expression by :mod:`huaxiang.expressions` (a refusal names the source, key and part).
        """
        from huaxiang.expressions import parse_expression

        name = self.spec.name
        added: dict[str, ir.Value] = {}
        for col, cmap in self.spec.columns.items():
            if cmap.expr is not None:
                added[f"_hx_e_{col}"] = parse_expression(
                    cmap.expr, raw, where=f"source {name!r}: columns.{col}.expr", table_name=name
                )
        for i, rule in enumerate(self.spec.quarantine_if):
            cond = parse_expression(
                rule.when, raw, where=f"source {name!r}: quarantine_if[{i}].when", table_name=name, condition=True
            )
            added[f"_hx_q_{i}"] = cond.fill_null(False)
        return raw.mutate(**added) if added else raw

    def _origin(self, t: ir.Table, col: str, cmap: ColumnMap) -> ir.Value:
        if cmap.column is not None:
            if cmap.column not in t.columns:
                available = [c for c in t.columns if not c.startswith("_hx_")]
                raise ConfigError(
                    f"source {self.spec.name!r}: columns.{col} reads column {cmap.column!r}, which the source "
                    f"does not have; available: {', '.join(available)}"
                )
            return t[cmap.column]
        if cmap.expr is not None:
            return t[f"_hx_e_{col}"]
        return ibis.literal(cmap.value)

    def map_column(self, t: ir.Table, col: str) -> MappedColumn:
        """The canonical column ``col`` computed from the (SQL-extended) raw table ``t``."""
        target = dt.dtype(self.targets[col])
        cmap = self.spec.columns.get(col)
        if cmap is None:
            return MappedColumn(ibis.null(target), None)
        value = self._origin(t, col, cmap)
        present: ir.BooleanValue
        if value.type().is_string():
            value = _blank_to_null(value, self.spec.null_values, self.engine.strip_text)
        present = value.notnull()
        if cmap.map:
            text = value.cast("string")
            # An explicit CASE: Ibis' `substitute` mis-maps some keys on the PySpark backend.
            otherwise = ibis.literal(cmap.default) if cmap.default else text
            value = ibis.cases(*[(text == k, ibis.literal(v)) for k, v in cmap.map.items()], else_=otherwise)
        elif cmap.default is not None:
            value = value.cast("string").fill_null(cmap.default)
        if cmap.normalize is not None:
            value = _normalizers()[cmap.normalize](value.cast("string"))
        value, failure = self._convert(value, target, cmap, present, col)
        return MappedColumn(value, failure)

    def _convert(
        self, value: ir.Value, target: dt.DataType, cmap: ColumnMap, present: ir.BooleanValue, col: str
    ) -> tuple[ir.Value, ir.StringValue | None]:
        out, how = self._converted(value, target, cmap, col)
        return out, (None if how is None else _failure(col, out, value, present, how))

    def _converted(
        self, value: ir.Value, target: dt.DataType, cmap: ColumnMap, col: str
    ) -> tuple[ir.Value, str | None]:
        """``value`` read as ``target`` and, when the read can fail, the failure text's ending."""
        source_type = value.type()
        if target.is_string():
            return value.cast("string"), None
        if target.is_timestamp() or target.is_date():
            if cmap.unit is not None:
                seconds = value.cast("string").try_cast("float64")
                if cmap.unit == "ms":
                    seconds = seconds / 1000
                epoch = ibis.timestamp("1970-01-01 00:00:00")
                offset = _utc_offset_seconds(self.timezone)
                converted = epoch + (seconds.round().cast("int64") + offset).as_interval("s")
                how = f"epoch {cmap.unit}"
            elif cmap.format is not None:
                converted = self.engine.parse_timestamp(value.cast("string"), cmap.format)
                how = f"format {cmap.format}"
            elif source_type.is_timestamp() or source_type.is_date():
                converted = value.cast("timestamp")
                how = ""
            else:
                converted = value.cast("string").try_cast("timestamp")
                how = "a date/time (YYYY-MM-DD[ HH:MM:SS]); set columns." + col + ".format"
            out = converted.date() if target.is_date() else converted.cast("timestamp")
            return out, (f" as {how}" if how else None)
        if target.is_numeric():
            if source_type.is_numeric() or source_type.is_boolean():
                return value.cast(target), None
            return value.cast("string").try_cast(target), " as a number"
        if target.is_boolean():
            if source_type.is_boolean():
                return value, None
            return _normalizers()["bool"](value.cast("string")), " as yes/no"
        return value.cast(target), None  # pragma: no cover - no other canonical types

    # ----------------------------------------------------------------- rows
    def mapped(self, raw: ir.Table) -> ir.Table:
        """Raw rows with the canonical columns, lineage and the quarantine reason ``_hx_reason``.

        The mapped values, their parse checks and the row rules are computed in one scan into a
        scratch table (``_hx_stage1_<source>``), together with a hash of the raw row. The
        expression is built in layers (strip and blanks, value maps, normalisers, conversion,
        checks): Ibis does not share common subexpressions and DuckDB does not extract them from
        inside CASE, so a value referenced by its map, its parse check and its enum check would
        otherwise be recomputed each time. Duplicates (exact and of the primary key) are then
        found on that table and written as a small one (``_hx_bad_<source>``); :meth:`loaded`
        and :meth:`quarantined` read those two without another full-size pass.
        """
        view = f"_hx_sqlview_{self.spec.name}"
        t = self._with_sql_columns(raw, view)
        source_cols = [c for c in raw.columns if c not in _INTERNAL]
        self._raw, self._source_cols = raw, source_cols
        # Scratch rows are found by source_row, never by position: written in any order (faster).
        with self.engine.unordered():
            s1 = self.engine.materialize(f"_hx_stage1_{self.spec.name}", self._stage1(t, source_cols), temp=True)
            bad = self.engine.materialize(
                f"_hx_bad_{self.spec.name}", self._duplicates(s1, raw, source_cols), temp=True
            )
        self._stage, self._bad = s1, bad
        out = s1.left_join(bad, s1.source_row == bad._hx_bad_row)
        self._mapped = out.select(
            *self.targets, **{REASON: ibis.coalesce(out[_REASON0], out._hx_bad_reason)}
        )
        return self._mapped

    def _stage1(self, t: ir.Table, source_cols: list[str]) -> ir.Table:
        """Canonical columns, the row rule reason ``_hx_reason0`` and the raw row hash ``_hx_h``."""
        cols = [c for c in self.targets if c not in ("source", "source_row")]
        specs = {c: self.spec.columns[c] for c in cols if c in self.spec.columns}
        carry = [ROW_COLUMN, *(c for c in t.columns if c.startswith("_hx_q_") or c == "_hx_malformed")]

        # 1: the origin, stripped, blanks and null values as NULL (and the raw row's hash)
        first: dict[str, ir.Value] = {}
        for col, cmap in specs.items():
            value = self._origin(t, col, cmap)
            if value.type().is_string():
                value = _blank_to_null(value, self.spec.null_values, self.engine.strip_text)
            first[f"_hx_1_{col}"] = value
        if self.spec.dedupe_exact and source_cols:
            first["_hx_h"] = ibis.struct({c: t[c] for c in source_cols}).hash()
        l1 = t.select(*carry, **first)
        carry = list(l1.columns)

        # 2: value maps and defaults
        def step(table: ir.Table, fn: Callable[[str, ColumnMap, ir.Value], ir.Value | None], tag: str) -> ir.Table:
            new = {}
            for col, cmap in specs.items():
                value = fn(col, cmap, table[_last(table, col)])
                if value is not None:
                    new[f"_hx_{tag}_{col}"] = value
            return table.mutate(**new) if new else table

        def remap(col: str, cmap: ColumnMap, value: ir.Value) -> ir.Value | None:
            if cmap.map:
                text = value.cast("string")
                # An explicit CASE: Ibis' `substitute` mis-maps some keys on the PySpark backend.
                otherwise = ibis.literal(cmap.default) if cmap.default else text
                return ibis.cases(*[(text == k, ibis.literal(v)) for k, v in cmap.map.items()], else_=otherwise)
            if cmap.default is not None:
                return value.cast("string").fill_null(cmap.default)
            return None

        def normalise(col: str, cmap: ColumnMap, value: ir.Value) -> ir.Value | None:
            return None if cmap.normalize is None else _normalizers()[cmap.normalize](value.cast("string"))

        l2 = step(l1, remap, "2")
        l3 = step(l2, normalise, "3")

        # 4: conversion to the target type
        hows: dict[str, str] = {}

        def convert(col: str, cmap: ColumnMap, value: ir.Value) -> ir.Value:
            out, how = self._converted(value, dt.dtype(self.targets[col]), cmap, col)
            if how is not None:
                hows[col] = how
            return out

        l4 = step(l3, convert, "4")

        # 5: typed canonical columns and parse failures
        values: dict[str, ir.Value] = {
            "source": ibis.literal(self.spec.system_name),
            "source_row": l4[ROW_COLUMN].cast("int64"),
        }
        for col in cols:
            values[col] = l4[f"_hx_4_{col}"] if col in specs else ibis.null(dt.dtype(self.targets[col]))
        if "line_no" in values and "line_no" not in specs:
            # Lines are numbered within their order, in source order.
            number = ibis.row_number().over(group_by=values["order_id"], order_by=l4[ROW_COLUMN]) + 1
            values["line_no"] = number.cast("int64")
        typed = {c: values[c].cast(self.targets[c]) for c in self.targets}
        failures = {
            f"_hx_fail_{col}": _failure(col, l4[f"_hx_4_{col}"], l4[_last(l3, col)], l4[f"_hx_1_{col}"].notnull(), how)
            for col, how in hows.items()
        }
        extra = [c for c in l4.columns if c.startswith("_hx_q_") or c in ("_hx_malformed", "_hx_h")]
        s5 = l4.select(*extra, **typed, **failures)

        # 6: the first row rule each row breaks
        reasons: list[tuple[ir.BooleanValue, ir.StringValue]] = []
        if "_hx_malformed" in s5.columns:
            reasons.append((s5._hx_malformed.notnull(), "malformed line: " + s5._hx_malformed))
        for i, rule in enumerate(self.spec.quarantine_if):
            reasons.append((s5[f"_hx_q_{i}"], ibis.literal(rule.reason)))
        for col in cols:
            if f"_hx_fail_{col}" in s5.columns:
                reasons.append((s5[f"_hx_fail_{col}"].notnull(), s5[f"_hx_fail_{col}"]))
        for col in self.rules.primary_key + self.rules.required:
            if col in cols:
                reasons.append((s5[col].isnull(), ibis.literal(f"missing {col}")))
        for col in self.rules.enums:
            if col in cols and col in ENUMS:
                allowed = ENUMS[col]
                v = s5[col]
                reasons.append(
                    (
                        v.notnull() & ~v.isin(allowed),
                        f"{col}: unknown value " + _quote(v.cast("string"))
                        + f"; valid: {', '.join(allowed)} (map it with columns.{col}.map)",
                    )
                )
        if self.rules.non_negative:
            is_sale = s5["status"].isin(["paid", "pending"]) if "status" in cols else ibis.literal(True)
            for col in self.rules.non_negative:
                if col in cols:
                    reasons.append((is_sale & (s5[col] < 0), ibis.literal(f"negative {col} on a sale")))
        reason = (
            ibis.cases(*[(cond.fill_null(False), text) for cond, text in reasons], else_=ibis.null("string"))
            if reasons
            else ibis.null("string")
        )
        keep = ["_hx_h"] if "_hx_h" in s5.columns else []
        return s5.select(*self.targets, *keep, **{_REASON0: reason})

    def _exact_duplicates(self, s1: ir.Table, raw: ir.Table, source_cols: list[str]) -> ir.Table:
        """``(_hx_dup_row, _hx_dup_first)`` of every row that repeats an earlier row of the source exactly.

        The raw row's hash (in the stage-1 table) picks candidate groups by a cheap group-by; the
        exact comparison (a window over all columns, NULLs equal) runs only on those candidates,
        so hash collisions cost time, never correctness.
        """
        repeated = s1.group_by("_hx_h").aggregate(_hx_n=ibis._.count()).filter(ibis._._hx_n > 1)
        rows = s1.semi_join(repeated, "_hx_h").select(_hx_cand=s1.source_row)
        cand = raw.semi_join(rows, raw[ROW_COLUMN] == rows._hx_cand)
        w = ibis.window(group_by=[cand[c] for c in source_cols], order_by=cand[ROW_COLUMN])
        dups = cand.select(
            _hx_dup_row=cand[ROW_COLUMN].cast("int64"),
            _hx_dup_first=cand[ROW_COLUMN].min().over(w).cast("int64"),
            _hx_rn=ibis.row_number().over(w),
        )
        return dups.filter(dups._hx_rn > 0).drop("_hx_rn")

    def _duplicates(self, s1: ir.Table, raw: ir.Table, source_cols: list[str]) -> ir.Table:
        """``(_hx_bad_row, _hx_bad_reason)`` of the rows that break no row rule but repeat an
        earlier row exactly (when ``dedupe_exact``) or repeat the primary key of an earlier valid row.

        Only the (few) duplicate rows are computed here: a small table, no full-size pass.
        """
        valid = s1.filter(s1[_REASON0].isnull())
        parts: list[ir.Table] = []
        if self.spec.dedupe_exact and source_cols:
            dups = self.engine.materialize(
                f"_hx_dups_{self.spec.name}", self._exact_duplicates(s1, raw, source_cols), temp=True
            )
            exact = valid.inner_join(dups, valid.source_row == dups._hx_dup_row)
            parts.append(
                exact.select(
                    _hx_bad_row=exact.source_row,
                    _hx_bad_reason="exact duplicate of source row " + exact._hx_dup_first.cast("string"),
                )
            )
            valid = valid.anti_join(dups, valid.source_row == dups._hx_dup_row)
        pk = list(self.rules.primary_key)
        repeated = valid.group_by(pk).aggregate(_hx_n=ibis._.count()).filter(ibis._._hx_n > 1)
        cand = valid.semi_join(repeated, pk)
        w = ibis.window(group_by=[cand[c] for c in pk], order_by=cand.source_row)
        key_text = ibis.literal(", ").join(
            [f"{c}=" + cand[c].cast("string").fill_null("∅") for c in pk if c != "source"]
        )
        pkdups = cand.select(
            _hx_bad_row=cand.source_row,
            _hx_bad_reason="duplicate key (" + key_text + "), first at source row "
            + cand.source_row.min().over(w).cast("string"),
            _hx_rn=ibis.row_number().over(w),
        )
        parts.append(pkdups.filter(pkdups._hx_rn > 0).drop("_hx_rn"))
        return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]

    def loaded(self, mapped: ir.Table) -> ir.Table:
        """Rows fit to load, with exactly the target columns."""
        if mapped is getattr(self, "_mapped", None):
            s1, bad = self._stage, self._bad
            ok = s1.filter(s1[_REASON0].isnull())
            return ok.anti_join(bad, ok.source_row == bad._hx_bad_row).select(*self.targets)
        return mapped.filter(mapped[REASON].isnull()).select(*self.targets)

    def quarantined(self, mapped: ir.Table) -> ir.Table:
        """Rejected rows as ``quarantine`` rows (payload: the raw row as JSON)."""
        if mapped is getattr(self, "_mapped", None):
            s1, bad = self._stage, self._bad
            failed = s1.filter(s1[_REASON0].notnull()).select("source_row", **{REASON: s1[_REASON0]})
            repeats = bad.select(source_row=bad._hx_bad_row, **{REASON: bad._hx_bad_reason})
            rejected = ibis.union(failed, repeats, distinct=False)
        else:
            rejected = mapped.filter(mapped[REASON].notnull()).select("source_row", REASON)
        raw = self._raw
        joined = rejected.inner_join(raw, rejected.source_row == raw[ROW_COLUMN])
        return joined.select(
            source=ibis.literal(self.spec.name),
            source_row=joined.source_row,
            target_table=ibis.literal(self.spec.table),
            reason=joined[REASON],
            payload=json_object({c: joined[c] for c in self._source_cols}),
        )


def _last(table: ir.Table, col: str) -> str:
    """The latest layer's column of ``col`` in ``table`` (``_hx_3_x`` over ``_hx_2_x`` over ``_hx_1_x``)."""
    for tag in ("4", "3", "2", "1"):
        name = f"_hx_{tag}_{col}"
        if name in table.columns:
            return name
    raise KeyError(col)  # pragma: no cover - every mapped column has a first layer


def _failure(
    col: str, out: ir.Value, shown: ir.Value, present: ir.BooleanValue, how: str
) -> ir.StringValue:
    """The parse-failure message of ``col``: set when the value was present but ``out`` is NULL."""
    return ibis.ifelse(
        present & out.isnull(), f"{col}: cannot read " + _quote(shown.cast("string")) + how, ibis.null("string")
    )


def _quote(value: ir.Value) -> ir.StringValue:
    text = value.cast("string")
    return ibis.ifelse(text.isnull(), ibis.literal("NULL"), "'" + text.substr(0, 60) + "'")


def _json_string(value: ir.Value) -> ir.StringValue:
    text = value.cast("string")
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return ibis.coalesce('"' + escaped + '"', ibis.literal("null"))


def json_object(columns: Mapping[str, ir.Value]) -> ir.StringValue:
    """A JSON object text built from ``columns`` (values as JSON strings or null), on any engine.

    >>> import ibis
    >>> t = ibis.memtable({"a": ["x\\"y"], "b": [None]}, schema={"a": "string", "b": "string"})
    >>> ibis.duckdb.connect().execute(t.select(j=json_object({"a": t.a, "b": t.b})))["j"][0]
    '{"a": "x\\\\"y", "b": null}'
    """
    if not columns:
        return ibis.literal("{}")
    parts: list[Any] = []
    for i, (name, value) in enumerate(columns.items()):
        key = name.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(ibis.literal(("{" if i == 0 else ", ") + f'"{key}": ') + _json_string(value))
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out + "}"
