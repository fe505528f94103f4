"""CLV models against the published CDNOW results and against lifetimes.

Published numbers: Fader, Hardie & Lee (2005) for BG/NBD; Fader & Hardie's
Pareto/NBD note (2005); Fader & Hardie (2013) for Gamma-Gamma; holdout
figures as listed in ``../shared/data/README.md``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from huaxiang.errors import ModelError, SchemaError
from huaxiang.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel, expected_clv

CALIBRATION_END = pd.Timestamp("1997-09-30")
HOLDOUT_END = pd.Timestamp("1998-06-30")  # 39 weeks after the calibration end


def rel(got: float, want: float) -> float:
    return abs(got / want - 1.0)


@pytest.fixture(scope="module")
def cdnow(shared_data: Path) -> pd.DataFrame:
    """The published calibration summary, with Gamma-Gamma's mean repeat spend."""
    data = pd.read_csv(shared_data / "cdnow" / "cdnow_customers_summary_with_transactions.csv")
    return data.rename(
        columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.fixture(scope="module")
def cdnow_summary(shared_data: Path) -> pd.DataFrame:
    data = pd.read_csv(shared_data / "cdnow" / "cdnow_customers_summary.csv")
    return data.rename(columns={"ID": "customer_id"})


@pytest.fixture(scope="module")
def bg(cdnow_summary: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow_summary)


@pytest.fixture(scope="module")
def pnbd(cdnow_summary: pd.DataFrame) -> ParetoNBDModel:
    return ParetoNBDModel().fit(cdnow_summary)


@pytest.fixture(scope="module")
def gg(cdnow: pd.DataFrame) -> GammaGammaModel:
    return GammaGammaModel().fit(cdnow)


@pytest.fixture(scope="module")
def holdout(shared_data: Path) -> pd.DataFrame:
    """39-week calibration summary (weeks, same-day purchases merged) and holdout purchases.

    Built from the raw CDNOW_sample transactions the way lifetimes'
    ``summary_data_from_transaction_data(freq="D", freq_multiplier=7)`` does.
    """
    tx = pd.read_csv(
        shared_data / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    days = tx[["customer_id", "date"]].drop_duplicates()
    cal = days[days["date"] <= CALIBRATION_END].groupby("customer_id")["date"].agg(["min", "max", "count"])
    summary = pd.DataFrame(
        {
            "frequency": cal["count"] - 1,
            "recency": (cal["max"] - cal["min"]).dt.days / 7.0,
            "T": (CALIBRATION_END - cal["min"]).dt.days / 7.0,
        }
    )
    later = days[(days["date"] > CALIBRATION_END) & (days["date"] <= HOLDOUT_END)]
    summary["holdout_purchases"] = later.groupby("customer_id").size().reindex(summary.index, fill_value=0)
    return summary.rename_axis("customer_id").reset_index()


# --------------------------------------------------------------------------- published parameters


def test_bgnbd_reproduces_published_parameters(bg: BetaGeoModel) -> None:
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, want in published.items():
        assert rel(bg.params_[name], want) < 0.005, (name, bg.params_[name], want)
    assert bg.converged_
    assert bg.n_customers_ == 2357
    assert bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)  # FHL (2005) report LL = -9582.4
    assert bg.fit_seconds_ > 0


def test_bgnbd_conditional_expectation_matches_paper(bg: BetaGeoModel) -> None:
    one = pd.DataFrame({"customer_id": ["c1"], "frequency": [2], "recency": [30.43], "T": [38.86]})
    value = float(bg.expected_purchases(one, 39).iloc[0])
    assert round(value, 3) == 1.226


def test_pareto_nbd_reproduces_published_parameters(pnbd: ParetoNBDModel) -> None:
    published = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    for name, want in published.items():
        assert rel(pnbd.params_[name], want) < 0.005, (name, pnbd.params_[name], want)
    assert pnbd.log_likelihood_ == pytest.approx(-9595.0, abs=0.1)  # Fader & Hardie note: -9595.0


def test_gamma_gamma_reproduces_published_parameters_on_repeat_buyers(gg: GammaGammaModel) -> None:
    published = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    for name, want in published.items():
        assert rel(gg.params_[name], want) < 0.005, (name, gg.params_[name], want)
    assert gg.n_customers_ == 946  # fitted on the repeat buyers only


# --------------------------------------------------------------------------- against lifetimes


def _lifetimes_with(fitter: object, params: dict[str, float]) -> object:
    fitter.params_ = pd.Series(params)  # type: ignore[attr-defined]
    return fitter


def test_predictions_match_lifetimes_at_the_same_parameters(
    bg: BetaGeoModel, pnbd: ParetoNBDModel, cdnow_summary: pd.DataFrame
) -> None:
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    f, r, t_age = cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"]
    lt_bg = _lifetimes_with(BetaGeoFitter(), bg.params_)
    lt_pn = _lifetimes_with(ParetoNBDFitter(), pnbd.params_)
    for ours, theirs in ((bg, lt_bg), (pnbd, lt_pn)):
        np.testing.assert_allclose(
            ours.expected_purchases(cdnow_summary, 10).to_numpy(),
            theirs.conditional_expected_number_of_purchases_up_to_time(10, f, r, t_age),  # type: ignore[attr-defined]
            rtol=1e-9,
        )
        np.testing.assert_allclose(
            ours.expected_probability_alive(cdnow_summary).to_numpy(),
            theirs.conditional_probability_alive(f, r, t_age),  # type: ignore[attr-defined]
            rtol=1e-9,
        )
        both = ours.expected_purchases_and_alive(cdnow_summary, 10)  # one P(alive) for both: same values
        np.testing.assert_allclose(both["expected_purchases"].to_numpy(),
                                   theirs.conditional_expected_number_of_purchases_up_to_time(  # type: ignore[attr-defined]
                                       10, f, r, t_age), rtol=1e-9)
        np.testing.assert_allclose(both["probability_alive"].to_numpy(),
                                   theirs.conditional_probability_alive(f, r, t_age), rtol=1e-9)  # type: ignore[attr-defined]
        assert ours.expected_purchases_new_customer(39.0) == pytest.approx(
            theirs.expected_number_of_purchases_up_to_time(39.0),  # type: ignore[attr-defined]
            rel=1e-9,
        )
    # P(purchase in the next 30 days) = 1 - P(X(T, T+t) = 0); lifetimes has it for Pareto/NBD only
    p0 = lt_pn.conditional_probability_of_n_purchases_up_to_time(0, 30 / 7, f, r, t_age)  # type: ignore[attr-defined]
    np.testing.assert_allclose(
        pnbd.probability_of_purchase_within(cdnow_summary, 30 / 7).to_numpy(), 1 - np.asarray(p0), atol=1e-9
    )


def test_bgnbd_probability_of_purchase_closed_form_equals_likelihood_ratio(
    bg: BetaGeoModel, cdnow_summary: pd.DataFrame
) -> None:
    # Two derivations of P(X(T, T+t) > 0): BG/NBD's closed form and the general
    # 1 - L(x, t_x, T+t) / L(x, t_x, T) used by the base class.
    from huaxiang.models.clv import _CountModel

    closed = bg.probability_of_purchase_within(cdnow_summary, 30 / 7).to_numpy()
    ratio = _CountModel.probability_of_purchase_within(bg, cdnow_summary, 30 / 7).to_numpy()
    np.testing.assert_allclose(closed, ratio, atol=1e-10)
    assert ((closed >= 0) & (closed <= 1)).all()


def test_expected_clv_matches_lifetimes(bg: BetaGeoModel, gg: GammaGammaModel, cdnow: pd.DataFrame) -> None:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    lt_bg = _lifetimes_with(BetaGeoFitter(), bg.params_)
    lt_bg.predict = lt_bg.conditional_expected_number_of_purchases_up_to_time  # type: ignore[attr-defined]  # set by fit
    lt_gg = _lifetimes_with(
        GammaGammaFitter(), {"p": gg.params_["p"], "q": gg.params_["q"], "v": gg.params_["gamma"]}
    )
    theirs = lt_gg.customer_lifetime_value(  # type: ignore[attr-defined]
        lt_bg, cdnow["frequency"], cdnow["recency"], cdnow["T"], cdnow["monetary_value"],
        time=12, discount_rate=0.01, freq="W",
    )  # fmt: skip
    # lifetimes' weekly month is 4.345 weeks = 30.415 days
    ours = expected_clv(bg, gg, cdnow, horizon_months=12, discount_rate_monthly=0.01, days_per_month=30.415)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-6)
    assert (ours >= 0).all()
    assert list(ours.index) == list(cdnow["customer_id"])


