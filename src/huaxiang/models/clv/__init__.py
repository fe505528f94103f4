"""Customer-lifetime-value models: BG/NBD, Pareto/NBD and Gamma-Gamma.

Buy-till-you-die ("BTYD") models fitted by maximum likelihood on the
one-row-per-customer summary with the field's standard columns
``customer_id``, ``frequency`` (repeat purchases), ``recency`` (time of the
last purchase since the first), ``T`` (age: time since the first purchase)
and, for the spend model, ``monetary_value`` (mean value of the *repeat*
purchases). All times are in one unit of the caller's choosing (CDNOW uses
weeks); ``time_unit_days`` converts where days are needed.

One module per concept, in the manner of PyMC-Marketing's ``clv/models/``:

* :mod:`~huaxiang.models.clv.special` — the special functions (a fast ``log 2F1(1, b; c; z)``
  near ``z = 1``, ``log(1 - e^d)``);
* :mod:`~huaxiang.models.clv.fitting` — input checks and the shared maximum-likelihood fit
  (L-BFGS-B on the log parameters over identical rows collapsed into weights);
* :mod:`~huaxiang.models.clv.count` — what the two count models share (P(alive), expected
  purchases, P(purchase within t), the median days to the next purchase);
* :mod:`~huaxiang.models.clv.beta_geo` — :class:`BetaGeoModel`, BG/NBD (Fader, Hardie & Lee
  2005, eq. 10 for the conditional expectation);
* :mod:`~huaxiang.models.clv.pareto_nbd` — :class:`ParetoNBDModel`, Pareto/NBD (Schmittlein,
  Morrison & Colombo 1987; Fader & Hardie 2005 note);
* :mod:`~huaxiang.models.clv.gamma_gamma` — :class:`GammaGammaModel` (Fader & Hardie 2013);
* :mod:`~huaxiang.models.clv.lifetime_value` — :func:`expected_clv`, discounted monthly
  expected purchases x expected spend (lifetimes' ``customer_lifetime_value`` recipe).

Why our own code rather than lifetimes or PyMC-Marketing: it reaches the published optimum
(BG/NBD LL -9582.4, Pareto/NBD -9595.0 on CDNOW) with no heavy dependency, keeps predictions
finite where lifetimes' Pareto/NBD returns nan (Euler-transformed ``hyp2f1``), and is faster;
the measured comparison is in ``bench/README.md`` (``python bench/models.py --cdnow``).

Examples
--------
>>> import pandas as pd
>>> from huaxiang.models import BetaGeoModel
>>> data = pd.DataFrame({
...     "customer_id": [1, 2, 3, 4, 5, 6],
...     "frequency": [2, 0, 5, 1, 0, 3],
...     "recency": [30.4, 0.0, 35.0, 2.0, 0.0, 20.0],
...     "T": [38.9, 38.9, 38.0, 37.0, 36.0, 39.0],
... })
>>> model = BetaGeoModel().fit(data)
>>> sorted(model.params_)
['a', 'alpha', 'b', 'r']
"""

from huaxiang.models.clv.beta_geo import BetaGeoModel
from huaxiang.models.clv.count import CountModel
from huaxiang.models.clv.fitting import MLEModel
from huaxiang.models.clv.gamma_gamma import GammaGammaModel
from huaxiang.models.clv.lifetime_value import expected_clv
from huaxiang.models.clv.pareto_nbd import ParetoNBDModel
from huaxiang.models.clv.special import log_hyp2f1_one

# the names of the single-module era, kept for code (and tests) that import them from here
_CountModel = CountModel
_MLEModel = MLEModel

__all__ = ["BetaGeoModel", "CountModel", "GammaGammaModel", "MLEModel", "ParetoNBDModel", "expected_clv",
           "log_hyp2f1_one"]
