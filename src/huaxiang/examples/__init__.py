"""Ready-made workspaces: the synthetic demo shop and one per real public data set.

>>> from huaxiang.examples import list_examples
>>> sorted(list_examples())[:3]
['cdnow', 'demo', 'groceries']
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from huaxiang.errors import ConfigError

#: Example name -> one-line description.
EXAMPLES: dict[str, str] = {
    "demo": "synthetic Chinese retail shop (CRM, app, POS, events, tickets, reviews, campaigns) with ground truth",
    "cdnow": "CDNOW CD purchases 1997–1998 (real; the BG/NBD paper's data): orders",
    "online_retail": "UCI Online Retail 2010–2011 (real, UK gift retailer): invoice lines",
    "online_retail_ii": "UCI Online Retail II, sheet 2009–2010 (real): invoice lines",
    "groceries": "Kaggle Groceries 2014–2015 (public): member baskets",
    "taobao": "Taobao UserBehavior slice 2017 (real, Alibaba): behaviour events",
}


def list_examples() -> dict[str, str]:
    """Example names and descriptions."""
    return dict(EXAMPLES)


def _text(name: str) -> str:
    return resources.files("huaxiang.examples").joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def write_template(folder: Path) -> Path:
    """Write the commented, empty ``huaxiang.yaml`` into ``folder``."""
    target = folder / "huaxiang.yaml"
    target.write_text(_text("template"), encoding="utf-8")
    return target


def write_example(name: str, folder: Path, *, data_dir: Path, customers: int = 20_000, seed: int = 42,
                  **_: Any) -> Path:
    """Write the example ``name`` into ``folder``.

    Real-data examples point ``data_dir`` at the folder holding the public data sets.
    ``demo`` generates the synthetic shop into ``folder/data`` first.
    """
    if name not in EXAMPLES:
        raise ConfigError(f"unknown example {name!r}; examples: {', '.join(EXAMPLES)} (huaxiang init --list-examples)")
    target = folder / "huaxiang.yaml"
    if name == "demo":
        from huaxiang.datasets.synthetic import generate_shop

        generate_shop(folder / "data", n_customers=customers, seed=seed)
        target.write_text(_text("demo"), encoding="utf-8")
        return target
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise ConfigError(
            f"data folder {data_dir} does not exist; pass --data PATH (the folder holding cdnow/, "
            "online_retail/, …) or set HUAXIANG_DATA"
        )
    target.write_text(_text(name).replace("{data_dir}", json.dumps(str(data_dir))), encoding="utf-8")
    return target
