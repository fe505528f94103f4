"""The engine: one connection to the warehouse, shared by every stage.

Stages are written once as Ibis expressions; an :class:`Engine` owns the
connection, reads raw inputs, materialises named tables and re-raises backend
errors with the SQL that failed. A backend subclass implements only a handful
of hooks (``_write``, ``_read_delimited``, ``_read_lines``, ``_read_parquet``,
``_register_arrow``, ``_drop``, ``_list``); the shared logic lives in the
``@final`` methods here (modelled on Splink's ``DatabaseAPI``).

Capability gaps are declared up front in :attr:`Engine.unsupported` and
checked with :meth:`Engine.require`.

Examples
--------
>>> from huaxiang.engine import create_engine
>>> import ibis
>>> eng = create_engine("duckdb")
>>> t = eng.materialize("numbers", ibis.memtable({"x": [1, 2, 3]}))
>>> int(eng.execute(t.x.sum()))
6
"""

from __future__ import annotations

import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, final

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from huaxiang.engine.warehouse import _fsync_dir, _fsync_file
from huaxiang.errors import EngineError, UnsupportedOperationError

if TYPE_CHECKING:
    from huaxiang.engine.snapshot import SnapshotInfo

#: Column every raw input carries: the 1-based ordinal of the data row in its source.
ROW_COLUMN = "_hx_row"
#: Column the delimited readers add: the file a row came from (for multi-file sources).
FILE_COLUMN = "_hx_file"
#: The table a snapshot carries about itself (see :meth:`Engine.write_snapshot`).
SNAPSHOT_TABLE = "_hx_snapshot"


