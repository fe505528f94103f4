"""The models stage: CLV, churn, next purchase, anomalies (and recommendations) per person.

Reads ``features`` (its ``as_of`` is the scoring date) and the canonical tables; writes

- ``scores`` (person_id, clv, expected_purchases_90d, p_alive, churn_prob, p_purchase_30d,
  expected_days_to_next_purchase, anomaly_score, anomaly_reasons, as_of): one row per person of
  ``features``; the purchase models leave persons without a purchase NULL;
- ``model_reports`` (model, metric, value, baseline, baseline_value, train_window, n, note, used,
  reason): each model's out-of-time evaluation against its baseline, what the build delivered
  for it (``used``) and why (``reason``, see :mod:`huaxiang.models.reports`), and a ``skipped``
  row with the reason when a model could not be fitted (too few buyers, too short a history) —
  never a crash;
- ``recommendations`` when :mod:`huaxiang.models.recommend` is installed;
- ``models/*.json`` in the workspace folder: parameters, training windows and evaluations;
  ``models/scorer.joblib``: the fitted models and the choices above
  (:class:`~huaxiang.models.scorer.Scorer`), with which an identity correction re-scores the persons
  it touches.

Time-based validation (``h`` = ``models.churn.horizon_days``): a churn model is trained on
features at ``as_of - 2h`` labelled by ``[as_of - 2h, as_of - h)``, and evaluated on features at
``as_of - h`` labelled by ``[as_of - h, as_of)`` against BG/NBD and Pareto/NBD fitted on that
same window; the model that scores ``as_of`` is then refitted on the latest window. CLV and next
purchase are checked on the same evaluation window.

Examples
--------
>>> from huaxiang.models.stage import REPORT_COLUMNS, SCORE_COLUMNS
>>> SCORE_COLUMNS[:3], REPORT_COLUMNS[-2:]
(['person_id', 'clv', 'expected_purchases_90d'], ['used', 'reason'])
"""

from __future__ import annotations

import json
import os
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from huaxiang.engine.base import Engine
from huaxiang.errors import HuaxiangError, ModelError, WorkspaceError
from huaxiang.models.anomaly import AnomalyModel, anomaly_features
from huaxiang.models.churn import ChurnModel, churn_labels, churn_training_set, fit_btyd
from huaxiang.models.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel, expected_clv
from huaxiang.models.nextpurchase import evaluate_next_purchase, predict_next_purchase
from huaxiang.models.recommend import (
    Recommender,
    choose_recommender,
    evaluate_for_engine,
    load_engine_inputs,
    recommend_for_engine,
)
from huaxiang.models.reports import REPORT_COLUMNS, Reports, has_signal, run_rate_clv
from huaxiang.models.scorer import SCORER_FILE, Scorer
from huaxiang.models.settings import ModelSettings, parse_settings
from huaxiang.pipeline import StageContext, StageResult

__all__ = ["REPORT_COLUMNS", "SCORE_COLUMNS", "run_models"]

SCORE_COLUMNS = ["person_id", "clv", "expected_purchases_90d", "p_alive", "churn_prob", "p_purchase_30d",
                 "expected_days_to_next_purchase", "anomaly_score", "anomaly_reasons", "as_of"]
_FLOATS = [c for c in SCORE_COLUMNS if c not in ("person_id", "anomaly_reasons", "as_of")]


def _day(ts: datetime) -> str:
    return f"{ts:%Y-%m-%d}"


def _summary(frame: pd.DataFrame) -> pd.DataFrame:
    """BTYD summary (days) of the buyers of a features frame, ``customer_id`` = person_id."""
    out = pd.DataFrame({
        "customer_id": frame["person_id"].astype(str).to_numpy(),
        "frequency": frame["frequency"].to_numpy(dtype=np.float64),
        "recency": frame["recency"].to_numpy(dtype=np.float64),
        "T": np.maximum(frame["T"].to_numpy(dtype=np.float64), 1e-3),
        "monetary_value": (pd.to_numeric(frame["monetary_value"], errors="coerce") if "monetary_value" in frame
                           else np.nan),
    }, index=frame.index)
    out["recency"] = np.minimum(out["recency"], out["T"])
    return out


def _features_as_of(engine: Engine) -> datetime:
    from huaxiang.tags.stage import features_as_of

    return features_as_of(engine, engine.table("features"))


