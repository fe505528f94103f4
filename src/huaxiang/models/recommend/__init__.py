"""Product recommendations: implicit-feedback ALS blended with the customer's own history.

* :mod:`~huaxiang.models.recommend.als` — :class:`Recommender`, the estimator;
* :mod:`~huaxiang.models.recommend.baselines` — :class:`PopularityRecommender`,
  :class:`OwnHistoryRecommender` and :func:`evaluate_recommenders` (ours against both, in one run);
* :mod:`~huaxiang.models.recommend.engine` — the ``models`` stage's glue on a workspace engine:
  :func:`interactions_from_engine`, :func:`recommend_for_engine`, :func:`evaluate_for_engine`;
* :mod:`~huaxiang.models.recommend.frames` — what they share (checks, decay, top-k, reasons).

Every recommendation says why it was made: ``similar customers bought this``, ``you often buy
this``, ``popular in your segment`` or ``popular with all customers``. Held-out figures against
the baselines on the example data sets are in ``bench/README.md``.

Examples
--------
>>> import pandas as pd
>>> from huaxiang.models.recommend import Recommender
>>> data = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3"], "item": ["a", "b", "a", "c", "b"],
...                      "weight": [1.0, 1.0, 1.0, 1.0, 1.0]})
>>> model = Recommender(factors=4, iterations=3, own_weight=0.0, exclude_seen=True).fit(data)
>>> recs = model.recommend(["u3", "new"], k=2)
>>> list(recs.columns)
['user', 'rank', 'item', 'score', 'reason']
>>> recs[recs.user == "new"].reason.tolist()
['popular with all customers', 'popular with all customers']
"""

from huaxiang.models.recommend.als import OWN_WEIGHT_GRID, Recommender
from huaxiang.models.recommend.baselines import (
    OwnHistoryRecommender,
    PopularityRecommender,
    evaluate_recommenders,
)
from huaxiang.models.recommend.engine import (
    EVALUATION_COLUMNS,
    MIN_INTERACTIONS,
    RECOMMENDATION_COLUMNS,
    EngineInputs,
    choose_recommender,
    evaluate_for_engine,
    interactions_from_engine,
    load_engine_inputs,
    recommend_for_engine,
)
from huaxiang.models.recommend.frames import REASONS

__all__ = [
    "EVALUATION_COLUMNS",
    "MIN_INTERACTIONS",
    "OWN_WEIGHT_GRID",
    "REASONS",
    "RECOMMENDATION_COLUMNS",
    "EngineInputs",
    "OwnHistoryRecommender",
    "PopularityRecommender",
    "Recommender",
    "choose_recommender",
    "evaluate_for_engine",
    "evaluate_recommenders",
    "interactions_from_engine",
    "load_engine_inputs",
    "own_then_popular",
    "recommend_for_engine",
]
