"""The last build's fitted models and choices, to score a few persons again (identity corrections).

The models stage fits BG/NBD, Gamma-Gamma, the churn model and the anomaly forest on everyone, then
chooses per score what to deliver (the model, its baseline, or NULL when it showed no signal;
:mod:`huaxiang.models.reports`). :class:`Scorer` keeps the fitted models and those choices and is
saved with joblib as ``models/scorer.joblib`` in the workspace; :func:`refresh_scores` loads it and
replaces the ``scores`` rows of the touched persons with what the build's models give for their
current features — the same per-person computation the build ran. The population (the models'
parameters, the anomaly forest's reference) stays the last build's until the next build.

Examples
--------
>>> Scorer(as_of=None, settings=None).churn_model is None
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from huaxiang.engine.base import Engine

__all__ = ["SCORER_FILE", "Scorer", "load_scorer", "refresh_scores"]

#: Where the models stage keeps the scorer, under the workspace's ``models/`` folder.
SCORER_FILE = "scorer.joblib"


@dataclass
class Scorer:
    """Fitted models (None when not fitted) and the build's choices; see the module docstring."""

    as_of: datetime | None
    settings: Any
    bg: Any = None
    gg: Any = None
    churn_model: Any = None
    churn_baseline: Any = None
    p_alive_null: bool = False
    next_purchase_null: bool = False
    run_rate: bool = False
    anomaly: Any = None

    def save(self, path: str | Path) -> Path:
        """Write the scorer with joblib (the folder is created)."""
        import joblib

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, target)
        return target

    def score(self, features: pd.DataFrame, anomaly_data: pd.DataFrame | None = None) -> pd.DataFrame:
        """The ``scores`` rows (without ``as_of``) of the persons of ``features``, as the build scored them.

        ``anomaly_data`` is :func:`~huaxiang.models.anomaly.anomaly_features` of (at least) those persons.
        """
        from huaxiang.models.clv import expected_clv
        from huaxiang.models.nextpurchase import predict_next_purchase
        from huaxiang.models.reports import run_rate_clv
        from huaxiang.models.stage import _FLOATS, _summary

        s = self.settings
        features = features.reset_index(drop=True)
        scores = pd.DataFrame({"person_id": features["person_id"].astype(str).to_numpy()})
        for col in _FLOATS:
            scores[col] = np.nan
        scores["anomaly_reasons"] = pd.Series([None] * len(scores), dtype=object)
        buyers = features[features["frequency"].notna()] if "frequency" in features else features.iloc[:0]
        rows = buyers.index
        summary = _summary(buyers)
        spend = None
        if self.bg is not None and len(buyers):
            both = self.bg.expected_purchases_and_alive(summary, 90.0)
            scores.loc[rows, "expected_purchases_90d"] = both["expected_purchases"].to_numpy()
            scores.loc[rows, "p_alive"] = both["probability_alive"].to_numpy()
            if self.gg is not None:
                valid = (summary["frequency"] == 0) | (summary["monetary_value"] > 0)
                ok = summary[valid].fillna({"monetary_value": 0.0})
                if len(ok):
                    clv = expected_clv(self.bg, self.gg, ok, horizon_months=s.clv.horizon_months,
                                       discount_rate_monthly=s.clv.discount_rate_monthly, time_unit_days=1.0,
                                       days_per_month=30.0)
                    scores.loc[ok.index, "clv"] = clv.to_numpy()
                    spend = pd.Series(self.gg.expected_spend(ok).to_numpy(), index=ok.index)
            if s.next_purchase.enabled:
                nxt = predict_next_purchase(self.bg, summary, window_days=30.0)
                scores.loc[rows, "p_purchase_30d"] = nxt["p_purchase"].to_numpy()
                scores.loc[rows, "expected_days_to_next_purchase"] = nxt["expected_days_to_next_purchase"].to_numpy()
        if len(buyers):
            if self.churn_baseline is not None:
                p_buy = self.churn_baseline.probability_of_purchase_within(summary, float(s.churn.horizon_days))
                scores.loc[rows, "churn_prob"] = 1.0 - p_buy.to_numpy()
            elif self.churn_model is not None:
                scores.loc[rows, "churn_prob"] = self.churn_model.predict_proba(buyers)[:, 1]
            if self.p_alive_null:
                scores.loc[rows, "p_alive"] = np.nan
            if self.next_purchase_null:
                scores.loc[rows, ["p_purchase_30d", "expected_days_to_next_purchase"]] = np.nan
            if self.run_rate:
                rate = summary["frequency"].to_numpy(dtype=np.float64) / np.maximum(summary["T"].to_numpy(), 1.0)
                scores.loc[rows, "expected_purchases_90d"] = rate * 90.0
                if spend is not None:
                    sub = summary.loc[summary.index.intersection(spend.index)]
                    scores.loc[sub.index, "clv"] = run_rate_clv(
                        sub["frequency"].to_numpy(), sub["T"].to_numpy(), spend.loc[sub.index].to_numpy(),
                        horizon_months=s.clv.horizon_months, discount_rate_monthly=s.clv.discount_rate_monthly)
        if self.anomaly is not None and anomaly_data is not None:
            data = anomaly_data[anomaly_data["person_id"].isin(set(scores["person_id"]))].reset_index(drop=True)
            if len(data):
                score = self.anomaly.score(data)
                reasons = self.anomaly.reasons(data).replace("", None).where(score >= self.anomaly.threshold_)
                position = pd.Series(scores.index, index=scores["person_id"])
                at = position.loc[data["person_id"]].to_numpy()
                scores.loc[at, "anomaly_score"] = score.to_numpy()
                scores.loc[at, "anomaly_reasons"] = reasons.to_numpy()
        return scores


