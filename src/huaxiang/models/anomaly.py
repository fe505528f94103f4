"""Behaviour anomalies: an IsolationForest score and the features that make a person stand out.

:class:`AnomalyModel` fits an IsolationForest (Liu, Ting & Zhou 2008) on a handful of behaviour
features (log-scaled), blends its score with the most extreme single feature (see
:meth:`AnomalyModel.score`) and explains each score by robust z-scores: for each feature,
``(x - median) / scale`` with ``scale`` the MAD × 1.4826 (falling back to 1.2533 × the mean
absolute deviation, then the standard deviation, when most people share one value — refunds and
shared devices are rare). The reasons are the features with the largest upward z-score above
``min_z`` — every feature here is suspicious when *high*:

- ``spend_spike``: spend of the last 90 days over the run rate of the 275 days before
  (``(spend_90d + c) / (spend_prev_275d × 90/275 + c)``, ``c`` one typical order, so one order
  from a new customer is no spike);
- ``refund_share`` and ``refunded_orders``: orders refunded or cancelled (refund abuse);
- ``accounts_per_device``: persons sharing the person's busiest device id (``identities``);
- ``spend_90d``, ``orders_90d``, ``avg_order_value``.

:func:`anomaly_features` computes them on the engine at ``as_of``; :func:`score_anomalies`
fits and scores in one call.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"refund_share": rng.beta(1, 30, 300), "orders_90d": rng.poisson(2, 300)})
>>> X.loc[7, "refund_share"] = 0.8
>>> out = score_anomalies(X)
>>> int(out["anomaly_score"].idxmax()), out.loc[7, "anomaly_reasons"].split(" (")[0]
(7, 'refund_share = 0.8')
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from huaxiang.errors import ModelError, SchemaError
from huaxiang.models.base import Estimator

if TYPE_CHECKING:
    from huaxiang.engine.base import Engine

__all__ = ["ANOMALY_FEATURES", "AnomalyModel", "anomaly_features", "score_anomalies"]

#: Features the model uses when present (all suspicious when high).
ANOMALY_FEATURES = ("spend_spike", "refund_share", "refunded_orders", "accounts_per_device", "spend_90d",
                    "orders_90d", "avg_order_value")


def _robust_scale(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 1.0
    med = float(np.median(finite))
    for scale in (1.4826 * float(np.median(np.abs(finite - med))), 1.2533 * float(np.mean(np.abs(finite - med))),
                  float(np.std(finite))):
        if scale > 1e-12:
            return scale
    return 1.0


class AnomalyModel(Estimator):
    """IsolationForest anomaly score with per-person reasons (robust z-scores).

    Parameters
    ----------
    n_estimators : int
        Trees of the forest.
    contamination : float or "auto"
        Share of persons the forest flags (sets ``threshold_``).
    top_reasons : int
        At most this many features are named per person.
    min_z : float
        A feature is named only when its robust z-score is at least this.
    random_state : int
        Seed of the forest.

    Attributes
    ----------
    features_ : list of str
        The columns used (of :data:`ANOMALY_FEATURES` present in the data, or all numeric ones).
    forest_ : sklearn.ensemble.IsolationForest
    median_, scale_ : dict
        Per-feature centre and robust scale of the log1p values.
    threshold_ : float
        Scores (:meth:`score`) at or above it are flagged: the top ``contamination`` share of the
        training rows (10% with ``"auto"``).
    """

    _fitted_attr = "forest_"
    _fit_hint = "fit(X)"

    features_: list[str]
    forest_: Any
    median_: dict[str, float]
    scale_: dict[str, float]
    threshold_: float

    def __init__(self, *, n_estimators: int = 200, contamination: float | str = 0.05, top_reasons: int = 3,
                 min_z: float = 3.0, random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.top_reasons = top_reasons
        self.min_z = min_z
        self.random_state = random_state

    def _validate_cols(self, X: pd.DataFrame, columns: list[str] | None = None) -> list[str]:
        if not isinstance(X, pd.DataFrame):
            raise SchemaError(f"AnomalyModel: X must be a pandas DataFrame, got {type(X).__name__}")
        if columns is None:
            columns = [c for c in ANOMALY_FEATURES if c in X.columns]
            if not columns:
                raise SchemaError("AnomalyModel: X has none of the behaviour features "
                                  f"{', '.join(ANOMALY_FEATURES)}; compute them with anomaly_features().")
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise SchemaError(f"AnomalyModel: X lacks column(s) {', '.join(missing)} the model was fitted with.")
        text = [c for c in columns if not pd.api.types.is_numeric_dtype(X[c])]
        if text:
            raise SchemaError(f"AnomalyModel: column(s) {', '.join(text)} must be numeric.")
        return columns

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        values = X[self.features_].astype(np.float64).to_numpy()
        values = np.sign(values) * np.log1p(np.abs(values))
        medians = np.array([self.median_[c] for c in self.features_])
        return np.where(np.isfinite(values), values, medians)

    def fit(self, X: pd.DataFrame) -> Self:
        """Fit the forest and the robust centres/scales on ``X`` (one row per person).

        Raises
        ------
        SchemaError
            No usable column.
        ModelError
            Fewer than 10 rows.
        """
        from sklearn.ensemble import IsolationForest

        self.features_ = self._validate_cols(X)
        if len(X) < 10:
            raise ModelError(f"AnomalyModel: needs at least 10 persons to tell unusual from usual, got {len(X)}.")
        raw = X[self.features_].astype(np.float64).to_numpy()
        logged = np.sign(raw) * np.log1p(np.abs(raw))
        self.median_ = {c: float(np.nanmedian(logged[:, i])) if np.isfinite(logged[:, i]).any() else 0.0
                        for i, c in enumerate(self.features_)}
        self.scale_ = {c: _robust_scale(logged[:, i]) for i, c in enumerate(self.features_)}
        with threadpool_limits(1):
            self.forest_ = IsolationForest(n_estimators=self.n_estimators, contamination=self.contamination,
                                           random_state=self.random_state,
                                           n_jobs=1).fit(self._transform(X))
        scores = self.score(X).to_numpy()
        share = 0.1 if self.contamination == "auto" else float(self.contamination)
        self.threshold_ = float(np.quantile(scores, 1.0 - share))
        return self

    def isolation_score(self, X: pd.DataFrame) -> pd.Series:
        """The forest's score in (0, 1]: about 0.5 for usual behaviour, towards 1 for the isolated."""
        self._check_fitted()
        self._validate_cols(X, self.features_)
        with threadpool_limits(1):
            s = -self.forest_.score_samples(self._transform(X))
        return pd.Series(s, index=X.index, name="isolation_score")

    def score(self, X: pd.DataFrame) -> pd.Series:
        """Anomaly score in [0, 1]: the mean of the forest's score and ``1 - 2**(-z_max / min_z)``.

        ``z_max`` is the largest upward robust z-score (0 if none): one feature far out — ten
        accounts on one device — counts even when the forest, which splits on random features,
        dilutes it among the usual ones; ``z_max = min_z`` maps to 0.5, the forest's neutral value.
        """
        z = self.zscores(X).to_numpy()
        z_max = np.clip(np.nanmax(np.where(np.isfinite(z), z, 0.0), axis=1), 0.0, None)
        extreme = 1.0 - np.power(2.0, -z_max / self.min_z)
        blended = 0.5 * self.isolation_score(X).to_numpy() + 0.5 * extreme
        return pd.Series(blended, index=X.index, name="anomaly_score")

    def zscores(self, X: pd.DataFrame) -> pd.DataFrame:
        """Robust z-score of every feature (of its log1p value) per person."""
        self._check_fitted()
        self._validate_cols(X, self.features_)
        logged = self._transform(X)
        med = np.array([self.median_[c] for c in self.features_])
        scale = np.array([self.scale_[c] for c in self.features_])
        return pd.DataFrame((logged - med) / scale, index=X.index, columns=self.features_)

    def reasons(self, X: pd.DataFrame) -> pd.Series:
        """The top features per person, e.g. ``refund_share = 0.8 (typical 0.03, z = 7.1)``; "" if none."""
        z = self.zscores(X)
        typical = {c: float(np.sign(self.median_[c]) * np.expm1(abs(self.median_[c]))) for c in self.features_}
        zv = z.to_numpy()
        order = np.argsort(-zv, axis=1)[:, : self.top_reasons]
        out = []
        values = X[self.features_].to_numpy(dtype=np.float64)
        for i in range(len(z)):
            parts = [f"{self.features_[j]} = {values[i, j]:.3g} (typical {typical[self.features_[j]]:.3g}, "
                     f"z = {zv[i, j]:.1f})" for j in order[i] if zv[i, j] >= self.min_z]
            out.append("; ".join(parts))
        return pd.Series(out, index=X.index, name="anomaly_reasons", dtype=object)


