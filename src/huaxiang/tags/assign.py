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
    parts: list[ir.Table] = []
    for spec in specs:
        if not spec.enabled:
            continue
        rule = spec.parsed(features.columns)
        matched = features.filter(compile_rule(rule, features).fill_null(False))
        parts.append(matched.select(
            person_id=matched.person_id.cast("string"),
            tag_id=ibis.literal(spec.id, "string"),
            reason=reason_expr(rule, matched).cast("string"),
            _group=ibis.literal(spec.group, "string"),
            _priority=ibis.literal(spec.priority, "int64"),
        ))
    if not parts:
        empty = features.select(person_id=features.person_id.cast("string"),
                                tag_id=ibis.null("string"), reason=ibis.null("string"))
        return empty.filter(ibis.literal(False))
    tagged = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    if any(s.group for s in specs if s.enabled):
        w = ibis.window(group_by=[tagged.person_id, tagged._group],
                        order_by=[ibis.desc(tagged._priority), tagged.tag_id])
        ranked = tagged.mutate(_rank=ibis.row_number().over(w))
        tagged = ranked.filter(ranked._group.isnull() | (ranked._rank == 0))
    return tagged.select(*ASSIGNED_COLUMNS)
