"""The baselines a recommender must beat, and the evaluation that compares them in one run.

Examples
--------
>>> import pandas as pd
>>> data = pd.DataFrame({"user": [1, 2], "item": ["a", "a"], "weight": 1.0})
>>> PopularityRecommender().fit(data).recommend([3], k=1).item.tolist()
['a']
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Self

import pandas as pd

from huaxiang.models.base import Estimator
from huaxiang.models.ranking import score_recommendations
from huaxiang.models.recommend.als import Recommender
from huaxiang.models.recommend.frames import REASON_OWN, REASON_POPULAR, prepare_interactions, recs_frame

__all__ = ["OwnHistoryRecommender", "PopularityRecommender", "evaluate_recommenders", "own_then_popular"]


class PopularityRecommender(Estimator):
    """Baseline: the items most users interacted with (each user counts once per item).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"user": [1, 2, 2, 3], "item": ["a", "a", "b", "c"], "weight": 1.0})
    >>> PopularityRecommender(exclude_seen=True).fit(data).recommend([1], k=2).item.tolist()
    ['b', 'c']
    """

    _fitted_attr = "popularity_"

    def __init__(self, *, exclude_seen: bool = False) -> None:
        self.exclude_seen = exclude_seen

    def fit(self, interactions: pd.DataFrame) -> Self:
        """Count the distinct users of every item."""
        frame = prepare_interactions(interactions)
        pairs = frame[["user", "item"]].drop_duplicates()
        self.popularity_ = pairs["item"].value_counts(sort=True)
        self.seen_ = pairs.groupby("user")["item"].agg(set)
        return self

    def recommend(self, users: Iterable[Any], k: int = 10) -> pd.DataFrame:
        """The ``k`` most popular items (not yet seen by the user when ``exclude_seen``)."""
        self._check_fitted()
        items = self.popularity_.index.to_numpy()
        counts = self.popularity_.to_numpy(dtype="float64")
        who: list[Any] = []
        ranks: list[int] = []
        what: list[Any] = []
        scores: list[float] = []
        for u in pd.unique(pd.Series(list(users), dtype=object)):
            seen = self.seen_.get(u, set()) if self.exclude_seen else set()
            rank = 0
            for item, count in zip(items, counts, strict=True):
                if item in seen:
                    continue
                rank += 1
                who.append(u)
                ranks.append(rank)
                what.append(item)
                scores.append(float(count))
                if rank == k:
                    break
        return recs_frame(who, ranks, what, scores, [REASON_POPULAR] * len(who))


class OwnHistoryRecommender(Estimator):
    """Baseline: the user's own most-interacted items (summed weight, ties to the most recent).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"user": [1, 1, 1, 2], "item": ["a", "b", "b", "c"], "weight": 1.0})
    >>> OwnHistoryRecommender().fit(data).recommend([1, 2, 3], k=5).item.tolist()
    ['b', 'a', 'c']
    """

    _fitted_attr = "ranked_"

    def fit(self, interactions: pd.DataFrame) -> Self:
        """Sum each user's weight per item."""
        frame = prepare_interactions(interactions)
        if "ts" not in frame.columns:
            frame["ts"] = pd.Timestamp(0)
        agg = frame.groupby(["user", "item"], sort=False).agg(weight=("weight", "sum"), ts=("ts", "max"))
        agg = agg.reset_index().sort_values(["user", "weight", "ts"], ascending=[True, False, False], kind="stable")
        agg["rank"] = agg.groupby("user").cumcount() + 1
        self.ranked_ = agg
        return self

    def recommend(self, users: Iterable[Any], k: int = 10) -> pd.DataFrame:
        """Each user's ``k`` most-interacted items (fewer when the history is shorter; none when new)."""
        self._check_fitted()
        wanted = set(pd.unique(pd.Series(list(users), dtype=object)))
        r = self.ranked_[(self.ranked_["rank"] <= k) & self.ranked_["user"].isin(wanted)]
        return recs_frame(r["user"].to_numpy(), r["rank"].to_numpy(), r["item"].to_numpy(), r["weight"].to_numpy(),
                      [REASON_OWN] * len(r))


