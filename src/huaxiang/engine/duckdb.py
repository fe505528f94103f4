"""DuckDB engine: the embedded default (one ``warehouse.duckdb`` file per workspace)."""

from __future__ import annotations

import functools
import itertools
import operator
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from huaxiang.engine.base import ROW_COLUMN, SNAPSHOT_TABLE, Engine
from huaxiang.exprs import strip_text

#: Every character a regex ``\s`` matches on DuckDB (RE2, no ``\x0b``) or Spark (Java).
_EDGE_WHITESPACE = (" ", "\t", "\n", "\x0b", "\f", "\r")


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, fmt: str) -> datetime:  # type: ignore[empty-body]
    """DuckDB's ``try_strptime``: NULL instead of an error on text that does not parse."""


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_list(files: Sequence[Path]) -> str:
    return "[" + ", ".join(_sql_literal(str(f)) for f in files) + "]"


class DuckDBEngine(Engine):
    """Engine on an embedded DuckDB database.

    Parameters
    ----------
    path
        Database file; ``None`` or ``":memory:"`` for an in-memory database.
    threads, memory_limit
        DuckDB settings (default: DuckDB's own).
    read_only
        Open the file read-only, with DuckDB's external access disabled (no file, network or
        extension access for anything run on this connection): what readers of a workspace use.

    Examples
    --------
    >>> eng = DuckDBEngine()
    >>> eng.name
    'duckdb'
    """

    name: ClassVar[str] = "duckdb"
    unsupported: ClassVar[frozenset[str]] = frozenset()

    _ids = itertools.count()

    def __init__(
        self, path: str | Path | None = None, *, threads: int | None = None, memory_limit: str | None = None,
        read_only: bool = False,
    ) -> None:
        database = ":memory:" if path is None else str(path)
        con = ibis.duckdb.connect(database, read_only=read_only) if read_only else ibis.duckdb.connect(database)
        if threads:
            con.raw_sql(f"SET threads = {int(threads)}")
        if memory_limit:
            con.raw_sql(f"SET memory_limit = {_sql_literal(memory_limit)}")
        if read_only:
            # Set last (it cannot be undone): no read_csv/read_text/glob/httpfs/ATTACH/COPY from here on.
            con.raw_sql("SET enable_external_access = false")
        super().__init__(con)
        self.path = database
        self.read_only = read_only

    def _replace_rows(self, name: str, rows: pa.Table, person_ids: Sequence[str]) -> None:
        raw = self.con.con
        raw.register("_hx_rt_ids_arrow", pa.table({"person_id": pa.array(list(person_ids), pa.string())}))
        raw.register("_hx_rt_rows_arrow", rows)
        try:
            if not self.has_table(name):
                raw.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _hx_rt_rows_arrow')
                return
            raw.execute("BEGIN TRANSACTION")
            try:
                raw.execute(f'DELETE FROM "{name}" WHERE person_id IN (SELECT person_id FROM _hx_rt_ids_arrow)')
                if rows.num_rows:
                    raw.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _hx_rt_rows_arrow')
                raw.execute("COMMIT")
            except Exception:
                raw.execute("ROLLBACK")
                raise
        finally:
            raw.unregister("_hx_rt_ids_arrow")
            raw.unregister("_hx_rt_rows_arrow")

    @property
    def raw(self) -> Any:
        """The underlying ``duckdb.DuckDBPyConnection``."""
        return self.con.con

    def _write(self, name: str, expr: ir.Table, *, temp: bool = False) -> None:
        if temp:
            # A temp (in-memory) table skips the database file's writes (bench/README.md).
            self.con._run_pre_execute_hooks(expr)
            self.raw.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {self.sql_of(expr)}')
            return
        self.con.create_table(name, expr, overwrite=True)

    def _append(self, name: str, expr: ir.Table) -> None:
        self.con._run_pre_execute_hooks(expr)
        # Row order inside a stored table carries no meaning (source_row does); letting DuckDB
        # write out of order parallelises the insert. Reading CSV keeps order (row numbers).
        with self.unordered():
            self.raw.execute(f'INSERT INTO "{name}" BY NAME {self.sql_of(expr)}')

    @contextmanager
    def unordered(self) -> Iterator[None]:
        # Without insertion order DuckDB writes large tables in parallel, with less CPU (bench/README.md).
        previous = self.raw.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
        self.raw.execute("SET preserve_insertion_order = false")
        try:
            yield
        finally:
            self.raw.execute(f"SET preserve_insertion_order = {str(bool(previous)).lower()}")

    def _fill_null(self, name: str, values: dict[str, Any]) -> None:
        # In place: only rows with a NULL are rewritten (a clean load has none, and a full rewrite
        # of a large table is costly: bench/README.md).
        if not values:
            return
        quoted = [c.replace('"', '""') for c in values]
        sets = ", ".join(f'"{c}" = COALESCE("{c}", ?)' for c in quoted)
        where = " OR ".join(f'"{c}" IS NULL' for c in quoted)
        self.raw.execute(f'UPDATE "{name}" SET {sets} WHERE {where}', list(values.values()))

    def _drop(self, name: str) -> None:
        import duckdb

        for kind in ("VIEW", "TABLE"):
            try:
                self.raw.execute(f'DROP {kind} IF EXISTS "{name}"')
            except duckdb.CatalogException:  # the name is the other kind of object
                continue

    def _list(self) -> list[str]:
        return list(self.con.list_tables())

    def _view(self, name: str, select_sql: str) -> ir.Table:
        self.raw.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {select_sql}')
        return self.con.table(name)

    def _read_delimited(
        self, files: Sequence[Path], *, name: str, delimiter: str, header: bool, columns: Sequence[str],
        skip_rows: int,
    ) -> tuple[ir.Table, pd.DataFrame]:
        rid = next(self._ids)
        rejects, scans = f"_hx_rejects_{rid}", f"_hx_scans_{rid}"
        cols = "{" + ", ".join(f"{_sql_literal(c)}: 'VARCHAR'" for c in columns) + "}"
        read = (
            f"read_csv({_sql_list(files)}, columns={cols}, header={str(header).lower()}, "
            f"delim={_sql_literal(delimiter)}, quote='\"', escape='\"', skip={int(skip_rows)}, "
            "auto_detect=false, null_padding=true, strict_mode=true, "
            f"store_rejects=true, rejects_table='{rejects}', rejects_scan='{scans}', "
            "filename='_hx_file')"
        )
        # Materialise the parse once: it fills the rejects table as a side effect.
        self.raw.execute(
            f'CREATE OR REPLACE TEMP TABLE "{name}" AS '
            f"SELECT *, row_number() OVER () AS {ROW_COLUMN} FROM {read}"
        )
        bad = self.raw.execute(
            f'SELECT r.line AS line, r.error_message AS error, r.csv_line AS payload, s.file_path AS file '
            f'FROM "{rejects}" r JOIN "{scans}" s USING (scan_id, file_id) ORDER BY r.line'
        ).df()
        self.raw.execute(f'DROP TABLE IF EXISTS "{rejects}"; DROP TABLE IF EXISTS "{scans}"')
        # DuckDB reports file lines; make them data-row numbers, and renumber the good rows
        # so that they keep their place in the file around the rejected lines (as Spark does).
        bad["line"] = bad["line"].astype("int64") - (1 if header else 0) - skip_rows
        if len(files) == 1 and 0 < len(bad) <= 500:
            # Good row k sits after reject i (1-based, sorted) iff k > line_i - i.
            thresholds = [int(line) - i for i, line in enumerate(sorted(bad["line"]), start=1)]
            shift = " + ".join(f"CASE WHEN {ROW_COLUMN} > {t} THEN 1 ELSE 0 END" for t in thresholds)
            self.raw.execute(f'UPDATE "{name}" SET {ROW_COLUMN} = {ROW_COLUMN} + {shift}')
        return self.con.table(name), bad

    def _read_lines(self, files: Sequence[Path], *, name: str) -> ir.Table:
        read = (
            f"read_csv({_sql_list(files)}, columns={{'line': 'VARCHAR'}}, header=false, delim='\\0', "
            "quote='', escape='', auto_detect=false, strict_mode=false)"
        )
        return self._view(name, f"SELECT line, row_number() OVER () AS {ROW_COLUMN} FROM {read}")

    def _read_parquet(self, files: Sequence[Path], *, name: str) -> ir.Table:
        if len(files) == 1:
            # The row number within the file comes with the scan (parallel, no window needed).
            return self._view(
                name,
                f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW_COLUMN} "
                f"FROM read_parquet({_sql_list(files)}, file_row_number=true)",
            )
        # Several files: number rows across them in file order, once, into memory.
        self.raw.execute(
            f'CREATE OR REPLACE TEMP TABLE "{name}" AS '
            f"SELECT *, row_number() OVER () AS {ROW_COLUMN} FROM read_parquet({_sql_list(files)})"
        )
        return self.con.table(name)

    def _register_arrow(self, name: str, table: pa.Table) -> ir.Table:
        self.raw.register(f"_hx_arrow_{name}", table)
        return self._view(name, f'SELECT * FROM "_hx_arrow_{name}"')

    def _create_view(self, name: str, expr: ir.Table) -> None:
        self.con._run_pre_execute_hooks(expr)
        self.raw.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {self.sql_of(expr)}')

    def parse_timestamp(self, value: ir.StringValue, fmt: str) -> ir.TimestampValue:
        return _try_strptime(value, fmt)

    def strip_text(self, value: ir.StringValue) -> ir.StringValue:
        # The regex runs only on text that starts or ends with whitespace (a superset of what
        # `\s` matches): twelve prefix/suffix LIKEs cost far less than the regex, and most values have none
        # (bench/README.md).
        edge = functools.reduce(
            operator.or_, [value.like(f"{ch}%") | value.like(f"%{ch}") for ch in _EDGE_WHITESPACE]
        )
        return ibis.ifelse(edge, strip_text(value), value)

    def _write_snapshot(self, path: Path, meta: dict[str, Any]) -> None:
        import duckdb

        if self.path == ":memory:":
            raise ValueError("an in-memory database has no file to snapshot")
        # FORCE CHECKPOINT moves the write-ahead log into the file (waiting for running reads), so
        # the file alone is the database until the next write, which the caller does not run before
        # this returns; a plain file copy is then several times cheaper than COPY FROM DATABASE
        # (bench/README.md, "Read-only snapshot").
        self.raw.execute("FORCE CHECKPOINT")
        # Copied by a child process: closing a file descriptor of the database file in this process
        # would drop DuckDB's lock on it (POSIX record locks belong to the process and go with any close).
        subprocess.run(["cp", "--", self.path, str(path)], check=True, capture_output=True)
        copy = duckdb.connect(str(path))
        try:
            copy.execute(f'CREATE TABLE "{SNAPSHOT_TABLE}" (taken_at VARCHAR, seq BIGINT, pid BIGINT)')
            copy.execute(f'INSERT INTO "{SNAPSHOT_TABLE}" VALUES (?, ?, ?)',
                         [meta["taken_at"], meta["seq"], meta["pid"]])
        finally:
            copy.close()

    def splink_db_api(self) -> Any:
        from splink import DuckDBAPI

        self.raw.execute("SET enable_progress_bar = false")
        return DuckDBAPI(connection=self.raw)

    def close(self) -> None:
        self.con.disconnect()
