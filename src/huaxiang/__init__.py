"""huaxiang (画像): an open customer-profile platform.

Collect customer data from many sources, clean it, resolve identities,
describe behaviour, tag, segment and predict — on DuckDB (default, embedded)
or Spark.

>>> import huaxiang
>>> huaxiang.__version__
'0.1.0'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from huaxiang.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'huaxiang' has no attribute {name!r}")


__all__ = ["Workspace", "__version__"]
