"""The buy-till-you-die features of the churn model: a BTYD fit that stays finite, and its predictions.

Examples
--------
>>> BTYD_FEATURES[:2]
('bgnbd_expected', 'bgnbd_p_alive')
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from huaxiang.errors import ModelError
from huaxiang.models.clv import BetaGeoModel, ParetoNBDModel

__all__ = ["BTYD_FEATURES", "btyd_features", "btyd_summary", "fit_btyd"]

#: Columns the churn model adds from the fitted BTYD models.
BTYD_FEATURES = ("bgnbd_expected", "bgnbd_p_alive", "pareto_expected", "pareto_p_alive")


def btyd_summary(X: pd.DataFrame) -> pd.DataFrame:
    """The BTYD summary of ``X``; a first purchase on the cut-off day (``T = 0``) gets ``T = 0.001``."""
    return pd.DataFrame({
        "customer_id": np.arange(len(X)),
        "frequency": X["frequency"].to_numpy(dtype=np.float64),
        "recency": X["recency"].to_numpy(dtype=np.float64),
        "T": np.maximum(X["T"].to_numpy(dtype=np.float64), 1e-3),
    })


def fit_btyd(cls: type[BetaGeoModel] | type[ParetoNBDModel], summary: pd.DataFrame, horizon: float, *,
             penalizer_coef: float = 0.0) -> BetaGeoModel | ParetoNBDModel:
    """Fit a BTYD model whose predictions on ``summary`` are finite, adding a small L2 penalty if need be.

    On data with almost no dropout the BG/NBD maximum likelihood runs ``a`` and ``b`` off to
    ~1e5 and the closed forms overflow to NaN; lifetimes' penalty ``c * sum(theta**2)`` with
    ``c`` = 1e-4 (then 1e-3, 1e-2) keeps them finite. The penalty used is ``penalizer_coef``.

    Raises
    ------
    ModelError
        No penalty up to 1e-2 gives finite predictions, or the fit failed.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": range(6), "frequency": [2, 0, 5, 1, 0, 3],
    ...                   "recency": [30.4, 0.0, 35.0, 2.0, 0.0, 20.0], "T": [38.9, 38.9, 38.0, 37.0, 36.0, 39.0]})
    >>> fit_btyd(BetaGeoModel, s, 10.0).penalizer_coef
    0.0
    """
    last: Exception | None = None
    for coef in dict.fromkeys([penalizer_coef, max(penalizer_coef, 1e-4), max(penalizer_coef, 1e-3),
                               max(penalizer_coef, 1e-2)]):
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                model = cls(penalizer_coef=coef).fit(summary)
                ok = bool(np.isfinite(model.expected_purchases_and_alive(summary, horizon).to_numpy()).all())
        except (ModelError, FloatingPointError) as exc:
            last = exc
            continue
        if ok:
            return model
    raise ModelError(f"{cls.__name__}: no finite fit with an L2 penalty up to 1e-2" + (f" ({last})" if last else ""))


def btyd_features(bgnbd: BetaGeoModel | None, pareto: ParetoNBDModel | None, X: pd.DataFrame,
                  horizon: float) -> pd.DataFrame:
    """Expected purchases in ``horizon`` and P(alive) of each fitted BTYD model (NaN for a missing one).

    Examples
    --------
    >>> import pandas as pd
    >>> from huaxiang.models import BetaGeoModel
    >>> bg = BetaGeoModel()
    >>> bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    >>> X = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    >>> round(float(btyd_features(bg, None, X, 39.0)["bgnbd_expected"].iloc[0]), 3)
    1.226
    """
    summary = btyd_summary(X)
    out = pd.DataFrame(index=X.index, columns=list(BTYD_FEATURES), dtype=np.float64)
    for prefix, model in (("bgnbd", bgnbd), ("pareto", pareto)):
        if model is None:
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            both = model.expected_purchases_and_alive(summary, horizon)
            out[f"{prefix}_expected"] = both["expected_purchases"].to_numpy()
            out[f"{prefix}_p_alive"] = both["probability_alive"].to_numpy()
    return out
