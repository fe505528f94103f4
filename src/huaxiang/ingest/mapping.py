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
    from huaxiang.clean import normalize as n

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


def _blank_to_null(value: ir.StringValue, null_values: tuple[str, ...]) -> ir.StringValue:
    stripped = strip_text(value)
    nulls = [v for v in null_values if v != ""]
    out = ibis.ifelse(stripped == "", ibis.null("string"), stripped)
    if nulls:
        out = ibis.ifelse(stripped.isin(nulls), ibis.null("string"), out)
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
        """Add ``expr`` mappings and ``quarantine_if`` conditions, written in SQL, as columns."""
        parts = []
        for col, cmap in self.spec.columns.items():
            if cmap.expr is not None:
                parts.append(f"({cmap.expr}) AS \"_hx_e_{col}\"")
        for i, rule in enumerate(self.spec.quarantine_if):
            parts.append(f"COALESCE(({rule.when}), FALSE) AS \"_hx_q_{i}\"")
        if not parts:
            return raw
        self.engine.create_view(view, raw)
        try:
            return self.engine.con.sql(f'SELECT *, {", ".join(parts)} FROM "{view}"', dialect="duckdb")
        except Exception as exc:
            raise ConfigError(
                f"source {self.spec.name!r}: a SQL expression in 'columns' or 'quarantine_if' is invalid: "
                f"{str(exc).strip().splitlines()[0]}; source columns are: "
                f"{', '.join(c for c in raw.columns if not c.startswith('_hx_'))}"
            ) from None

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
            value = _blank_to_null(value, self.spec.null_values)
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
        source_type = value.type()
        shown = value.cast("string")
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
            if not how:
                return out, None
            failure = ibis.ifelse(
                present & out.isnull(), f"{col}: cannot read " + _quote(shown) + f" as {how}", ibis.null("string")
            )
            return out, failure
        if target.is_numeric():
            if source_type.is_numeric() or source_type.is_boolean():
                return value.cast(target), None
            out = value.cast("string").try_cast(target)
            failure = ibis.ifelse(
                present & out.isnull(), f"{col}: cannot read " + _quote(shown) + " as a number", ibis.null("string")
            )
            return out, failure
        if target.is_boolean():
            if source_type.is_boolean():
                return value, None
            out = _normalizers()["bool"](value.cast("string"))
            failure = ibis.ifelse(
                present & out.isnull(), f"{col}: cannot read " + _quote(shown) + " as yes/no", ibis.null("string")
            )
            return out, failure
        return value.cast(target), None  # pragma: no cover - no other canonical types

    # ----------------------------------------------------------------- rows
    def mapped(self, raw: ir.Table) -> ir.Table:
        """Raw rows with the canonical columns, lineage and the quarantine reason ``_hx_reason``.

        Raw columns are kept (prefixed ``_hx_src_``) so the quarantine can show the input row.
        Values are computed once into a scratch table and the rules then read plain columns:
        Ibis does not share common subexpressions, so a normaliser referenced by the value,
        its parse check and its enum check would otherwise run three times per row.
        """
        view = f"_hx_sqlview_{self.spec.name}"
        t = self._with_sql_columns(raw, view)
        source_cols = [c for c in raw.columns if c not in _INTERNAL]
        mapped = {c: self.map_column(t, c) for c in self.targets if c not in ("source", "source_row")}
        if "line_no" in mapped and "line_no" not in self.spec.columns:
            # Lines are numbered within their order, in source order.
            number = ibis.row_number().over(group_by=mapped["order_id"].value, order_by=t[ROW_COLUMN]) + 1
            mapped["line_no"] = MappedColumn(number.cast("int64"), None)
        first: dict[str, ir.Value] = {
            "source": ibis.literal(self.spec.system_name),
            "source_row": t[ROW_COLUMN].cast("int64"),
        }
        first.update({c: m.value for c, m in mapped.items()})
        first = {c: first[c].cast(self.targets[c]) for c in self.targets}
        first.update({f"_hx_fail_{c}": m.failure for c, m in mapped.items() if m.failure is not None})
        first.update({c: t[c] for c in t.columns if c.startswith("_hx_q_") or c == "_hx_malformed"})
        self._raw, self._source_cols = raw, source_cols
        s1 = self.engine.materialize(f"_hx_stage1_{self.spec.name}", t.select(**first), temp=True)

        reasons: list[tuple[ir.BooleanValue, ir.StringValue]] = []
        if "_hx_malformed" in s1.columns:
            reasons.append((s1._hx_malformed.notnull(), "malformed line: " + s1._hx_malformed))
        for i, rule in enumerate(self.spec.quarantine_if):
            reasons.append((s1[f"_hx_q_{i}"], ibis.literal(rule.reason)))
        for col in mapped:
            if f"_hx_fail_{col}" in s1.columns:
                reasons.append((s1[f"_hx_fail_{col}"].notnull(), s1[f"_hx_fail_{col}"]))
        for col in self.rules.primary_key + self.rules.required:
            if col in mapped:
                reasons.append((s1[col].isnull(), ibis.literal(f"missing {col}")))
        for col in self.rules.enums:
            if col in mapped and col in ENUMS:
                allowed = ENUMS[col]
                v = s1[col]
                reasons.append(
                    (
                        v.notnull() & ~v.isin(allowed),
                        f"{col}: unknown value " + _quote(v.cast("string"))
                        + f"; valid: {', '.join(allowed)} (map it with columns.{col}.map)",
                    )
                )
        if self.rules.non_negative:
            is_sale = s1["status"].isin(["paid", "pending"]) if "status" in mapped else ibis.literal(True)
            for col in self.rules.non_negative:
                if col in mapped:
                    reasons.append((is_sale & (s1[col] < 0), ibis.literal(f"negative {col} on a sale")))
        reason = (
            ibis.cases(*[(cond.fill_null(False), text) for cond, text in reasons], else_=ibis.null("string"))
            if reasons
            else ibis.null("string")
        )
        out = s1.select(*self.targets, **{REASON: reason})
        return self._duplicates(out, raw, source_cols)

    def _exact_duplicates(self, raw: ir.Table, source_cols: list[str]) -> ir.Table:
        """``(source_row, first_row)`` of every row that repeats an earlier row of the source exactly.

        A hash of the row picks candidate groups by a cheap group-by; the exact comparison (a
        window over all columns, NULLs equal) runs only on those candidates, so hash collisions
        cost time, never correctness.
        """
        keyed = raw.mutate(_hx_h=ibis.struct({c: raw[c] for c in source_cols}).hash())
        repeated = keyed.group_by("_hx_h").aggregate(_hx_n=ibis._.count()).filter(ibis._._hx_n > 1)
        cand = keyed.semi_join(repeated, "_hx_h")
        w = ibis.window(group_by=[cand[c] for c in source_cols], order_by=cand[ROW_COLUMN])
        dups = cand.select(
            _hx_dup_row=cand[ROW_COLUMN].cast("int64"),
            _hx_dup_first=cand[ROW_COLUMN].min().over(w).cast("int64"),
            _hx_rn=ibis.row_number().over(w),
        )
        return dups.filter(dups._hx_rn > 0).drop("_hx_rn")

    def _duplicates(self, t: ir.Table, raw: ir.Table, source_cols: list[str]) -> ir.Table:
        """``t`` with exact-duplicate and duplicate-key reasons added.

        Only the (few) duplicate rows are written, as two small scratch tables; the result is an
        expression over the stage-1 table, so no full-size table is written here.
        """
        name = self.spec.name
        if self.spec.dedupe_exact and source_cols:
            dups = self.engine.materialize(
                f"_hx_dups_{name}", self._exact_duplicates(raw, source_cols), temp=True
            )
            t = t.left_join(dups, t.source_row == dups._hx_dup_row)
            t = t.mutate(
                **{
                    REASON: ibis.coalesce(
                        t[REASON],
                        ibis.ifelse(
                            t._hx_dup_first.notnull(),
                            "exact duplicate of source row " + t._hx_dup_first.cast("string"),
                            ibis.null("string"),
                        ),
                    )
                }
            ).drop("_hx_dup_row", "_hx_dup_first")
        pk = list(self.rules.primary_key)
        valid = t.filter(t[REASON].isnull())
        repeated = valid.group_by(pk).aggregate(_hx_n=ibis._.count()).filter(ibis._._hx_n > 1)
        cand = valid.semi_join(repeated, pk)
        w = ibis.window(group_by=[cand[c] for c in pk], order_by=cand.source_row)
        key_text = ibis.literal(", ").join(
            [f"{c}=" + cand[c].cast("string").fill_null("∅") for c in pk if c != "source"]
        )
        pkdups = cand.select(
            _hx_pk_row=cand.source_row,
            _hx_pk_reason="duplicate key (" + key_text + "), first at source row "
            + cand.source_row.min().over(w).cast("string"),
            _hx_rn=ibis.row_number().over(w),
        )
        pkdups = self.engine.materialize(
            f"_hx_pkdups_{name}", pkdups.filter(pkdups._hx_rn > 0).drop("_hx_rn"), temp=True
        )
        out = t.left_join(pkdups, t.source_row == pkdups._hx_pk_row)
        return out.mutate(**{REASON: ibis.coalesce(out[REASON], out._hx_pk_reason)}).drop(
            "_hx_pk_row", "_hx_pk_reason"
        )

    def loaded(self, mapped: ir.Table) -> ir.Table:
        """Rows fit to load, with exactly the target columns."""
        return mapped.filter(mapped[REASON].isnull()).select(*self.targets)

    def quarantined(self, mapped: ir.Table) -> ir.Table:
        """Rejected rows as ``quarantine`` rows (payload: the raw row as JSON)."""
        bad = mapped.filter(mapped[REASON].notnull()).select("source_row", REASON)
        raw = self._raw
        joined = bad.inner_join(raw, bad.source_row == raw[ROW_COLUMN])
        return joined.select(
            source=ibis.literal(self.spec.name),
            source_row=joined.source_row,
            target_table=ibis.literal(self.spec.table),
            reason=joined[REASON],
            payload=json_object({c: joined[c] for c in self._source_cols}),
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
