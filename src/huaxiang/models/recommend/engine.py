"""The recommender on a workspace engine: interactions from its tables, the ``recommendations`` table,
the evaluation rows of ``model_reports``.

Examples
--------
>>> RECOMMENDATION_COLUMNS
('person_id', 'rank', 'product_id', 'score', 'reason')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from huaxiang.engine.base import Engine
from huaxiang.models.ranking import time_split
from huaxiang.models.recommend.als import Recommender
from huaxiang.models.recommend.baselines import evaluate_recommenders, own_then_popular

__all__ = ["EVALUATION_COLUMNS", "MIN_INTERACTIONS", "RECOMMENDATION_COLUMNS", "EngineInputs", "choose_recommender",
           "evaluate_for_engine",
           "interactions_from_engine", "load_engine_inputs", "recommend_for_engine"]

RECOMMENDATION_COLUMNS: tuple[str, ...] = ("person_id", "rank", "product_id", "score", "reason")
"""Columns of :func:`recommend_for_engine` (the ``recommendations`` table)."""

EVALUATION_COLUMNS: tuple[str, ...] = ("model", "metric", "value", "baseline", "baseline_value",
                                       "train_window", "n")
"""Columns of :func:`evaluate_for_engine` (rows of the ``model_reports`` table)."""

_EVENT_WEIGHTS = {"product_view": 1.0, "favorite": 2.0, "add_to_cart": 3.0, "checkout": 3.0, "order": 4.0,
                  "pay": 4.0}


def interactions_from_engine(engine: Engine, *, as_of: datetime) -> pd.DataFrame:
    """``user, item, weight, ts`` of every person before ``as_of``, from the workspace's purchases.

    Paid orders with their lines, mapped to persons through
    :func:`huaxiang.features.persons.person_keys`: one row per person, product and day (weight =
    the orders of that day holding the product). Without order lines, behaviour events that carry a
    ``product_id`` (views 1, favourites 2, carts and checkouts 3, orders and payments 4; summed
    per person, product and day).

    Examples
    --------
    >>> from huaxiang.engine import create_engine
    >>> from huaxiang.schema import empty_table
    >>> eng = create_engine("duckdb")
    >>> for name in ("customers_raw", "orders", "order_items", "interactions", "events"):
    ...     _ = eng.materialize(name, empty_table(name))
    >>> interactions_from_engine(eng, as_of=datetime(2024, 1, 1)).columns.tolist()
    ['user', 'item', 'weight', 'ts']
    """
    import ibis

    from huaxiang.features.persons import person_keys

    columns = ["user", "item", "weight", "ts"]
    cut = ibis.timestamp(as_of)
    keys = person_keys(engine)
    frame: pd.DataFrame | None = None
    if engine.has_table("orders") and engine.has_table("order_items"):
        orders = engine.table("orders")
        o = orders.filter((orders.status == "paid") & (orders.order_ts < cut) & orders.source_customer_id.notnull())
        o = o.inner_join(keys, ["source", "source_customer_id"]).select("source", "order_id", "person_id", "order_ts")
        items = engine.table("order_items")
        lines = items.filter(items.product_id.notnull()).select("source", "order_id", "product_id")
        joined = lines.inner_join(o, ["source", "order_id"])
        day = joined.order_ts.truncate("D")
        agg = joined.group_by(user=joined.person_id, item=joined.product_id, day=day).aggregate(
            weight=joined.order_id.nunique(), ts=joined.order_ts.max())
        frame = engine.execute(agg.select("user", "item", "weight", "ts"))
    if (frame is None or frame.empty) and engine.has_table("events") and "product_id" in engine.table("events").columns:
        from huaxiang.features.behaviour import events_with_persons

        identities = engine.table("identities") if engine.has_table("identities") else None
        e = events_with_persons(engine.table("events"), keys, identities, as_of=as_of)
        e = e.filter(e.person_id.notnull() & e.product_id.notnull() & e.event_type.isin(list(_EVENT_WEIGHTS)))
        weight = e.event_type.substitute(_EVENT_WEIGHTS, else_=0.0).cast("float64")
        agg = e.group_by(user=e.person_id, item=e.product_id, day=e.event_ts.truncate("D")).aggregate(
            weight=weight.sum(), ts=e.event_ts.max())
        frame = engine.execute(agg.select("user", "item", "weight", "ts"))
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            columns, ("object", "object", "float64", "datetime64[ns]"), strict=True)})
    frame["weight"] = frame["weight"].astype("float64")
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame[columns].sort_values(["ts", "user", "item"], kind="stable").reset_index(drop=True)


def _engine_segments(engine: Engine) -> pd.Series | None:
    """person_id -> RFM segment from the segments stage's ``segments`` table, when it exists."""
    if not engine.has_table("segments"):
        return None
    t = engine.table("segments")
    column = next((c for c in ("rfm_segment", "cluster_id") if c in t.columns), None)
    if column is None or "person_id" not in t.columns:
        return None
    frame = engine.execute(t.select("person_id", column))
    return frame.drop_duplicates("person_id").set_index("person_id")[column].astype(str)


