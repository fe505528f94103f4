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
