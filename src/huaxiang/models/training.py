"""Point-in-time training sets from a workspace: features at a cut-off, the purchases after it.

Examples
--------
>>> churn_training_set.__name__
'churn_training_set'
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from huaxiang.engine.base import Engine
    from huaxiang.features.settings import FeatureSettings

__all__ = ["churn_labels", "churn_training_set"]


def churn_labels(engine: Engine, *, start: datetime, horizon_days: int) -> pd.DataFrame:
    """Persons with a purchase in ``[start, start + horizon_days)`` (column ``person_id``, ``purchases``).

    Examples
    --------
    >>> # churn_labels(ws.engine, start=datetime(2025, 7, 1), horizon_days=90)
    """
    import ibis

    from huaxiang.features.persons import person_orders

    end = start + timedelta(days=horizon_days)
    orders = person_orders(engine, as_of=ibis.timestamp(end))
    later = orders.filter(orders.is_purchase & (orders.order_ts >= ibis.timestamp(start)))
    return engine.execute(later.group_by("person_id").aggregate(purchases=later.count()))


def churn_training_set(engine: Engine, *, cutoff: datetime, horizon_days: int,
                       features_config: FeatureSettings | dict[str, Any] | None = None,
                       country: str | None = "CN") -> pd.DataFrame:
    """Features at ``cutoff`` (data before it) of every buyer, with ``churned`` = no purchase in the horizon.

    Parameters
    ----------
    engine
        A workspace engine with the canonical tables (and ``record_persons`` when identity ran).
    cutoff
        The point in time: features see only data before it; the label looks at
        ``[cutoff, cutoff + horizon_days)``.
    horizon_days
        The churn window.
    features_config
        The workspace's ``features:`` settings.
    country
        The workspace's ``country`` (its festival and payday calendars; None for none).

    Returns
    -------
    pandas.DataFrame
        The ``features`` columns of persons with at least one purchase before ``cutoff``, plus
        ``churned`` (0/1).

    Examples
    --------
    >>> # train = churn_training_set(ws.engine, cutoff=datetime(2025, 7, 1), horizon_days=90)
    >>> # ChurnModel(horizon=90).fit(train.drop(columns="churned"), train["churned"])
    """
    from huaxiang.features.stage import scratch_feature_tables

    with scratch_feature_tables(engine, as_of=cutoff, config=features_config, country=country) as tables:
        frame = engine.execute(tables["features"])
    # sorted: the engine's row order varies between runs, the folds and samples follow positions
    frame = frame[frame["frequency"].notna()].sort_values("person_id", kind="stable").reset_index(drop=True)
    bought = churn_labels(engine, start=cutoff, horizon_days=horizon_days)
    frame["churned"] = (~frame["person_id"].isin(set(bought["person_id"]))).astype(np.int64)
    return frame