def _save(folder: Path, name: str, payload: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str, ensure_ascii=False),
                                         encoding="utf-8")


def _fit_clv(buyers: pd.DataFrame, s: ModelSettings, scores: pd.DataFrame, reports: Reports,
             saved: dict[str, Any], window: str) -> BetaGeoModel | ParetoNBDModel | None:
    """BG/NBD + Gamma-Gamma on the buyers at ``as_of``: clv, expected_purchases_90d, p_alive."""
    summary = _summary(buyers)
    if len(summary) < s.churn.min_buyers:
        reports.skip("clv", f"{len(summary)} buyers; BG/NBD needs at least {s.churn.min_buyers} "
                     "(models.churn.min_buyers)", window, len(summary))
        return None
    try:
        bg = fit_btyd(BetaGeoModel, summary, 90.0, penalizer_coef=s.clv.penalizer_coef)
    except HuaxiangError as exc:
        reports.skip("clv", f"BG/NBD did not fit: {exc}", window, len(summary))
        return None
    both = bg.expected_purchases_and_alive(summary, 90.0)
    scores.loc[buyers.index, "expected_purchases_90d"] = both["expected_purchases"].to_numpy()
    scores.loc[buyers.index, "p_alive"] = both["probability_alive"].to_numpy()
    saved["clv"] = {"bgnbd": bg.params_, "bgnbd_penalizer": bg.penalizer_coef, "time_unit": "days", "window": window, "n": len(summary),
                    "settings": s.clv.model_dump()}
    if not s.clv.enabled:
        return bg
    valid = (summary["frequency"] == 0) | (summary["monetary_value"] > 0)
    repeat = summary[valid & (summary["frequency"] > 0)]
    if len(repeat) < 10:
        reports.skip("clv", f"{len(repeat)} repeat buyers with a positive mean repeat spend; Gamma-Gamma needs "
                     "at least 10", window, len(repeat))
        return bg
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gg = GammaGammaModel(penalizer_coef=s.clv.penalizer_coef).fit(repeat)
        ok = summary[valid].fillna({"monetary_value": 0.0})
        clv = expected_clv(bg, gg, ok, horizon_months=s.clv.horizon_months,
                           discount_rate_monthly=s.clv.discount_rate_monthly, time_unit_days=1.0,
                           days_per_month=30.0)
    except HuaxiangError as exc:
        reports.skip("clv", f"Gamma-Gamma did not fit: {exc}", window, len(repeat))
        return bg
    scores.loc[ok.index, "clv"] = clv.to_numpy()
    # the spend of the run-rate baseline: the same Gamma-Gamma spend, so that the two differ in counts only
    saved["_spend"] = pd.Series(gg.expected_spend(ok).to_numpy(), index=ok.index)
    saved["clv"].update(gamma_gamma=gg.params_, n_repeat=len(repeat), no_clv=int((~valid).sum()))
    saved["_gg"] = gg
    return bg


