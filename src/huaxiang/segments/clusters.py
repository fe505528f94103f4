"""K-means clusters of buyers, with k chosen by silhouette and cluster ids that stay put across rebuilds.

The model fits in memory on the one-row-per-person table (only the needed columns are pulled):

1. missing values are filled with the training medians; skewed counts and amounts get
   ``sign(x) * log1p(|x|)``; every feature is standardised (training mean and standard deviation);
2. for each k in ``k_min..k_max`` K-means (k-means++, ``seed``) is fitted on a sample of at most
   :data:`SELECT_ROWS` rows; the silhouette (on at most ``silhouette_rows`` of them) picks k, the
   inertia is reported for an elbow reading too; a fixed ``k`` skips the search;
3. the chosen k is fitted on at most ``fit_rows`` rows and everyone is assigned to the nearest
   centroid in batches;
4. ids: clusters are numbered 1..k by their centroid's monetary value (highest first); when a
   previous model of the same features exists, new centroids are matched to the old ones
   (Hungarian assignment, :func:`scipy.optimize.linear_sum_assignment`) and keep their ids, so
   a rebuild does not shuffle them.

The fitted :class:`ClusterModel` is plain numbers: :meth:`ClusterModel.save` writes it as JSON
(``models/segments_kmeans.json`` in the workspace) with the training window (``as_of``).

Examples
--------
>>> import pandas as pd
>>> from huaxiang.segments.settings import ClusterSettings
>>> frame = pd.DataFrame({"spend_total": [10.0, 11, 12, 500, 510, 520], "orders_total": [1, 1, 2, 9, 10, 11]})
>>> model = fit_clusters(frame, ClusterSettings(k=2, log_features=[]))
>>> model.k, model.predict(frame).tolist()
(2, [2, 2, 2, 1, 1, 1])
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from huaxiang.errors import ModelError
from huaxiang.segments.settings import ClusterSettings

__all__ = ["MODEL_FILE", "SELECT_ROWS", "ClusterModel", "assign_ids", "fit_clusters", "load_model"]

#: Where the stage keeps the fitted model, inside the workspace folder.
MODEL_FILE = Path("models") / "segments_kmeans.json"
#: Rows the k search fits on (a sample of them when there are more).
SELECT_ROWS = 50_000
#: K-means runs single-threaded below this many rows.
PARALLEL_ROWS = 100_000
#: Rows assigned per batch by :meth:`ClusterModel.predict`.
BATCH_ROWS = 100_000
#: Features whose centroid value orders the clusters (the first one present), highest first.
MONETARY_FEATURES = ("spend_total", "spend_365d", "monetary_value", "avg_order_value")


@dataclass
class ClusterModel:
    """A fitted K-means segmentation: preprocessing, centroids (standardised space) and their ids."""

    features: list[str]
    log_features: list[str]
    fill: list[float]
    mean: list[float]
    scale: list[float]
    centroids: list[list[float]]
    ids: list[int]
    seed: int = 0
    as_of: str | None = None
    trained_at: str = ""
    n_fit: int = 0
    silhouette: float | None = None
    report: list[dict[str, Any]] = field(default_factory=list)
    fit_seconds: float = 0.0

    @property
    def k(self) -> int:
        """Number of clusters."""
        return len(self.ids)

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ModelError(f"the clustering model needs columns {missing}; it was trained on {self.features}")
        x = frame[self.features].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isnan(x), np.asarray(self.fill), x)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Filled, log-transformed and standardised features (rows of ``frame``)."""
        return (_log(self._raw(frame), self._log_mask()) - np.asarray(self.mean)) / np.asarray(self.scale)

    def _log_mask(self) -> np.ndarray:
        return np.array([c in self.log_features for c in self.features])

    def predict(self, frame: pd.DataFrame, *, batch_rows: int = BATCH_ROWS) -> np.ndarray:
        """The cluster id of each row of ``frame`` (nearest centroid), computed in batches."""
        centroids = np.asarray(self.centroids)
        ids = np.asarray(self.ids, dtype=np.int64)
        out = np.empty(len(frame), dtype=np.int64)
        c2 = (centroids**2).sum(axis=1)
        for start in range(0, len(frame), batch_rows):
            x = self.transform(frame.iloc[start:start + batch_rows])
            d = c2[None, :] - 2.0 * (x @ centroids.T)  # squared distance less |x|^2, the same for every centroid
            out[start:start + len(x)] = ids[d.argmin(axis=1)]
        return out

    def centroid_frame(self) -> pd.DataFrame:
        """Centroids in the features' own units (index: cluster id)."""
        z = np.asarray(self.centroids) * np.asarray(self.scale) + np.asarray(self.mean)
        return pd.DataFrame(_unlog(z, self._log_mask()), columns=self.features,
                            index=pd.Index(self.ids, name="cluster_id"))

    def compatible(self, other: ClusterModel) -> bool:
        """Whether ``other`` describes the same feature space (so centroids can be matched)."""
        return self.features == other.features and self.log_features == other.log_features

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON (the folder is created)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        return target