def score_anomalies(X: pd.DataFrame, **params: Any) -> pd.DataFrame:
    """Fit :class:`AnomalyModel` on ``X`` and return ``anomaly_score`` and ``anomaly_reasons`` per row.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"orders_90d": [1, 2, 1, 2, 1, 2, 1, 2, 1, 40]})
    >>> score_anomalies(X)["anomaly_reasons"].iloc[-1].startswith("orders_90d = 40")
    True
    """
    model = AnomalyModel(**params).fit(X)
    return pd.DataFrame({"anomaly_score": model.score(X), "anomaly_reasons": model.reasons(X)})


def anomaly_features(engine: Engine, *, as_of: datetime) -> pd.DataFrame:
    """Behaviour features of every person with an order before ``as_of`` (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        ``person_id`` and :data:`ANOMALY_FEATURES`.

    Examples
    --------
    >>> # anomaly_features(ws.engine, as_of=datetime(2026, 1, 1)).sort_values("spend_spike").tail()
    """
    import ibis

    from huaxiang.features.persons import person_orders

    o = person_orders(engine, as_of=ibis.timestamp(as_of))
    recent = o.order_ts >= ibis.timestamp(as_of - timedelta(days=90))
    earlier = (o.order_ts >= ibis.timestamp(as_of - timedelta(days=365))) & ~recent
    refunded = o.status.isin(["refunded", "cancelled"])
    agg = o.group_by("person_id").aggregate(
        spend_90d=recent.ifelse(o.net_amount, 0.0).sum(),
        spend_prev=earlier.ifelse(o.net_amount, 0.0).sum(),
        orders_90d=(recent & o.is_purchase).ifelse(1, 0).sum(),
        refunded_orders=refunded.ifelse(1, 0).sum(),
        orders=o.count(),
        purchase_value=o.is_purchase.ifelse(o.amount, 0.0).sum(),
        purchases=o.is_purchase.ifelse(1, 0).sum(),
    )
    frame = engine.execute(agg)
    frame["person_id"] = frame["person_id"].astype(str)
    # the engine's row order varies between runs; the forest's subsamples follow row positions
    frame = frame.sort_values("person_id", kind="stable").reset_index(drop=True)
    for col in ("spend_90d", "spend_prev", "purchase_value"):
        frame[col] = frame[col].astype(np.float64)
    frame["avg_order_value"] = frame["purchase_value"] / frame["purchases"].where(frame["purchases"] > 0)
    typical = float(frame["avg_order_value"].median()) if frame["avg_order_value"].notna().any() else 1.0
    typical = max(typical, 1e-6) if np.isfinite(typical) else 1.0
    run_rate = frame["spend_prev"].clip(lower=0) * 90.0 / 275.0
    frame["spend_spike"] = (frame["spend_90d"].clip(lower=0) + typical) / (run_rate + typical)
    frame["refund_share"] = frame["refunded_orders"] / frame["orders"].where(frame["orders"] > 0)
    frame["accounts_per_device"] = 1.0
    if engine.has_table("identities"):
        ids = engine.table("identities")
        dev = ids.filter(ids.identifier_type == "device_id").select("identifier_value", "person_id").distinct()
        per_device = dev.group_by("identifier_value").aggregate(accounts=dev.person_id.nunique())
        mine = dev.inner_join(per_device, "identifier_value")
        counts = engine.execute(mine.group_by("person_id").aggregate(accounts=mine.accounts.max()))
        if len(counts):
            mapped = frame["person_id"].map(dict(zip(counts["person_id"].astype(str), counts["accounts"], strict=True)))
            frame["accounts_per_device"] = mapped.fillna(1.0).astype(np.float64)
    return frame[["person_id", *ANOMALY_FEATURES]]