def _churn(engine: Engine, ctx: StageContext, s: ModelSettings, buyers: pd.DataFrame, as_of: datetime,
           scores: pd.DataFrame, reports: Reports, saved: dict[str, Any]) -> dict[str, float]:
    """Fit and evaluate churn; evaluate CLV counts and next purchase on the same window.

    Returns the held-out figures the build's choices follow (missing keys: not evaluated).
    """
    held: dict[str, float] = {}
    h = s.churn.horizon_days
    t_val = as_of - timedelta(days=h)
    t_train = as_of - timedelta(days=2 * h)
    window = f"train {_day(t_train)}..{_day(t_val)}, eval {_day(t_val)}..{_day(as_of)}"
    first = pd.to_datetime(buyers["first_order_ts"]).min() if "first_order_ts" in buyers else pd.NaT
    if pd.isna(first) or pd.Timestamp(first) > pd.Timestamp(t_train) - pd.Timedelta(days=min(h, 30)):
        reports.skip("churn", f"the orders start {str(first)[:10]}; a {h}-day churn label needs history before "
                     f"{_day(t_train)} (2 horizons before as_of): shorten models.churn.horizon_days", window)
        return held
    params: dict[str, Any] = {"horizon": float(h), "n_folds": s.churn.n_folds, "btyd_sample": s.churn.btyd_sample,
              "min_gain": s.churn.min_gain, "random_state": s.churn.random_state}
    train = churn_training_set(engine, cutoff=t_train, horizon_days=h, features_config=ctx.config.features,
                               country=ctx.config.country)
    val = churn_training_set(engine, cutoff=t_val, horizon_days=h, features_config=ctx.config.features,
                               country=ctx.config.country)
    for name, data in (("training", train), ("evaluation", val)):
        counts = np.bincount(data["churned"].to_numpy(dtype=np.int64), minlength=2) if len(data) else np.zeros(2)
        if len(data) < s.churn.min_buyers or counts.min() < 5:
            reports.skip("churn", f"the {name} window has {len(data)} buyers ({int(counts[1])} churned, "
                         f"{int(counts[0])} stayed); need {s.churn.min_buyers} buyers and 5 of each",
                         window, len(data))
            return held
    X_train, y_train = train.drop(columns=["churned"]), train["churned"].to_numpy()
    X_val, y_val = val.drop(columns=["churned"]), val["churned"].to_numpy()
    try:
        first_model = ChurnModel(**params).fit(X_train, y_train)
        p_val = first_model.predict_proba(X_val)[:, 1]
        final = ChurnModel(**params).fit(X_val, y_val)
    except HuaxiangError as exc:
        reports.skip("churn", f"the churn model did not fit: {exc}", window, len(train))
        return held
    from sklearn.metrics import brier_score_loss, roc_auc_score

    auc = float(roc_auc_score(y_val, p_val))
    summary = _summary(X_val).assign(customer_id=np.arange(len(X_val)))
    btyd = {}
    for label, model in (("bgnbd_expected_purchases", final.bgnbd_), ("pareto_nbd_expected_purchases",
                                                                      final.pareto_nbd_)):
        if model is not None:
            with np.errstate(all="ignore"):
                btyd[label] = float(roc_auc_score(y_val, -model.expected_purchases(summary, float(h)).to_numpy()))
            reports.add("churn", "auc", auc, label, btyd[label], window, len(val),
                        f"chosen on the training window: {first_model.chosen_}")
    held["churn_auc"] = auc
    held["churn_pos"], held["churn_neg"] = float(y_val.sum()), float(len(y_val) - y_val.sum())
    held["bgnbd_auc"] = btyd.get("bgnbd_expected_purchases", float("nan"))
    held["pareto_nbd_auc"] = btyd.get("pareto_nbd_expected_purchases", float("nan"))
    reports.add("churn", "brier", float(brier_score_loss(y_val, p_val)), "base_rate",
                float(brier_score_loss(y_val, np.full(len(y_val), y_train.mean()))), window, len(val))
    scores.loc[buyers.index, "churn_prob"] = final.predict_proba(buyers)[:, 1]
    saved["_churn_model"] = final
    saved["churn"] = {**final.summary(), "train_window": window, "scoring_model_window":
                      f"features at {_day(t_val)}, label {_day(t_val)}..{_day(as_of)}",
                      "evaluation": {"auc": auc, **{f"auc_{k}": v for k, v in btyd.items()}},
                      "evaluated_model": first_model.summary()}
    # CLV and next purchase, checked on the evaluation window
    try:
        bg = fit_btyd(BetaGeoModel, summary, float(h), penalizer_coef=s.clv.penalizer_coef)
        future = churn_labels(engine, start=t_val, horizon_days=h).set_index("person_id")["purchases"]
        actual = X_val["person_id"].map(future).fillna(0).to_numpy(dtype=np.float64)
        expected = bg.expected_purchases(summary, float(h)).to_numpy()
        run_rate = summary["frequency"].to_numpy() / np.maximum(summary["T"].to_numpy(), 1.0) * h
        held["clv_mae"] = float(np.mean(np.abs(expected - actual)))
        held["run_rate_mae"] = float(np.mean(np.abs(run_rate - actual)))
        reports.add("clv", f"mae_purchases_{h}d", held["clv_mae"], "historical_run_rate", held["run_rate_mae"],
                    window, len(val))
        month = churn_labels(engine, start=t_val, horizon_days=30)
        bought = X_val["person_id"].isin(set(month["person_id"])).to_numpy()
        nxt = predict_next_purchase(bg, summary, window_days=30.0)
        ev = evaluate_next_purchase(nxt["p_purchase"], bought, summary["T"] - summary["recency"])
        held["next_purchase_auc"], held["recency_gap_auc"] = ev["auc"], ev["baseline_auc"]
        held["bought_pos"], held["bought_neg"] = float(bought.sum()), float(len(bought) - bought.sum())
        reports.add("next_purchase", "auc_30d", ev["auc"], "recency_gap", ev["baseline_auc"],
                    f"eval {_day(t_val)}..{_day(t_val + timedelta(days=30))}", ev["n"])
        reports.add("next_purchase", "brier_30d", ev["brier"], "base_rate",
                    float(np.mean((bought.mean() - bought) ** 2)), f"eval {_day(t_val)}..", ev["n"])
    except (HuaxiangError, ValueError) as exc:
        reports.add("clv", "evaluation", float("nan"), note=f"not evaluated: {exc}")
    return held


