"""Probabilistic matching with Splink on the engine's own connection (DuckDB or Spark).

A :class:`MatchSpec` names the fields to compare and how (``name``, ``text``, ``date``, ``code``,
``exact``); :func:`match_pairs` trains a Fellegi–Sunter model on the data at hand (u by random
sampling, m by expectation maximisation over several blocking rules, as Splink recommends) and
returns the scored pairs above a threshold; :func:`dedupe_table` clusters them into
``record_id, cluster_id``. Nothing is hand-tuned per data set: when no blocking rules are given they
are chosen from the data (:func:`choose_blocking_rules`), keeping every rule's pair count within a
budget.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from huaxiang.engine.base import Engine
from huaxiang.errors import ConfigError

FieldKind = Literal["name", "text", "date", "code", "exact"]
KINDS: tuple[str, ...] = ("name", "text", "date", "code", "exact")

#: Unique-id column name the Splink input tables carry.
UID = "unique_id"


@dataclass(frozen=True)
class FieldSpec:
    """One compared field and how it is compared.

    ``name``: exact, Jaro–Winkler ≥ 0.92, ≥ 0.8; ``text``: exact, Damerau–Levenshtein ≤ 1, Jaro–Winkler
    ≥ 0.9, ≥ 0.7; ``date`` and ``code``: exact, one typo (Damerau–Levenshtein ≤ 1), two; ``exact``:
    equal or not. Exact levels are term-frequency adjusted (a rare surname agreeing weighs more).
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
    levels: list[Any] = [cll.NullLevel(c), cll.ExactMatchLevel(c, term_frequency_adjustments=spec.term_frequency)]
    if spec.kind == "name":
        levels += [cll.JaroWinklerLevel(c, 0.92), cll.JaroWinklerLevel(c, 0.8)]
    elif spec.kind == "text":
        levels += [cll.DamerauLevenshteinLevel(c, 1), cll.JaroWinklerLevel(c, 0.9), cll.JaroWinklerLevel(c, 0.7)]
    elif spec.kind in ("date", "code"):
        levels += [cll.DamerauLevenshteinLevel(c, 1), cll.DamerauLevenshteinLevel(c, 2)]
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(comparison_levels=levels, output_column_name=c)


def splink_api(engine: Engine) -> Any:
    """A Splink database API on the engine's own connection (no copy of the data)."""
    if engine.name == "duckdb":
        from splink import DuckDBAPI

        api = DuckDBAPI(connection=engine.raw)  # type: ignore[attr-defined]
        engine.raw.execute("SET enable_progress_bar = false")  # type: ignore[attr-defined]
        return api
    if engine.name == "spark":
        from splink import SparkAPI
        from splink.backends.spark import similarity_jar_location

        # Splink's string-similarity functions (jaro_winkler, damerau_levenshtein) live in a jar it
        # ships; adding it to the running session lets a session built without it use them.
        engine.session.sql(f"ADD JAR '{similarity_jar_location()}'")  # type: ignore[attr-defined]
        return SparkAPI(spark_session=engine.session, break_lineage_method="persist")  # type: ignore[attr-defined]
    raise ConfigError(f"probabilistic matching is not available on the {engine.name} engine")  # pragma: no cover


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

    api = splink_api(engine)
    inputs = [api.register(t, dataset_display_name=t) for t in tables]
    cols = [f.column for f in spec.fields]
    if spec.blocking:
        rules = spec.blocking
    else:
        stacked = ibis.union(*[engine.table(t).select(*cols) for t in tables], distinct=False)
        rules = choose_blocking_rules(engine, stacked, cols, max_pairs=spec.max_pairs_per_rule)
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
    # the prior: pairs agreeing on the most selective rule are mostly true matches
    linker.training.estimate_probability_two_random_records_match([block_on(*r) for r in rules[:3]], recall=0.9)
    lap("prior")
    linker.training.estimate_u_using_random_sampling(max_pairs=spec.u_max_pairs, seed=spec.seed,
                                                     min_count_per_level=None, num_chunks=1)
    lap("u")
    by_pairs = sorted(rules, key=len)
    trained: set[str] = set()
    for rule in by_pairs:
        if trained >= set(cols) and len(trained) > 0:
            break
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), estimate_without_term_frequencies=True, max_pairs=spec.em_max_pairs)
        except Exception as exc:
            # a rule with too few pairs cannot train (no pairs, or a level never seen so m underflows
            # to 0 on a small data set); the other rules train those parameters
            text = str(exc).lower()
            if not any(k in text for k in ("no comparisons", "empty", "below the minimum allowed")):
                raise
            continue
        trained |= {c for c in cols if c not in rule}
    lap("em")
    predictions = linker.inference.predict(threshold_match_probability=spec.threshold)
    lap("predict")
    pairs = engine.con.table(predictions.physical_name)
    model = linker.misc.save_model_to_json()
    return MatchResult(pairs=pairs, model=model, blocking=rules, linker=linker, seconds=seconds)


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
