"""Sources: how one input (a file, a folder of files or a database query) maps onto a canonical table.

The ``sources:`` section of ``huaxiang.yaml``; kept apart from :mod:`huaxiang.config` so that
ingest reads these models without the other stages' settings.

Examples
--------
>>> spec = SourceSpec.model_validate({"name": "crm", "table": "customers_raw", "format": "csv",
...                                   "path": "crm.csv", "columns": {"source_customer_id": "id"}})
>>> spec.columns["source_customer_id"].column, spec.system_name
('id', 'crm')
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from huaxiang.schema import CANONICAL, ENUMS, MAPPABLE_TABLES, ORDER_LINE_COLUMNS

__all__ = ["ColumnMap", "Normalizer", "QuarantineRule", "SourceFormat", "SourceSpec", "target_columns"]

SourceFormat = Literal["csv", "tsv", "whitespace", "parquet", "jsonl", "xlsx", "sql"]
Normalizer = Literal["phone", "email", "name", "gender", "region", "city", "amount", "bool"]

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMap(_Strict):
    """How one canonical column is produced from a source row.

    Exactly one of ``column`` (take a source column), ``value`` (a constant)
    or ``expr`` (a SQL expression over source columns, DuckDB dialect; it is
    parsed and translated for Spark, never evaluated in Python) is given.
    Then, in order: ``map`` replaces values (``{支付宝: alipay}``, unmatched
    values stay or become ``default``), ``format`` parses dates/timestamps
    (strftime codes, e.g. ``"%Y%m%d"``), ``unit`` reads epoch numbers
    (``s``/``ms``), ``normalize`` applies a cleaning normaliser.
    """

    column: str | None = None
    value: str | int | float | bool | None = None
    expr: str | None = None
    format: str | None = None
    unit: Literal["s", "ms"] | None = None
    map: dict[str, str] | None = None
    default: str | None = None
    normalize: Normalizer | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnMap:
        given = [k for k in ("column", "value", "expr") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'column' (a source column), 'value' (a constant) or 'expr' "
                f"(a SQL expression); got {given or 'none'}"
            )
        if self.format is not None and self.unit is not None:
            raise ValueError("'format' (text dates) and 'unit' (epoch numbers) exclude each other")
        return self


class QuarantineRule(_Strict):
    """Reject rows matching a SQL condition (DuckDB dialect) with a reason.

    >>> QuarantineRule(when="CustomerID IS NULL", reason="guest line").reason
    'guest line'
    """

    when: str
    reason: str


class SourceSpec(_Strict):
    """One input: a file (or folder/glob of files) or a database table/query.

    ``system`` names the system of record the rows come from (default: the
    source's name). It fills the canonical ``source`` column, so several
    sources of one system (its orders file and its order-lines file, say)
    share keys and customer ids. Reports and the quarantine use ``name``.
    """

    @property
    def system_name(self) -> str:
        """The value of the canonical ``source`` column for this source's rows."""
        return self.system or self.name

    name: str
    table: str
    format: SourceFormat
    system: str | None = None
    path: str | None = None
    url: str | None = None
    query: str | None = None
    db_table: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    header: bool = True
    sheet: str | None = None
    skip_rows: int = 0
    null_values: tuple[str, ...] = ("",)
    columns: dict[str, ColumnMap]
    quarantine_if: tuple[QuarantineRule, ...] = ()
    dedupe_exact: bool = True
    #: Event types of this (events) source that are purchases (Taobao ``buy`` mapped to ``order``,
    #: Segment ``Order Completed``): ingest also writes each as an order and an order line.
    purchase_events: tuple[str, ...] = ()
    description: str = ""

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"column": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(f"source name {value!r} must be letters, digits and _ and start with a letter")
        return value

    @field_validator("table")
    @classmethod
    def _known_table(cls, value: str) -> str:
        if value not in MAPPABLE_TABLES:
            raise ValueError(f"unknown table {value!r}; use one of {', '.join(MAPPABLE_TABLES)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        if self.system is not None and not _NAME_RE.match(self.system):
            raise ValueError(f"system {self.system!r} must be letters, digits and _ and start with a letter")
        if self.format == "sql":
            if not self.url:
                raise ValueError("a 'sql' source needs 'url' (e.g. postgresql://user@host/db)")
            if bool(self.query) == bool(self.db_table):
                raise ValueError("a 'sql' source needs exactly one of 'query' or 'db_table'")
        elif not self.path:
            raise ValueError(f"a '{self.format}' source needs 'path' (a file, folder or glob)")
        known = target_columns(self.table)
        unknown = sorted(set(self.columns) - set(known) - {"source", "source_row"})
        if unknown:
            raise ValueError(
                f"columns {unknown} are not columns of {self.table}; valid: {', '.join(known)}"
            )
        for col, cmap in self.columns.items():
            if cmap.map and col in ENUMS:
                bad = sorted(set(cmap.map.values()) - set(ENUMS[col]))
                if bad:
                    raise ValueError(
                        f"columns.{col}.map maps to {bad}, which are not valid {col} values; "
                        f"valid: {', '.join(ENUMS[col])}"
                    )
        if self.purchase_events:
            if self.table != "events":
                raise ValueError(f"purchase_events is for events sources; this source maps to {self.table}")
            bad_types = sorted(set(self.purchase_events) - set(ENUMS["event_type"]))
            if bad_types:
                raise ValueError(f"purchase_events lists {bad_types}, which are not event types; "
                                 f"valid: {', '.join(ENUMS['event_type'])}")
        return self


def target_columns(table: str) -> dict[str, str]:
    """Column name -> type of a mappable table (``order_lines`` included)."""
    if table == "order_lines":
        return dict(ORDER_LINE_COLUMNS)
    return dict(CANONICAL[table].columns)