def load_scorer(path: str | Path) -> Scorer | None:
    """The scorer saved at ``path``, or None when there is none (or it cannot be read).

    >>> load_scorer("/nonexistent/scorer.joblib") is None
    True
    """
    file = Path(path)
    try:
        stamp = file.stat()
    except OSError:
        return None
    key = (str(file.resolve()), stamp.st_mtime_ns, stamp.st_size)
    if key in _LOADED:  # the live path scores every micro-batch: load the file once per version
        return _LOADED[key]
    import joblib

    try:
        scorer = joblib.load(file)
    except (OSError, ValueError, EOFError, AttributeError, ModuleNotFoundError):
        return None
    if not isinstance(scorer, Scorer):
        return None
    _LOADED.clear()
    _LOADED[key] = scorer
    return scorer


#: The last scorer loaded, by (file, mtime, size).
_LOADED: dict[tuple[str, int, int], Scorer] = {}


def refresh_scores(engine: Engine, person_ids: Sequence[str], *, workspace_dir: str | Path,
                   as_of: datetime | None = None) -> int:
    """Replace the ``scores`` rows of ``person_ids`` with the saved :class:`Scorer`'s; returns rows written.

    ``as_of`` is the cut-off of the persons' features (default the build's): it stamps the rows and
    dates the anomaly features.

    Does nothing without a ``scores`` table or a saved scorer of the build that wrote it (a build
    before this one, or ``models.save: false``): the rows stay the last build's. A person no longer in ``features``
    loses their row.
    """
    from huaxiang.models.stage import SCORE_COLUMNS

    if not engine.has_table("scores") or not engine.has_table("features"):
        return 0
    scorer = load_scorer(Path(workspace_dir) / "models" / SCORER_FILE)
    stored = engine.execute(engine.table("scores").as_of.min())  # rows refreshed since carry a later as_of
    if scorer is None or (scorer.as_of is not None and pd.notna(stored)
                          and pd.Timestamp(stored) != pd.Timestamp(scorer.as_of)):
        return 0  # no scorer, or one from another build than the stored scores
    ids = sorted({str(p) for p in person_ids})
    f = engine.table("features")
    from huaxiang.features.persons import person_table

    features = engine.execute(f.semi_join(person_table(ids), "person_id"))
    features["person_id"] = features["person_id"].astype(str)
    features = features.sort_values("person_id", kind="stable").reset_index(drop=True)
    anomaly_data = None
    as_of = as_of or scorer.as_of
    if scorer.anomaly is not None and as_of is not None and len(features):
        from huaxiang.models.anomaly import anomaly_features

        anomaly_data = anomaly_features(engine, as_of=as_of)
    scores = scorer.score(features, anomaly_data)
    stamp: Any = pd.NaT if as_of is None else pd.Timestamp(as_of)
    scores["as_of"] = pd.Series([stamp] * len(scores), dtype="datetime64[us]")
    _floats = [c for c in SCORE_COLUMNS if c not in ("person_id", "anomaly_reasons", "as_of")]
    scores = scores.astype({c: "float64" for c in _floats})
    scores["anomaly_reasons"] = scores["anomaly_reasons"].astype(object).where(scores["anomaly_reasons"].notna(), None)
    engine.replace_rows("scores", scores[SCORE_COLUMNS], ids)
    return len(scores)
