"""Turn pydantic validation errors into the project's configuration message.

Every section of ``huaxiang.yaml`` is a pydantic model; this module is the one place
that words their errors. A message names the file, then one problem per line::

    huaxiang.yaml has 2 problems:
      - models.horizon_dayz: unknown key; remove it or check its spelling (did you mean churn.horizon_days? valid keys: as_of, save, churn, clv, next_purchase, anomaly, recommend)
      - sources[0] (crm).table: unknown table 'customer'; use one of customers_raw, ...

Each line gives the key path (list items labelled by their ``name`` or ``id``), what is
wrong and, where the model declares one, the fix (a model's ``FIXES`` class variable maps a
key to its fix). For an unknown key the closest valid key is named (:mod:`difflib`),
searched at the same level first and then among the keys nested below it.

A validator that finds several problems at once raises :class:`ConfigProblems`; each of its
problems is reported under its own key path.

Examples
--------
>>> from pydantic import BaseModel, ConfigDict, ValidationError
>>> class Churn(BaseModel):
...     model_config = ConfigDict(extra="forbid")
...     horizon_days: int = 90
>>> class Models(BaseModel):
...     model_config = ConfigDict(extra="forbid")
...     churn: Churn = Churn()
>>> try:
...     Models.model_validate({"horizon_dayz": 30})
... except ValidationError as exc:
...     print(config_error(exc, Models, prefix=("models",)))
huaxiang.yaml has 1 problem:
  - models.horizon_dayz: unknown key; remove it or check its spelling (did you mean churn.horizon_days? valid keys: churn)
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from huaxiang.errors import ConfigError

__all__ = ["ConfigProblems", "closest_key", "config_error", "describe_errors", "format_location", "model_of",
           "problems_error", "recheck_without", "validate_section"]

CONFIG_FILE = "huaxiang.yaml"

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class ConfigProblems(ValueError):
    """Several problems found by one validator, each with its key path relative to the model.

    >>> ConfigProblems([(("k_min",), "k_min (6) is above k_max (4)")]).problems[0][1]
    'k_min (6) is above k_max (4)'
    """

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{format_location(loc)}: {msg}" for loc, msg in self.problems))


def _is_internal(item: str | int) -> bool:
    """Pydantic's own location steps (union members, validator wrappers), not keys of the file."""
    if isinstance(item, int):
        return False
    return item.startswith(("function-", "literal[", "list[", "tuple[", "dict[", "union[", "tagged-union[")) or item in {
        "str", "int", "float", "bool", "none", "is-instance[ColumnMap]", "[key]"}


def format_location(loc: Iterable[str | int], raw: Any = None) -> str:
    """A key path as the user wrote it: ``sources[0] (crm).columns.order_id``.

    List items are labelled with their ``name`` or ``id`` when ``raw`` (the mapping as read) has one.

    >>> format_location(("sources", 0, "table"), {"sources": [{"name": "crm"}]})
    'sources[0] (crm).table'
    >>> format_location(())
    '(top level)'
    """
    parts: list[str] = []
    node = raw
    for item in loc:
        if _is_internal(item):
            continue
        if isinstance(item, int):
            label = ""
            child = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
            if isinstance(child, Mapping):
                name = child.get("name", child.get("id"))
                label = f" ({name})" if isinstance(name, str | int) and str(name) else ""
            parts.append(f"[{item}]{label}")
            node = child
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, Mapping) else None
    return "".join(parts) or "(top level)"


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is not None:  # X | None, list[X], dict[str, X], Annotated[X, ...]
        for arg in typing.get_args(annotation):
            found = model_of(arg)
            if found is not None:
                return found
    return None


def _models_along(model: type[BaseModel], loc: Loc) -> list[tuple[type[BaseModel], str | int]]:
    """(model, key) for each key of ``loc`` that names a field of a model."""
    steps: list[tuple[type[BaseModel], str | int]] = []
    current: type[BaseModel] | None = model
    for item in loc:
        if current is None:
            break
        if isinstance(item, int) or _is_internal(item):
            continue
        steps.append((current, item))
        field = current.model_fields.get(str(item))
        current = model_of(field.annotation) if field is not None else None
    return steps


def _nested_keys(model: type[BaseModel], depth: int = 2) -> list[str]:
    """The keys below ``model``'s own, as dotted paths (``churn.horizon_days``)."""
    out: list[str] = []
    for name, field in model.model_fields.items():
        sub = model_of(field.annotation)
        if sub is not None and depth > 0:
            out += [f"{name}.{key}" for key in sub.model_fields]
            out += [f"{name}.{key}" for key in _nested_keys(sub, depth - 1) if "." in key]
    return out


def closest_key(key: str, model: type[BaseModel]) -> str | None:
    """The valid key closest to a misspelt ``key``: same level first, then the levels below.

    >>> from huaxiang.segments.settings import SegmentSettings
    >>> closest_key("clusterz", SegmentSettings), closest_key("k_mx", SegmentSettings)
    ('clusters', 'clusters.k_max')
    >>> closest_key("personas_top", SegmentSettings)
    'personas'

    """
    fields = list(model.model_fields)
    same = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    if same:
        return same[0]
    # a key cut short or run on (pii for pii_columns) is no typo difflib would rate close
    started = [f for f in fields if len(key) >= 3 and (f.startswith(key) or key.startswith(f))]
    if len(started) == 1:
        return started[0]
    nested = _nested_keys(model)
    leaves = [path.rsplit(".", 1)[-1] for path in nested]
    close = difflib.get_close_matches(key, leaves, n=1, cutoff=0.75)
    return nested[leaves.index(close[0])] if close else None