def _engine_persons(engine: Engine) -> list[Any]:
    if engine.has_table("persons"):
        t = engine.table("persons")
    else:
        from huaxiang.features.persons import person_keys

        t = person_keys(engine)
    return engine.execute(t.select("person_id").distinct())["person_id"].dropna().tolist()


MIN_INTERACTIONS = 20


def _too_thin(data: pd.DataFrame, as_of: datetime) -> str:
    """Why ``data`` cannot train a recommender (too few pairs, or one product only: ALS factors go NaN), or ''."""
    n_pairs = len(data[["user", "item"]].drop_duplicates())
    if n_pairs < MIN_INTERACTIONS:
        return (f"too few interactions: {n_pairs} (person, product) pairs before {as_of:%Y-%m-%d}, "
                f"need {MIN_INTERACTIONS}")
    if data["item"].nunique() < 2:
        return f"only one product ({data['item'].iloc[0]!r}) before {as_of:%Y-%m-%d}: nothing to recommend"
    return ""
"""Fewer (user, item) interactions than this and the engine helpers return empty frames."""


def _empty_engine_recs() -> pd.DataFrame:
    return pd.DataFrame({"person_id": pd.Series(dtype=object), "rank": pd.Series(dtype="int64"),
                         "product_id": pd.Series(dtype=object), "score": pd.Series(dtype="float64"),
                         "reason": pd.Series(dtype=object)})


@dataclass
class EngineInputs:
    """What the recommender reads from a workspace: interactions before ``as_of``, the persons'
    segments and every person id — loaded once for the recommendations and their evaluation."""

    as_of: datetime
    interactions: pd.DataFrame
    segments: pd.Series | None
    persons: list[Any]


def load_engine_inputs(engine: Engine, *, as_of: datetime) -> EngineInputs:
    """Read the recommender's inputs from ``engine`` (see :class:`EngineInputs`)."""
    return EngineInputs(as_of, interactions_from_engine(engine, as_of=as_of), _engine_segments(engine),
                        _engine_persons(engine))


def recommend_for_engine(engine: Engine, *, as_of: datetime, k: int = 10,
                         model: Recommender | None = None, inputs: EngineInputs | None = None,
                         use: str = "recommend_als") -> pd.DataFrame:
    """The ``recommendations`` table: ``k`` products for every person, from purchases before ``as_of``.

    Persons with a history get :class:`Recommender` (settings chosen on a validation split);
    persons without one get the popular products of their segment (a ``segments`` table with
    ``person_id`` and ``segment``) or of everyone. ``use`` = ``popularity`` delivers the most popular
    products to everyone instead; ``own_history`` each person's own most-bought products, then the
    most popular ones (see :func:`choose_recommender`). With fewer than :data:`MIN_INTERACTIONS`
    interactions the frame is empty (``attrs["reason"]`` says why); this never raises on thin data.

    Returns
    -------
    pandas.DataFrame
        ``person_id, rank, product_id, score, reason``.

    Examples
    --------
    >>> from huaxiang.engine import create_engine
    >>> from huaxiang.schema import empty_table
    >>> eng = create_engine("duckdb")
    >>> for name in ("customers_raw", "orders", "order_items", "interactions", "events"):
    ...     _ = eng.materialize(name, empty_table(name))
    >>> recs = recommend_for_engine(eng, as_of=datetime(2024, 1, 1))
    >>> list(recs.columns), len(recs), recs.attrs["reason"][:22]
    (['person_id', 'rank', 'product_id', 'score', 'reason'], 0, 'too few interactions: ')
    """
    inputs = inputs or load_engine_inputs(engine, as_of=as_of)
    data = inputs.interactions
    thin = _too_thin(data, as_of)
    if thin:
        out = _empty_engine_recs()
        out.attrs["reason"] = thin
        return out
    persons = list(inputs.persons)
    known = set(persons)
    if use in ("popularity", "own_history"):
        persons.extend(u for u in pd.unique(data["user"]) if u not in known)
        recs = own_then_popular(data, persons, k, own=use == "own_history")
        note = f"{use} delivered (it beat ALS on held-out precision@{k})"
    else:
        rec = model if model is not None else Recommender()
        rec.fit(data, segments=inputs.segments)
        persons.extend(u for u in rec.users_ if u not in known)
        recs = rec.recommend(persons, k=k)
        note = (f"{len(rec.users_)} persons with history, own_weight {rec.own_weight_:g}, "
                f"exclude_seen {rec.exclude_seen_}")
    out = recs.rename(columns={"user": "person_id", "item": "product_id"})[list(RECOMMENDATION_COLUMNS)]
    out["person_id"] = out["person_id"].astype(str)
    out["product_id"] = out["product_id"].astype(str)
    out.attrs["reason"] = note
    return out