def test_gamma_gamma_expected_spend_matches_lifetimes(gg: GammaGammaModel, cdnow: pd.DataFrame) -> None:
    from lifetimes import GammaGammaFitter

    lt_gg = _lifetimes_with(
        GammaGammaFitter(), {"p": gg.params_["p"], "q": gg.params_["q"], "v": gg.params_["gamma"]}
    )
    theirs = lt_gg.conditional_expected_average_profit(cdnow["frequency"], cdnow["monetary_value"])  # type: ignore[attr-defined]
    np.testing.assert_allclose(gg.expected_spend(cdnow).to_numpy(), theirs.to_numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- holdout


def test_calibration_summary_rebuilt_from_transactions_matches_published(
    holdout: pd.DataFrame, cdnow_summary: pd.DataFrame
) -> None:
    merged = holdout.merge(cdnow_summary, on="customer_id", suffixes=("", "_pub"))
    assert len(merged) == 2357
    assert (merged["frequency"] == merged["frequency_pub"]).all()
    assert np.abs(merged["recency"] - merged["recency_pub"]).max() <= 0.005 + 1e-9
    assert np.abs(merged["T"] - merged["T_pub"]).max() <= 0.005 + 1e-9
    assert (holdout["holdout_purchases"] > 0).mean() == pytest.approx(0.290, abs=0.0005)
    assert holdout["holdout_purchases"].sum() == 1882  # published repeat transactions in the holdout


@pytest.mark.slow
def test_holdout_auc_matches_published_and_lifetimes(holdout: pd.DataFrame) -> None:
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    buys_again = (holdout["holdout_purchases"] > 0).to_numpy()
    horizon = 39.0
    f, r, t_age = holdout["frequency"], holdout["recency"], holdout["T"]
    published = {"bgnbd": 0.7725, "pnbd": 0.7787}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifetimes_models = {
            "bgnbd": BetaGeoFitter().fit(f, r, t_age),
            "pnbd": ParetoNBDFitter().fit(f, r, t_age),
        }
    ours_models = {"bgnbd": BetaGeoModel().fit(holdout), "pnbd": ParetoNBDModel().fit(holdout)}
    for key, ours_model in ours_models.items():
        ours_auc = roc_auc_score(buys_again, ours_model.expected_purchases(holdout, horizon).to_numpy())
        lt_pred = lifetimes_models[key].conditional_expected_number_of_purchases_up_to_time(
            horizon, f, r, t_age
        )
        lt_auc = roc_auc_score(buys_again, np.asarray(lt_pred))
        assert abs(ours_auc - published[key]) < 0.005, (key, ours_auc)
        assert abs(ours_auc - lt_auc) < 0.005, (key, ours_auc, lt_auc)


# --------------------------------------------------------------------------- guard rails


def test_missing_column_raises_schema_error(cdnow_summary: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['recency'\]"):
        BetaGeoModel().fit(cdnow_summary.drop(columns="recency"))
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['monetary_value'\]"):
        GammaGammaModel().fit(cdnow_summary)


def test_recency_above_t_raises_schema_error(cdnow_summary: pd.DataFrame) -> None:
    bad = cdnow_summary.copy()
    bad.loc[0, "recency"] = bad.loc[0, "T"] + 1
    with pytest.raises(
        SchemaError, match=r"recency must be <= T for 1 customer\(s\) \(first: customer_id=1\)"
    ):
        ParetoNBDModel().fit(bad)


def test_negative_frequency_and_bad_spend_raise_schema_error(cdnow: pd.DataFrame) -> None:
    bad = cdnow.copy()
    bad.loc[3, "frequency"] = -1
    with pytest.raises(SchemaError, match="frequency must be >= 0"):
        BetaGeoModel().fit(bad)
    spend = cdnow.copy()
    spend.loc[spend["frequency"] > 0, "monetary_value"] = 0.0
    with pytest.raises(SchemaError, match=r"monetary_value must be > 0 for repeat buyers"):
        GammaGammaModel().fit(spend)


def test_unfitted_model_raises_model_error(cdnow: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match=r"BetaGeoModel \(BG/NBD\) is not fitted yet"):
        BetaGeoModel().expected_purchases(cdnow, 10)
    with pytest.raises(ModelError, match="is not fitted yet"):
        ParetoNBDModel().expected_probability_alive(cdnow)
    with pytest.raises(ModelError, match="is not fitted yet"):
        GammaGammaModel().expected_spend(cdnow)


@pytest.mark.parametrize("model_cls", [BetaGeoModel, ParetoNBDModel, GammaGammaModel])
def test_non_convergence_raises_model_error(model_cls: type, cdnow: pd.DataFrame) -> None:
    model = model_cls(max_iter=1)
    with pytest.raises(ModelError, match=r"did not converge after 1 iterations .*last gradient norm"):
        model.fit(cdnow)
    assert not hasattr(model, "params_")


def test_predictions_finite_for_huge_frequency(
    bg: BetaGeoModel, pnbd: ParetoNBDModel, gg: GammaGammaModel
) -> None:
    heavy = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "frequency": [10_000, 10_000, 10_000, 5_000],
            "recency": [38.86, 38.0, 1.0, 38.5],
            "T": [38.86, 38.86, 38.86, 38.86],
            "monetary_value": [20.0, 20.0, 20.0, 1e6],
        }
    )
    for model in (bg, pnbd):
        outputs = [
            model.expected_purchases(heavy, 39),
            model.expected_probability_alive(heavy),
            model.probability_of_purchase_within(heavy, 30 / 7),
            model.expected_days_to_next_purchase(heavy),
            expected_clv(model, gg, heavy),
        ]
        for out in outputs:
            assert np.isfinite(out.to_numpy()).all(), (type(model).__name__, out.name, out.to_numpy())
            assert (out.to_numpy() >= 0).all()
        # bought 10,000 times up to the very end: almost surely alive (BG/NBD: unless it dropped out
        # right after that last purchase)
        assert model.expected_probability_alive(heavy).iloc[0] == pytest.approx(1.0, abs=1e-3)
    # Pareto/NBD at t_x = T: P(alive) = 1, so E[X(t)] is the note's conditional expectation without the P(alive)
    # factor: (r+x)(beta+T) / ((alpha+T)(s-1)) * (1 - ((beta+T)/(beta+T+t))^(s-1)). lifetimes gives nan.
    r, alpha, s, beta = (pnbd.params_[k] for k in ("r", "alpha", "s", "beta"))
    x, t_age, t = 10_000, 38.86, 39.0
    want_pnbd = (
        (r + x)
        * (beta + t_age)
        / ((alpha + t_age) * (s - 1))
        * (1 - ((beta + t_age) / (beta + t_age + t)) ** (s - 1))
    )
    assert pnbd.expected_purchases(heavy, t).iloc[0] == pytest.approx(want_pnbd, rel=1e-9)
    # BG/NBD: dropout after each purchase with p ~ 1/10000, so fewer; lifetimes still copes here
    from lifetimes import BetaGeoFitter

    lt_bg = _lifetimes_with(BetaGeoFitter(), bg.params_)
    want = lt_bg.conditional_expected_number_of_purchases_up_to_time(39, 10_000, 38.86, 38.86)  # type: ignore[attr-defined]
    assert bg.expected_purchases(heavy, 39).iloc[0] == pytest.approx(want, rel=1e-8)