def own_then_popular(interactions: pd.DataFrame, users: Iterable[Any], k: int = 10, *,
                     own: bool = True) -> pd.DataFrame:
    """Each user's own most-interacted items (when ``own``), then the most popular ones, ``k`` in all.

    What the build delivers when a baseline beats ALS on held-out precision: filling the slots the
    own history leaves empty with popular items can only add hits, so it scores at least the
    own-history baseline it was chosen on.

    Examples
    --------
    >>> data = pd.DataFrame({"user": [1, 1, 2, 3], "item": ["a", "b", "b", "b"], "weight": 1.0})
    >>> own_then_popular(data, [2, 9], k=2)[["user", "item", "reason"]].values.tolist()
    [[2, 'b', 'you often buy this'], [2, 'a', 'popular with all customers'], [9, 'b', 'popular with all customers'], [9, 'a', 'popular with all customers']]
    """
    wanted = list(pd.unique(pd.Series(list(users), dtype=object)))
    popular = PopularityRecommender().fit(interactions).recommend(wanted, k=k)
    if not own:
        return popular
    mine = OwnHistoryRecommender().fit(interactions).recommend(wanted, k=k)
    both = pd.concat([mine.assign(_order=0), popular.assign(_order=1)], ignore_index=True)
    both = both.drop_duplicates(["user", "item"], keep="first")
    both = both.sort_values(["_order", "rank"], kind="stable")
    both["rank"] = both.groupby("user", sort=False).cumcount() + 1
    both = both[both["rank"] <= k]
    position = {u: i for i, u in enumerate(wanted)}
    both = both.assign(_user=both["user"].map(position)).sort_values(["_user", "rank"], kind="stable")
    return both.drop(columns=["_order", "_user"]).reset_index(drop=True)


def evaluate_recommenders(
    train: pd.DataFrame, test: pd.DataFrame, k: int = 10, *, exclude_seen: bool = False,
    model: Recommender | None = None, segments: Mapping[Any, Any] | pd.Series | None = None,
) -> pd.DataFrame:
    """Ours vs global popularity vs the user's own history, on one split, in one run.

    Parameters
    ----------
    train, test
        ``user, item, weight[, ts]`` before and after the split (see
        :func:`~huaxiang.models.ranking.time_split`).
    k
        Cut-off.
    exclude_seen
        Evaluate new items only: the relevant items of a user are the test items they had not
        interacted with in ``train``, and every model excludes seen items (the own-history
        baseline then has nothing to offer and scores 0).
    model
        The recommender to evaluate (default ``Recommender(exclude_seen=exclude_seen or "auto")``);
        it is fitted here on ``train``.
    segments
        User -> segment, passed to ``model.fit``.

    Returns
    -------
    pandas.DataFrame
        One row per model (``ours``, ``popularity``, ``own_history``) with ``precision@k``,
        ``recall@k``, ``map@k``, ``n`` (users evaluated: in train and with a relevant test item)
        and ``seconds`` (fit + recommend).

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"], "weight": 1.0})
    >>> test = pd.DataFrame({"user": [3], "item": ["b"], "weight": 1.0})
    >>> table = evaluate_recommenders(train, test, k=1, exclude_seen=True,
    ...                               model=Recommender(factors=2, iterations=5, exclude_seen=True))
    >>> table[["model", "precision@1", "n"]].values.tolist()
    [['ours', 1.0, 1], ['popularity', 1.0, 1], ['own_history', 0.0, 1]]
    """
    train = prepare_interactions(train)
    test = prepare_interactions(test)
    test = test[test["user"].isin(set(train["user"]))]
    if exclude_seen:
        seen = pd.MultiIndex.from_frame(train[["user", "item"]])
        test = test[~pd.MultiIndex.from_frame(test[["user", "item"]]).isin(seen)]
    users = test["user"].unique()
    ours = model if model is not None else Recommender(exclude_seen=True if exclude_seen else "auto")
    models: list[tuple[str, Any]] = [("ours", ours), ("popularity", PopularityRecommender(exclude_seen=exclude_seen)),
                                     ("own_history", OwnHistoryRecommender())]
    rows = []
    for name, m in models:
        began = time.perf_counter()
        if name == "ours":
            m.fit(train, segments=segments)
        else:
            m.fit(train)
        recs = m.recommend(users, k=k)
        if exclude_seen and name == "own_history":
            recs = recs.iloc[0:0]
        seconds = time.perf_counter() - began
        rows.append({"model": name, **score_recommendations(recs, test, k), "seconds": round(seconds, 3)})
    return pd.DataFrame(rows)
