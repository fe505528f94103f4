"""Assign tags to persons: every spec's rule over a features table, one set-based query.

Examples
--------
>>> import ibis
>>> from huaxiang.tags.specs import TagSpec
>>> features = ibis.memtable({"person_id": ["a", "b"], "spend_365d": [8000.0, 300.0]})
>>> specs = [TagSpec(id="big", name_zh="大客户", name_en="Big", rule="spend_365d >= 5000", group="tier",
...                  priority=2),
...          TagSpec(id="any", name_zh="有消费", name_en="Any", rule="spend_365d > 0", group="tier", priority=1)]
>>> assign_tags(features, specs).order_by("person_id").to_pandas().values.tolist()
[['a', 'big', 'spend_365d = 8000.0 ≥ 5000'], ['b', 'any', 'spend_365d = 300.0 > 0']]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import ibis
import ibis.expr.types as ir

from huaxiang.tags.compile import compile_rule, reason_expr
from huaxiang.tags.specs import TagSpec

#: Columns of :func:`assign_tags`' result.
ASSIGNED_COLUMNS = ("person_id", "tag_id", "reason")


def assign_tags(features: ir.Table, specs: Sequence[TagSpec], *,
                person_ids: Collection[str] | None = None) -> ir.Table:
    """Which person has which tag, and why: ``(person_id, tag_id, reason)``.

    A rule that is NULL for a person (a value it needs is missing) does not tag them. Within a
    ``group`` a person keeps only the matching tag of highest priority (ties: smaller id).
    Disabled specs are skipped.

    Parameters
    ----------
    features
        One row per ``person_id`` with the columns the rules name (any table: the stored
        ``features``, an incremental recompute, a hand-made memtable).
    specs
        The tags (see :func:`~huaxiang.tags.specs.resolve_tag_specs`).
    person_ids
        Only these persons (the incremental path); the result equals the full result restricted
        to them.

    Returns
    -------
    ibis.Table
        ``person_id``, ``tag_id``, ``reason`` (text such as ``share_night_orders = 0.8 ≥ 0.5``).

    Raises
    ------
    RuleError
        When a rule names a column the table lacks or mixes types.

    Examples
    --------
    >>> import ibis
    >>> from huaxiang.tags.specs import TagSpec
    >>> f = ibis.memtable({"person_id": ["a", "b"], "share_night_orders": [0.8, None]})
    >>> spec = TagSpec(id="night_owl", name_zh="夜猫子", name_en="Night owl", rule="share_night_orders >= 0.5")
    >>> assign_tags(f, [spec], person_ids=["b"]).count().execute()
    0
    """
    if person_ids is not None:
        features = features.filter(features.person_id.isin(list(person_ids)))
    enabled = [spec for spec in specs if spec.enabled]
    rules = {spec.id: spec.parsed(features.columns) for spec in enabled}
    matches = {spec.id: compile_rule(rules[spec.id], features).fill_null(False) for spec in enabled}
    # Within a group a tag holds only where no tag ranked above it matches: a per-row condition,
    # so no window over the tagged rows (a window sorts them all: bench/README.md).
    ranked = sorted((s for s in enabled if s.group), key=lambda s: (s.group, -s.priority, s.id))
    beaten: dict[str, list[str]] = {}
    for i, spec in enumerate(ranked):
        beaten[spec.id] = [s.id for s in ranked[:i] if s.group == spec.group]
    parts: list[ir.Table] = []
    for spec in enabled:
        condition = matches[spec.id]
        for better in beaten.get(spec.id, []):
            condition = condition & ~matches[better]
        matched = features.filter(condition)
        parts.append(matched.select(
            person_id=matched.person_id.cast("string"),
            tag_id=ibis.literal(spec.id, "string"),
            reason=reason_expr(rules[spec.id], matched).cast("string"),
        ))
    if not parts:
        empty = features.select(person_id=features.person_id.cast("string"),
                                tag_id=ibis.null("string"), reason=ibis.null("string"))
        return empty.filter(ibis.literal(False))
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