def test_days_to_next_purchase_definition(bg: BetaGeoModel, cdnow_summary: pd.DataFrame) -> None:
    # The median waiting time of an active customer: P(no purchase within it | alive) = 1/2.
    days = bg.expected_days_to_next_purchase(cdnow_summary, time_unit_days=7.0)
    weeks = days.to_numpy() / 7.0
    prob = bg.probability_of_purchase_within(cdnow_summary.iloc[:50], float(weeks[0])).iloc[0]
    alive = bg.expected_probability_alive(cdnow_summary.iloc[:1]).iloc[0]
    assert prob / alive == pytest.approx(0.5, rel=1e-9)
    assert (days > 0).all()


# log 2F1(1, b; c; z) near z = 1, as the Pareto/NBD likelihood needs it: reference values from
# mpmath at 30 digits (mpmath.log(mpmath.hyp2f1(1, b, c, z))), computed independently of our code.
_HYP2F1_REFERENCE = [
    (94.107, 94.84, 0.9996, 6.0646535288683425318),
    (1.6, 25.3, 0.99999, 0.068110688532611131688),
    (3.2, 5.9, 0.999, 1.0542526661131546457),
    (150.0, 157.4, 0.99974, 3.1889345753603025767),
]


def test_log_hyp2f1_near_one_matches_high_precision_reference() -> None:
    from huaxiang.models.clv import log_hyp2f1_one

    b, c, z, expected = (np.array(col) for col in zip(*_HYP2F1_REFERENCE, strict=True))
    np.testing.assert_allclose(log_hyp2f1_one(b, c, z), expected, rtol=1e-12)


def test_log_hyp2f1_equals_scipy_where_scipy_converges_fast() -> None:
    from scipy.special import hyp2f1

    from huaxiang.models.clv import log_hyp2f1_one

    rng = np.random.default_rng(7)
    n = 5000
    b = rng.uniform(0.1, 20.0, n)
    c = b + rng.uniform(0.05, 5.0, n)
    z = rng.uniform(0.0, 0.99, n)  # scipy's own series is accurate here; ours switches method at 0.9
    np.testing.assert_allclose(log_hyp2f1_one(b, c, z), np.log(hyp2f1(1.0, b, c, z)), rtol=1e-10, atol=1e-12)
