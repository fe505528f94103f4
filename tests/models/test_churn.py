"""Churn: ours against BG/NBD and Pareto/NBD on real data, every AUC computed here on one split.

- CDNOW (transactions only): ours must be within 0.005 AUC of the better BTYD model.
- Online Retail (baskets, breadth, returns): ours must beat the better BTYD model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from huaxiang.errors import ModelError, SchemaError
from huaxiang.models import BetaGeoModel, ChurnModel, ParetoNBDModel

CDNOW_CAL_END = pd.Timestamp("1997-09-30")
CDNOW_HOLDOUT_END = pd.Timestamp("1998-06-30")
RETAIL_CUT = pd.Timestamp("2011-06-01")
RETAIL_END = pd.Timestamp("2011-12-10")  # label: buys again by 2011-12-09 (inclusive)
NON_PRODUCT = ["POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B"]


def btyd_auc(model: BetaGeoModel | ParetoNBDModel, train: pd.DataFrame, test: pd.DataFrame, y: np.ndarray,
             horizon: float) -> tuple[np.ndarray, float]:
    summary = train[["frequency", "recency", "T"]].assign(customer_id=np.arange(len(train)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(summary)
    other = test[["frequency", "recency", "T"]].assign(customer_id=np.arange(len(test)))
    score = -model.expected_purchases(other, horizon).to_numpy()
    return score, float(roc_auc_score(y, score))


def cdnow_summary(shared_data: Path) -> pd.DataFrame:
    """Weekly calibration summary (lifetimes' recipe, same-day purchases merged) and the holdout label."""
    tx = pd.read_csv(shared_data / "cdnow" / "CDNOW_sample.txt", sep=r"\s+", header=None,
                     names=["master_id", "customer_id", "date", "cds", "dollars"], dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    days = tx.groupby(["customer_id", "date"], as_index=False)["dollars"].sum()
    cal = days[days["date"] <= CDNOW_CAL_END]
    g = cal.groupby("customer_id")
    out = pd.DataFrame({"frequency": g.size() - 1, "recency": (g["date"].max() - g["date"].min()).dt.days / 7.0,
                        "T": (CDNOW_CAL_END - g["date"].min()).dt.days / 7.0})
    repeat_value = g["dollars"].sum() - g["dollars"].first()
    out["monetary_value"] = np.where(out["frequency"] > 0, repeat_value / out["frequency"].clip(lower=1), 0.0)
    later = days[(days["date"] > CDNOW_CAL_END) & (days["date"] <= CDNOW_HOLDOUT_END)]
    out["churned"] = (~out.index.isin(later["customer_id"])).astype(int)
    return out.reset_index(drop=True)


@pytest.mark.slow
def test_cdnow_churn_is_never_worse_than_the_best_btyd(shared_data: Path) -> None:
    data = cdnow_summary(shared_data)
    assert len(data) == 2357 and data["churned"].mean() == pytest.approx(0.71, abs=0.01)  # published: 29.0% buy
    X, y = data.drop(columns="churned"), data["churned"].to_numpy()
    folds: dict[str, list[float]] = {name: [] for name in ("ours", "bgnbd", "pareto_nbd")}
    chosen = []
    # each fold: every model trained on the same 4/5 of the customers, AUC on the same other 1/5
    for train, test in StratifiedKFold(n_splits=5, shuffle=True, random_state=7).split(X, y):
        model = ChurnModel(horizon=39.0).fit(X.iloc[train], y[train])
        chosen.append(model.chosen_)
        folds["ours"].append(float(roc_auc_score(y[test], model.predict_proba(X.iloc[test])[:, 1])))
        folds["bgnbd"].append(btyd_auc(BetaGeoModel(), X.iloc[train], X.iloc[test], y[test], 39.0)[1])
        folds["pareto_nbd"].append(btyd_auc(ParetoNBDModel(), X.iloc[train], X.iloc[test], y[test], 39.0)[1])
    auc = {name: float(np.mean(values)) for name, values in folds.items()}
    print("\nCDNOW churn AUC (mean of 5 folds, 2,357 customers):",
          ", ".join(f"{k} {v:.4f}" for k, v in auc.items()), "| chosen per fold:", chosen)
    print("per fold:", {k: [round(v, 4) for v in values] for k, values in folds.items()})
    assert auc["ours"] >= max(auc["bgnbd"], auc["pareto_nbd"]) - 0.005
    assert auc["pareto_nbd"] > 0.75  # the BTYD models work on this data at all


def retail_features(shared_data: Path) -> pd.DataFrame:
    """Customers who bought before 2011-06-01: CLV summary (days), basket, breadth and return features.

    Cancellations (``C…`` invoices) are not purchases and net out of spend; bad-debt lines,
    non-product codes and exact duplicate lines are dropped.
    """
    r = pd.read_parquet(shared_data / "online_retail" / "online_retail.parquet")
    r = r[r["CustomerID"].notna() & ~r["InvoiceNo"].str.startswith("A") & ~r["StockCode"].isin(NON_PRODUCT)]
    r = r.drop_duplicates()
    r = r.assign(value=r["Quantity"] * r["UnitPrice"], cancel=r["InvoiceNo"].str.startswith("C"))
    past = r[r["InvoiceDate"] < RETAIL_CUT]
    sales = past[~past["cancel"]]
    inv = sales.groupby(["CustomerID", "InvoiceNo"]).agg(ts=("InvoiceDate", "min"), value=("value", "sum"),
                                                         lines=("StockCode", "size"), qty=("Quantity", "sum"))
    inv["day"] = inv["ts"].dt.normalize()
    days = inv.groupby(["CustomerID", "day"])["value"].sum().reset_index()
    g = days.groupby("CustomerID")
    X = pd.DataFrame({"frequency": g.size() - 1,
                      "recency": (g["day"].max() - g["day"].min()).dt.days.astype(float),
                      "T": (RETAIL_CUT - g["day"].min()).dt.days.astype(float)})
    total = g["value"].sum()
    X["monetary_value"] = np.where(X["frequency"] > 0, (total - g["value"].first()) / X["frequency"].clip(lower=1), 0)
    per_invoice = inv.groupby("CustomerID")
    X["orders_total"] = per_invoice.size()
    X["avg_order_value"] = per_invoice["value"].mean()
    X["avg_lines_per_order"] = per_invoice["lines"].mean()
    X["avg_units_per_order"] = per_invoice["qty"].mean()
    X["product_breadth"] = sales.groupby("CustomerID")["StockCode"].nunique()
    cancelled = past[past["cancel"]]
    X["returns"] = cancelled.groupby("CustomerID")["InvoiceNo"].nunique().reindex(X.index).fillna(0)
    X["return_value_share"] = ((-cancelled.groupby("CustomerID")["value"].sum()).reindex(X.index).fillna(0)
                               / total.clip(lower=1))
    X["uk"] = (sales.groupby("CustomerID")["Country"].first() == "United Kingdom").astype(int)
    future = r[(r["InvoiceDate"] >= RETAIL_CUT) & (r["InvoiceDate"] < RETAIL_END) & ~r["cancel"]]
    X["churned"] = (~X.index.isin(future["CustomerID"])).astype(int)
    return X.reset_index(drop=True)


@pytest.mark.slow
def test_online_retail_churn_beats_the_best_btyd(shared_data: Path) -> None:
    data = retail_features(shared_data)
    horizon = float((RETAIL_END - RETAIL_CUT).days)
    train, test = train_test_split(data, test_size=0.4, stratify=data["churned"], random_state=3)
    y_train, y_test = train["churned"].to_numpy(), test["churned"].to_numpy()
    model = ChurnModel(horizon=horizon, n_folds=3, btyd_sample=1000).fit(train.drop(columns="churned"), y_train)
    auc = {"ours": float(roc_auc_score(y_test, model.predict_proba(test.drop(columns="churned"))[:, 1]))}
    auc["bgnbd"] = btyd_auc(BetaGeoModel(), train, test, y_test, horizon)[1]
    auc["pareto_nbd"] = btyd_auc(ParetoNBDModel(), train.sample(1000, random_state=0), test, y_test, horizon)[1]
    print(f"\nOnline Retail churn AUC ({len(train)} train / {len(test)} test customers, cut {RETAIL_CUT:%Y-%m-%d}):",
          ", ".join(f"{k} {v:.4f}" for k, v in auc.items()), f"| chosen: {model.chosen_}",
          "| fold AUCs:", {k: round(v, 4) for k, v in model.cv_auc_.items()})
    assert auc["ours"] > max(auc["bgnbd"], auc["pareto_nbd"])


def _toy(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    T = rng.uniform(100, 300, n)
    freq = rng.poisson(3, n)
    rec = np.where(freq > 0, T * rng.uniform(0.1, 1.0, n), 0.0)
    X = pd.DataFrame({"frequency": freq, "recency": rec, "T": T, "noise": rng.normal(size=n)})
    y = ((T - rec > 90) | (rng.random(n) < 0.2)).astype(int)
    return X, y


def test_churn_model_probabilities_are_calibrated_and_ranked() -> None:
    X, y = _toy(600)
    model = ChurnModel(horizon=90.0, n_folds=3).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert set(model.cv_auc_) == {"gbm", "logistic", "bgnbd", "pareto_nbd"}
    assert model.cv_auc_[model.chosen_] >= max(model.cv_auc_.values()) - model.min_gain - 1e-12
    assert abs(p.mean() - y.mean()) < 0.05  # Platt scaling keeps the base rate
    assert roc_auc_score(y, p) > 0.75
    assert model.summary()["chosen"] == model.chosen_


def test_a_column_empty_in_one_folds_training_rows_does_not_break_the_fit() -> None:
    # one person has a value, everyone else NULL ("no data"): in the fold that tests that person, the
    # training rows have no value at all (scikit-learn's binning failed there on a 300-customer demo)
    X, y = _toy(300, seed=3)
    X["rare"] = np.nan
    X.loc[X.index[0], "rare"] = 1.0
    model = ChurnModel(horizon=90.0, n_folds=3).fit(X, y)
    assert "gbm" in model.cv_auc_ and np.isfinite(model.cv_auc_["gbm"])
    assert np.isfinite(model.predict_proba(X)[:, 1]).all()


def test_churn_model_errors_name_the_problem() -> None:
    X, y = _toy()
    with pytest.raises(SchemaError, match="lacks column"):
        ChurnModel(horizon=90.0).fit(X.drop(columns="T"), y)
    with pytest.raises(SchemaError, match="one label per row"):
        ChurnModel(horizon=90.0).fit(X, y[:-1])
    with pytest.raises(ModelError, match="both classes"):
        ChurnModel(horizon=90.0).fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ModelError, match="not fitted"):
        ChurnModel(horizon=90.0).predict_proba(X)
    bad = X.assign(recency=X["T"] + 1)
    with pytest.raises(SchemaError, match="recency must be <= T"):
        ChurnModel(horizon=90.0).fit(bad, y)
    with pytest.raises(SchemaError, match="not numeric"):
        ChurnModel(horizon=90.0, features=["city"]).fit(X.assign(city="x"), y)