def _fix_for(model: type[BaseModel], loc: Loc) -> str | None:
    """The deepest ``FIXES`` entry along ``loc`` (a model's class variable: key -> how to fix)."""
    fix = None
    for owner, key in _models_along(model, loc):
        fixes = getattr(owner, "FIXES", None)
        if isinstance(fixes, Mapping) and key in fixes:
            fix = fixes[key]
    return fix


def _parent_model(model: type[BaseModel], loc: Loc) -> type[BaseModel]:
    """The model whose keys are valid where the last key of ``loc`` was written."""
    current = model
    for item in loc[:-1]:
        if isinstance(item, int) or _is_internal(item):
            continue
        field = current.model_fields.get(str(item))
        sub = model_of(field.annotation) if field is not None else None
        if sub is None:
            break
        current = sub
    return current


def describe_errors(exc: ValidationError, model: type[BaseModel], raw: Any = None, *,
                    prefix: Loc = (), root: Any = None) -> list[str]:
    """One line per problem of ``exc`` (raised validating ``raw`` as ``model``), each ``key path: what (fix)``.

    ``prefix`` is the key path of ``raw`` inside the file (``("models",)`` for the models section);
    ``root`` the whole file as read, when ``prefix`` runs through lists (to label their items).

    >>> from huaxiang.models.settings import ModelSettings
    >>> try:
    ...     ModelSettings.model_validate({"churn": {"horizon_days": 3}})
    ... except ValidationError as exc:
    ...     describe_errors(exc, ModelSettings, prefix=("models",))
    ['models.churn.horizon_days: Input should be greater than or equal to 7 (fix: a whole number of days between 7 and 730, e.g. 90)']
    """
    lines: list[str] = []
    if root is None:
        root = raw
        for name in reversed(prefix):
            root = {name: root} if isinstance(name, str) else None
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        error = (err.get("ctx") or {}).get("error")
        if isinstance(error, ConfigProblems):
            found = [(loc + sub, msg) for sub, msg in error.problems]
        else:
            found = [(loc, str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, "))]
        for where, msg in found:
            where_text = format_location(prefix + where, root)
            fix = _fix_for(model, where)
            if err["type"] == "extra_forbidden":
                key = str(where[-1])
                parent = _parent_model(model, where)
                near = closest_key(key, parent)
                hint = f"did you mean {near}? " if near else ""
                lines.append(f"{where_text}: unknown key; remove it or check its spelling "
                             f"({hint}valid keys: {', '.join(parent.model_fields)})")
            elif err["type"] == "missing":
                lines.append(f"{where_text}: required key is missing; add it" + (f" ({fix})" if fix else ""))
            else:
                lines.append(f"{where_text}: {msg}" + (f" (fix: {fix})" if fix and "(fix: " not in msg else ""))
    return lines


def problems_error(problems: Sequence[str], *, origin: str = CONFIG_FILE) -> ConfigError:
    """The :class:`ConfigError` listing ``problems`` (lines from :func:`describe_errors`) under ``origin``.

    >>> print(problems_error(["engine.name: Input should be 'duckdb' or 'spark'"]))
    huaxiang.yaml has 1 problem:
      - engine.name: Input should be 'duckdb' or 'spark'
    """
    n = len(problems)
    body = "\n".join(f"  - {p}" for p in problems)
    return ConfigError(f"{origin} has {n} problem{'s' if n != 1 else ''}:\n{body}")


def config_error(exc: ValidationError, model: type[BaseModel], raw: Any = None, *, prefix: Loc = (),
                 origin: str = CONFIG_FILE) -> ConfigError:
    """The :class:`ConfigError` for a failed validation of ``raw`` as ``model`` (see the module example)."""
    return problems_error(describe_errors(exc, model, raw, prefix=prefix), origin=origin)


def recheck_without(model: type[BaseModel], raw: Any, bad_keys: Iterable[Any], *, prefix: Loc = ()) -> list[str]:
    """The problems between the keys of ``raw`` once its ``bad_keys`` are left out.

    Pydantic runs a model's cross-key checks only when every key is valid, so a misspelt key
    would hide them until the next run; checking the rest again reports everything at once.
    """
    if not isinstance(raw, Mapping):
        return []
    bad = set(bad_keys)
    rest = {k: v for k, v in raw.items() if k not in bad}
    if not rest:
        return []
    try:
        model.model_validate(rest)
    except ValidationError as exc:
        return describe_errors(exc, model, rest, prefix=prefix)
    return []


def validate_section(model: type[M], raw: Any, *, prefix: Loc = (), origin: str = CONFIG_FILE) -> M:
    """``raw`` validated as ``model``, or a :class:`ConfigError` listing every problem of it.

    >>> from huaxiang.segments.settings import SegmentSettings
    >>> validate_section(SegmentSettings, {"cells": {"split": "median"}}, prefix=("segments",)).cells.split
    'median'
    """
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = describe_errors(exc, model, raw, prefix=prefix)
        bad = {err["loc"][0] for err in exc.errors() if err["loc"]}
        problems += [p for p in recheck_without(model, raw, bad, prefix=prefix) if p not in problems]
        raise problems_error(problems, origin=origin) from None