def _baseline_churn_model(name: str, bg: BetaGeoModel | ParetoNBDModel | None, buyers: pd.DataFrame,
                          s: ModelSettings) -> BetaGeoModel | ParetoNBDModel | None:
    """The BTYD model named by a churn baseline, fitted on the buyers at ``as_of`` (None if it does not fit)."""
    if name == "bgnbd_expected_purchases":
        return bg
    try:
        return fit_btyd(ParetoNBDModel, _summary(buyers), float(s.churn.horizon_days),
                        penalizer_coef=s.clv.penalizer_coef)
    except HuaxiangError:
        return None


def _decide(s: ModelSettings, buyers: pd.DataFrame, bg: BetaGeoModel | ParetoNBDModel | None,
            held: dict[str, float], scores: pd.DataFrame, reports: Reports, saved: dict[str, Any]) -> None:
    """What the build delivers, by the held-out comparison: the model, its baseline, or nothing."""
    nan = float("nan")
    rows = buyers.index
    churn_n = {"n_pos": int(held.get("churn_pos", 0)), "n_neg": int(held.get("churn_neg", 0))}
    bought_n = {"n_pos": int(held.get("bought_pos", 0)), "n_neg": int(held.get("bought_neg", 0))}
    if "churn" not in reports.skipped and s.churn.enabled and "churn_auc" in held:
        churn_auc, bg_auc = held["churn_auc"], held.get("bgnbd_auc", nan)
        baselines = {"bgnbd_expected_purchases": bg_auc, "pareto_nbd_expected_purchases": held.get("pareto_nbd_auc", nan)}
        best = max((v, k) for k, v in baselines.items() if np.isfinite(v)) if any(
            np.isfinite(v) for v in baselines.values()) else (nan, "")
        baseline_model = _baseline_churn_model(best[1], bg, buyers, s) if best[0] > churn_auc else None
        if baseline_model is not None and has_signal(best[0], **churn_n):
            # a BTYD model ranked churners better: its P(no purchase within the horizon) is the churn probability
            p_buy = baseline_model.probability_of_purchase_within(_summary(buyers), float(s.churn.horizon_days))
            scores.loc[rows, "churn_prob"] = 1.0 - p_buy.to_numpy()
            saved["_churn_baseline"] = baseline_model
            reports.decide("churn", best[1], "baseline_better")
        elif not has_signal(churn_auc, **churn_n):
            scores.loc[rows, "churn_prob"] = nan
            saved["_churn_model"] = None
            reports.decide("churn", "none", "no_signal")
        else:
            reports.decide("churn", "churn", "model_better")
        if not has_signal(churn_auc, **churn_n) and not has_signal(bg_auc, **churn_n):
            scores.loc[rows, "p_alive"] = nan
            saved["_p_alive_null"] = True
    if "next_purchase_auc" in held and s.next_purchase.enabled:
        if not has_signal(held["next_purchase_auc"], **bought_n):
            scores.loc[rows, ["p_purchase_30d", "expected_days_to_next_purchase"]] = nan
            saved["_next_purchase_null"] = True
            reports.decide("next_purchase", "none", "no_signal")
        elif held["next_purchase_auc"] >= held.get("recency_gap_auc", nan) or not np.isfinite(held["recency_gap_auc"]):
            reports.decide("next_purchase", "next_purchase", "model_better")
        else:
            reports.decide("next_purchase", "next_purchase", "below_baseline_kept")
    if bg is not None and "clv_mae" in held:
        # counts (expected_purchases_90d) follow the comparison even when the spend model was skipped
        if held["run_rate_mae"] < held["clv_mae"]:
            summary = _summary(buyers)
            rate = summary["frequency"].to_numpy(dtype=np.float64) / np.maximum(summary["T"].to_numpy(), 1.0)
            scores.loc[rows, "expected_purchases_90d"] = rate * 90.0
            saved["_run_rate"] = True
            spend = saved.get("_spend")
            if spend is not None:
                sub = summary.loc[summary.index.intersection(spend.index)]
                scores.loc[sub.index, "clv"] = run_rate_clv(
                    sub["frequency"].to_numpy(), sub["T"].to_numpy(), spend.loc[sub.index].to_numpy(),
                    horizon_months=s.clv.horizon_months, discount_rate_monthly=s.clv.discount_rate_monthly)
            if "clv" not in reports.skipped:
                reports.decide("clv", "historical_run_rate", "baseline_better")
            saved.setdefault("clv", {})["delivered"] = "historical_run_rate"
        elif "clv" not in reports.skipped:
            reports.decide("clv", "clv", "model_better")
    saved.pop("_spend", None)


