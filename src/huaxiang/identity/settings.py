"""Settings of the identity stage (``identity:`` in huaxiang.yaml) and the operator's corrections.

Example ``huaxiang.yaml``::

    identity:
      identifiers: [member_card, user_id, wechat_unionid, phone, email, wechat_openid]  # priority order
      attach_only: [device_id, anonymous_id]   # map to a person when unambiguous; never merge persons
      source_keys: {pos: member_card}          # the pos system's customer id IS a member card number
      hub_threshold: 8                         # more records on one value = a hub, refused and reported
      max_values: {phone: 3, email: 3}         # a person never gathers more distinct values than this
      unique_per_person: [user_id, member_card, national_id]   # two values = two people (max 1)
      blocklist: ["+8613800000000"]            # placeholder values that never link
      probabilistic: {enabled: true, threshold: 0.99}
      survivorship: {name: source_priority, phone: most_recent}
      source_priority: [crm, app, pos]

Operator corrections live in ``identity_overrides.yaml`` beside huaxiang.yaml (written by
``huaxiang identity merge/split``) and are applied on every rebuild.

Examples
--------
>>> s = parse_settings({"hub_threshold": 5})
>>> s.hub_threshold, s.limits()["user_id"], s.limits()["phone"]
(5, 1, 3)
>>> parse_settings({"hub_treshold": 5})  # doctest: +ELLIPSIS
Traceback (most recent call last):
huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
  - identity.hub_treshold: unknown key; remove it or check its spelling (did you mean hub_threshold? valid keys: ...)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from huaxiang.config_errors import ConfigProblems, validate_section
from huaxiang.errors import ConfigError

#: Identifier columns read from ``customers_raw`` when present.
IDENTIFIER_COLUMNS = ("phone", "email", "member_card", "wechat_unionid", "wechat_openid", "user_id", "device_id",
                      "national_id")
#: Identifier types a workspace may name.
KNOWN_TYPES = frozenset(IDENTIFIER_COLUMNS) | {"anonymous_id"}
#: Golden-record attributes and the survivorship rules.
GOLDEN_ATTRIBUTES = ("name", "gender", "birth_date", "phone", "email", "country", "region", "city", "address",
                     "occupation", "member_level", "consent_marketing")
Rule = Literal["most_recent", "most_frequent", "source_priority", "non_null_first"]
RULES = ("most_recent", "most_frequent", "source_priority", "non_null_first")
#: Fields the probabilistic model may compare (derived from customers_raw).
MATCH_FIELDS = ("name_pinyin", "birth_date", "city", "phone_digits", "email", "email_local", "gender", "address")

OVERRIDES_FILE = "identity_overrides.yaml"


class ProbabilisticSettings(BaseModel):
    """Splink matching of records that share no strong identifier."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    threshold: float = Field(default=0.99, gt=0.0, lt=1.0)
    # the whole e-mail, not its local part: the local part is mostly the name's pinyin
    # (liweihui@outlook.com, liweihui@gmail.com), so agreeing on it says the names agree, twice
    fields: list[str] = Field(default_factory=lambda: ["name_pinyin", "birth_date", "city", "phone_digits",
                                                       "email"])
    blocking: list[list[str]] = Field(default_factory=list)
    min_records: int = Field(default=50, ge=2)
    u_max_pairs: float = Field(default=3e5, gt=0)


