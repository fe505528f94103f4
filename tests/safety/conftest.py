"""A small built workspace shared by the safety tests (built once; each test gets its own copy)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import huaxiang

ORDERS = (
    "单号,客户,时间,金额\n"
    "A1,c1,2024-01-02 10:00:00,12.5\nA2,c2,bad,3\nA3,c1,2024-01-03 11:00:00,7\n"
    "A4,c2,2024-02-03 09:30:00,40\nA5,c3,2024-03-04 20:15:00,99.9\nA6,c3,2024-03-05 08:00:00,-5\n"
)
CONFIG = """
name: safety
sources:
  - name: pos
    table: orders
    format: csv
    path: orders.csv
    columns:
      order_id: 单号
      source_customer_id: 客户
      order_ts: {column: 时间, format: "%Y-%m-%d %H:%M:%S"}
      amount: 金额
      status: {value: paid}
      promo_id: {expr: "'P-' || 单号"}
    quarantine_if:
      - {when: "TRY_CAST(金额 AS DOUBLE) < 0", reason: "negative amount"}
"""


def write_workspace(folder: Path) -> Path:
    """The config and source file of the small shop."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "huaxiang.yaml").write_text(CONFIG, encoding="utf-8")
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return folder


@pytest.fixture
def new_shop() -> Callable[[Path], Path]:
    """``new_shop(folder)``: write the small shop's config and source into ``folder`` (not built)."""
    return write_workspace


@pytest.fixture(scope="session")
def built_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small shop, built once on DuckDB (every stage)."""
    folder = write_workspace(tmp_path_factory.mktemp("safety") / "shop")
    with huaxiang.Workspace.open(folder) as ws:
        ws.build()
    return folder


@pytest.fixture
def shop(built_template: Path, tmp_path: Path) -> Path:
    """A private copy of the built small shop."""
    target = tmp_path / "shop"
    shutil.copytree(built_template, target)
    return target


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, tuple[int, str]]]:
    """``snapshot(folder)``: every stored table's rows and content hash."""
    return table_snapshot


def table_snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every stored table of the workspace: (rows, sha256 of its rows sorted, as text)."""
    out: dict[str, tuple[int, str]] = {}
    with huaxiang.Workspace.open(folder) as ws:
        for name in ws.engine.list_tables():
            frame: pd.DataFrame = ws.engine.execute(ws.engine.table(name))
            text = frame.astype(str).sort_values(list(frame.columns)).to_csv(index=False) if len(frame.columns) else ""
            out[name] = (len(frame), hashlib.sha256(text.encode()).hexdigest())
    return out
