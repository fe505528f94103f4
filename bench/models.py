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

The K-means section: see ``bench_kmeans``. The ALS section (``bench_als``) fits our recommender on a
synthetic shop (at most ``ALS_MAX_CUSTOMERS`` customers) against implicit's plain ALS and global
popularity in the same run.
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


KMEANS_FEATURES = 20
KMEANS_PLANTED_K = 6


def synthesise_segments(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` persons x 20 behaviour-like features from 6 planted segments, and the planted labels.

    Columns 0-4 are skewed counts and amounts (log-normal, named like the features table so the
    default log1p applies), the others shares and scores (normal, squashed to 0..1 by the logistic).

    Examples
    --------
    >>> frame, truth = synthesise_segments(600)
    >>> frame.shape, sorted(set(truth.tolist()))
    ((600, 20), [0, 1, 2, 3, 4, 5])
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, KMEANS_PLANTED_K, size=n)
    centres = rng.normal(0.0, 1.0, size=(KMEANS_PLANTED_K, KMEANS_FEATURES))
    x = centres[truth] + rng.normal(0.0, 0.35, size=(n, KMEANS_FEATURES))
    skewed = ["orders_total", "spend_total", "avg_order_value", "recency_days", "category_breadth"]
    columns = skewed + [f"share_{i}" for i in range(KMEANS_FEATURES - len(skewed))]
    frame = pd.DataFrame(x, columns=columns)
    for c in skewed:
        frame[c] = np.expm1(np.exp(frame[c] * 0.5 + 1.0))  # log1p gives back a normal-ish column
    for c in columns[len(skewed):]:
        frame[c] = 1.0 / (1.0 + np.exp(-frame[c]))
    return frame, truth


def bench_kmeans(n: int) -> None:
    """K-means segmentation on ``n`` persons x 20 features: ours (k chosen by silhouette over 3..8 on
    a sample, fitted on at most 200k rows, everyone assigned in batches) against one plain
    scikit-learn ``KMeans`` fit with default settings on every row at the k we chose."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from huaxiang.segments.clusters import fit_clusters
    from huaxiang.segments.settings import ClusterSettings

    began = time.perf_counter()
    frame, truth = synthesise_segments(n)
    print(f"\nK-means: synthesised {n:,} persons x {KMEANS_FEATURES} features ({KMEANS_PLANTED_K} planted "
          f"segments) in {time.perf_counter() - began:.1f} s")
    settings = ClusterSettings(features=list(frame.columns))
    tracemalloc.start()
    began = time.perf_counter()
    cpu = time.process_time()
    model = fit_clusters(frame, settings)
    fitted = time.perf_counter() - began
    labels = model.predict(frame)
    ours = time.perf_counter() - began
    ours_cpu = time.process_time() - cpu
    _, ours_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"ours  k search {settings.k_min}..{settings.k_max} (silhouette) + fit on {model.n_fit:,} rows: "
          f"{fitted:.2f} s; assign {n:,}: {ours - fitted:.2f} s; total {ours:.2f} s (CPU {ours_cpu:.2f} s), "
          f"peak traced memory {ours_peak / 2**20:.0f} MiB")
    print("      k  inertia(sample)  silhouette")
    for r in model.report:
        mark = " <- chosen" if r["chosen"] else (" <- elbow" if r["elbow"] else "")
        print(f"     {r['k']:2d} {r['inertia']:16,.0f}  {r['silhouette']:.4f}{mark}")
    print(f"      chosen k {model.k} (planted {KMEANS_PLANTED_K}); adjusted Rand index vs planted "
          f"{adjusted_rand_score(truth, labels):.4f}")
    began = time.perf_counter()
    fixed = fit_clusters(frame, ClusterSettings(features=list(frame.columns), k=model.k))
    fixed.predict(frame)
    ours_fixed = time.perf_counter() - began
    print(f"ours  at a given k={model.k} (no search): fit on {fixed.n_fit:,} rows + assign {n:,}: {ours_fixed:.2f} s")

    tracemalloc.start()
    began = time.perf_counter()
    cpu = time.process_time()
    x = settings.log_list(list(frame.columns))
    z = frame.copy()
    z[x] = np.log1p(z[x])
    z = (z - z.mean()) / z.std(ddof=0)
    plain = KMeans(n_clusters=model.k, random_state=0).fit(z.to_numpy())
    peer = time.perf_counter() - began
    peer_cpu = time.process_time() - cpu
    _, peer_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"sklearn KMeans(n_clusters={model.k}) defaults, on all {n:,} rows (same log1p + standardising, "
          f"k given, no search): {peer:.2f} s (CPU {peer_cpu:.2f} s), peak traced memory "
          f"{peer_peak / 2**20:.0f} MiB; ARI vs planted {adjusted_rand_score(truth, plain.labels_):.4f}, "
          f"vs ours {adjusted_rand_score(labels, plain.labels_):.4f}")
    print(f"-> at a given k ours is {peer / ours_fixed:.2f}x the speed of plain KMeans (>1 = faster); with the "
          f"k search over {settings.k_max - settings.k_min + 1} values {peer / ours:.2f}x; peak traced memory "
          f"ours/plain {ours_peak / max(peer_peak, 1):.2f}x; process peak RSS {_peak_rss_mb():.0f} MiB")


ALS_MAX_CUSTOMERS = 200_000
"""The ALS section caps the synthetic shop here (the generator needs ~1.5 min per million)."""


def _shop_purchases(n: int, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """App purchases of a synthetic shop of ``n`` customers (user, item, weight, ts) and the truth."""
    import tempfile

    from huaxiang.datasets.synthetic import generate_shop

    with tempfile.TemporaryDirectory() as tmp:
        generate_shop(tmp, n_customers=n, seed=seed)
        orders = pd.read_parquet(Path(tmp) / "online_orders.parquet", columns=["order_id", "user_id", "order_time",
                                                                               "status"])
        items = pd.read_parquet(Path(tmp) / "online_order_items.parquet", columns=["order_id", "sku"])
        truth = pd.read_csv(Path(tmp) / "ground_truth" / "records.csv", dtype=str)
    paid = orders[orders["status"] == "已支付"]
    lines = items.merge(paid, on="order_id")
    data = pd.DataFrame({"user": lines["user_id"].to_numpy(), "item": lines["sku"].to_numpy(), "weight": 1.0,
                         "ts": pd.to_datetime(lines["order_time"]).to_numpy()})
    return data, truth


def bench_als(n: int) -> None:
    """ALS recommendations on the synthetic shop: ours (ALS + own history, validated) vs plain ALS vs popularity.

    The shop has ``min(n, ALS_MAX_CUSTOMERS)`` customers; its app purchases are split at 75 % of the
    time span. Ours: :class:`huaxiang.models.recommend.Recommender` with its validation split
    (a second ALS fit) and recency-weighted own history. Peer, in the same run: implicit's plain
    ``AlternatingLeastSquares`` with the same factors and iterations, fitted on the same matrix and
    ranking with ``recommend(filter_already_liked_items=False)``; and global popularity.
    Prints wall and CPU seconds, peak traced memory (Python allocations) and the process peak RSS,
    precision@10 and the ratios.
    """
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from huaxiang.models.ranking import score_recommendations, time_split
    from huaxiang.models.recommend import PopularityRecommender, Recommender

    customers = min(n, ALS_MAX_CUSTOMERS)
    began = time.perf_counter()
    data, _ = _shop_purchases(customers)
    cut = data["ts"].min() + (data["ts"].max() - data["ts"].min()) * 0.75
    train, test = time_split(data, cut)
    test = test[test["user"].isin(set(train["user"]))]
    users = test["user"].unique()
    print(f"\nALS: synthetic shop of {customers:,} customers (capped at {ALS_MAX_CUSTOMERS:,}) in "
          f"{time.perf_counter() - began:.1f} s: {len(train):,} purchase lines before {cut:%Y-%m-%d} by "
          f"{train['user'].nunique():,} users on {train['item'].nunique():,} items; {len(users):,} users "
          f"to evaluate")
    factors, iterations = 64, 15

    def run(name: str, fit_and_recommend: Any) -> tuple[float, float, float, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        recs = fit_and_recommend()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        tracemalloc.start()  # a second run for memory: tracing slows pandas-heavy code several-fold
        fit_and_recommend()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        m = score_recommendations(recs, test, 10)
        print(f"  {name:34} fit + recommend {wall:6.2f} s (CPU {cpu:6.2f} s), peak traced {peak / 2**20:5.0f} MiB; "
              f"P@10 {m['precision@10']:.4f}  R@10 {m['recall@10']:.4f}  MAP@10 {m['map@10']:.4f}")
        return wall, cpu, m["precision@10"], peak

    chosen: list[str] = []

    def ours() -> pd.DataFrame:
        model = Recommender(factors=factors, iterations=iterations).fit(train)
        chosen.append(f"own_weight {model.own_weight_:g}, exclude_seen {model.exclude_seen_}, "
                      f"half-life {model.half_life_days_:.0f} days")
        return model.recommend(users, k=10)

    def plain() -> pd.DataFrame:
        ucode, uniq_users = pd.factorize(train["user"])
        icode, uniq_items = pd.factorize(train["item"])
        import scipy.sparse as sp

        matrix = sp.csr_matrix((train["weight"].to_numpy(np.float32), (ucode, icode)),
                               shape=(len(uniq_users), len(uniq_items)))
        with threadpool_limits(1, "blas"):
            als = AlternatingLeastSquares(factors=factors, regularization=0.05, alpha=2.0, iterations=iterations,
                                          num_threads=1, random_state=0)
            als.fit(matrix, show_progress=False)
            rows = pd.Index(uniq_users).get_indexer(pd.Index(users))
            ids, _ = als.recommend(rows, matrix[rows], N=10, filter_already_liked_items=False)
        return pd.DataFrame({"user": np.repeat(users, ids.shape[1]),
                             "rank": np.tile(np.arange(1, ids.shape[1] + 1), len(users)),
                             "item": np.asarray(uniq_items)[ids.ravel()]})

    ours_s, ours_cpu, ours_p, ours_mem = run("ours (ALS + own history, validated)", ours)
    print(f"  (ours chose {chosen[0]})")
    plain_s, plain_cpu, plain_p, plain_mem = run("implicit plain ALS", plain)
    _, _, pop_p, _ = run("global popularity", lambda: PopularityRecommender().fit(train).recommend(users, k=10))
    print(f"-> ours takes {ours_s / plain_s:.2f}x the wall time of plain ALS ({ours_cpu / plain_cpu:.2f}x its CPU; "
          f"it fits twice: validation + final) and "
          f"{ours_mem / max(plain_mem, 1):.2f}x its peak traced memory; P@10 ours/plain ALS "
          f"{ours_p / max(plain_p, 1e-12):.2f}x, ours/popularity {ours_p / max(pop_p, 1e-12):.2f}x; "
          f"process peak RSS {_peak_rss_mb():.0f} MiB")


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
