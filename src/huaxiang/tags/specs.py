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

A bare list under ``tags:`` is short for ``define:`` with the built-ins kept. The keys are checked
when huaxiang.yaml is loaded (:class:`TagSettings`, :class:`TagEntry`); what a new tag lacks and
whether its rule parses (:mod:`huaxiang.tags.rules`) are checked by :func:`resolve_tag_specs`,
which :func:`huaxiang.config.parse_config` also calls. Every problem (a missing key, an unknown
key, a rule that does not parse or names an unknown feature) is collected and raised at once as
:class:`~huaxiang.errors.ConfigError`, each naming the key and the fix.

Examples
--------
>>> specs = resolve_tag_specs({"define": [{"id": "night_owl", "rule": "share_night_orders >= 0.7"}]})
>>> next(s for s in specs if s.id == "night_owl").rule
'share_night_orders >= 0.7'
>>> resolve_tag_specs({"define": [{"id": "vip", "name_zh": "至尊", "rule": "spend_365d >= 2e4"}]})
Traceback (most recent call last):
...
huaxiang.errors.ConfigError: huaxiang.yaml has 1 problem:
  - tags.define[0] (vip).name_en: required key is missing; add it (a new tag needs id, name_zh, name_en and rule)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from huaxiang.config_errors import describe_errors, problems_error
from huaxiang.errors import RuleError
from huaxiang.tags.library import BUILTIN_TAGS, FEATURE_NAMES
from huaxiang.tags.rules import Rule, parse_rule

_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
_ID_FIX = "use lower-case letters, digits and _ starting with a letter, e.g. high_value"
_NEW_TAG = "a new tag needs id, name_zh, name_en and rule"


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

    FIXES: ClassVar[dict[str, str]] = {
        "id": _ID_FIX, "group": _ID_FIX, "name_zh": _NEW_TAG, "name_en": _NEW_TAG, "rule": _NEW_TAG,
    }

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


class TagEntry(BaseModel):
    """One entry of ``tags.define``: a new tag (id, names and rule required) or a change to a built-in
    (only the keys given change). Keys are checked here; what a new tag lacks is checked when the
    entries are merged over the built-ins (:func:`resolve_tag_specs`).

    >>> TagEntry(id="night_owl", enabled=False).model_dump(exclude_unset=True)
    {'id': 'night_owl', 'enabled': False}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    FIXES: ClassVar[dict[str, str]] = TagSpec.FIXES

    id: str = Field(pattern=_ID_PATTERN, max_length=64)
    name_zh: str | None = Field(default=None, min_length=1)
    name_en: str | None = Field(default=None, min_length=1)
    rule: str | None = Field(default=None, min_length=1)
    description_zh: str | None = None
    description_en: str | None = None
    priority: int | None = None
    group: str | None = Field(default=None, pattern=_ID_PATTERN)
    category: str | None = None
    enabled: bool | None = None


class TagSettings(BaseModel):
    """The ``tags:`` section: whether to start from the built-ins, and the workspace's own tags.

    A bare list is short for ``{define: [...]}``.

    >>> TagSettings.model_validate([{"id": "gen_z", "enabled": False}]).define[0].id
    'gen_z'
    """

    model_config = ConfigDict(extra="forbid")

    builtin: bool = True
    define: list[TagEntry] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"define": value} if isinstance(value, list) else value

    def as_mapping(self) -> dict[str, Any]:
        """The section as written: ``{"builtin": ..., "define": [only the keys each entry gives]}``."""
        return {"builtin": self.builtin, "define": [e.model_dump(exclude_unset=True) for e in self.define]}

    def get(self, key: str, default: Any = None) -> Any:
        """Read the section like the mapping it was before it was typed (``tags.get("define", [])``)."""
        return self.as_mapping().get(key, default)


def builtin_specs() -> list[TagSpec]:
    """The built-in library as :class:`TagSpec` objects.

    >>> len(builtin_specs()) >= 20
    True
    """
    return [TagSpec.model_validate(t) for t in BUILTIN_TAGS]


def resolve_tag_specs(raw: Mapping[str, Any] | list[Any] | TagSettings | None = None, *,
                      columns: Collection[str] | None = None, origin: str = "huaxiang.yaml",
                      include_disabled: bool = False) -> list[TagSpec]:
    """The tags of a workspace: the built-ins (unless ``builtin: false``) with the ``define`` entries
    added or merged over them; disabled tags dropped unless ``include_disabled``.

    Parameters
    ----------
    raw
        The ``tags:`` section of huaxiang.yaml (``WorkspaceConfig.tags``), validated or as read.
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
    given: Any = raw.as_mapping() if isinstance(raw, TagSettings) else ({"define": raw} if isinstance(raw, list)
                                                                        else dict(raw or {}))
    settings = TagSettings(builtin=given.get("builtin", True) is not False)
    define = given.get("define", [])
    define = define if isinstance(define, list) else []
    # keys are checked entry by entry below, where the built-in an entry changes is known
    top = {k: v for k, v in given.items() if k != "define"}
    try:
        settings = TagSettings.model_validate(top)
    except ValidationError as exc:
        problems += describe_errors(exc, TagSettings, top, prefix=("tags",))
    if "define" in given and not isinstance(given["define"], list):
        problems.append("tags.define: expected a list of tags (fix: write one '- id: ...' entry per tag)")
    root = {"tags": {"define": define}}
    merged: dict[str, dict[str, Any]] = {}
    builtin_ids: set[str] = set()
    if settings.builtin:
        for t in BUILTIN_TAGS:
            merged[t["id"]] = dict(t)
            builtin_ids.add(t["id"])
    seen: set[str] = set()
    for i, entry in enumerate(define):
        label = f"tags.define[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{label}: each tag is a mapping with id, name_zh, name_en and rule")
            continue
        tag_id = entry.get("id")
        if not isinstance(tag_id, str) or not tag_id:
            problems.append(f"{label}.id: required key is missing; give the tag an id, e.g. id: vip")
            continue
        label += f" ({tag_id})"
        if tag_id in seen:
            problems.append(f"{label}.id: {tag_id!r} is defined twice; merge the two entries")
            continue
        seen.add(tag_id)
        base = merged.get(tag_id, {}) if tag_id in builtin_ids else {}
        candidate = {**base, **entry}
        try:
            spec = TagSpec.model_validate(candidate)
        except ValidationError as exc:
            problems += describe_errors(exc, TagSpec, candidate, prefix=("tags", "define", i), root=root)
            continue
        try:
            spec.parsed(columns)
        except RuleError as exc:
            problems.append(f"{label}.rule: " + str(exc).replace("\n", "\n    "))
            continue
        merged[tag_id] = spec.model_dump()
    if problems:
        raise problems_error(problems, origin=origin)
    specs = [TagSpec.model_validate(v) for v in merged.values()]
    return [s for s in specs if include_disabled or s.enabled]
