"""Spark engine (PySpark through Ibis). Imported lazily: ``pip install "huaxiang[spark]"``."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from huaxiang.engine.base import FILE_COLUMN, ROW_COLUMN, Engine


def _require_pyspark() -> Any:
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            'The Spark engine needs PySpark: pip install "huaxiang[spark]" (and a Java 17+ runtime).'
        ) from exc
    return SparkSession


def build_spark_session(
    *, master: str = "local[2]", warehouse_dir: str | Path | None = None, conf: dict[str, str] | None = None
) -> Any:
    """Create (or get) a SparkSession tuned for small local runs.

    Examples
    --------
    >>> spark = build_spark_session()  # doctest: +SKIP
    """
    spark_session_cls = _require_pyspark()
    # Python UDFs run in worker processes: make them use this interpreter (and so see huaxiang).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        spark_session_cls.builder.master(master)
        .appName("huaxiang")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "3g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )
    if warehouse_dir is not None:
        builder = builder.config("spark.sql.warehouse.dir", str(warehouse_dir))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


class SparkEngine(Engine):
    """Engine on Apache Spark (PySpark through Ibis).

    Tables are stored as Parquet folders under ``warehouse_dir`` and registered
    as views when the engine opens, so a workspace built on Spark can be
    reopened by a later process (Spark's in-memory catalogue is not kept).

    Parameters
    ----------
    warehouse_dir
        Folder holding one Parquet folder per table.
    master, conf
        Spark master URL and extra settings (used only when no ``session`` is given).
    session
        An existing SparkSession to reuse (tests share one).

    Examples
    --------
    >>> eng = SparkEngine("/tmp/hx-spark")  # doctest: +SKIP
    """

    name: ClassVar[str] = "spark"
    #: Capability gaps of this backend, declared up front.
    #: ``replace_rows``: no in-place delete + insert (the live path is DuckDB's); ``warehouse_file``: the
    #: warehouse is a folder of table versions, not one file that closing completes; ``snapshot``: the
    #: service (which writes one for readers) runs on DuckDB.
    unsupported: ClassVar[frozenset[str]] = frozenset({"csv_skip_rows", "replace_rows", "snapshot",
                                                       "warehouse_file"})

    _ids = itertools.count()

    def __init__(
        self, warehouse_dir: str | Path, *, master: str = "local[2]", conf: dict[str, str] | None = None,
        session: Any = None,
    ) -> None:
        import ibis

        self.warehouse_dir = Path(warehouse_dir)
        self.warehouse_dir.mkdir(parents=True, exist_ok=True)
        self.session = session or build_spark_session(
            master=master, warehouse_dir=self.warehouse_dir / "_catalog", conf=conf
        )
        self.session.sparkContext.setLogLevel("ERROR")
        super().__init__(ibis.pyspark.connect(self.session))
        self._views: dict[str, Path] = {}
        self._temps: set[str] = set()
        for folder in sorted(self.warehouse_dir.iterdir()):
            if folder.is_dir() and (folder / "_SUCCESS").exists() and not folder.name.startswith("."):
                self._attach(folder.name, folder)

    def _attach(self, name: str, folder: Path) -> None:
        self.session.read.parquet(str(folder)).createOrReplaceTempView(name)
        self._views[name] = folder

    def _frame(self, expr: ir.Table) -> Any:
        """The PySpark DataFrame of an Ibis expression."""
        self.con._run_pre_execute_hooks(expr)
        return self.session.sql(self.con.compile(expr))

    def _write(self, name: str, expr: ir.Table, *, temp: bool = False) -> None:
        frame = self._frame(expr)
        if temp:
            frame = frame.localCheckpoint(eager=True)  # computed once, lineage cut; not in the warehouse
            frame.createOrReplaceTempView(name)
            self._temps.add(name)
            return
        tmp = self.warehouse_dir / f".{name}.{uuid.uuid4().hex[:8]}"
        frame.write.mode("overwrite").parquet(str(tmp))
        final = self.warehouse_dir / name
        old = self.warehouse_dir / f".{name}.old.{uuid.uuid4().hex[:8]}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        self._attach(name, final)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)

    def _append(self, name: str, expr: ir.Table) -> None:
        frame = self._frame(expr)
        if name in self._temps:
            current = self.session.table(name)
            current.unionByName(frame).localCheckpoint(eager=True).createOrReplaceTempView(name)
            return
        folder = self._views[name]
        frame.select(*self.session.table(name).columns).write.mode("append").parquet(str(folder))
        self._attach(name, folder)

    def _drop(self, name: str) -> None:
        self.session.catalog.dropTempView(name)
        self._temps.discard(name)
        folder = self._views.pop(name, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _list(self) -> list[str]:
        return [*self._views, *sorted(self._temps - set(self._views))]

    def _with_row_number(self, frame: Any) -> Any:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        order = Window.orderBy(F.col("_hx_mono"))
        return (
            frame.withColumn("_hx_mono", F.monotonically_increasing_id())
            .withColumn(ROW_COLUMN, F.row_number().over(order).cast("long"))
            .drop("_hx_mono")
        )

    def _temp(self, name: str, frame: Any) -> ir.Table:
        frame.createOrReplaceTempView(name)
        return self.con.table(name)

    def _read_delimited(
        self, files: Sequence[Path], *, name: str, delimiter: str, header: bool, columns: Sequence[str],
        skip_rows: int,
    ) -> tuple[ir.Table, pd.DataFrame]:
        from pyspark.sql import functions as F
        from pyspark.sql.types import StringType, StructField, StructType

        if skip_rows:
            self.require("csv_skip_rows")
        schema = StructType(
            [StructField(c, StringType(), True) for c in columns] + [StructField("_hx_corrupt", StringType())]
        )
        frame = (
            self.session.read.option("header", str(header).lower())
            .option("sep", delimiter)
            .option("quote", '"')
            .option("escape", '"')
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_hx_corrupt")
            .option("enforceSchema", "true")
            .schema(schema)
            .csv([str(f) for f in files])
            .withColumn(FILE_COLUMN, F.input_file_name())
        ).cache()
        frame = self._with_row_number(frame).cache()
        bad = (
            frame.where(F.col("_hx_corrupt").isNotNull())
            .select(
                F.col(ROW_COLUMN).alias("line"),
                F.lit("malformed line (wrong number of fields or bad quoting)").alias("error"),
                F.col("_hx_corrupt").alias("payload"),
                F.col(FILE_COLUMN).alias("file"),
            )
            .toPandas()
        )
        good = frame.where(F.col("_hx_corrupt").isNull()).drop("_hx_corrupt")
        return self._temp(name, good), bad

    def _read_lines(self, files: Sequence[Path], *, name: str) -> ir.Table:
        frame = self.session.read.text([str(f) for f in files]).withColumnRenamed("value", "line")
        return self._temp(name, self._with_row_number(frame))

    def _read_parquet(self, files: Sequence[Path], *, name: str) -> ir.Table:
        frame = self.session.read.parquet(*[str(f) for f in files])
        return self._temp(name, self._with_row_number(frame))

    def _register_arrow(self, name: str, table: pa.Table) -> ir.Table:
        from pyspark.sql.pandas.types import from_arrow_schema

        schema = from_arrow_schema(table.schema)
        frame = self.session.createDataFrame(table.to_pandas(), schema=schema)
        return self._temp(name, frame)

    def _create_view(self, name: str, expr: ir.Table) -> None:
        self._frame(expr).createOrReplaceTempView(name)

    def parse_timestamp(self, value: ir.StringValue, fmt: str) -> ir.TimestampValue:
        return _spark_to_timestamp(value, java_datetime_pattern(fmt))

    def splink_db_api(self) -> Any:
        from splink import SparkAPI
        from splink.backends.spark import similarity_jar_location

        # Splink's string-similarity functions (jaro_winkler, damerau_levenshtein) live in a jar it
        # ships; adding it to the running session lets a session built without it use them.
        self.session.sql(f"ADD JAR '{similarity_jar_location()}'")
        return SparkAPI(spark_session=self.session, break_lineage_method="persist")

    def close(self) -> None:
        """Leave the shared session running (it is process-wide); forget our views."""
        for name in list(self._views):
            self.session.catalog.dropTempView(name)
        self._views.clear()


#: strftime codes -> Java DateTimeFormatter letters (single letters accept 1 or 2 digits when parsing,
#: as DuckDB's strptime does).
_STRFTIME_TO_JAVA = {
    "Y": "yyyy", "y": "yy", "m": "M", "d": "d", "H": "H", "I": "h", "M": "m", "S": "s", "f": "SSSSSS",
    "p": "a", "b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "j": "D", "z": "Z", "%": "%",
}


def java_datetime_pattern(fmt: str) -> str:
    """Translate a strftime format into a Spark (Java) datetime pattern, quoting literal letters.

    Numeric fields take one letter (1 or 2 digits, like strptime) unless they touch another field
    with no separator, where Java needs fixed widths to split the digits.

    >>> java_datetime_pattern("%Y-%m-%dT%H:%M:%S")
    "yyyy-M-d'T'H:m:s"
    >>> java_datetime_pattern("%d.%m.%Y")
    'd.M.yyyy'
    >>> java_datetime_pattern("%Y%m%d")
    'yyyyMMdd'
    """
    tokens: list[tuple[str, str]] = []  # (kind, text): kind "field" or "literal"
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            if code not in _STRFTIME_TO_JAVA:
                raise ValueError(f"strftime code %{code} in {fmt!r} is not supported on the spark engine")
            tokens.append(("field", code))
            i += 2
        else:
            tokens.append(("literal", fmt[i]))
            i += 1
    out: list[str] = []
    for n, (kind, text) in enumerate(tokens):
        if kind == "literal":
            out.append(f"'{text}'" if text.isalpha() else ("''" if text == "'" else text))
            continue
        letters = _STRFTIME_TO_JAVA[text]
        touching = any(0 <= j < len(tokens) and tokens[j][0] == "field" for j in (n - 1, n + 1))
        if touching and len(letters) == 1 and text in "mdHIMS":
            letters *= 2
        out.append(letters)
    return "".join(out)


@ibis.udf.scalar.builtin(name="to_timestamp")
def _spark_to_timestamp(value: str, pattern: str) -> datetime:  # type: ignore[empty-body]
    """Spark's ``to_timestamp(text, pattern)``: NULL where the text does not parse (ANSI off)."""
