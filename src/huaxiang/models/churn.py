"""Churn: the probability that a buyer makes no purchase in the next ``horizon``.

:class:`ChurnModel` is a small model-selection machine built around one fact measured on real
data: with nothing but transactions, the buy-till-you-die (BTYD) models rank churners as well
as anything (CDNOW: BG/NBD and Pareto/NBD expected purchases beat gradient boosting on the RFM
columns), while richer behaviour (baskets, breadth, refunds, channels) lets a learner do
better. So the model

1. fits BG/NBD (Fader, Hardie & Lee 2005) and Pareto/NBD (Schmittlein, Morrison & Colombo
   1987) on the training summary (``frequency``, ``recency``, ``T``; unsupervised, no label
   used) and adds their expected purchases in the horizon and P(alive) as features;
2. scores four candidates by stratified K-fold out-of-fold AUC: scikit-learn
   ``HistGradientBoostingClassifier`` on every feature (Friedman 2001; Ke et al. 2017),
   a logistic regression on signed-log features, and each BTYD model's ``-E[X(horizon)]``
   alone;
3. keeps the best (a learner must beat the best BTYD model by ``min_gain``; ties go to the
   simpler candidate), refits it on all rows and calibrates
   its score with Platt scaling (a logistic fit of the label on the out-of-fold score:
   strictly monotone, so the ranking — and the AUC — is the candidate's own).

It is therefore never worse than the better BTYD model beyond the noise of the fold estimate,
and better when the extra columns carry signal. :func:`churn_training_set` builds a
point-in-time training set from a workspace (:mod:`huaxiang.models.training`; the BTYD
features are in :mod:`huaxiang.models.btyd`): features at ``cutoff`` from data before it, label
"no purchase in ``[cutoff, cutoff + horizon)``".

Examples
--------
>>> import numpy as np, pandas as pd
>>> from huaxiang.models import ChurnModel
>>> rng = np.random.default_rng(0)
>>> n = 400
>>> T = rng.uniform(100, 300, n)
>>> freq = rng.poisson(3, n)
>>> rec = np.where(freq > 0, T * rng.uniform(0.1, 1.0, n), 0.0)
>>> X = pd.DataFrame({"frequency": freq, "recency": rec, "T": T})
>>> y = ((T - rec > 90) | (rng.random(n) < 0.2)).astype(int)
>>> model = ChurnModel(horizon=90.0, n_folds=3).fit(X, y)
>>> model.chosen_ in ("gbm", "logistic", "bgnbd", "pareto_nbd")
True
>>> proba = model.predict_proba(X)
>>> proba.shape, bool(((proba >= 0) & (proba <= 1)).all())
((400, 2), True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from huaxiang.errors import ModelError, SchemaError
from huaxiang.models.base import Estimator
from huaxiang.models.btyd import BTYD_FEATURES, btyd_features, btyd_summary, fit_btyd
from huaxiang.models.clv import BetaGeoModel, ParetoNBDModel
from huaxiang.models.training import churn_labels, churn_training_set

__all__ = ["BTYD_FEATURES", "ChurnModel", "btyd_features", "churn_labels", "churn_training_set", "fit_btyd"]

#: Columns that identify a row and are never features.
ID_COLUMNS = ("customer_id", "person_id", "as_of", "churned")
#: Weights of the learner when blended with the BTYD dropout probability (see ChurnModel._blend_dropout).
_ALIVE_WEIGHTS = (0.85, 0.7, 0.5)
#: Features whose effect on churn has a known direction (+1 raises it, -1 lowers it).
_MONOTONIC = {"recency_days": 1, "gap": 1, "missed_purchases": 1, "overdue_ratio": 1,
              "bgnbd_p_alive": -1, "pareto_p_alive": -1}
_REQUIRED = ("frequency", "recency", "T")
_CANDIDATES = ("pareto_nbd", "bgnbd", "logistic", "gbm")  # order = preference on ties (simpler first)


def _signed_log(values: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = np.sign(values) * np.log1p(np.abs(values))
    return out


def _auc(y: NDArray[np.int64], score: NDArray[np.float64]) -> float:
    from sklearn.metrics import roc_auc_score

    ok = np.isfinite(score)
    if ok.sum() < len(score) or len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score))


class ChurnModel(Estimator):
    """Calibrated churn probability: the best of gradient boosting, logistic and BTYD by K-fold AUC.

    Parameters
    ----------
    horizon : float
        The churn window, in the time unit of ``recency`` and ``T`` (the label is "no purchase
        within ``horizon`` after ``T``"); BTYD features are computed for this horizon.
    features : sequence of str, optional
        Extra columns to learn from besides ``frequency``, ``recency``, ``T``; default every
        numeric column of ``X`` except ``customer_id``, ``person_id``, ``as_of``, ``churned``.
    candidates : sequence of str
        Which of ``gbm``, ``logistic``, ``bgnbd``, ``pareto_nbd`` may be chosen.
    n_folds : int
        Stratified folds of the out-of-fold comparison (reduced when a class is small).
    learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization
        ``HistGradientBoostingClassifier`` settings.
    min_gain : float
        Out-of-fold AUC a learner (``gbm``, ``logistic``) must gain over the best BTYD candidate to
        be chosen: fold estimates are noisy, and on transaction-only data a learner that merely
        ties the BTYD model is the riskier choice.
    btyd_sample : int, optional
        Fit the BTYD models on a seeded random sample of at most this many rows (their four
        population parameters are pinned down well by a thousand customers; Pareto/NBD's
        likelihood costs a hypergeometric function per distinct customer). Default: all rows.
    random_state : int
        Seed of the folds, the sample and the booster.

    Attributes
    ----------
    chosen_ : str
        The candidate that won on out-of-fold AUC.
    cv_auc_ : dict
        Out-of-fold AUC of every candidate tried.
    bgnbd_, pareto_nbd_ : BetaGeoModel or ParetoNBDModel or None
        The BTYD models fitted on the training summary (None if one failed to fit).
    estimator_ : sklearn estimator or None
        The refitted learner (None when a BTYD model was chosen).
    calibrator_ : sklearn.linear_model.LogisticRegression
        Platt scaling of the chosen score.
    feature_names_in_ : list of str
        Columns learned from (before the BTYD features are added).
    n_train_, base_rate_ : int, float
        Training rows and their churn share.
    skipped_ : dict
        Candidates not tried and why.

    References
    ----------
    Fader, Hardie & Lee (2005), *Marketing Science* 24(2); Schmittlein, Morrison & Colombo
    (1987), *Management Science* 33(1); Platt (1999), probabilistic outputs for SVMs.
    """

    _names: ClassVar[tuple[str, ...]] = _CANDIDATES
    _fitted_attr = "chosen_"
    _fit_hint = "fit(X, y)"

    chosen_: str
    cv_auc_: dict[str, float]
    bgnbd_: BetaGeoModel | None
    pareto_nbd_: ParetoNBDModel | None
    estimator_: Any
    calibrator_: Any
    feature_names_in_: list[str]
    n_train_: int
    base_rate_: float
    skipped_: dict[str, str]

    def __init__(
        self, *, horizon: float, features: Sequence[str] | None = None,
        candidates: Sequence[str] = _CANDIDATES, n_folds: int = 5, learning_rate: float = 0.1,
        max_iter: int = 100, max_leaf_nodes: int = 15, min_samples_leaf: int = 40,
        l2_regularization: float = 1.0, min_gain: float = 0.002, btyd_sample: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.horizon = horizon
        self.features = features
        self.candidates = candidates
        self.n_folds = n_folds
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.min_gain = min_gain
        self.btyd_sample = btyd_sample
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _validate_cols(self, X: pd.DataFrame) -> list[str]:
        """Check ``X``; return the feature columns. Raise :class:`SchemaError` saying what and how to fix."""
        if not isinstance(X, pd.DataFrame):
            raise SchemaError(f"ChurnModel: X must be a pandas DataFrame, got {type(X).__name__}")
        missing = [c for c in _REQUIRED if c not in X.columns]
        if missing:
            raise SchemaError(f"ChurnModel: X lacks column(s) {', '.join(missing)}; it needs the CLV summary "
                              f"{', '.join(_REQUIRED)} (the features table has them) plus any extra features.")
        for col in _REQUIRED:
            values = pd.to_numeric(X[col], errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                raise SchemaError(f"ChurnModel: column {col!r} must be finite and >= 0; {int(bad.sum())} row(s) "
                                  f"are not (first at position {int(bad.argmax())}). Score only persons with a "
                                  "purchase (frequency not null).")
        if (X["recency"].to_numpy(dtype=np.float64) > X["T"].to_numpy(dtype=np.float64) + 1e-9).any():
            raise SchemaError("ChurnModel: recency must be <= T for every row; recompute the summary with the "
                              "same as_of for both.")
        if self.features is None:
            cols = [c for c in X.columns if c not in ID_COLUMNS and c not in BTYD_FEATURES
                    and (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        else:
            cols = list(dict.fromkeys([*_REQUIRED, *self.features]))
            absent = [c for c in cols if c not in X.columns]
            if absent:
                raise SchemaError(f"ChurnModel: features {', '.join(absent)} are not columns of X; "
                                  f"X has {', '.join(map(str, X.columns))}")
            text = [c for c in cols if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
            if text:
                raise SchemaError(f"ChurnModel: features {', '.join(text)} are not numeric; encode them or "
                                  "leave them out of `features`.")
        return cols

    # ------------------------------------------------------------------ learners
    def _gbm(self, columns: Iterable[str]) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        # domain knowledge as constraints: longer since the last purchase (alone, against the person's own
        # pace) never lowers churn; a higher BTYD P(alive) never raises it
        present = set(columns)
        monotonic = {c: sign for c, sign in _MONOTONIC.items() if c in present}
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate, max_iter=self.max_iter, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            random_state=self.random_state, monotonic_cst=monotonic or None,
        )

    @staticmethod
    def _logistic() -> Any:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        return make_pipeline(FunctionTransformer(_signed_log), SimpleImputer(strategy="median"),
                             StandardScaler(), LogisticRegression(max_iter=2000))

    def _matrix(self, X: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        base = X[cols].apply(pd.to_numeric, errors="coerce").astype(np.float64)
        base.index = X.index
        bt = btyd_features(self.bgnbd_, self.pareto_nbd_, X, float(self.horizon))
        base = pd.concat([base, bt], axis=1)
        base["gap"] = base["T"] - base["recency"]
        # purchases "missed" since the last one at the person's own pace: overdue customers churn
        rate = (base["frequency"] + 1) / base["T"].clip(lower=1.0)
        base["missed_purchases"] = base["gap"] * rate
        if "repurchase_interval_days" in base.columns:
            base["overdue_ratio"] = base["gap"] / base["repurchase_interval_days"].clip(lower=1.0)
        return base.drop(columns=[c for c in base.columns if base[c].isna().all()])

    def _btyd_score(self, name: str, M: pd.DataFrame) -> NDArray[np.float64]:
        column = "bgnbd_expected" if name == "bgnbd" else "pareto_expected"
        if column not in M.columns:
            return np.full(len(M), np.nan)
        return -np.log1p(M[column].to_numpy(dtype=np.float64))

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X: pd.DataFrame, y: Any) -> Self:
        """Fit the BTYD models, compare the candidates out of fold, refit and calibrate the best.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per customer: ``frequency``, ``recency``, ``T`` and any numeric features.
        y : array-like of {0, 1}
            1 = churned (no purchase within ``horizon``).

        Returns
        -------
        self

        Raises
        ------
        SchemaError
            ``X`` lacks the summary columns or has invalid values; ``y`` has the wrong length.
        ModelError
            ``y`` holds one class only, or no candidate could be fitted.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        cols = self._validate_cols(X)
        target = np.asarray(y)
        if target.shape != (len(X),):
            raise SchemaError(f"ChurnModel: y has shape {target.shape}, X has {len(X)} rows; pass one label per row.")
        if not np.isin(target, (0, 1, True, False)).all():
            raise SchemaError("ChurnModel: y must be 0/1 (1 = churned).")
        target = target.astype(np.int64)
        counts = np.bincount(target, minlength=2)
        if counts.min() < 2:
            raise ModelError(f"ChurnModel: y needs both classes with at least 2 rows each; got {counts[0]} "
                             f"stayers and {counts[1]} churners. Use a longer data window or another horizon.")
        unknown = [c for c in self.candidates if c not in _CANDIDATES]
        if unknown:
            raise SchemaError(f"ChurnModel: unknown candidate(s) {', '.join(unknown)}; use {', '.join(_CANDIDATES)}")
        self.feature_names_in_ = cols
        self.skipped_ = {}
        summary = btyd_summary(X)
        if self.btyd_sample is not None and len(summary) > self.btyd_sample:
            summary = summary.sample(n=self.btyd_sample, random_state=self.random_state)
        self.bgnbd_, self.pareto_nbd_ = None, None
        for attr, cls in (("bgnbd_", BetaGeoModel), ("pareto_nbd_", ParetoNBDModel)):
            try:
                setattr(self, attr, fit_btyd(cls, summary, float(self.horizon)))
            except (ModelError, SchemaError) as exc:
                self.skipped_["bgnbd" if attr == "bgnbd_" else "pareto_nbd"] = str(exc)
        M = self._matrix(X, cols)
        folds = int(min(self.n_folds, counts.min()))
        splitter = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=self.random_state)
        oof: dict[str, NDArray[np.float64]] = {}
        with threadpool_limits(1):  # OpenMP threads spin on a busy machine (bench/README.md)
            for name in self.candidates:
                if name in self.skipped_:
                    continue
                if name in ("bgnbd", "pareto_nbd"):
                    score = self._btyd_score(name, M)
                    if np.isfinite(score).all():
                        oof[name] = score
                    else:
                        self.skipped_[name] = f"{int((~np.isfinite(score)).sum())} non-finite expected purchases"
                    continue
                oof[name] = self._out_of_fold(name, M, target, splitter)
            self.cv_auc_ = {name: _auc(target, score) for name, score in oof.items()}
            ranked = [n for n in _CANDIDATES if n in self.cv_auc_ and math.isfinite(self.cv_auc_[n])]
            if not ranked:
                raise ModelError(f"ChurnModel: no candidate could be scored ({self.skipped_ or 'non-finite scores'})")
            handicap = {n: (self.min_gain if n in ("gbm", "logistic") and any(
                b in ranked for b in ("bgnbd", "pareto_nbd")) else 0.0) for n in ranked}
            best = max(self.cv_auc_[n] - handicap[n] for n in ranked)
            self.chosen_ = next(n for n in ranked if self.cv_auc_[n] - handicap[n] >= best - 1e-12)
            self.alive_weight_: float = 1.0
            self.alive_column_: str | None = None
            self._z = (0.0, 1.0, 0.0, 1.0)
            if self.chosen_ in ("gbm", "logistic"):
                self.estimator_ = (self._gbm(M.columns) if self.chosen_ == "gbm" else self._logistic()).fit(M, target)
                calib_x = self._blend_dropout(M, _logit(oof[self.chosen_]), target)
            else:
                self.estimator_ = None
                calib_x = oof[self.chosen_]
            self.calibrator_ = LogisticRegression(C=1e6, max_iter=1000).fit(calib_x.reshape(-1, 1), target)
        self.n_train_ = len(X)
        self.base_rate_ = float(target.mean())
        self._columns = list(M.columns)
        return self

    def _out_of_fold(self, name: str, M: pd.DataFrame, target: NDArray[np.int64], splitter: Any) -> NDArray[np.float64]:
        """Out-of-fold scores of learner ``name`` ("gbm" or "logistic"), folds fitted two at a time.

        Each learner runs on one thread (see :meth:`fit`); its fitting releases the GIL, so two
        threads fit two folds at once (timings in ``bench/README.md``; the AUCs are unchanged).
        """
        from joblib import Parallel, delayed

        def one(train: NDArray[np.int64], test: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
            # A column with no value in this fold's training rows says nothing there (and
            # scikit-learn's histogram binning fails on it): leave it out of this fold.
            kept = M.columns[M.iloc[train].notna().any().to_numpy()]
            learner = self._gbm(kept) if name == "gbm" else self._logistic()
            learner.fit(M.iloc[train][kept], target[train])
            return test, learner.predict_proba(M.iloc[test][kept])[:, 1]

        scores = np.zeros(len(M))
        for test, fold_scores in Parallel(n_jobs=2, prefer="threads")(
                delayed(one)(train, test) for train, test in splitter.split(M, target)):
            scores[test] = fold_scores
        return scores

    def _score(self, X: pd.DataFrame) -> NDArray[np.float64]:
        self._check_fitted()
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise SchemaError(f"ChurnModel: X lacks column(s) {', '.join(missing)} the model was fitted with.")
        self._validate_cols(X[[*dict.fromkeys([*_REQUIRED, *self.feature_names_in_])]])
        M = self._matrix(X, self.feature_names_in_).reindex(columns=self._columns)
        if self.estimator_ is None:
            return self._btyd_score(self.chosen_, M)
        with threadpool_limits(1):
            learned = _logit(self.estimator_.predict_proba(M)[:, 1])
        return self._blended(M, learned)

    def _blended(self, M: pd.DataFrame, learned: NDArray[np.float64]) -> NDArray[np.float64]:
        """``w · z(learner logit) + (1 − w) · z(logit(1 − P(alive)))`` with the fitted weight and scales."""
        if self.alive_column_ is None:
            return learned
        mu1, sd1, mu2, sd2 = self._z
        dropout = _logit(1.0 - M[self.alive_column_].to_numpy(dtype=np.float64))
        w = self.alive_weight_
        out: NDArray[np.float64] = w * (learned - mu1) / sd1 + (1.0 - w) * (dropout - mu2) / sd2
        return out

    def _blend_dropout(self, M: pd.DataFrame, oof_logit: NDArray[np.float64],
                       target: NDArray[np.int64]) -> NDArray[np.float64]:
        """Blend the learner with the BTYD dropout probability 1 − P(alive) when that wins out of fold.

        A horizon label ("no purchase in the next 90 days") mixes customers who left with slow buyers
        who did not; P(alive) measures leaving itself. The weight is chosen on the out-of-fold scores
        (1.0 = the learner alone, kept unless a blend has a higher AUC).
        """
        column = next((c for c in ("pareto_p_alive", "bgnbd_p_alive")
                       if c in M.columns and np.isfinite(M[c].to_numpy(dtype=np.float64)).all()), None)
        if column is None:
            return oof_logit
        dropout = _logit(1.0 - M[column].to_numpy(dtype=np.float64))
        z = (float(oof_logit.mean()), float(oof_logit.std() or 1.0), float(dropout.mean()), float(dropout.std() or 1.0))
        best_w, best_auc = 1.0, _auc(target, oof_logit)
        for w in _ALIVE_WEIGHTS:
            auc = _auc(target, w * (oof_logit - z[0]) / z[1] + (1.0 - w) * (dropout - z[2]) / z[3])
            if auc > best_auc + 1e-9:
                best_w, best_auc = w, auc
        if best_w == 1.0:
            return oof_logit
        self.alive_weight_, self.alive_column_, self._z = best_w, column, z
        self.cv_auc_[f"{self.chosen_}+dropout"] = best_auc
        return self._blended(M, oof_logit)

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Calibrated probabilities, shape ``(n, 2)``: column 0 stays, column 1 churns.

        Raises
        ------
        ModelError
            Called before :meth:`fit`.
        SchemaError
            ``X`` lacks a column the model was fitted with.
        """
        score = self._score(X)
        churn = self.calibrator_.predict_proba(score.reshape(-1, 1))[:, 1]
        return np.column_stack([1.0 - churn, churn])

    def predict_churn(self, X: pd.DataFrame) -> pd.Series:
        """P(churn) as a Series on ``X``'s index (``churn_prob``)."""
        return pd.Series(self.predict_proba(X)[:, 1], index=X.index, name="churn_prob")

    def summary(self) -> dict[str, Any]:
        """JSON-ready description: parameters, chosen candidate, fold AUCs, BTYD parameters."""
        self._check_fitted()
        return {
            "model": "ChurnModel", "horizon": self.horizon, "chosen": self.chosen_,
            "dropout_blend": {"column": self.alive_column_, "learner_weight": self.alive_weight_},
            "cv_auc": {k: round(v, 6) for k, v in self.cv_auc_.items()}, "n_train": self.n_train_,
            "base_rate": self.base_rate_, "features": self.feature_names_in_, "skipped": self.skipped_,
            "bgnbd": getattr(self.bgnbd_, "params_", None), "pareto_nbd": getattr(self.pareto_nbd_, "params_", None),
            "params": {"n_folds": self.n_folds, "learning_rate": self.learning_rate, "max_iter": self.max_iter,
                       "max_leaf_nodes": self.max_leaf_nodes, "min_samples_leaf": self.min_samples_leaf,
                       "l2_regularization": self.l2_regularization, "min_gain": self.min_gain,
                       "btyd_sample": self.btyd_sample,
                       "random_state": self.random_state},
        }


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    out: NDArray[np.float64] = np.log(q) - np.log1p(-q)
    return out
