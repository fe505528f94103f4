"""Shared fixtures.

The Spark session is started once per test run (it takes ~17 s) and shared;
tests that use it carry the ``spark`` marker. ``ibis_con`` runs a test once
per engine backend: DuckDB always, PySpark under the ``spark`` marker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HUAXIANG_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _no_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-xdist workers export COLUMNS=80 / LINES=24; a piped command has no such variables, and
    the CLI's tables honour COLUMNS when it is set (tests/cli/test_output.py checks the unset case)."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real public data sets (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data sets not found at {SHARED_DATA}; set HUAXIANG_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local SparkSession for the whole run."""
    from huaxiang.engine.spark import build_spark_session

    session = build_spark_session(warehouse_dir=tmp_path_factory.mktemp("spark-warehouse"))
    yield session
    session.stop()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def ibis_con(request: pytest.FixtureRequest) -> Any:
    """An Ibis backend connection, once per engine."""
    import ibis

    if request.param == "duckdb":
        return ibis.duckdb.connect()
    session = request.getfixturevalue("spark_session")
    return ibis.pyspark.connect(session)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run every Spark test on one xdist worker, so only one JVM starts per run."""
    for item in items:
        if item.get_closest_marker("spark") is not None:
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture
def make_workspace(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """Build a workspace folder from a config dict and files; returns an opener per engine.

    ``make_workspace(config, files={"a.csv": "text" or bytes}, engine="duckdb")``.
    """
    import yaml

    from huaxiang.workspace import Workspace

    opened: list[Workspace] = []

    def make(config: dict[str, Any], files: dict[str, str | bytes] | None = None, engine: str = "duckdb",
             name: str = "ws") -> Workspace:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        for fname, content in (files or {}).items():
            target = folder / fname
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        (folder / "huaxiang.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        options: dict[str, Any] = {}
        if engine == "spark":
            options["session"] = request.getfixturevalue("spark_session")
        ws = Workspace.open(folder, engine=engine, **options)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine_name(request: pytest.FixtureRequest) -> str:
    """Run a test once per engine."""
    return str(request.param)