class Engine(ABC):
    """Base class of the DuckDB and Spark engines."""

    #: Short name used in config and on the command line.
    name: ClassVar[str]
    #: Operations this backend cannot do (checked by :meth:`require`).
    unsupported: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, con: Any) -> None:
        self.con = con
        self.timings: dict[str, float] = {}
        #: Set when this connection reads a served workspace's snapshot instead of its live warehouse.
        self.snapshot: SnapshotInfo | None = None

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _write(self, name: str, expr: ir.Table, *, temp: bool = False) -> None:
        """Store ``expr`` as the table ``name``, replacing any previous one.

        ``temp`` tables are scratch: kept in memory for this connection only.
        """

    @abstractmethod
    def _append(self, name: str, expr: ir.Table) -> None:
        """Add the rows of ``expr`` to the existing table ``name`` (columns matched by name)."""

    @abstractmethod
    def _drop(self, name: str) -> None:
        """Remove the table ``name`` if it exists."""

    @abstractmethod
    def _list(self) -> list[str]:
        """Names of the tables stored in the warehouse."""

    @abstractmethod
    def _read_delimited(
        self, files: Sequence[Path], *, name: str, delimiter: str, header: bool, columns: Sequence[str],
        skip_rows: int,
    ) -> tuple[ir.Table, pd.DataFrame]:
        """Read delimited text as strings: (rows with ``_hx_row``, malformed lines as a frame
        with ``line``, ``error``, ``payload``)."""

    @abstractmethod
    def _read_lines(self, files: Sequence[Path], *, name: str) -> ir.Table:
        """Read text files one line per row into a ``line`` column (plus ``_hx_row``)."""

    @abstractmethod
    def _read_parquet(self, files: Sequence[Path], *, name: str) -> ir.Table:
        """Read Parquet files with their own types (plus ``_hx_row``)."""

    @abstractmethod
    def _register_arrow(self, name: str, table: pa.Table) -> ir.Table:
        """Make an in-memory Arrow table queryable as ``name`` (not persisted)."""

    @abstractmethod
    def _create_view(self, name: str, expr: ir.Table) -> None:
        """Name ``expr`` as a temporary view for this session (not persisted)."""

    @abstractmethod
    def parse_timestamp(self, value: ir.StringValue, fmt: str) -> ir.TimestampValue:
        """Parse text with a strftime ``fmt``; NULL where it does not parse (never an error)."""

    @contextmanager
    def unordered(self) -> Iterator[None]:
        """Within this block, tables may be written in any row order (scratch tables whose rows
        are found by key): a backend may then write in parallel. No effect by default."""
        yield

    def strip_text(self, value: ir.StringValue) -> ir.StringValue:
        """``value`` without leading and trailing whitespace (regex ``\\s``), as :func:`huaxiang.exprs.strip_text`.

        A backend may override it with a faster expression of the same result.
        """
        from huaxiang.exprs import strip_text

        return strip_text(value)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""

    def splink_db_api(self) -> Any:
        """Splink's database API on this engine's own connection (no copy of the data)."""
        raise UnsupportedOperationError(
            f"probabilistic matching (Splink) is not available on the {self.name} engine; "
            f"use the duckdb or spark engine (engine: {{name: duckdb}} in huaxiang.yaml)"
        )

    def _replace_rows(self, name: str, rows: pa.Table, person_ids: Sequence[str]) -> None:
        raise UnsupportedOperationError(
            f"the {self.name} engine cannot replace rows in place; refresh persons on the duckdb engine "
            "or rebuild"
        )

    def _write_snapshot(self, path: Path, meta: dict[str, Any]) -> None:
        raise UnsupportedOperationError(
            f"the {self.name} engine cannot write a read-only snapshot of its warehouse; serve a duckdb workspace"
        )

    # ------------------------------------------------------------ shared API
    @final
    def supports(self, operation: str) -> bool:
        """Whether this engine can do ``operation`` (see :attr:`unsupported`), e.g. ``replace_rows``.

        >>> from huaxiang.engine.duckdb import DuckDBEngine
        >>> DuckDBEngine().supports("replace_rows")
        True
        """
        return operation not in self.unsupported

    @final
    def replace_rows(self, name: str, rows: Any, person_ids: Sequence[str]) -> None:
        """Replace the rows of ``person_ids`` in the stored table ``name`` by ``rows`` (a pandas frame
        or Arrow table; columns by name), all or nothing; the table is created when missing.

        The incremental path (live updates, identity corrections) writes through this; engines
        without in-place updates declare ``replace_rows`` unsupported.
        """
        self.require("replace_rows")
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
        with self._errors(f"replacing rows of {name}"):
            self._replace_rows(name, table, [str(p) for p in person_ids])

    @final
    def write_snapshot(self, path: str | Path, *, seq: int | None = None) -> dict[str, Any]:
        """Write a consistent copy of the warehouse to ``path`` for readers; returns its metadata.

        The copy is written beside ``path`` and switched in with one ``os.replace``, so a reader
        opens the previous snapshot or this one, never a part. The copy holds the table
        :data:`SNAPSHOT_TABLE` (``taken_at`` UTC, the journal ``seq`` it includes, the writer's
        ``pid``). The caller runs no write on this warehouse meanwhile (the real-time updater calls
        it between batches). See :mod:`huaxiang.engine.snapshot`.

        >>> import tempfile
        >>> from huaxiang.engine.duckdb import DuckDBEngine
        >>> folder = Path(tempfile.mkdtemp())
        >>> eng = DuckDBEngine(folder / "warehouse.duckdb")
        >>> _ = eng.materialize("orders", ibis.memtable({"amount": [3.0, 4.5]}))
        >>> eng.write_snapshot(folder / "snapshot.duckdb", seq=3)["seq"]
        3
        >>> with DuckDBEngine(folder / "snapshot.duckdb", read_only=True) as copy:
        ...     sorted(copy.list_tables())
        ['_hx_snapshot', 'orders']
        """
        self.require("snapshot")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")  # one writer (the lock holder): a killed one's is reused
        wal = tmp.with_name(tmp.name + ".wal")
        meta = {"taken_at": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "seq": seq, "pid": os.getpid()}
        try:
            for stale in (tmp, wal):
                stale.unlink(missing_ok=True)
            with self._errors(f"writing the snapshot {target}"):
                self._write_snapshot(tmp, meta)
            _fsync_file(tmp)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        finally:
            tmp.unlink(missing_ok=True)
            wal.unlink(missing_ok=True)
        return meta

    @final
    def require(self, operation: str) -> None:
        """Raise :class:`UnsupportedOperationError` if this engine declared ``operation`` unsupported."""
        if operation in self.unsupported:
            raise UnsupportedOperationError(
                f"the {self.name} engine does not support {operation}; run this step on the duckdb engine "
                f"(engine: {{name: duckdb}} in huaxiang.yaml)"
            )

    @final
    def sql_of(self, expr: ir.Expr) -> str:
        """The SQL this engine runs for ``expr`` (for error messages and snapshots)."""
        try:
            return str(ibis.to_sql(expr, dialect=self.con.name))
        except Exception as exc:  # pragma: no cover - compile errors are rare
            return f"<could not compile: {exc}>"

    @final
    @contextmanager
    def _errors(self, what: str, expr: ir.Expr | None = None) -> Iterator[None]:
        try:
            yield
        except EngineError:
            raise
        except Exception as exc:
            if _is_user_interrupt(exc):
                raise
            sql = self.sql_of(expr) if expr is not None else ""
            raise EngineError(
                f"{self.name} failed while {what}: {type(exc).__name__}: {_first_lines(str(exc))}"
                + (f"\nSQL:\n{sql}" if sql else "")
            ) from exc

    @final
    def materialize(self, name: str, expr: ir.Table, *, temp: bool = False) -> ir.Table:
        """Compute ``expr`` and store it as table ``name``; returns the stored table.

        ``temp=True`` keeps a scratch table in memory for this session (not in the warehouse).
        """
        started = time.perf_counter()
        with self._errors(f"writing table {name!r}", expr):
            self._write(name, expr, temp=temp)
        self.timings[name] = time.perf_counter() - started
        return self.table(name)

    @final
    def append(self, name: str, expr: ir.Table) -> None:
        """Add the rows of ``expr`` to the stored table ``name``."""
        started = time.perf_counter()
        with self._errors(f"appending to table {name!r}", expr):
            self._append(name, expr)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    @final
    def fill_null(self, name: str, values: dict[str, Any]) -> None:
        """Replace NULLs in columns of the stored table ``name``: ``{column: value}``."""
        started = time.perf_counter()
        with self._errors(f"filling NULLs of table {name!r}"):
            self._fill_null(name, values)
        self.timings[name] = time.perf_counter() - started

    def _fill_null(self, name: str, values: dict[str, Any]) -> None:
        """Hook of :meth:`fill_null`; by default the table is rewritten."""
        t = self.table(name)
        self._write(name, t.mutate(**{c: t[c].fill_null(v) for c, v in values.items()}))

    @final
    def table(self, name: str) -> ir.Table:
        """The stored table ``name``."""
        if not self.has_table(name):
            raise EngineError(
                f"table {name!r} does not exist in this workspace; run `huaxiang build` first "
                f"(tables: {', '.join(sorted(self.list_tables())) or 'none'})"
            )
        with self._errors(f"opening table {name!r}"):
            return self.con.table(name)

    @final
    def connection_table(self, name: str) -> ir.Table:
        """A table another library created on this connection (e.g. Splink's predictions)."""
        with self._errors(f"opening table {name!r}"):
            return self.con.table(name)

    @final
    def has_table(self, name: str) -> bool:
        """Whether ``name`` is stored."""
        return name in self.list_tables()

    @final
    def list_tables(self) -> list[str]:
        """Names of all stored tables."""
        with self._errors("listing tables"):
            return self._list()

    @final
    def drop(self, name: str) -> None:
        """Drop ``name`` if it exists."""
        with self._errors(f"dropping table {name!r}"):
            self._drop(name)

    @final
    def execute(self, expr: ir.Expr, *, limit: int | None = None) -> Any:
        """Run ``expr``; a table becomes a pandas DataFrame, a scalar a Python value."""
        with self._errors("running a query", expr):
            if isinstance(expr, ir.Table):
                return expr.to_pandas(limit=limit) if limit is not None else expr.to_pandas()
            return expr.execute()

    @final
    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        """Run ``expr`` into an Arrow table."""
        with self._errors("running a query", expr):
            return expr.to_pyarrow()

    @final
    def create_view(self, name: str, expr: ir.Table) -> ir.Table:
        """Name ``expr`` as a temporary view (lets SQL written by users refer to it)."""
        with self._errors(f"creating view {name!r}", expr):
            self._create_view(name, expr)
            return self.con.table(name)

    @final
    def register_arrow(self, name: str, table: pa.Table) -> ir.Table:
        """Make an Arrow table queryable as ``name`` for this session."""
        with self._errors(f"registering {name!r}"):
            return self._register_arrow(name, table)

    @final
    def read_delimited(
        self, files: Sequence[Path], *, name: str, delimiter: str = ",", header: bool = True,
        columns: Sequence[str] | None = None, skip_rows: int = 0,
    ) -> tuple[ir.Table, pd.DataFrame]:
        """Read CSV/TSV files as text columns; returns rows and the malformed lines."""
        with self._errors(f"reading {', '.join(str(f) for f in files[:3])}"):
            if columns is None:
                raise ValueError("columns must be known before reading delimited text")
            return self._read_delimited(
                files, name=name, delimiter=delimiter, header=header, columns=columns, skip_rows=skip_rows
            )

    @final
    def read_lines(self, files: Sequence[Path], *, name: str) -> ir.Table:
        """Read text files one line per row."""
        with self._errors(f"reading {', '.join(str(f) for f in files[:3])}"):
            return self._read_lines(files, name=name)

    @final
    def read_parquet(self, files: Sequence[Path], *, name: str) -> ir.Table:
        """Read Parquet files."""
        with self._errors(f"reading {', '.join(str(f) for f in files[:3])}"):
            return self._read_parquet(files, name=name)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _first_lines(text: str, n: int = 6) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[:n])


def _is_user_interrupt(exc: BaseException) -> bool:
    return isinstance(exc, KeyboardInterrupt)


_SAFE = re.compile(r"[^A-Za-z0-9_]")


def safe_name(text: str) -> str:
    """A table-name-safe version of ``text``.

    >>> safe_name("raw orders-2024")
    'raw_orders_2024'
    """
    return _SAFE.sub("_", text)
