"""What every recommender shares: interaction checks, recency decay, top-k, the output frame, reasons.

Examples
--------
>>> import pandas as pd
>>> prepare_interactions(pd.DataFrame({"user": [1, 2], "item": ["a", None], "weight": [1, 1]})).item.tolist()
['a']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from huaxiang.errors import SchemaError

__all__ = ["REASONS", "REASON_OWN", "REASON_POPULAR", "REASON_SEGMENT", "REASON_SIMILAR", "decay",
           "empty_recs", "prepare_interactions", "recs_frame", "row_normalise", "top_k"]

REASON_SIMILAR = "similar customers bought this"
REASON_OWN = "you often buy this"
REASON_SEGMENT = "popular in your segment"
REASON_POPULAR = "popular with all customers"
REASONS: tuple[str, ...] = (REASON_SIMILAR, REASON_OWN, REASON_SEGMENT, REASON_POPULAR)
"""Every ``reason`` a recommendation can carry."""

SECONDS_PER_DAY = 86_400.0


def _validate_cols(frame: pd.DataFrame, required: Iterable[str], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise SchemaError(f"{what} needs columns {missing}; got {list(frame.columns)} "
                          "(rename your columns to user, item, weight[, ts])")


def prepare_interactions(interactions: pd.DataFrame) -> pd.DataFrame:
    """Validated ``user, item, weight[, ts]`` rows with positive weight and known user and item."""
    _validate_cols(interactions, ("user", "item", "weight"), "interactions")
    cols = ["user", "item", "weight"] + (["ts"] if "ts" in interactions.columns else [])
    frame = interactions[cols]
    w = pd.to_numeric(frame["weight"], errors="coerce")
    keep = frame["user"].notna() & frame["item"].notna() & (w > 0)
    frame = frame[keep.to_numpy()].copy()
    frame["weight"] = w[keep].astype("float64")
    if "ts" in frame.columns:
        ts = frame["ts"]
        if not pd.api.types.is_datetime64_any_dtype(ts):
            ts = pd.to_datetime(ts)
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
        frame["ts"] = ts
        frame = frame[frame["ts"].notna()]
    return frame.reset_index(drop=True)


def decay(ts: pd.Series | None, half_life_days: float | None, n: int) -> np.ndarray:
    """Recency weight 0.5 ** (age / half-life), age counted from the latest timestamp."""
    if ts is None or n == 0 or not half_life_days:
        return np.ones(n)
    age = (ts.max() - ts).dt.total_seconds().to_numpy() / SECONDS_PER_DAY
    return np.power(0.5, age / float(half_life_days))


def row_normalise(m: np.ndarray) -> np.ndarray:
    top = m.max(axis=1, keepdims=True)
    return m / np.where(top > 0, top, np.ones_like(top))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's ``k`` best finite scores, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def recs_frame(users: Any, ranks: Any, items: Any, scores: Any, reasons: Any) -> pd.DataFrame:
    """A recommendations frame from equally long sequences or arrays."""
    return pd.DataFrame({"user": users, "rank": np.asarray(ranks, dtype="int64"), "item": items,
                         "score": np.asarray(scores, dtype="float64"), "reason": reasons})


def empty_recs() -> pd.DataFrame:
    return recs_frame([], [], [], [], [])
