"""Benchmark of huaxiang's models (a script, not a test).

Usage::

    python bench/models.py                 # 1M synthetic customers: BG/NBD + Gamma-Gamma + CLV
    python bench/models.py --n 100000      # smaller
    python bench/models.py --cdnow         # also: ours vs lifetimes vs PyMC-Marketing MAP on CDNOW

CLV section: synthesise ``n`` customers' (frequency, recency, T,
monetary_value) from the BG/NBD + Gamma-Gamma generative process with known
parameters (time in days, T a whole number of days between 30 and 730,
recency rounded to whole days as a daily transaction summary would give),
fit BG/NBD + Gamma-Gamma, score 12-month expected CLV for everyone, and print
seconds, rows/s, peak memory, planted vs recovered parameters and lifetimes'
fit time on the same data (a 100k subsample by default: lifetimes on 1M rows
takes minutes; ``--lifetimes-n`` changes it) as a ratio.

The K-means and ALS sections are TODO stubs for the engineers who own them.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from huaxiang.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel, expected_clv

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "data" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"

PLANTED_BG = {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}  # alpha in days
PLANTED_GG = {"p": 6.0, "q": 3.8, "gamma": 15.0}


def synthesise_customers(n: int, seed: int = 0) -> pd.DataFrame:
    """Draw ``n`` customer summaries from BG/NBD + Gamma-Gamma with the planted parameters.

    Per customer: lambda ~ Gamma(r, alpha), p ~ Beta(a, b); the customer dies at
    the K-th repeat purchase, K ~ Geometric(p); N ~ Poisson(lambda T) arrivals
    in (0, T]. If N < K: x = N and t_x = T * U^(1/N) (max of N uniforms);
    otherwise x = K and t_x = T * Beta(K, N - K + 1) (K-th order statistic).
    Spend: nu ~ Gamma(q, gamma), mean of x values ~ Gamma(p x, nu x).

    Examples
    --------
    >>> df = synthesise_customers(1000)
    >>> list(df.columns)
    ['customer_id', 'frequency', 'recency', 'T', 'monetary_value']
    """
    rng = np.random.default_rng(seed)
    r, alpha, a, b = (PLANTED_BG[k] for k in ("r", "alpha", "a", "b"))
    p, q, gam = (PLANTED_GG[k] for k in ("p", "q", "gamma"))
    t_age = rng.integers(30, 731, size=n).astype(np.float64)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    drop = rng.beta(a, b, size=n)
    k = rng.geometric(drop)
    arrivals = rng.poisson(lam * t_age)
    alive = arrivals < k
    x = np.where(alive, arrivals, k)
    u = np.where(
        alive,
        rng.random(n) ** (1.0 / np.maximum(arrivals, 1)),
        rng.beta(np.maximum(k, 1), np.maximum(arrivals - k + 1, 1)),
    )
    recency = np.where(x > 0, np.round(t_age * u), 0.0)
    nu = rng.gamma(q, 1.0 / gam, size=n)
    xm = np.maximum(x, 1)
    monetary = np.where(x > 0, rng.gamma(p * xm, 1.0 / (nu * xm)), 0.0)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "frequency": x.astype(np.int64),
            "recency": recency,
            "T": t_age,
            "monetary_value": monetary,
        }
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _fit_lifetimes(data: pd.DataFrame) -> tuple[float, dict[str, float]]:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    began = time.perf_counter()
    bgf = BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
    repeat = data[data["frequency"] > 0]
    ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    ggf.customer_lifetime_value(
        bgf,
        data["frequency"],
        data["recency"],
        data["T"],
        data["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="D",
    )
    seconds = time.perf_counter() - began
    return seconds, {
        **{k: float(v) for k, v in bgf.params_.items()},
        **{k: float(v) for k, v in ggf.params_.items()},
    }


def _fit_ours(data: pd.DataFrame) -> tuple[float, float, BetaGeoModel, GammaGammaModel, pd.Series]:
    """Fit BG/NBD + Gamma-Gamma and score CLV; returns wall and CPU seconds, the models, the CLV."""
    began = time.perf_counter()
    cpu = time.process_time()
    bg = BetaGeoModel().fit(data)
    gg = GammaGammaModel().fit(data)
    clv = expected_clv(bg, gg, data, time_unit_days=1.0)
    return time.perf_counter() - began, time.process_time() - cpu, bg, gg, clv


def bench_clv(n: int, lifetimes_n: int) -> None:
    """BG/NBD + Gamma-Gamma fit and CLV scoring on ``n`` synthetic customers."""
    began = time.perf_counter()
    data = synthesise_customers(n)
    print(
        f"synthesised {n:,} customers in {time.perf_counter() - began:.1f} s "
        f"({(data['frequency'] > 0).mean():.1%} repeat buyers, "
        f"{len(data.drop_duplicates(['frequency', 'recency', 'T'])):,} distinct (frequency, recency, T))"
    )

    tracemalloc.start()
    seconds, cpu_seconds, bg, gg, clv = _fit_ours(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"\nours  BG/NBD fit {bg.fit_seconds_:.2f} s (optimiser; {bg.n_iter_} iterations), "
        f"Gamma-Gamma fit {gg.fit_seconds_:.2f} s"
    )
    print(
        f"ours  fit + CLV score, {n:,} customers: {seconds:.2f} s = {n / seconds:,.0f} rows/s; "
        f"CPU {cpu_seconds:.2f} s; "
        f"peak traced memory {peak / 2**20:.0f} MiB, process peak RSS {_peak_rss_mb():.0f} MiB"
    )
    print(
        f"      CLV: min {clv.min():.2f}, median {clv.median():.2f}, max {clv.max():.2f}, "
        f"all finite {bool(np.isfinite(clv).all())}, negative {int((clv < 0).sum())}"
    )
    print("\nparameter   planted   recovered   rel.err")
    for name, planted in {**PLANTED_BG, **PLANTED_GG}.items():
        got = bg.params_[name] if name in bg.params_ else gg.params_[name]
        print(f"{name:>9} {planted:9.3f} {got:11.4f} {got / planted - 1:+9.2%}")

    try:
        import lifetimes  # noqa: F401
    except ImportError:
        print("\nlifetimes not installed: skipped")
        return
    sub = data if lifetimes_n >= n else data.sample(lifetimes_n, random_state=1)
    what = "the same data" if lifetimes_n >= n else f"a {lifetimes_n:,}-row subsample (too slow on {n:,})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt_cpu = time.process_time()
        lt_seconds, lt_params = _fit_lifetimes(sub)
        lt_cpu = time.process_time() - lt_cpu
    ours_sub, ours_cpu, bg_sub, _, _ = _fit_ours(sub)
    print(
        f"\nlifetimes on {what}: fit + CLV {lt_seconds:.2f} s; ours on it {ours_sub:.2f} s "
        f"-> ours {lt_seconds / ours_sub:.1f}x faster (CPU: lifetimes {lt_cpu:.2f} s, "
        f"ours {ours_cpu:.2f} s)"
    )
    print(
        "           r, alpha, a, b  lifetimes "
        + ", ".join(f"{lt_params[k]:.4f}" for k in PLANTED_BG)
        + " | ours "
        + ", ".join(f"{bg_sub.params_[k]:.4f}" for k in PLANTED_BG)
    )


def compare_cdnow() -> None:
    """Ours vs lifetimes vs PyMC-Marketing MAP on the CDNOW summary (fit seconds, parameters)."""
    data = pd.read_csv(CDNOW).rename(
        columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )
    repeat = data[data["frequency"] > 0]
    rows: list[tuple[str, str, float, dict[str, float]]] = []
    ours_models: list[BetaGeoModel | ParetoNBDModel | GammaGammaModel] = [
        BetaGeoModel(),
        ParetoNBDModel(),
        GammaGammaModel(),
    ]
    for model in ours_models:
        began = time.perf_counter()
        model.fit(data)  # the whole fit: validation, row collapsing and the optimiser
        rows.append((type(model).__name__, "ours", time.perf_counter() - began, model.params_))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

        fitters: list[tuple[str, Any, tuple[Any, ...]]] = [
            ("BetaGeoModel", BetaGeoFitter(), (data["frequency"], data["recency"], data["T"])),
            ("ParetoNBDModel", ParetoNBDFitter(), (data["frequency"], data["recency"], data["T"])),
            ("GammaGammaModel", GammaGammaFitter(), (repeat["frequency"], repeat["monetary_value"])),
        ]
        for name, fitter, args in fitters:
            began = time.perf_counter()
            fitter.fit(*args)
            params = {("gamma" if k == "v" else k): float(v) for k, v in fitter.params_.items()}
            rows.append((name, "lifetimes", time.perf_counter() - began, params))
        try:
            from pymc_extras.prior import Prior
            from pymc_marketing import clv as pmc
        except ImportError:
            print("pymc-marketing not installed: skipped")
        else:
            inputs = data[["customer_id", "frequency", "recency", "T"]]
            spend = repeat[["customer_id", "frequency", "monetary_value"]]
            for name, cls, frame, names in (
                ("BetaGeoModel", pmc.BetaGeoModel, inputs, "r alpha a b"),
                ("ParetoNBDModel", pmc.ParetoNBDModel, inputs, "r alpha s beta"),
                ("GammaGammaModel", pmc.GammaGammaModel, spend, "p q v"),
            ):
                # flat priors, so that the MAP is the maximum-likelihood estimate
                config = {k: Prior("HalfFlat") for k in names.split()}
                began = time.perf_counter()
                pm_model: Any = cls(data=frame, model_config=config)
                pm_model.fit(method="map", progressbar=False)
                post = pm_model.idata.posterior
                params = {
                    ("gamma" if k == "v" else k): float(post[k].values.ravel()[0]) for k in names.split()
                }
                rows.append((name, "PyMC-Marketing MAP", time.perf_counter() - began, params))
    print("\nCDNOW (2,357 customers; Gamma-Gamma on the 946 repeat buyers)")
    ours = {name: params for name, who, _, params in rows if who == "ours"}
    for name, who, seconds, params in rows:
        rel = max(abs(params[k] / ours[name][k] - 1) for k in ours[name])
        shown = ", ".join(f"{k}={v:.4f}" for k, v in params.items())
        print(f"{name:16} {who:19} {seconds:7.3f} s  {shown}  (max rel. diff to ours {rel:.1e})")


def bench_kmeans(n: int) -> None:
    """TODO(segments owner): K-means segmentation benchmark on ``n`` persons."""
    print(f"\nK-means ({n:,}): TODO — not written yet")


def bench_als(n: int) -> None:
    """TODO(recommend owner): ALS recommendation benchmark on ``n`` persons."""
    print(f"\nALS ({n:,}): TODO — not written yet")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="synthetic customers (default 1M)")
    parser.add_argument(
        "--lifetimes-n",
        type=int,
        default=100_000,
        help="rows given to lifetimes for the speed ratio (default 100k)",
    )
    parser.add_argument(
        "--cdnow", action="store_true", help="also compare with lifetimes / PyMC-Marketing on CDNOW"
    )
    args = parser.parse_args(argv)
    bench_clv(args.n, args.lifetimes_n)
    if args.cdnow:
        compare_cdnow()
    bench_kmeans(args.n)
    bench_als(args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