class IdentitySettings(BaseModel):
    """The ``identity:`` section of huaxiang.yaml."""

    model_config = ConfigDict(extra="forbid")

    identifiers: list[str] = Field(
        default_factory=lambda: ["member_card", "user_id", "national_id", "wechat_unionid", "phone", "email",
                                 "wechat_openid"]
    )
    attach_only: list[str] = Field(default_factory=lambda: ["device_id", "anonymous_id"])
    source_keys: dict[str, str] = Field(default_factory=dict)
    hub_threshold: int = Field(default=8, ge=2)
    max_values: dict[str, int] = Field(default_factory=lambda: {"phone": 3, "email": 3, "wechat_openid": 4})
    unique_per_person: list[str] = Field(default_factory=lambda: ["user_id", "member_card", "national_id"])
    blocklist: list[str] = Field(
        default_factory=lambda: ["+8613800000000", "+8600000000000", "+8611111111111", "+8613888888888",
                                 "+8613900000000", "+8612345678901"]
    )
    probabilistic: ProbabilisticSettings = Field(default_factory=ProbabilisticSettings)
    survivorship: dict[str, Rule] = Field(default_factory=dict)
    source_priority: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> IdentitySettings:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        extra = set(self.source_keys.values())
        known = sorted(KNOWN_TYPES)
        for key in ("identifiers", "attach_only", "unique_per_person"):
            bad = sorted(set(getattr(self, key)) - KNOWN_TYPES - extra)
            if bad:
                problems.append(((key,), f"unknown identifier types {bad}; valid: {known}"))
        bad = sorted(set(self.max_values) - KNOWN_TYPES - extra)
        if bad:
            problems.append((("max_values",), f"unknown identifier types {bad}; valid: {known}"))
        low = {k: v for k, v in self.max_values.items() if v < 1}
        if low:
            problems.append((("max_values",), f"{low}: a limit is at least 1"))
        bad = sorted(set(self.survivorship) - set(GOLDEN_ATTRIBUTES))
        if bad:
            problems.append((("survivorship",), f"unknown attributes {bad}; valid: {list(GOLDEN_ATTRIBUTES)}"))
        bad = sorted(set(self.probabilistic.fields) - set(MATCH_FIELDS))
        if bad:
            problems.append((("probabilistic", "fields"), f"unknown fields {bad}; valid: {list(MATCH_FIELDS)}"))
        for rule in self.probabilistic.blocking:
            bad = sorted(set(rule) - set(self.probabilistic.fields))
            if bad:
                problems.append((("probabilistic", "blocking"), f"{bad} are not compared fields; "
                                 "add them to identity.probabilistic.fields"))
        if problems:
            raise ConfigProblems(problems)
        return self

    def limits(self) -> dict[str, int]:
        """Most distinct values a person may carry, per identifier type (unique types: 1)."""
        out = dict(self.max_values)
        out.update({t: 1 for t in self.unique_per_person})
        return out

    def rule_of(self, attribute: str) -> str:
        """The survivorship rule of a golden-record attribute."""
        return self.survivorship.get(attribute, DEFAULT_SURVIVORSHIP.get(attribute, "most_recent"))


DEFAULT_SURVIVORSHIP: dict[str, str] = {
    "name": "source_priority", "gender": "most_frequent", "birth_date": "most_frequent", "country": "most_frequent",
    "member_level": "source_priority", "phone": "most_recent", "email": "most_recent",
}


def parse_settings(raw: dict[str, Any] | IdentitySettings | None) -> IdentitySettings:
    """Validate the ``identity:`` section; every problem is reported at once with its key and fix.

    ``huaxiang.config.load_config`` already validates the section; a stage given the validated
    :class:`IdentitySettings` gets it back unchanged.
    """
    if isinstance(raw, IdentitySettings):
        return raw
    return validate_section(IdentitySettings, raw or {}, prefix=("identity",))


class Overrides(BaseModel):
    """Operator corrections: records forced together (``merge``) or kept apart (``split``).

    Records are named by their key ``source:source_customer_id`` so a correction survives rebuilds.
    """

    model_config = ConfigDict(extra="forbid")

    merge: list[list[str]] = Field(default_factory=list)
    split: list[dict[str, list[str]]] = Field(default_factory=list)


def load_overrides(workspace_dir: Path) -> Overrides:
    """The corrections stored in the workspace (none when the file is absent)."""
    file = Path(workspace_dir) / OVERRIDES_FILE
    if not file.exists():
        return Overrides()
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML ({exc}); fix or delete it") from None
    return validate_section(Overrides, raw, origin=str(file))


def save_overrides(workspace_dir: Path, overrides: Overrides) -> Path:
    """Write the corrections back (a readable YAML file)."""
    file = Path(workspace_dir) / OVERRIDES_FILE
    text = "# Operator corrections of the identity stage (huaxiang identity merge/split); applied on every build.\n"
    text += yaml.safe_dump(overrides.model_dump(), allow_unicode=True, sort_keys=False)
    file.write_text(text, encoding="utf-8")
    return file