def _anomalies(engine: Engine, s: ModelSettings, as_of: datetime, scores: pd.DataFrame, reports: Reports,
               saved: dict[str, Any]) -> None:
    data = anomaly_features(engine, as_of=as_of)
    data = data[data["person_id"].isin(set(scores["person_id"]))].reset_index(drop=True)
    window = f"orders before {_day(as_of)}"
    if len(data) < 10:
        reports.skip("anomaly", f"{len(data)} persons with orders; need at least 10", window, len(data))
        return
    model = AnomalyModel(n_estimators=s.anomaly.n_estimators, contamination=s.anomaly.contamination,
                         top_reasons=s.anomaly.top_reasons,
                         min_z=s.anomaly.min_z, random_state=s.anomaly.random_state).fit(data)
    score = model.score(data)
    reasons = model.reasons(data).replace("", None).where(score >= model.threshold_)
    position = pd.Series(scores.index, index=scores["person_id"])
    rows = position.loc[data["person_id"]].to_numpy()
    scores.loc[rows, "anomaly_score"] = score.to_numpy()
    scores.loc[rows, "anomaly_reasons"] = reasons.to_numpy()
    flagged = int(reasons.notna().sum())
    reports.add("anomaly", "share_flagged", flagged / len(data), "", float("nan"), window, len(data),
                f"IsolationForest on {', '.join(model.features_)}; reasons: robust z >= {s.anomaly.min_z}")
    saved["_anomaly"] = model
    saved["anomaly"] = {"features": model.features_, "median_log1p": model.median_, "scale_log1p": model.scale_,
                        "window": window, "n": len(data), "settings": s.anomaly.model_dump()}