def load_model(path: str | Path) -> ClusterModel | None:
    """The model saved at ``path``, or None when there is none (or it cannot be read)."""
    file = Path(path)
    if not file.exists():
        return None
    try:
        return ClusterModel(**json.loads(file.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        return None


def _log(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[:, mask] = np.sign(x[:, mask]) * np.log1p(np.abs(x[:, mask]))
    return out


def _unlog(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[:, mask] = np.sign(x[:, mask]) * np.expm1(np.abs(x[:, mask]))
    return out


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size=size, replace=False))


def _kmeans(x: np.ndarray, k: int, seed: int, init: np.ndarray | None = None) -> Any:
    """k-means++ with 4 restarts, or one run from ``init`` centroids."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    # OpenMP threads only pay off on large inputs: on small ones, and on a busy machine, they spin
    # (figures in bench/README.md)
    with threadpool_limits(limits=1 if len(x) < PARALLEL_ROWS else None):
        if init is not None:
            return KMeans(n_clusters=k, init=init, n_init=1, random_state=seed).fit(x)
        return KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)


def elbow_k(ks: list[int], inertia: list[float]) -> int | None:
    """The k farthest below the straight line from the first to the last inertia (the elbow).

    >>> elbow_k([2, 3, 4, 5], [100.0, 30.0, 25.0, 22.0])
    3
    """
    if len(ks) < 3:
        return None
    x = np.asarray(ks, dtype=float)
    y = np.asarray(inertia, dtype=float)
    line = y[0] + (y[-1] - y[0]) * (x - x[0]) / (x[-1] - x[0])
    return int(x[int(np.argmax(line - y))])


def assign_ids(centroids: np.ndarray, order_values: np.ndarray, previous: np.ndarray | None = None,
               previous_ids: list[int] | None = None) -> list[int]:
    """Stable ids for ``centroids`` (rows): matched to ``previous`` centroids when given, else 1..k
    by ``order_values`` (highest first; ties broken by the centroid coordinates).

    New clusters that match no previous one get the next unused ids, in the canonical order.

    Examples
    --------
    >>> c = np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]])
    >>> assign_ids(c, np.array([1.0, 3.0, 2.0]))
    [3, 1, 2]
    >>> assign_ids(c, np.array([1.0, 3.0, 2.0]), previous=np.array([[9.1, 0.0], [0.1, 0.0]]), previous_ids=[4, 7])
    [7, 8, 4]
    """
    k = len(centroids)
    keys = [(-float(order_values[i]), *[float(v) for v in centroids[i]]) for i in range(k)]
    canonical = sorted(range(k), key=lambda i: keys[i])
    ids = [0] * k
    if previous is None or previous_ids is None or len(previous) == 0:
        for rank, i in enumerate(canonical, start=1):
            ids[i] = rank
        return ids
    from scipy.optimize import linear_sum_assignment

    cost = ((centroids[:, None, :] - np.asarray(previous)[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    taken = set()
    for r, c in zip(rows, cols, strict=True):
        ids[r] = int(previous_ids[c])
        taken.add(ids[r])
    fresh = max(previous_ids) + 1
    for i in canonical:
        if ids[i] == 0:
            while fresh in taken:
                fresh += 1
            ids[i] = fresh
            taken.add(fresh)
    return ids


def fit_clusters(frame: pd.DataFrame, settings: ClusterSettings | None = None, *,
                 previous: ClusterModel | None = None, as_of: datetime | str | None = None) -> ClusterModel:
    """Fit K-means on the columns of ``frame`` named by ``settings`` (one row per person).

    Parameters
    ----------
    frame
        One row per person; the cluster features (others are ignored).
    settings
        ``segments.clusters`` (features, k or the k range, sample sizes, seed).
    previous
        The last saved model: when it has the same features, matching clusters keep its ids.
    as_of
        The training window's end, stored with the model.

    Returns
    -------
    ClusterModel
        With ``report`` (k, inertia, silhouette, chosen) and ``silhouette`` of the chosen k.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> x, _ = make_blobs(n_samples=600, centers=4, n_features=3, cluster_std=0.5, random_state=1)
    >>> frame = pd.DataFrame(x, columns=["a", "b", "c"])
    >>> model = fit_clusters(frame, ClusterSettings(features=["a", "b", "c"], k_min=2, k_max=6))
    >>> model.k, [r["k"] for r in model.report]
    (4, [2, 3, 4, 5, 6])
    """
    from sklearn import config_context
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    s = settings or ClusterSettings()
    started = time.perf_counter()
    features = s.feature_list(list(frame.columns))
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ModelError(f"cannot cluster on {missing}: not among the columns {list(frame.columns)}")
    logs = s.log_list(features)
    n = len(frame)
    ks = [s.k] if isinstance(s.k, int) else list(range(s.k_min, s.k_max + 1))
    ks = [k for k in ks if k < n]
    if not ks:
        raise ModelError(f"{n} rows are too few to form {s.k if isinstance(s.k, int) else s.k_min} clusters")
    rng = np.random.default_rng(s.seed)
    fit_idx = _sample(n, s.fit_rows, rng)
    raw = frame[features].to_numpy(dtype=np.float64, na_value=np.nan)
    train = raw[fit_idx]
    with np.errstate(all="ignore"):
        fill = np.nan_to_num(np.nanmedian(train, axis=0), nan=0.0) if len(train) else np.zeros(len(features))
    mask = np.array([c in logs for c in features])
    x_train = _log(np.where(np.isnan(train), fill, train), mask)
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z_train = (x_train - mean) / scale
    select_idx = _sample(len(z_train), SELECT_ROWS, rng)
    z_select = z_train[select_idx]
    report: list[dict[str, Any]] = []
    fitted: dict[int, Any] = {}
    for k in ks:
        km = _kmeans(z_select, k, s.seed)
        fitted[k] = km
        labels = km.labels_
        sil = None
        if 1 < len(set(labels.tolist())) < len(z_select):
            # distances in chunks of at most 64 MiB (the default 1 GiB would hold silhouette_rows^2 at once)
            with threadpool_limits(limits=1), config_context(working_memory=64):
                sil = float(silhouette_score(z_select, labels, sample_size=min(s.silhouette_rows, len(z_select)),
                                             random_state=s.seed))
        report.append({"k": k, "inertia": float(km.inertia_), "silhouette": sil, "n_fit": len(z_select)})
    scored = [r for r in report if r["silhouette"] is not None]
    best_k = max(scored, key=lambda r: (r["silhouette"], -r["k"]))["k"] if scored else ks[0]
    elbow = elbow_k([r["k"] for r in report], [r["inertia"] for r in report])
    for r in report:
        r["chosen"] = r["k"] == best_k
        r["elbow"] = r["k"] == elbow
    # the chosen k on all training rows, started from the centroids found on the sample
    final = (fitted[best_k] if len(z_select) == len(z_train)
             else _kmeans(z_train, best_k, s.seed, init=fitted[best_k].cluster_centers_))
    centroids = np.asarray(final.cluster_centers_)
    original = _unlog(centroids * scale + mean, mask)
    money = next((c for c in MONETARY_FEATURES if c in features), features[0])
    order_values = original[:, features.index(money)]
    prev_c: np.ndarray | None = None
    prev_ids: list[int] | None = None
    model = ClusterModel(features=features, log_features=logs, fill=fill.tolist(), mean=mean.tolist(),
                         scale=scale.tolist(), centroids=[], ids=[], seed=s.seed)
    if previous is not None and previous.compatible(model):
        # the previous centroids in this model's standardised space
        prev_c = (np.asarray(previous.centroids) * np.asarray(previous.scale) + np.asarray(previous.mean) - mean) / scale
        prev_ids = list(previous.ids)
    ids = assign_ids(centroids, order_values, prev_c, prev_ids)
    order = np.argsort(ids, kind="stable")
    model.centroids = centroids[order].tolist()
    model.ids = [ids[i] for i in order]
    model.as_of = None if as_of is None else str(as_of)
    model.trained_at = datetime.now().isoformat(timespec="seconds")
    model.n_fit = len(z_train)
    model.silhouette = next(r["silhouette"] for r in report if r["chosen"])
    model.report = report
    model.fit_seconds = round(time.perf_counter() - started, 3)
    return model
