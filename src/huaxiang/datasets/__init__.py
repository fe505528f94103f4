"""Datasets: the synthetic demo shop (:mod:`huaxiang.datasets.synthetic`).

``generate_shop`` and ``ShopSummary`` are imported on first use, so ``import huaxiang.datasets``
stays cheap (no numpy, pandas or pyarrow until a shop is generated).

>>> import huaxiang.datasets as datasets
>>> datasets.generate_shop.__name__
'generate_shop'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huaxiang.datasets.synthetic import ShopSummary, generate_shop

__all__ = ["ShopSummary", "generate_shop"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from huaxiang.datasets import synthetic

        return getattr(synthetic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