def choose_recommender(evaluation: pd.DataFrame, k: int = 10) -> tuple[str, str]:
    """``(used, reason)``: the best of ALS, popularity and own history on held-out precision@k.

    ALS is kept on a tie; between the baselines, popularity (the simpler) wins a tie.

    Examples
    --------
    >>> rows = pd.DataFrame({"model": "recommend_als", "metric": "precision@10", "value": 0.057,
    ...                      "baseline": ["popularity", "own_history"], "baseline_value": [0.140, 0.09]})
    >>> choose_recommender(rows)
    ('popularity', 'baseline_better')
    """
    rows = evaluation[evaluation["metric"] == f"precision@{k}"]
    if rows.empty:
        return "recommend_als", "not_evaluated"
    ours = float(rows["value"].iloc[0])
    order = {"popularity": 0, "own_history": 1}
    top = max(float(v) for v in rows["baseline_value"])
    winner = min((str(b) for b, v in zip(rows["baseline"], rows["baseline_value"], strict=True) if float(v) == top),
                 key=lambda b: order.get(b, 9))
    if ours >= top:
        return "recommend_als", "model_better"
    return winner, "baseline_better"


def evaluate_for_engine(engine: Engine, *, as_of: datetime, k: int = 10, test_days: int | None = None,
                        model: Recommender | None = None, inputs: EngineInputs | None = None) -> pd.DataFrame:
    """Rows for ``model_reports``: ours vs popularity and own history on a time split before ``as_of``.

    The test window is the last ``test_days`` before ``as_of`` (default: from the day the last fifth
    of the interactions begins); the recommender is fitted on everything earlier. Users evaluated:
    persons with a history before the window and a purchase in it. Fewer than
    :data:`MIN_INTERACTIONS` interactions on either side give an empty frame with ``attrs["reason"]``.

    Returns
    -------
    pandas.DataFrame
        ``model, metric, value, baseline, baseline_value, train_window, n``: one row per metric
        (``precision@k``, ``recall@k``, ``map@k``) and baseline (``popularity``, ``own_history``).

    Examples
    --------
    >>> from huaxiang.engine import create_engine
    >>> from huaxiang.schema import empty_table
    >>> eng = create_engine("duckdb")
    >>> for name in ("customers_raw", "orders", "order_items", "interactions", "events"):
    ...     _ = eng.materialize(name, empty_table(name))
    >>> evaluate_for_engine(eng, as_of=datetime(2024, 1, 1)).columns.tolist()
    ['model', 'metric', 'value', 'baseline', 'baseline_value', 'train_window', 'n']
    """
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        EVALUATION_COLUMNS, ("object", "object", "float64", "object", "float64", "object", "int64"), strict=True)})
    data = inputs.interactions if inputs is not None else interactions_from_engine(engine, as_of=as_of)
    thin = _too_thin(data, as_of)
    if thin:
        empty.attrs["reason"] = thin
        return empty
    start = data["ts"].min()
    if test_days is not None:
        cut = pd.Timestamp(as_of) - timedelta(days=test_days)
    else:  # the day the last fifth of the interactions begins: robust to a few stray early timestamps
        cut = pd.Timestamp(data["ts"].sort_values().iloc[int(0.8 * (len(data) - 1))]).normalize()
    train, test = time_split(data, cut)
    test = test[test["user"].isin(set(train["user"]))]
    if len(train) < MIN_INTERACTIONS or test.empty:
        empty.attrs["reason"] = (f"too few interactions around the split {cut:%Y-%m-%d}: {len(train)} before, "
                                 f"{len(test)} after by persons with a history")
        return empty
    table: dict[Any, dict[Any, Any]] = evaluate_recommenders(train, test, k=k, model=model).set_index(
        "model").to_dict("index")
    window = f"{start:%Y-%m-%d}..{cut:%Y-%m-%d}"
    rows = []
    for metric in (f"precision@{k}", f"recall@{k}", f"map@{k}"):
        for baseline in ("popularity", "own_history"):
            rows.append({"model": "recommend_als", "metric": metric, "value": float(table["ours"][metric]),
                         "baseline": baseline, "baseline_value": float(table[baseline][metric]),
                         "train_window": window, "n": int(table["ours"]["n"])})
    out = pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))
    out.attrs["reason"] = f"test window {cut:%Y-%m-%d}..{pd.Timestamp(as_of):%Y-%m-%d}"
    return out