def _recommend(engine: Engine, s: ModelSettings, as_of: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recommendations and their evaluation rows, from inputs loaded once for both."""
    inputs = load_engine_inputs(engine, as_of=as_of)
    # The ALS solver on every core: each user's (item's) update is independent, so the factors
    # are the same as on one thread (timing in bench/README.md).
    threads = max(1, min(os.cpu_count() or 1, 4))
    evaluation = evaluate_for_engine(engine, as_of=as_of, k=s.recommend.k, inputs=inputs,
                                     model=Recommender(num_threads=threads))
    used, reason = choose_recommender(evaluation, s.recommend.k)
    recs = recommend_for_engine(engine, as_of=as_of, k=s.recommend.k, inputs=inputs,
                                model=Recommender(num_threads=threads), use=used)
    evaluation.attrs["decision"] = (used, reason)
    return recs, evaluation


def _report_recommendations(engine: Engine, recs: pd.DataFrame, evaluation: pd.DataFrame,
                            reports: Reports) -> int | None:
    for row in evaluation.to_dict(orient="records"):
        reports.add(str(row.get("model", "recommend")), str(row.get("metric", "")),
                    float(row.get("value", float("nan"))), str(row.get("baseline", "")),
                    float(row.get("baseline_value", float("nan"))), str(row.get("train_window", "")),
                    int(row.get("n", 0) or 0))
    if "decision" in evaluation.attrs:
        reports.decide("recommend_als", *evaluation.attrs["decision"])
    if not len(recs):
        reports.skip("recommend", str(recs.attrs.get("reason", "no recommendations")))
        return None
    engine.materialize("recommendations", ibis.memtable(recs))
    return len(recs)


def run_models(ctx: StageContext) -> StageResult:
    """Fit CLV, churn, next purchase and anomaly models; write ``scores`` and ``model_reports``."""
    s = parse_settings(ctx.config.models)
    engine = ctx.engine
    if not engine.has_table("features"):
        raise WorkspaceError("the models stage needs the features table; run `huaxiang build` (features first)")
    features = engine.execute(engine.table("features"))
    as_of = s.as_of or _features_as_of(engine)
    features["person_id"] = features["person_id"].astype(str)
    # one order for every run (the engine's varies): samples, folds and forests follow positions
    features = features.sort_values("person_id", kind="stable").reset_index(drop=True)
    scores = pd.DataFrame({"person_id": features["person_id"].to_numpy()})
    for col in _FLOATS:
        scores[col] = np.nan
    scores["anomaly_reasons"] = pd.Series([None] * len(scores), dtype=object)
    buyers = features[features["frequency"].notna()] if "frequency" in features else features.iloc[:0]
    reports = Reports()
    saved: dict[str, Any] = {}
    window = f"orders before {_day(as_of)}"
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 2)
        clock = now

    bg = _fit_clv(buyers, s, scores, reports, saved, window)
    if bg is not None and s.next_purchase.enabled:
        nxt = predict_next_purchase(bg, _summary(buyers), window_days=30.0)
        scores.loc[buyers.index, "p_purchase_30d"] = nxt["p_purchase"].to_numpy()
        scores.loc[buyers.index, "expected_days_to_next_purchase"] = nxt["expected_days_to_next_purchase"].to_numpy()
    lap("clv")
    held: dict[str, float] = {}
    if s.churn.enabled:
        held = _churn(engine, ctx, s, buyers, as_of, scores, reports, saved)
    _decide(s, buyers, bg, held, scores, reports, saved)
    lap("churn")
    if s.anomaly.enabled:
        try:
            _anomalies(engine, s, as_of, scores, reports, saved)
        except ModelError as exc:
            reports.skip("anomaly", str(exc))
    lap("anomaly")
    counts: dict[str, int] = {}
    if s.recommend.enabled:
        try:
            recs, evaluation = _recommend(engine, s, as_of)
            n_recs = _report_recommendations(engine, recs, evaluation, reports)
            if n_recs is not None:
                counts["recommendations"] = n_recs
        except (HuaxiangError, ValueError, KeyError) as exc:
            reports.skip("recommend", f"recommendations failed: {exc}")
    lap("recommend")
    # the fitted models and the build's choices, for the persons an identity correction refreshes
    scorer = Scorer(as_of=as_of, settings=s, bg=bg, **{k[1:]: saved.pop(k) for k in list(saved) if k.startswith("_")})
    scores["as_of"] = pd.Timestamp(as_of)
    scores = scores.astype({c: "float64" for c in _FLOATS})
    scores["as_of"] = scores["as_of"].astype("datetime64[us]")
    schema = ibis.schema({"person_id": "string", **{c: "float64" for c in _FLOATS}, "anomaly_reasons": "string",
                          "as_of": "timestamp"})
    engine.materialize("scores", ibis.memtable(scores[SCORE_COLUMNS], schema=schema))
    report_frame = reports.frame()
    engine.materialize("model_reports", ibis.memtable(report_frame))
    counts.update(scores=len(scores), model_reports=len(report_frame))
    if s.save:
        folder = ctx.workspace_dir / "models"
        for name, payload in saved.items():
            _save(folder, name, {**payload, "as_of": str(as_of), "saved_at": datetime.now().isoformat(timespec="seconds")})
        scorer.save(folder / SCORER_FILE)
    else:
        # an older build's scorer would re-score persons with models these scores did not come from
        (ctx.workspace_dir / "models" / SCORER_FILE).unlink(missing_ok=True)
    lap("write")
    return StageResult(tables=counts, details={"as_of": str(as_of), "skipped": reports.skipped,
                                               "models": sorted(saved), "seconds": seconds})
