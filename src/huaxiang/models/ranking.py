"""Top-k ranking metrics and the time split used to evaluate recommenders.

Standard definitions, for one user with a ranked list ``recommended`` and the set ``relevant`` of
items the user really interacted with in the test period (repeated recommended items count once):

* precision@k = hits in the first k / k;
* recall@k = hits in the first k / number of relevant items;
* AP@k = (1 / min(k, number of relevant items)) x the sum over ranks i <= k holding a hit of
  precision@i; MAP@k is its mean over users.

:func:`score_recommendations` averages them over the users of a test frame — every user with at
least one relevant item counts, a user given no recommendation scores 0.

Examples
--------
>>> precision_at_k(["a", "b", "c", "d"], {"a", "c", "e"}, k=4)
0.5
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from huaxiang.errors import SchemaError

__all__ = ["average_precision_at_k", "map_at_k", "precision_at_k", "recall_at_k", "score_recommendations",
           "time_split", "user_time_split"]


def _hits(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> list[bool]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    seen: set[Hashable] = set()
    hits = []
    for item in list(recommended)[:k]:
        hits.append(item in relevant and item not in seen)
        seen.add(item)
    return hits


def precision_at_k(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10) -> float:
    """Share of the first ``k`` recommendations that are relevant (the denominator is always ``k``).

    Examples
    --------
    >>> precision_at_k(["a", "b", "c"], {"a", "c", "e"}, k=10)
    0.2
    >>> precision_at_k([], {"a"}, k=10)
    0.0
    """
    return sum(_hits(recommended, relevant, k)) / k


def recall_at_k(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10) -> float:
    """Share of the relevant items found in the first ``k`` recommendations (0 when none is relevant).

    Examples
    --------
    >>> round(recall_at_k(["a", "b", "c", "d"], {"a", "c", "e"}, k=4), 4)
    0.6667
    >>> recall_at_k(["a"], set(), k=4)
    0.0
    """
    if not relevant:
        return 0.0
    return sum(_hits(recommended, relevant, k)) / len(relevant)


def average_precision_at_k(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10) -> float:
    """AP@k: the mean of precision@i over the ranks i <= k holding a hit, divided by min(k, |relevant|).

    Examples
    --------
    Hits at ranks 1 and 3 of 4, three relevant items: (1/1 + 2/3) / 3.

    >>> round(average_precision_at_k(["a", "b", "c", "d"], {"a", "c", "e"}, k=4), 4)
    0.5556
    """
    if not relevant:
        return 0.0
    total, found = 0.0, 0
    for i, hit in enumerate(_hits(recommended, relevant, k), start=1):
        if hit:
            found += 1
            total += found / i
    return total / min(k, len(relevant))


def map_at_k(recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int = 10) -> float:
    """MAP@k: :func:`average_precision_at_k` averaged over users (one list and one set per user).

    Examples
    --------
    >>> round(map_at_k([["a", "b"], ["x", "y"]], [{"b"}, {"x", "y", "z"}], k=2), 4)
    0.75
    """
    if len(recommended) != len(relevant):
        raise ValueError(f"{len(recommended)} recommendation lists for {len(relevant)} relevant sets")
    if not relevant:
        return 0.0
    return float(np.mean([average_precision_at_k(r, t, k) for r, t in zip(recommended, relevant, strict=True)]))


def score_recommendations(recommendations: pd.DataFrame, test: pd.DataFrame, k: int = 10) -> dict[str, float]:
    """Mean precision@k, recall@k and MAP@k of ``recommendations`` over the users of ``test``.

    Parameters
    ----------
    recommendations
        Columns ``user``, ``item`` and ``rank`` (1 = best); other columns are ignored.
    test
        Columns ``user`` and ``item``: what each user interacted with in the test period. Every user
        here counts; one with no recommendation scores 0.
    k
        Cut-off.

    Returns
    -------
    dict
        ``precision@k``, ``recall@k``, ``map@k`` and ``n`` (users evaluated).

    Examples
    --------
    >>> recs = pd.DataFrame({"user": [1, 1, 2], "rank": [1, 2, 1], "item": ["a", "b", "x"]})
    >>> test = pd.DataFrame({"user": [1, 2, 2, 3], "item": ["b", "x", "y", "a"]})
    >>> {m: round(v, 4) for m, v in score_recommendations(recs, test, k=2).items()}
    {'precision@2': 0.3333, 'recall@2': 0.5, 'map@2': 0.3333, 'n': 3}
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    truth = test[["user", "item"]].drop_duplicates()
    n_relevant = truth.groupby("user", sort=False).size()
    n = len(n_relevant)
    if n == 0:
        return {f"precision@{k}": 0.0, f"recall@{k}": 0.0, f"map@{k}": 0.0, "n": 0}
    ranked = recommendations[recommendations["user"].isin(n_relevant.index)][["user", "rank", "item"]]
    ranked = ranked.sort_values(["user", "rank"], kind="stable")
    ranked = ranked.assign(position=ranked.groupby("user", sort=False).cumcount() + 1)
    ranked = ranked[ranked["position"] <= k]
    ranked = ranked[~ranked.duplicated(["user", "item"])]  # a repeated item is a hit once
    hits = ranked.merge(truth, on=["user", "item"], how="inner").sort_values(["user", "position"], kind="stable")
    hits = hits.assign(found=hits.groupby("user", sort=False).cumcount() + 1)
    hits = hits.assign(prec=hits["found"] / hits["position"])
    per_user = hits.groupby("user", sort=False).agg(hits=("found", "size"), ap=("prec", "sum"))
    per_user = per_user.reindex(n_relevant.index, fill_value=0)
    rel = n_relevant.to_numpy(dtype="float64")
    return {
        f"precision@{k}": float(per_user["hits"].sum() / (k * n)),
        f"recall@{k}": float((per_user["hits"].to_numpy() / rel).mean()),
        f"map@{k}": float((per_user["ap"].to_numpy() / np.minimum(rel, k)).mean()),
        "n": n,
    }


