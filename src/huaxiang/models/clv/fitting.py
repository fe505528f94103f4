"""The shared maximum-likelihood fitting of the CLV models: input checks, weighted rows, L-BFGS-B.

Every model writes its mean negative log-likelihood (and, where it has one, its gradient) over
the log parameters; :class:`MLEModel` maximises it with L-BFGS-B on identical rows collapsed
into weights, and refuses a result that did not converge or ran off to the search bound.

Examples
--------
>>> import numpy as np
>>> rows, inverse, counts = unique_rows(np.array([1.0, 1.0, 2.0]), np.array([3.0, 3.0, 4.0]))
>>> [r.tolist() for r in rows], inverse.tolist(), counts.tolist()
([[1.0, 2.0], [3.0, 4.0]], [0, 0, 1], [2.0, 1.0])
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from huaxiang.errors import ModelError, SchemaError
from huaxiang.models.base import Estimator
from huaxiang.models.clv.special import FloatArray

__all__ = ["MLEModel", "unique_rows", "validate_cols"]

# Search box for the log parameters: e^-25 .. e^25 is far beyond any sensible
# value in any time unit; a parameter stuck on it means the data does not
# identify it, and we raise rather than return it.
_LOG_BOUND = 25.0


def unique_rows(*arrays: FloatArray) -> tuple[list[FloatArray], NDArray[np.intp], FloatArray]:
    """Collapse identical rows: the unique rows, the inverse index and the row counts."""
    frame = pd.DataFrame({str(i): a for i, a in enumerate(arrays)})
    codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    n_unique = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n_unique, -1, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    counts = np.bincount(codes, minlength=n_unique).astype(np.float64)
    return [a[first] for a in arrays], codes.astype(np.intp), counts


def validate_cols(data: pd.DataFrame, columns: Sequence[str], model: str) -> None:
    """Check the summary columns; raise :class:`SchemaError` saying what and how to fix.

    Checks presence, numeric type, missing values, ``frequency`` whole and
    ``>= 0``, ``recency >= 0``, ``recency <= T``, ``recency == 0`` when
    ``frequency == 0``, ``T > 0`` and unique ``customer_id``.
    """
    if not isinstance(data, pd.DataFrame):
        raise SchemaError(f"{model}: data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise SchemaError(
            f"{model}: missing column(s) {missing}; expected {list(columns)} "
            f"(found {list(data.columns)}). Rename your columns, e.g. "
            "data.rename(columns={'ID': 'customer_id'}), or build the summary with "
            "huaxiang's RFM features (frequency = repeat purchases, recency and T in one time unit)."
        )

    def bad(mask: Any, what: str, fix: str) -> None:
        mask = np.asarray(mask)
        if mask.any():
            first_id = data["customer_id"].iloc[[int(mask.argmax())]].tolist()[0]
            raise SchemaError(
                f"{model}: {what} for {int(mask.sum())} customer(s) (first: customer_id={first_id!r}); {fix}"
            )

    for col in columns:
        if col == "customer_id":
            continue
        if not pd.api.types.is_numeric_dtype(data[col]) or pd.api.types.is_bool_dtype(data[col]):
            raise SchemaError(f"{model}: column {col!r} must be numeric, got dtype {data[col].dtype}")
        bad(
            ~np.isfinite(data[col].to_numpy(dtype=np.float64)),
            f"{col} is missing or infinite",
            f"drop or fill those rows before fitting (column {col!r}).",
        )
    if data["customer_id"].duplicated().any():
        dup = data.loc[data["customer_id"].duplicated(), "customer_id"].tolist()[0]
        raise SchemaError(
            f"{model}: customer_id must be unique, {dup!r} appears more than once; "
            "aggregate to one row per customer first."
        )
    if "frequency" in columns:
        f = data["frequency"].to_numpy(dtype=np.float64)
        bad(f < 0, "frequency must be >= 0 (it counts repeat purchases)", "fix the negative counts.")
        bad(
            f != np.round(f),
            "frequency must be a whole number of repeat purchases",
            "count purchase days, not amounts.",
        )
    if "recency" in columns:
        rec = data["recency"].to_numpy(dtype=np.float64)
        bad(rec < 0, "recency must be >= 0", "recency is the time from the first to the last purchase.")
        if "T" in columns:
            t_age = data["T"].to_numpy(dtype=np.float64)
            bad(
                t_age <= 0,
                "T must be > 0",
                "T is the time from the first purchase to the end of the "
                "observation period; drop customers whose first purchase is on the cut-off day.",
            )
            bad(
                rec > t_age + 1e-9,
                "recency must be <= T",
                "recency and T must use the same time unit and the same observation end.",
            )
        if "frequency" in columns:
            bad(
                (data["frequency"].to_numpy() == 0) & (rec != 0),
                "recency must be 0 when frequency is 0",
                "recency is measured from the first to the last *repeat* purchase.",
            )


class MLEModel(Estimator):
    """Keyword-only params, L-BFGS-B on log-params, fitted attributes ending in ``_``."""

    _fitted_attr = "params_"
    _fit_hint = "fit(data)"
    _param_names: ClassVar[tuple[str, ...]] = ()
    _required: ClassVar[tuple[str, ...]] = ()

    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: int
    converged_: bool
    n_iter_: int
    fit_seconds_: float

    def __init__(self, *, penalizer_coef: float = 0.0, max_iter: int = 1000, tol: float = 1e-10) -> None:
        self.penalizer_coef = penalizer_coef
        self.max_iter = max_iter
        self.tol = tol

    # -- hooks ---------------------------------------------------------------
    def _objective(
        self, log_params: FloatArray, arrays: list[FloatArray], weights: FloatArray
    ) -> tuple[float, FloatArray] | float:
        raise NotImplementedError

    _analytic_gradient: ClassVar[bool] = True

    def _initial_log_params(self, arrays: list[FloatArray], weights: FloatArray) -> FloatArray:
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------
    def _validate_cols(self, data: pd.DataFrame) -> None:
        validate_cols(data, self._required, self._display_name)

    def _penalty(self, params: FloatArray) -> tuple[float, FloatArray]:
        """lifetimes' penalty ``c * sum(theta**2)`` and its gradient in log-params."""
        c = self.penalizer_coef
        return c * float(np.sum(params**2)), 2.0 * c * params**2

    def _prepare(self, arrays: list[FloatArray]) -> list[FloatArray]:
        """Hook: add per-fit precomputations (e.g. distinct frequencies) to the arrays."""
        return arrays

    def _maximise(self, arrays: list[FloatArray], weights: FloatArray) -> None:
        start = self._initial_log_params(arrays, weights)
        arrays = self._prepare(arrays)
        began = time.perf_counter()
        jac: bool | str = True if self._analytic_gradient else "2-point"
        # L-BFGS-B calls BLAS on 3-4-element vectors; a multi-threaded OpenBLAS makes
        # that much slower on a busy machine (bench/README.md), so pin BLAS to one thread here.
        with threadpool_limits(limits=1, user_api="blas"):
            result = minimize(
                self._objective,
                start,
                args=(arrays, weights),
                jac=jac,
                method="L-BFGS-B",
                bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(start),
                options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-7, "maxls": 50},
            )
        self.fit_seconds_ = time.perf_counter() - began
        grad = np.asarray(result.jac, dtype=np.float64)
        grad_norm = float(np.linalg.norm(grad))
        n_iter = int(result.nit)
        # L-BFGS-B sometimes ends with a failed line search *at* the optimum
        # (the objective is flat to machine precision); accept that only when
        # the gradient is tiny.
        converged = bool(result.success) or (
            "ABNORMAL" in str(result.message) and grad_norm < 1e-4 and n_iter > 1
        )
        at_bound = np.abs(result.x) >= _LOG_BOUND - 1e-6
        if not converged or not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
            raise ModelError(
                f"{self._display_name} did not converge after {n_iter} iterations (max_iter={self.max_iter}); "
                f"last gradient norm {grad_norm:.3g}; optimiser says: {result.message}. "
                "Raise max_iter, add penalizer_coef (e.g. 0.001), or check the time unit of recency/T."
            )
        if at_bound.any():
            names = [n for n, b in zip(self._param_names, at_bound, strict=True) if b]
            raise ModelError(
                f"{self._display_name}: parameter(s) {names} ran off to the search bound after {n_iter} iterations "
                f"(gradient norm {grad_norm:.3g}); the data does not identify them. "
                "Add penalizer_coef (e.g. 0.001) or use more customers."
            )
        params = np.exp(result.x)
        self.params_ = {n: float(v) for n, v in zip(self._param_names, params, strict=True)}
        nll, _ = self._penalty(params)
        total_w = float(weights.sum())
        self.log_likelihood_ = float(-(result.fun - nll) * total_w)
        self.n_customers_ = round(total_w)
        self.converged_ = True
        self.n_iter_ = n_iter

    def _p(self) -> tuple[float, ...]:
        self._check_fitted()
        return tuple(self.params_[n] for n in self._param_names)

