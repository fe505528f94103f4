"""Probabilistic matching with Splink on the engine's own connection (DuckDB or Spark).

A :class:`MatchSpec` names the fields to compare and how (``name``, ``text``, ``date``, ``code``,
``phone``, ``email``, ``number``, ``exact``); :func:`match_pairs` trains a Fellegi–Sunter model on the
data at hand (u by random sampling, m by expectation maximisation over several blocking rules, as
Splink recommends) and returns the scored pairs above a threshold; :func:`dedupe_table` clusters them
into ``record_id, cluster_id``. Nothing is hand-tuned per data set: when no blocking rules are given
they are chosen from the data (:func:`choose_blocking_rules`), keeping every rule's pair count within a
budget.

What keeps precision as the population grows:

- every level's m is learned, and a disagreeing strong field (phone, e-mail, birth date, ID) gets
  the large negative weight EM finds for it; an m that EM drove to zero (a level never seen among
  the matches of a small file) is floored at :data:`M_FLOOR`, so one disagreement weighs a finite
  ~-10 bits instead of making the pair impossible (or crashing on ``log2(0)``);
- exact agreement on a name, city or code is term-frequency adjusted: two 李伟 agreeing says less
  than two 欧阳婧;
- the prior (probability that two random records match) is estimated only from *selective* rules
  — those generating fewer pairs than there are records — so it falls as 1/N with the population,
  and a pair needs a Bayes factor that grows with N to pass the threshold; with no selective pair at
  all it is one pair in the whole file, never zero.

Splink 5 is used through its public API only: ``DuckDBAPI(connection)`` / ``SparkAPI(spark_session=)``,
``Linker``, ``SettingsCreator``, ``block_on`` and the comparison-level library.

Examples
--------
>>> import ibis
>>> from huaxiang.engine import create_engine
>>> eng = create_engine("duckdb")
>>> t = eng.materialize("people", ibis.memtable({
...     "rid": [str(i) for i in range(8)],
...     "name": ["anna smith", "anna smyth", "bob jones", "bob jones", "carl diaz", "dora lee",
...              "ed kim", "fay wu"],
...     "dob": ["1980-01-02", "1980-01-02", "1975-05-05", "1975-05-05", "1990-09-09", "1991-01-01",
...             "1970-03-03", "1985-04-04"]}))
>>> spec = MatchSpec(fields=[FieldSpec("name", "name"), FieldSpec("dob", "date")])
>>> spec.fields[0].kind
'name'
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from huaxiang.engine.base import Engine
from huaxiang.errors import ConfigError

FieldKind = Literal["name", "text", "date", "code", "phone", "email", "number", "exact"]
KINDS: tuple[str, ...] = ("name", "text", "date", "code", "phone", "email", "number", "exact")
#: Smallest m probability of a level: EM puts m = 0 on a level never seen among the matches of the
#: training pairs, which would make one disagreement (or one typo) rule a pair out entirely.
M_FLOOR = 1e-3
#: Share of the true matches a selective blocking rule is assumed to catch when estimating the prior.
RECALL = 0.9

#: Unique-id column name the Splink input tables carry.
UID = "unique_id"


@dataclass(frozen=True)
class FieldSpec:
    """One compared field and how it is compared.

    ``name``: exact, Jaro–Winkler ≥ 0.92, ≥ 0.8; ``text``: exact, Damerau–Levenshtein ≤ 1, Jaro–Winkler
    ≥ 0.9, ≥ 0.7; ``date`` and ``code``: exact, one typo (Damerau–Levenshtein ≤ 1), two; ``phone``,
    ``email`` and ``number``: exact, one typo; ``exact``: equal or not. Exact levels are
    term-frequency adjusted (a rare surname agreeing weighs more), except e-mail and phone, whose
    values are nearly unique anyway.
    """

    column: str
    kind: FieldKind = "text"
    term_frequency: bool = True


@dataclass
class MatchSpec:
    """What to compare, how to block, where to cut.

    ``blocking`` lists blocking rules as column groups (``[["surname", "dob"], ["phone_tail"]]``);
    empty means chosen from the data. ``threshold`` is the match probability a pair needs.
    """

    fields: list[FieldSpec]
    blocking: list[list[str]] = field(default_factory=list)
    threshold: float = 0.95
    max_pairs_per_rule: int | None = None
    seed: int = 42
    u_max_pairs: float = 1e6
    em_max_pairs: float | None = 2e6

    def __post_init__(self) -> None:
        if not self.fields:
            raise ConfigError("probabilistic matching needs at least one field to compare (fields: [...])")
        bad = [f.kind for f in self.fields if f.kind not in KINDS]
        if bad:
            raise ConfigError(f"unknown field kind(s) {bad}; valid kinds: {list(KINDS)}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold {self.threshold}: a match probability strictly between 0 and 1")


def _comparison(spec: FieldSpec) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    c = spec.column
    tf = spec.term_frequency and spec.kind not in ("phone", "email")
    levels: list[Any] = [cll.NullLevel(c), cll.ExactMatchLevel(c, term_frequency_adjustments=tf)]
    if spec.kind == "name":
        levels += [cll.JaroWinklerLevel(c, 0.92), cll.JaroWinklerLevel(c, 0.8)]
    elif spec.kind == "text":
        levels += [cll.DamerauLevenshteinLevel(c, 1), cll.JaroWinklerLevel(c, 0.9), cll.JaroWinklerLevel(c, 0.7)]
    elif spec.kind in ("date", "code"):
        levels += [cll.DamerauLevenshteinLevel(c, 1), cll.DamerauLevenshteinLevel(c, 2)]
    elif spec.kind in ("phone", "email", "number"):
        levels += [cll.DamerauLevenshteinLevel(c, 1)]
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(comparison_levels=levels, output_column_name=c)


def pair_counts(engine: Engine, table: ir.Table, columns: Sequence[str]) -> int:
    """Pairs a blocking rule on ``columns`` generates (records agreeing on all of them, NULLs never agree)."""
    t = table.filter([table[c].notnull() for c in columns])
    g = t.group_by(list(columns)).aggregate(n=t.count())
    return int(engine.execute((g.n * (g.n - 1) / 2).sum().fill_null(0)))


def choose_blocking_rules(engine: Engine, table: ir.Table, columns: Sequence[str], *,
                          max_pairs: int | None = None) -> list[list[str]]:
    """Blocking rules chosen from the data: every single field whose pairs fit ``max_pairs`` (default
    ``max(20 × records, 10 000)``), then pairs of the remaining fields that fit.

    >>> import ibis
    >>> from huaxiang.engine import create_engine
    >>> eng = create_engine("duckdb")
    >>> t = ibis.memtable({"a": ["x"] * 50 + ["y"] * 50, "b": [str(i % 10) for i in range(100)],
    ...                    "c": [str(i) for i in range(100)]})
    >>> choose_blocking_rules(eng, t, ["a", "b", "c"], max_pairs=300)  # 'a' and 'b' alone are too coarse
    [['c'], ['a', 'b']]
    """
    n = int(engine.execute(table.count()))
    budget = max_pairs if max_pairs is not None else max(20 * n, 10_000)
    counts = {c: pair_counts(engine, table, [c]) for c in columns}
    singles = [c for c in columns if counts[c] <= budget]
    rest = [c for c in columns if c not in singles]
    rules = [[c] for c in singles]
    for a, b in itertools.combinations(rest, 2):
        if pair_counts(engine, table, [a, b]) <= budget:
            rules.append([a, b])
    if not rules:  # everything is low-cardinality: block on all fields together
        rules.append(list(columns))
    return rules


@dataclass
class MatchResult:
    """Scored pairs (``unique_id_l, unique_id_r, match_weight, match_probability``) and the trained model."""

    pairs: ir.Table
    model: dict[str, Any]
    blocking: list[list[str]]
    linker: Any = None
    seconds: dict[str, float] = field(default_factory=dict)


def match_pairs(engine: Engine, tables: Sequence[str], spec: MatchSpec, *, link_only: bool = False) -> MatchResult:
    """Train a Splink model on the named tables and score the blocked pairs above ``spec.threshold``.

    Each table must have a ``unique_id`` column and the spec's fields. One table: dedupe; two
    tables: ``link_only=True`` links across them only, else links and dedupes.
    """
    from splink import Linker, SettingsCreator, block_on

    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    api = engine.splink_db_api()
    inputs = [api.register(t, dataset_display_name=t) for t in tables]
    cols = [f.column for f in spec.fields]
    stacked = ibis.union(*[engine.table(t).select(*cols) for t in tables], distinct=False)
    rules = spec.blocking or choose_blocking_rules(engine, stacked, cols, max_pairs=spec.max_pairs_per_rule)
    counted: dict[tuple[str, ...], int] = {}

    def pairs_of(rule: Sequence[str]) -> int:
        if tuple(rule) not in counted:
            counted[tuple(rule)] = pair_counts(engine, stacked, rule)
        return counted[tuple(rule)]

    lap("blocking_rules")
    link_type = "dedupe_only" if len(tables) == 1 else ("link_only" if link_only else "link_and_dedupe")
    settings = SettingsCreator(
        link_type=link_type,  # type: ignore[arg-type]
        unique_id_column_name=UID,
        comparisons=[_comparison(f) for f in spec.fields],
        blocking_rules_to_generate_predictions=[block_on(*r) for r in rules],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(inputs if len(inputs) > 1 else inputs[0], settings, log_level=None)
    sizes = [int(engine.execute(engine.table(t).count())) for t in tables]
    n = sum(sizes)
    total = sizes[0] * sizes[1] if link_type == "link_only" else n * (n - 1) // 2
    floor = 1.0 / max(total, 1)  # one matching pair in the whole input
    selective = _selective_rules(pairs_of, rules, cols, n)
    prior = floor
    if selective:
        # pairs agreeing on a rule that is rarer than the records themselves are mostly true matches
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*r) for r in selective], recall=RECALL)
        prior = max(float(linker.misc.save_model_to_json()["probability_two_random_records_match"]), floor)
    lap("prior")
    linker.training.estimate_u_using_random_sampling(max_pairs=spec.u_max_pairs, seed=spec.seed,
                                                     min_count_per_level=None, num_chunks=1)
    lap("u")
    by_pairs = sorted(rules, key=len)
    trained: set[str] = set()
    for rule in by_pairs:
        if trained >= set(cols) and len(trained) > 0:
            break
        if set(rule) >= set(cols) or pairs_of(rule) == 0:  # nothing to train on
            continue
        before = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), estimate_without_term_frequencies=True, max_pairs=spec.em_max_pairs)
        except Exception as exc:
            # a rule with too few pairs cannot train (a level never seen so m underflows to 0 on a small
            # data set); the other rules train those parameters. A failed session can leave the linker's
            # settings half-changed, so training goes on from the model as it was before it.
            text = str(exc).lower()
            if not any(k in text for k in ("no comparisons", "no record pairs", "empty", "below the minimum allowed")):
                raise
            linker = Linker(inputs if len(inputs) > 1 else inputs[0], before, log_level=None)
            continue
        trained |= {c for c in cols if c not in rule}
    lap("em")
    model = _regularised(linker.misc.save_model_to_json(), prior, min(spec.u_max_pairs, total))
    linker = Linker(inputs if len(inputs) > 1 else inputs[0], model, log_level=None)
    predictions = linker.inference.predict(threshold_match_probability=spec.threshold)
    lap("predict")
    pairs = engine.connection_table(predictions.physical_name)
    return MatchResult(pairs=pairs, model=model, blocking=rules, linker=linker, seconds=seconds)


def _selective_rules(pairs_of: Callable[[Sequence[str]], int], rules: Sequence[Sequence[str]],
                     cols: Sequence[str], n: int) -> list[list[str]]:
    """Rules fit to estimate the prior: each generates some pairs but fewer than there are records
    (a rule agreeing for more pairs than records mostly pairs strangers: a common name, a city); when
    none is, all compared fields agreeing together, if that is selective."""
    out = [list(r) for r in rules if 0 < pairs_of(r) <= n]
    if not out and len(cols) > 1 and 0 < pairs_of(cols) <= n:
        out = [list(cols)]
    return out


def _regularised(model: dict[str, Any], prior: float, sampled: float) -> dict[str, Any]:
    """The trained model with the prior set, every level's m at least :data:`M_FLOOR`, and u freed of
    the matches that random sampling drew.

    m: a comparison EM never trained (a single compared field: every rule blocks on it) gets
    :data:`RECALL` on its exact level, the share of matches the prior assumed agree on a rule; a level
    of a trained comparison left without m (never seen among matches) gets the floor.
    u: random pairs include true matches with probability ``prior``, so a level's sampled share is
    ``prior·m + (1 − prior)·u``; solved for u (at least half a pair among the ``sampled`` pairs). On
    a small file, where sampling sees every pair, this is what lets one shared phone count: else its
    own match makes agreement look as common among strangers as among matches.
    """
    model = dict(model, probability_two_random_records_match=prior)
    least_u = 0.5 / max(sampled, 1.0)
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        raw = [lv.get("m_probability") for lv in levels]
        if any(isinstance(m, int | float) for m in raw):
            ms = [max(float(m) if isinstance(m, int | float) else 0.0, M_FLOOR) for m in raw]
        else:  # untrained: matches agree exactly as often as the prior assumed, the rest spread evenly
            ms = [RECALL] + [(1.0 - RECALL) / max(len(levels) - 1, 1)] * (len(levels) - 1)
        for lv, m in zip(levels, ms, strict=True):
            lv["m_probability"] = m / sum(ms)
        us = [lv.get("u_probability") for lv in levels]
        if any(isinstance(u, int | float) for u in us):
            # a level no sampled pair showed: less than one pair in the sample
            fixed = [max((float(u) - prior * float(lv.get("m_probability") or 0.0)) / (1.0 - prior), least_u)
                     if isinstance(u, int | float) else least_u for u, lv in zip(us, levels, strict=True)]
            for lv, u in zip(levels, fixed, strict=True):
                lv["u_probability"] = u / sum(fixed)
    return model

def dedupe_table(engine: Engine, tables: Sequence[str], spec: MatchSpec, *, link_only: bool = False) -> ir.Table:
    """Cluster the records of ``tables`` into ``record_id, cluster_id`` (plus ``source_dataset`` when linking).

    The cluster id is the smallest record id of the cluster, so it is stable and readable.
    """
    from huaxiang.identity.graph import connected_components

    result = match_pairs(engine, tables, spec, link_only=link_only)
    multi = len(tables) > 1
    parts = []
    for i, t in enumerate(tables):
        tb = engine.table(t)
        key = (ibis.literal(f"{t}\x1f") + tb[UID].cast("string")) if multi else tb[UID].cast("string")
        parts.append(tb.select(record_key=key, record_id=tb[UID].cast("string"),
                               dataset=ibis.literal(i)))
    records = engine.materialize("_hx_dd_records", ibis.union(*parts, distinct=False), temp=True)
    p = result.pairs
    if multi:
        left = ibis.literal("") + p.source_dataset_l + "\x1f" + p.unique_id_l.cast("string")
        right = ibis.literal("") + p.source_dataset_r + "\x1f" + p.unique_id_r.cast("string")
    else:
        left, right = p.unique_id_l.cast("string"), p.unique_id_r.cast("string")
    pair_id = "pair\x1f" + left + "\x1f" + right
    edges = ibis.union(p.select(record_key=left, identifier_type=ibis.literal("splink"), identifier_value=pair_id),
                       p.select(record_key=right, identifier_type=ibis.literal("splink"), identifier_value=pair_id),
                       distinct=False)
    labels = connected_components(engine, edges, records.select("record_key"), prefix="_hx_dd")
    out = records.inner_join(labels, "record_key")
    first = out.group_by("label").aggregate(
        cluster_id=out.record_key.min().replace("\x1f", ":") if multi else out.record_id.min())
    out = out.inner_join(first, "label")
    cols: dict[str, Any] = {"record_id": out.record_id, "cluster_id": out.cluster_id}
    if multi:
        cols["dataset"] = out.dataset
    return out.select(**cols)


def pairwise_scores(truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against true clusters (same record order).

    >>> pairwise_scores(["a", "a", "b", "b"], [1, 1, 1, 2])
    (0.3333333333333333, 0.5, 0.4)
    """
    import pandas as pd

    frame = pd.DataFrame({"t": list(truth), "p": list(predicted)}).astype(str)

    def pairs(s: pd.Series) -> int:
        n = s.value_counts()
        return int((n * (n - 1) // 2).sum())

    tp = pairs(frame.t + "\x1f" + frame.p)
    precision = tp / max(pairs(frame.p), 1)
    recall = tp / max(pairs(frame.t), 1)
    f1 = 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def match_weight_to_probability(weight: float) -> float:
    """Match probability of a Splink match weight (log2 Bayes factor).

    >>> round(match_weight_to_probability(0.0), 3)
    0.5
    """
    return 1.0 / (1.0 + math.pow(2.0, -weight))
