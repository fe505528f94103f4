"""Workspace configuration: the models behind ``huaxiang.yaml``.

A workspace file declares where data comes from (``sources``), how each source
maps onto a canonical table (``columns``), which rows to reject
(``quarantine_if``) and the engine to run on. Later stages read their own
sections (``identity``, ``features``, ``tags``, ``segments``, ``models``,
``privacy``); those are kept as plain mappings here and validated by the stage
that owns them.

Every validation problem in the file is collected and raised at once as a
:class:`~huaxiang.errors.ConfigError` naming the file, the key and the fix.

Examples
--------
>>> cfg = WorkspaceConfig.model_validate({
...     "name": "shop",
...     "sources": [{"name": "crm", "table": "customers_raw", "format": "csv",
...                  "path": "crm.csv", "columns": {"source_customer_id": "id"}}],
... })
>>> cfg.sources[0].columns["source_customer_id"].column
'id'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from huaxiang.errors import ConfigError
from huaxiang.schema import CANONICAL, ENUMS, MAPPABLE_TABLES, ORDER_LINE_COLUMNS

CONFIG_FILE = "huaxiang.yaml"

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
        if self.purchase_events:
            if self.table != "events":
                raise ValueError(f"purchase_events is for events sources; this source maps to {self.table}")
            bad_types = sorted(set(self.purchase_events) - set(ENUMS["event_type"]))
            if bad_types:
                raise ValueError(f"purchase_events lists {bad_types}, which are not event types; "
                                 f"valid: {', '.join(ENUMS['event_type'])}")
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
        return self


def target_columns(table: str) -> dict[str, str]:
    """Column name -> type of a mappable table (``order_lines`` included)."""
    if table == "order_lines":
        return dict(ORDER_LINE_COLUMNS)
    return dict(CANONICAL[table].columns)


class EngineSettings(_Strict):
    """Which engine builds the workspace.

    ``path`` is the DuckDB file (relative to the workspace); ``master`` and
    ``conf`` go to Spark.
    """

    name: Literal["duckdb", "spark"] = "duckdb"
    path: str = "warehouse.duckdb"
    master: str = "local[2]"
    conf: dict[str, str] = Field(default_factory=dict)
    threads: int | None = None
    memory_limit: str | None = None


class WorkspaceConfig(BaseModel):
    """The whole ``huaxiang.yaml``."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str = "huaxiang"
    description: str = ""
    data_dir: str | None = None
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    #: ISO 3166-1 alpha-2 country of the business: its festival and payday calendars; null = none.
    country: str | None = "CN"
    engine: EngineSettings = Field(default_factory=EngineSettings)
    sources: list[SourceSpec] = Field(default_factory=list)
    clean: dict[str, Any] = Field(default_factory=dict)
    identity: dict[str, Any] = Field(default_factory=dict)
    features: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, Any] = Field(default_factory=dict)
    segments: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, Any] = Field(default_factory=dict)
    privacy: dict[str, Any] = Field(default_factory=dict)
    service: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_sources(self) -> WorkspaceConfig:
        seen: set[str] = set()
        for src in self.sources:
            if src.name in seen:
                raise ValueError(f"source name {src.name!r} is used twice; give each source its own name")
            seen.add(src.name)
        return self

    def source(self, name: str) -> SourceSpec:
        """The source called ``name``."""
        for src in self.sources:
            if src.name == name:
                return src
        raise ConfigError(
            f"no source named {name!r}; sources: {', '.join(s.name for s in self.sources) or '(none)'}"
        )


def _format_location(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            label = ""
            if isinstance(node, list) and 0 <= item < len(node) and isinstance(node[item], dict):
                label = f" ({node[item].get('name')})" if node[item].get("name") else ""
            parts.append(f"[{item}]{label}")
            node = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
        else:
            if item in ("function-after", "function-before") or str(item).startswith(("str", "int", "float")):
                continue
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def parse_config(raw: Any, *, origin: str = CONFIG_FILE) -> WorkspaceConfig:
    """Validate a mapping as a :class:`WorkspaceConfig`.

    All problems are reported together, each as ``origin: key: message``.

    >>> parse_config({"sources": [{"name": "x", "table": "nope", "format": "csv", "path": "a.csv",
    ...                            "columns": {}}]})
    Traceback (most recent call last):
    ...
    huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
      - sources[0] (x).table: unknown table 'nope'; use one of customers_raw, products, orders, order_items, events, interactions, order_lines
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys (name:, sources: …)")
    try:
        return WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _format_location(tuple(err["loc"]), raw)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key; remove it or check its spelling"
            elif err["type"] == "missing":
                msg = "required key is missing"
            lines.append(f"  - {where}: {msg}")
        n = len(lines)
        raise ConfigError(f"{origin} has {n} problem{'s' if n != 1 else ''}:\n" + "\n".join(lines)) from None


_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            if match.group(2) is None:
                return match.group(0)
            return match.group(2)
        return value

    return _ENV_RE.sub(repl, text)


def load_config(path: str | Path) -> WorkspaceConfig:
    """Read and validate a ``huaxiang.yaml`` (``${VAR}`` and ``${VAR:-default}`` are expanded)."""
    file = Path(path)
    if file.is_dir():
        file = file / CONFIG_FILE
    if not file.exists():
        raise ConfigError(
            f"{file}: no workspace configuration here; create one with `huaxiang init {file.parent}`"
        )
    text = _expand_env(file.read_text(encoding="utf-8"))
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{file}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_config(raw, origin=str(file))
