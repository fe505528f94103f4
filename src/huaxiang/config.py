"""Workspace configuration: the models behind ``huaxiang.yaml``.

A workspace file declares where data comes from (``sources``), how each source
maps onto a canonical table (``columns``), which rows to reject
(``quarantine_if``) and the engine to run on. Every other section is a strict
model too, checked when the file is loaded, before the first stage runs: the
stages' own (``identity``, ``features``, ``tags``, ``segments``, ``models``,
each defined beside the stage that reads it) and ``clean``, ``service``,
``journal`` and ``privacy``, defined here.

Every validation problem in the file is collected and raised at once as a
:class:`~huaxiang.errors.ConfigError` naming the file, the key path, what is
wrong, the fix and, for a misspelt key, the closest valid one
(:mod:`huaxiang.config_errors` words them).

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
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from huaxiang.config_errors import describe_errors, model_of, problems_error
from huaxiang.errors import ConfigError
from huaxiang.features.settings import FeatureSettings
from huaxiang.identity.settings import IdentitySettings
from huaxiang.models.settings import ModelSettings
from huaxiang.schema import CANONICAL, CUSTOMERS_RAW, ENUMS, MAPPABLE_TABLES, ORDER_LINE_COLUMNS
from huaxiang.segments.settings import SegmentSettings
from huaxiang.tags.specs import TagSettings, resolve_tag_specs

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


_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """A duration written as a whole number and a unit: ``30s``, ``15m``, ``1h``, ``1d``.

    >>> parse_duration("15m"), parse_duration("1d").total_seconds()
    (datetime.timedelta(seconds=900), 86400.0)
    >>> parse_duration("1 hour")
    Traceback (most recent call last):
    ...
    ValueError: '1 hour' is not a duration; write a whole number and s, m, h or d, e.g. 30s, 15m, 1h, 1d
    """
    match = _DURATION_RE.match(str(text))
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration; write a whole number and s, m, h or d, "
                         "e.g. 30s, 15m, 1h, 1d")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class CleanSettings(_Strict):
    """The ``clean:`` section: canonical columns the clean stage leaves as ingested."""

    skip_columns: list[str] = Field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        """Read the section like the mapping it was before it was typed (``clean.get("skip_columns")``)."""
        return getattr(self, key, default)


class ServiceSettings(_Strict):
    """The ``service:`` section: where the HTTP service listens and how often it rebuilds.

    >>> ServiceSettings(refresh_every="15m").refresh_interval.total_seconds()
    900.0
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    refresh_every: str = "1h"

    @field_validator("refresh_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def refresh_interval(self) -> timedelta:
        """``refresh_every`` as a :class:`~datetime.timedelta`."""
        return parse_duration(self.refresh_every)


class JournalSettings(_Strict):
    """The ``journal:`` section: where collected events are journaled before they are built.

    ``sqlite`` keeps the journal in a file of the workspace (``path``; default chosen by the
    service); ``nats`` appends to the JetStream ``stream`` at ``url``.
    """

    kind: Literal["sqlite", "nats"] = "sqlite"
    url: str = "nats://127.0.0.1:4222"
    stream: str = "huaxiang"
    path: str | None = None


#: Canonical columns that identify a person directly: names, contacts, birth dates, addresses,
#: and the card, device and WeChat ids a person carries.
PII_COLUMNS: tuple[str, ...] = ("name", "phone", "email", "birth_date", "address", "member_card", "device_id",
                                "wechat_openid", "wechat_unionid")


class PrivacySettings(_Strict):
    """The ``privacy:`` section: which ``customers_raw`` columns are personal data.

    >>> PrivacySettings().pii_columns[:3]
    ['name', 'phone', 'email']
    """

    pii_columns: list[str] = Field(default_factory=lambda: list(PII_COLUMNS))

    @field_validator("pii_columns")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(CUSTOMERS_RAW.columns))
        if unknown:
            raise ValueError(f"{unknown} are not columns of customers_raw; valid: {', '.join(CUSTOMERS_RAW.columns)}")
        return value


class WorkspaceConfig(BaseModel):
    """The whole ``huaxiang.yaml``: every section a strict model, so a misspelt key fails at load."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str = "huaxiang"
    description: str = ""
    data_dir: str | None = None
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    country: str | None = "CN"
    engine: EngineSettings = Field(default_factory=EngineSettings)
    sources: list[SourceSpec] = Field(default_factory=list)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    tags: TagSettings = Field(default_factory=TagSettings)
    segments: SegmentSettings = Field(default_factory=SegmentSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 code; write two capital letters such as "
                             "CN, US or DE, or null for no festival calendar")
        return value

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


def _cross_key_problems(raw: dict[str, Any], exc: ValidationError) -> list[str]:
    """Problems between the keys of a section that has a bad key (pydantic stops before them).

    Each such section is validated again without its bad keys, so one run reports everything.
    """
    bad: dict[str, set[Any]] = {}
    for err in exc.errors():
        loc = err["loc"]
        if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(raw.get(loc[0]), dict):
            bad.setdefault(loc[0], set()).add(loc[1])
    problems: list[str] = []
    for section, keys in bad.items():
        model = model_of(WorkspaceConfig.model_fields[section].annotation)
        rest = {k: v for k, v in raw[section].items() if k not in keys}
        if model is None or not rest:
            continue
        try:
            model.model_validate(rest)
        except ValidationError as more:
            problems += describe_errors(more, model, rest, prefix=(section,))
    return problems


def parse_config(raw: Any, *, origin: str = CONFIG_FILE) -> WorkspaceConfig:
    """Validate a mapping as a :class:`WorkspaceConfig`: every section, and every tag's rule.

    All problems are reported together, one line each (see :mod:`huaxiang.config_errors`).

    >>> parse_config({"sources": [{"name": "x", "table": "nope", "format": "csv", "path": "a.csv",
    ...                            "columns": {}}]})
    Traceback (most recent call last):
    ...
    huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
      - sources[0] (x).table: unknown table 'nope'; use one of customers_raw, products, orders, order_items, events, interactions, order_lines
    >>> parse_config({"models": {"churn": {"horizon_dayz": 30}}})
    Traceback (most recent call last):
    ...
    huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
      - models.churn.horizon_dayz: unknown key; remove it or check its spelling (did you mean horizon_days? valid keys: enabled, horizon_days, min_buyers, n_folds, btyd_sample, min_gain, random_state)
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys (name:, sources: …)")
    try:
        config = WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        # ``tags: [...]`` is short for ``tags: {define: [...]}``: label its entries the same way
        labels = {**raw, "tags": {"define": raw["tags"]}} if isinstance(raw.get("tags"), list) else raw
        problems = describe_errors(exc, WorkspaceConfig, labels)
        problems += [p for p in _cross_key_problems(raw, exc) if p not in problems]
        raise problems_error(problems, origin=origin) from None
    # what a new tag lacks, and whether its rule parses, is known once merged over the built-ins
    resolve_tag_specs(config.tags, origin=origin)
    return config


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
