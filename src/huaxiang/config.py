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

from huaxiang.config_errors import describe_errors, model_of, problems_error, recheck_without
from huaxiang.errors import ConfigError
from huaxiang.features.settings import FeatureSettings
from huaxiang.identity.settings import IdentitySettings
from huaxiang.models.settings import ModelSettings
from huaxiang.schema import CUSTOMERS_RAW
from huaxiang.segments.settings import SegmentSettings
from huaxiang.sources import (  # noqa: F401  (re-exported: ingest reads them here today)
    ColumnMap,
    Normalizer,
    QuarantineRule,
    SourceFormat,
    SourceSpec,
    target_columns,
)
from huaxiang.tags.specs import TagSettings, resolve_tag_specs

CONFIG_FILE = "huaxiang.yaml"

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    >>> ServiceSettings().snapshot_seconds, ServiceSettings(snapshot_every=0).snapshot_seconds
    (60.0, 0.0)
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    refresh_every: str = "1h"
    #: How often the service rewrites the read-only snapshot other processes read (``30s``, ``5m``; 0: never).
    snapshot_every: str | int = "60s"
    #: The ``source`` of the events and persons the service collects.
    source: str = "app"

    @field_validator("refresh_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("snapshot_every")
    @classmethod
    def _duration_or_off(cls, value: str | int) -> str | int:
        if str(value).strip() != "0":
            parse_duration(str(value))
        return value

    @property
    def snapshot_seconds(self) -> float:
        """``snapshot_every`` in seconds (0: no snapshot)."""
        text = str(self.snapshot_every).strip()
        return 0.0 if text == "0" else parse_duration(text).total_seconds()

    @property
    def refresh_interval(self) -> timedelta:
        """``refresh_every`` as a :class:`~datetime.timedelta`."""
        return parse_duration(self.refresh_every)

    def get(self, key: str, default: Any = None) -> Any:
        """Read the section like the mapping it was before it was typed (``service.get("port")``)."""
        return getattr(self, key, default)


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
        bad: dict[str, set[Any]] = {}
        for err in exc.errors():
            if len(err["loc"]) >= 2 and isinstance(err["loc"][0], str):
                bad.setdefault(err["loc"][0], set()).add(err["loc"][1])
        for section, keys in bad.items():
            model = model_of(WorkspaceConfig.model_fields[section].annotation)
            if model is not None:
                more = recheck_without(model, raw.get(section), keys, prefix=(section,))
                problems += [p for p in more if p not in problems]
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