def time_split(frame: pd.DataFrame, at: Any, *, column: str = "ts") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows before ``at`` (train) and rows at or after it (test).

    Examples
    --------
    >>> f = pd.DataFrame({"user": [1, 1, 2], "item": ["a", "b", "a"],
    ...                   "ts": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])})
    >>> train, test = time_split(f, "2024-02-01")
    >>> len(train), len(test)
    (1, 2)
    """
    if column not in frame.columns:
        raise SchemaError(f"time_split needs a {column!r} column; the frame has {list(frame.columns)}")
    ts = frame[column]
    cut: Any = pd.Timestamp(at) if not isinstance(at, (int, float)) or isinstance(at, datetime) else at
    if isinstance(cut, pd.Timestamp) and pd.api.types.is_datetime64_any_dtype(ts):
        zone = getattr(ts.dt, "tz", None)
        if zone is not None and cut.tzinfo is None:
            cut = cut.tz_localize(zone)
    before = (ts < cut).to_numpy()
    return frame[before].reset_index(drop=True), frame[~before].reset_index(drop=True)


def user_time_split(frame: pd.DataFrame, test_fraction: float = 0.2, *, column: str = "ts",
                    min_rows: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's latest ``test_fraction`` of rows (by time) as test, the rest as train.

    For data where users come in bursts (MovieLens raters rate most films in one sitting), a
    single global cut leaves almost nobody on both sides; this per-user time split keeps every
    test row later than the same user's training rows. Users with fewer than ``min_rows`` rows
    stay wholly in train.

    Examples
    --------
    >>> f = pd.DataFrame({"user": [1] * 5 + [2] * 2, "item": list("abcdeab"),
    ...                   "ts": pd.to_datetime(["2024-01-0%d" % d for d in (1, 2, 3, 4, 5, 1, 2)])})
    >>> train, test = user_time_split(f, 0.2)
    >>> len(train), test["item"].tolist()
    (6, ['e'])
    """
    if column not in frame.columns:
        raise SchemaError(f"user_time_split needs a {column!r} column; the frame has {list(frame.columns)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    ordered = frame.sort_values(["user", column], kind="stable")
    position = ordered.groupby("user", sort=False).cumcount().to_numpy()
    size = ordered.groupby("user", sort=False)[column].transform("size").to_numpy()
    n_test = np.floor(size * test_fraction).astype(np.int64)
    is_test = (size >= min_rows) & (position >= size - n_test)
    return ordered[~is_test].reset_index(drop=True), ordered[is_test].reset_index(drop=True)
