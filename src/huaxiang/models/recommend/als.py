"""The recommender: implicit-feedback ALS blended with the customer's own history.

:class:`Recommender` factorises the user x item confidence matrix with alternating least squares
(Hu, Koren & Volinsky 2008, "Collaborative filtering for implicit feedback datasets", ICDM; the
``implicit`` package's CPU solver with conjugate gradient, Takács, Pilászy & Tikk 2011), confidence
1 + alpha x weight (the weights optionally BM25- or log-scaled). ALS alone ranks what *similar
customers* take; where customers come back to the same items (groceries, browsing on Taobao) a
person's own recent items are the strongest signal, so the score is

    score(u, i) = ALS(u, i) / max_j ALS(u, j)  +  w x own(u, i) / max_j own(u, j)

with ``own`` the recency-weighted count of u's interactions with i (half-life ``half_life_days``).
``w`` and whether already-seen items are excluded are chosen on a validation split inside the
training data (its last ``validation_fraction`` of time) or set by the caller. Users with no
history get what is popular in their segment (a mapping passed to :meth:`Recommender.fit`) or
overall.

Examples
--------
>>> Recommender(factors=8).get_params()["factors"]
8
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from huaxiang.errors import ConfigError, SchemaError
from huaxiang.models.base import Estimator
from huaxiang.models.ranking import score_recommendations, time_split
from huaxiang.models.recommend.frames import (
    REASON_OWN,
    REASON_POPULAR,
    REASON_SEGMENT,
    REASON_SIMILAR,
    SECONDS_PER_DAY,
    decay,
    empty_recs,
    prepare_interactions,
    recs_frame,
    row_normalise,
    top_k,
)

__all__ = ["OWN_WEIGHT_GRID", "Recommender"]

OWN_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 100.0)
"""Own-history weights tried on the validation split when ``own_weight="auto"``."""


@dataclass
class _Core:
    """Everything fitted on one set of interactions (the final fit, or the validation fit)."""

    users: pd.Index
    items: pd.Index
    user_factors: np.ndarray
    item_factors: np.ndarray
    own: sp.csr_matrix  # recency-weighted interaction weights
    seen: sp.csr_matrix  # 1 where the user interacted with the item
    popularity: np.ndarray  # recency-weighted number of users per item


class Recommender(Estimator):
    """Implicit-feedback ALS blended with each user's own recent items; segment popularity for cold start.

    Parameters
    ----------
    factors, regularization, iterations
        ALS latent factors, L2 penalty and sweeps (``implicit.cpu.als.AlternatingLeastSquares``).
    alpha
        Confidence scale: confidence = 1 + alpha x scaled weight.
    weighting
        How interaction weights become confidences: ``"none"`` (the weights as they are; the
        best on every data set of the tests), ``"bm25"`` (Robertson's BM25 over the
        item x user matrix, as in implicit's examples; damps heavy users and very popular items),
        ``"log"`` (log(1 + w)) or ``"none"``.
    bm25_k1, bm25_b
        BM25 saturation and length normalisation.
    own_weight
        ``w`` of the own-history term, or ``"auto"`` to pick it from :data:`OWN_WEIGHT_GRID` on
        the validation split (1.0 when the data has no ``ts`` to split on).
    half_life_days
        Recency half-life of the own-history counts and of the popularity of items; ``"auto"``
        is a quarter of the training time span (from its 1st percentile; at least a day): 2 days on a week of Taobao
        browsing, 2 months on a year of retail orders.
    exclude_seen
        Never recommend what the user already interacted with; ``"auto"`` decides on the
        validation split (False without ``ts``).
    validation_fraction
        Share of the training time span (its end) held out to choose ``"auto"`` settings.
    validation_k
        Cut-off of the precision@k the validation maximises.
    num_threads
        Threads of the ALS solver (BLAS is held to one thread during the fit).
    random_state
        Seed of the factor initialisation; equal seeds give equal recommendations.

    Attributes
    ----------
    users_, items_ : pandas.Index
        Known users and items (matrix row and column order).
    user_factors_, item_factors_ : numpy.ndarray
        ALS factors.
    own_weight_ : float
        The own-history weight used.
    half_life_days_ : float or None
        The half-life used (None: no timestamps, plain counts).
    exclude_seen_ : bool
        Whether seen items are excluded.
    validation_ : pandas.DataFrame or None
        Precision@k of every setting tried on the validation split.
    segments_ : pandas.Series
        User -> segment, as passed to :meth:`fit`.
    fit_seconds_ : float
        Wall time of :meth:`fit`.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3], "item": ["tea", "cup", "tea", "cup", "tea", "pot"],
    ...                      "weight": 1.0})
    >>> model = Recommender(factors=2, iterations=5, own_weight=0.0, exclude_seen=True).fit(data)
    >>> model.recommend([3], k=1).item.tolist()
    ['cup']
    """

    def __init__(
        self, *, factors: int = 64, regularization: float = 0.05, iterations: int = 15, alpha: float = 2.0,
        weighting: Literal["bm25", "log", "none"] = "none", bm25_k1: float = 1.2, bm25_b: float = 0.75,
        own_weight: float | Literal["auto"] = "auto", half_life_days: float | Literal["auto"] = "auto",
        exclude_seen: bool | Literal["auto"] = "auto", validation_fraction: float = 0.2, validation_k: int = 10,
        num_threads: int = 1, random_state: int | None = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.weighting = weighting
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.own_weight = own_weight
        self.half_life_days = half_life_days
        self.exclude_seen = exclude_seen
        self.validation_fraction = validation_fraction
        self.validation_k = validation_k
        self.num_threads = num_threads
        self.random_state = random_state

    _fitted_attr = "_core"
    _display_name = "this Recommender"
    _fit_hint = "fit(interactions)"

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        if self.weighting not in ("bm25", "log", "none"):
            raise ConfigError(f"weighting must be 'bm25', 'log' or 'none', got {self.weighting!r}")
        if self.own_weight != "auto" and (not isinstance(self.own_weight, (int, float)) or self.own_weight < 0):
            raise ConfigError(f"own_weight must be 'auto' or a number >= 0, got {self.own_weight!r}")
        if self.exclude_seen not in ("auto", True, False):
            raise ConfigError(f"exclude_seen must be 'auto', True or False, got {self.exclude_seen!r}")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")

    def _confidence(self, r: sp.csr_matrix) -> sp.csr_matrix:
        c = r.copy().astype(np.float64)
        if self.weighting == "log":
            c.data = np.log1p(c.data)
        elif self.weighting == "bm25":
            x = c.T.tocoo()  # item x user, the orientation BM25 is defined on in implicit's examples
            n = float(x.shape[0])
            idf = np.log(n) - np.log1p(np.bincount(x.col, minlength=x.shape[1]))
            idf = np.maximum(idf, 0.0) + 1e-3
            row_sums = np.ravel(x.sum(axis=1))
            length = (1.0 - self.bm25_b) + self.bm25_b * row_sums / max(float(row_sums.mean()), 1e-12)
            x.data = x.data * (self.bm25_k1 + 1.0) / (self.bm25_k1 * length[x.row] + x.data) * idf[x.col]
            c = x.T.tocsr()
        return c

    def _fit_core(self, frame: pd.DataFrame) -> _Core:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        ucode, users = pd.factorize(frame["user"])
        icode, items = pd.factorize(frame["item"])
        shape = (len(users), len(items))
        ts = frame["ts"] if "ts" in frame.columns else None
        recency = decay(ts, self.half_life_days_, len(frame))
        r = sp.csr_matrix((frame["weight"].to_numpy(), (ucode, icode)), shape=shape)
        r.sum_duplicates()
        own = sp.csr_matrix((frame["weight"].to_numpy() * recency, (ucode, icode)), shape=shape)
        own.sum_duplicates()
        seen = (r > 0).astype(np.int8).tocsr()
        # popularity: each user counts once per item, weighted by the recency of their last touch
        pairs = pd.DataFrame({"u": ucode, "i": icode, "d": recency}).groupby(["u", "i"], sort=False)["d"].max()
        popularity = np.bincount(pairs.index.get_level_values("i"), weights=pairs.to_numpy(), minlength=shape[1])
        conf = self._confidence(r).astype(np.float32)
        with threadpool_limits(1, "blas"):
            als = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, num_threads=self.num_threads, random_state=self.random_state,
            )
            als.fit(conf, show_progress=False)
        return _Core(pd.Index(users), pd.Index(items), np.asarray(als.user_factors),
                     np.asarray(als.item_factors), own, seen, popularity)

    def _score_known(self, core: _Core, codes: np.ndarray, k: int,
                     options: list[tuple[float, bool]]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per option ``(own_weight, exclude_seen)``: top-k item codes, scores and "own history" flags.

        The own-history part is zero off the user's seen items, so every option's top k lies in
        the top k of the ALS scores over unseen items (the exclude-seen answer, one partition over
        all items) plus the seen items: each further option ranks only those k + seen candidates.
        """
        from threadpoolctl import threadpool_limits

        n_items = len(core.items)
        batch = max(1, (1 << 21) // max(n_items, 1))
        parts: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in options]
        with threadpool_limits(1, "blas"):
            for start in range(0, len(codes), batch):
                rows = codes[start:start + batch]
                als = row_normalise(core.user_factors[rows] @ core.item_factors.T)
                seen_rows = core.seen[rows]
                seen = seen_rows.toarray() > 0
                unseen_idx, unseen_val = top_k(np.where(seen, -np.inf, als), k)
                # the seen items of each row, padded to the longest row (padding scores -inf)
                counts = np.diff(seen_rows.indptr)
                width = int(counts.max()) if len(counts) else 0
                seen_idx = np.zeros((len(rows), width), dtype=np.int64)
                filled = np.arange(width)[None, :] < counts[:, None]
                seen_idx[filled] = seen_rows.indices
                own = row_normalise(core.own[rows].toarray()).astype(np.float32)
                als_seen = np.take_along_axis(als, seen_idx, axis=1)
                own_seen = np.take_along_axis(own, seen_idx, axis=1)
                for j, (w, exclude) in enumerate(options):
                    if exclude:
                        flags = np.take_along_axis(seen, unseen_idx, axis=1) & (np.take_along_axis(als, unseen_idx,
                                                                                                   axis=1) <= 0)
                        parts[j].append((unseen_idx, unseen_val, flags))
                        continue
                    own_part = np.float32(w) * own_seen
                    cand_idx = np.concatenate([unseen_idx, seen_idx], axis=1)
                    cand_val = np.concatenate([unseen_val, np.where(filled, als_seen + own_part, -np.inf)], axis=1)
                    cand_own = np.concatenate([np.zeros_like(unseen_val, dtype=bool),
                                               filled & (own_part >= als_seen)], axis=1)
                    pick, val = top_k(cand_val, min(k, n_items))
                    parts[j].append((np.take_along_axis(cand_idx, pick, axis=1), val,
                                     np.take_along_axis(cand_own, pick, axis=1)))
        out = []
        for chunks in parts:
            if not chunks:
                empty = np.zeros((0, min(k, n_items)))
                out.append((empty.astype(np.int64), empty, empty.astype(bool)))
            else:
                out.append(tuple(np.vstack(c) for c in zip(*chunks, strict=True)))  # type: ignore[arg-type]
        return out

    def _half_life(self, frame: pd.DataFrame) -> float | None:
        if self.half_life_days != "auto":
            return float(self.half_life_days) if self.half_life_days else None
        if "ts" not in frame.columns:
            return None
        # from the 1st percentile, so that a few stray early timestamps do not stretch it
        span = (frame["ts"].max() - frame["ts"].quantile(0.01)).total_seconds() / SECONDS_PER_DAY
        return max(1.0, span / 4.0)

    def _validate(self, frame: pd.DataFrame) -> tuple[float, bool, pd.DataFrame | None]:
        """Choose the "auto" settings on the last ``validation_fraction`` of the training time."""
        default_w = 1.0 if self.own_weight == "auto" else float(self.own_weight)
        default_ex = False if self.exclude_seen == "auto" else bool(self.exclude_seen)
        if self.own_weight != "auto" and self.exclude_seen != "auto":
            return default_w, default_ex, None
        if self.exclude_seen is True:
            return 0.0, True, None
        if "ts" not in frame.columns or frame["ts"].nunique() < 2:
            return default_w, default_ex, None
        lo, hi = frame["ts"].min(), frame["ts"].max()
        cut = lo + (hi - lo) * (1.0 - self.validation_fraction)
        inner, held = time_split(frame, cut)
        held = held[held["user"].isin(inner["user"])]
        if inner["user"].nunique() < 5 or held["user"].nunique() < 5:
            return default_w, default_ex, None
        core = self._fit_core(inner)
        users = held["user"].unique()
        codes = core.users.get_indexer(pd.Index(users))
        k = self.validation_k
        tried: list[dict[str, Any]] = []
        options: list[tuple[float, bool]] = []
        if self.exclude_seen in ("auto", True):
            options.append((0.0, True))
        if self.exclude_seen in ("auto", False):
            grid = OWN_WEIGHT_GRID if self.own_weight == "auto" else (float(self.own_weight),)
            options.extend((w, False) for w in grid)
        for (w, ex), (idx, _, _) in zip(options, self._score_known(core, codes, k, options), strict=True):
            recs = pd.DataFrame({"user": np.repeat(users, idx.shape[1]),
                                 "rank": np.tile(np.arange(1, idx.shape[1] + 1), len(users)),
                                 "item": core.items.to_numpy()[idx.ravel()]})
            m = score_recommendations(recs, held, k)
            tried.append({"own_weight": w, "exclude_seen": ex, **m})
        table = pd.DataFrame(tried)
        best = table.sort_values([f"precision@{k}", f"map@{k}"], ascending=False, kind="stable").iloc[0]
        return float(best["own_weight"]), bool(best["exclude_seen"]), table

    def fit(self, interactions: pd.DataFrame, *, segments: Mapping[Any, Any] | pd.Series | None = None) -> Self:
        """Fit on ``interactions`` (columns ``user, item, weight[, ts]``; one row per event or per pair).

        Parameters
        ----------
        interactions
            Implicit feedback: any positive ``weight`` (purchases, views x 1, carts x 3, …);
            ``ts`` enables recency weighting and the validation split of the "auto" settings.
        segments
            User -> segment, for the cold-start popularity within a segment.

        Returns
        -------
        Recommender
            ``self``, fitted.
        """
        self._check_params()
        began = time.perf_counter()
        frame = prepare_interactions(interactions)
        if frame.empty:
            raise SchemaError("interactions has no row with a user, an item and a positive weight")
        self.half_life_days_ = self._half_life(frame)
        self.own_weight_, self.exclude_seen_, self.validation_ = self._validate(frame)
        core = self._fit_core(frame)
        self._core = core
        self.users_, self.items_ = core.users, core.items
        self.user_factors_, self.item_factors_ = core.user_factors, core.item_factors
        self.popularity_ = pd.Series(core.popularity, index=core.items).sort_values(ascending=False, kind="stable")
        self.segments_ = pd.Series(dict(segments) if isinstance(segments, Mapping) else segments, dtype=object)
        self.segment_popularity_ = self._segment_popularity(frame, self.segments_)
        self.fit_seconds_ = time.perf_counter() - began
        return self

    def _segment_popularity(self, frame: pd.DataFrame, segments: pd.Series) -> dict[Any, pd.Series]:
        if segments.empty:
            return {}
        seg = frame["user"].map(segments)
        known = seg.notna().to_numpy()
        if not known.any():
            return {}
        ts = frame["ts"] if "ts" in frame.columns else None
        d = pd.DataFrame({"segment": seg[known].to_numpy(), "user": frame["user"].to_numpy()[known],
                          "item": frame["item"].to_numpy()[known],
                          "d": decay(ts, self.half_life_days_, len(frame))[known]})
        pop = d.groupby(["segment", "item", "user"], sort=False)["d"].max().groupby(level=[0, 1]).sum()
        return {s: part.droplevel(0).sort_values(ascending=False, kind="stable")
                for s, part in pop.groupby(level=0)}

    # --------------------------------------------------------------- predicting
    def recommend(self, users: Iterable[Any], k: int = 10, *,
                  segments: Mapping[Any, Any] | pd.Series | None = None) -> pd.DataFrame:
        """The ``k`` best items for each user.

        Parameters
        ----------
        users
            Users to recommend for; unknown users get the popular items of their segment
            (``segments`` here, else the mapping given to :meth:`fit`) or of everyone.
        k
            Recommendations per user.
        segments
            User -> segment for users not seen in :meth:`fit`.

        Returns
        -------
        pandas.DataFrame
            ``user, rank, item, score, reason``; rank 1 is best.
        """
        self._check_fitted()
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        wanted = pd.Index(pd.unique(pd.Series(list(users), dtype=object)))
        core = self._core
        codes = core.users.get_indexer(wanted)
        warm = codes >= 0
        parts = []
        if warm.any():
            [(idx, val, own)] = self._score_known(core, codes[warm], k, [(self.own_weight_, self.exclude_seen_)])
            finite = np.isfinite(val)
            n = idx.shape[1]
            keep = finite.ravel()
            parts.append(recs_frame(
                np.repeat(wanted[warm].to_numpy(), n)[keep],
                np.tile(np.arange(1, n + 1), int(warm.sum()))[keep],
                core.items.to_numpy()[idx.ravel()][keep],
                val.ravel()[keep],
                np.where(own.ravel()[keep], REASON_OWN, REASON_SIMILAR),
            ))
        if (~warm).any():
            parts.append(self._cold(wanted[~warm], k, segments))
        if not parts:
            return empty_recs()
        return pd.concat(parts, ignore_index=True)

    def _cold(self, users: pd.Index, k: int, segments: Mapping[Any, Any] | pd.Series | None) -> pd.DataFrame:
        extra = pd.Series(dict(segments) if isinstance(segments, Mapping) else segments, dtype=object)
        seg = pd.Series(users.to_numpy(), index=users).map(extra.combine_first(self.segments_))
        glob = self.popularity_.iloc[:k]
        top = float(glob.iloc[0]) if len(glob) else 1.0
        out: list[pd.DataFrame] = []
        for s, members in seg.groupby(seg.fillna("\0__none__"), sort=False).groups.items():
            pop = self.segment_popularity_.get(s)
            if pop is not None and len(pop):
                best, reason = pop.iloc[:k], REASON_SEGMENT
                scale = float(best.iloc[0]) or 1.0
            else:
                best, reason, scale = glob, REASON_POPULAR, top or 1.0
            n, who = len(best), list(members)
            out.append(recs_frame(np.repeat(np.asarray(who, dtype=object), n), np.tile(np.arange(1, n + 1), len(who)),
                              np.tile(best.index.to_numpy(), len(who)), np.tile(best.to_numpy() / scale, len(who)),
                              [reason] * (n * len(who))))
        return pd.concat(out, ignore_index=True) if out else empty_recs()
