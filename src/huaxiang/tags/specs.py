"""Tag specifications: the built-in library plus the ``tags:`` section of ``huaxiang.yaml``.

::

    tags:
      builtin: true                 # start from the built-in library (default true)
      define:
        - id: vip                   # a new tag: id, names and rule are required
          name_zh: 至尊会员
          name_en: VIP
          rule: spend_365d >= 20000 and orders_365d >= 6
          description_zh: 近一年消费两万以上
          description_en: 20,000+ spent in the last year
          group: value_tier         # one tag per group: the highest priority that matches
          priority: 4
        - id: night_owl             # override a built-in: only the keys given change
          rule: orders_total >= 8 and share_night_orders >= 0.6
        - id: gen_z
          enabled: false            # switch a built-in off

Every problem (a missing key, an unknown key, a rule that does not parse or names an unknown
feature) is collected and raised at once as :class:`~huaxiang.errors.ConfigError`, each naming the
key and the fix.

Examples
--------
>>> specs = resolve_tag_specs({"define": [{"id": "night_owl", "rule": "share_night_orders >= 0.7"}]})
>>> next(s for s in specs if s.id == "night_owl").rule
'share_night_orders >= 0.7'
>>> resolve_tag_specs({"define": [{"id": "vip", "name_zh": "至尊", "rule": "spend_365d >= 2e4"}]})
Traceback (most recent call last):
...
huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem in tags:
  - tags.define[0] (vip).name_en: required key is missing; add it (a new tag needs id, name_zh, name_en and rule)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huaxiang.errors import ConfigError, RuleError
from huaxiang.tags.library import BUILTIN_TAGS, FEATURE_NAMES
from huaxiang.tags.rules import Rule, parse_rule

_ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class TagSpec(BaseModel):
    """One tag: who gets it (``rule``) and how it is called (zh/en).

    ``group`` makes tags mutually exclusive: a person gets only the matching tag of highest
    ``priority`` in a group (ties: the smaller id). ``category`` only groups tags for display.

    >>> spec = TagSpec(id="vip", name_zh="至尊会员", name_en="VIP", rule="spend_365d >= 20000")
    >>> spec.parsed().columns()
    ['spend_365d']
    >>> spec.name("zh"), spec.description("en")
    ('至尊会员', '')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN, max_length=64)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    description_zh: str = ""
    description_en: str = ""
    priority: int = 0
    group: str | None = Field(default=None, pattern=_ID_PATTERN)
    category: str = "custom"
    enabled: bool = True

    def parsed(self, columns: Collection[str] | None = None) -> Rule:
        """The parsed rule (names checked against ``columns`` when given)."""
        return parse_rule(self.rule, columns=columns)

    def name(self, lang: str = "zh") -> str:
        """The display name in ``lang`` (``zh`` or ``en``)."""
        return self.name_en if lang == "en" else self.name_zh

    def description(self, lang: str = "zh") -> str:
        """The description in ``lang`` (``zh`` or ``en``)."""
        return self.description_en if lang == "en" else self.description_zh


class TagSettings(BaseModel):
    """The ``tags:`` section: whether to start from the built-ins, and the workspace's own tags."""

    model_config = ConfigDict(extra="forbid")

    builtin: bool = True
    define: list[Any] = Field(default_factory=list)


def builtin_specs() -> list[TagSpec]:
    """The built-in library as :class:`TagSpec` objects.

    >>> len(builtin_specs()) >= 20
    True
    """
    return [TagSpec.model_validate(t) for t in BUILTIN_TAGS]


def _fix(err: Mapping[str, Any], new_tag: bool) -> str:
    kind, msg = err["type"], str(err["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        extra = " (a new tag needs id, name_zh, name_en and rule)" if new_tag else ""
        return f"required key is missing; add it{extra}"
    if kind == "extra_forbidden":
        allowed = ", ".join(TagSpec.model_fields)
        return f"unknown key; remove it or check its spelling (keys: {allowed})"
    if kind == "string_pattern_mismatch":
        return f"{msg}; use lower-case letters, digits and _ starting with a letter, e.g. high_value"
    return msg


def resolve_tag_specs(raw: Mapping[str, Any] | None = None, *, columns: Collection[str] | None = None,
                      origin: str = "huaxiang.yaml", include_disabled: bool = False) -> list[TagSpec]:
    """The tags of a workspace: the built-ins (unless ``builtin: false``) with the ``define`` entries
    added or merged over them; disabled tags dropped unless ``include_disabled``.

    Parameters
    ----------
    raw
        The ``tags:`` mapping of huaxiang.yaml (``WorkspaceConfig.tags``).
    columns
        Valid feature names for the rules (default: the contract's :data:`FEATURE_NAMES`).
    origin
        The file named in error messages.
    include_disabled
        Keep tags with ``enabled: false`` (for listing).

    Raises
    ------
    ConfigError
        Listing every problem, each with its key and fix.

    Examples
    --------
    >>> ids = [s.id for s in resolve_tag_specs({"builtin": False, "define": [
    ...     {"id": "vip", "name_zh": "至尊", "name_en": "VIP", "rule": "spend_365d >= 20000"}]})]
    >>> ids
    ['vip']
    """
    columns = FEATURE_NAMES if columns is None else columns
    problems: list[str] = []
    given = dict(raw or {})
    try:
        settings = TagSettings.model_validate(given)
    except ValidationError as exc:
        for err in exc.errors():
            where = "tags." + ".".join(str(p) for p in err["loc"])
            problems.append(f"  - {where}: {_fix(err, False)}")
        builtin, define = given.get("builtin", True), given.get("define", [])
        settings = TagSettings(builtin=builtin if isinstance(builtin, bool) else True,
                               define=define if isinstance(define, list) else [])
    merged: dict[str, dict[str, Any]] = {}
    builtin_ids: set[str] = set()
    if settings.builtin:
        for t in BUILTIN_TAGS:
            merged[t["id"]] = dict(t)
            builtin_ids.add(t["id"])
    seen: set[str] = set()
    for i, entry in enumerate(settings.define):
        label = f"tags.define[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"  - {label}: each tag is a mapping with id, name_zh, name_en and rule")
            continue
        tag_id = entry.get("id")
        if not isinstance(tag_id, str) or not tag_id:
            problems.append(f"  - {label}.id: required key is missing; give the tag an id, e.g. id: vip")
            continue
        label += f" ({tag_id})"
        if tag_id in seen:
            problems.append(f"  - {label}.id: {tag_id!r} is defined twice; merge the two entries")
            continue
        seen.add(tag_id)
        base = merged.get(tag_id, {}) if tag_id in builtin_ids else {}
        candidate = {**base, **entry}
        try:
            spec = TagSpec.model_validate(candidate)
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"])
                problems.append(f"  - {label}.{key}: {_fix(err, not base)}")
            continue
        try:
            spec.parsed(columns)
        except RuleError as exc:
            problems.append(f"  - {label}.rule: " + str(exc).replace("\n", "\n    "))
            continue
        merged[tag_id] = spec.model_dump()
    if problems:
        n = len(problems)
        raise ConfigError(f"{origin} has {n} problem{'s' if n != 1 else ''} in tags:\n" + "\n".join(problems))
    specs = [TagSpec.model_validate(v) for v in merged.values()]
    return [s for s in specs if include_disabled or s.enabled]
