"""Read a source into the engine as a raw table: source columns plus ``_hx_row``.

Delimited text, whitespace-aligned text and Parquet are read by the engine
itself (fast paths). JSON Lines, Excel and SQL databases are read here in
Python into Arrow and handed to the engine. Files in another encoding (e.g.
GBK) are transcoded to UTF-8 in a staging folder first.

Lines that cannot be parsed (a truncated or garbled line, a line with the
wrong number of fields, bad JSON) are returned as *rejects* so they reach the
quarantine: nothing is dropped.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from huaxiang.config import SourceSpec
from huaxiang.engine.base import FILE_COLUMN, ROW_COLUMN, Engine, safe_name
from huaxiang.errors import SourceError, SourceNotFoundError
from huaxiang.exprs import strip_text

_SUFFIXES = {
    "csv": (".csv", ".txt"),
    "tsv": (".tsv", ".txt", ".csv"),
    "whitespace": (".txt", ".dat", ".csv"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "xlsx": (".xlsx", ".xlsm"),
}


@dataclass
class RawSource:
    """A source as read: the raw table and the lines that could not be parsed."""

    table: ir.Table
    rejects: pd.DataFrame  # columns: line, error, payload, file
    files: list[Path]
    empty: bool = False  # the files hold no data at all (not even a header)


def resolve_files(spec: SourceSpec, base_dir: Path) -> list[Path]:
    """Files of a file source: one file, every matching file of a folder, or a glob.

    Raises :class:`SourceNotFoundError` naming the source and path when nothing matches.
    """
    assert spec.path is not None
    raw = Path(spec.path).expanduser()
    path = raw if raw.is_absolute() else base_dir / raw
    if any(ch in spec.path for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES[spec.format])
    elif path.is_file():
        files = [path]
    else:
        files = []
    if not files:
        raise SourceNotFoundError(
            f"source {spec.name!r}: no {spec.format} file at {path}; check 'path' in huaxiang.yaml "
            f"(relative paths start at {base_dir})"
        )
    return files


def _check_utf8(file: Path, spec: SourceSpec) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    line = 1
    with file.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                pos = offset + exc.start
                line += chunk[: exc.start].count(b"\n")
                guess = _guess_encoding(file)
                hint = f"set `encoding: {guess}`" if guess else "set `encoding:` to the file's encoding"
                raise SourceError(
                    f"source {spec.name!r}: {file} is not valid UTF-8 (byte {pos}, line {line}); "
                    f"{hint} for this source in huaxiang.yaml"
                ) from None
            line += chunk.count(b"\n")
            offset += len(chunk)


def _guess_encoding(file: Path) -> str | None:
    sample = file.read_bytes()[: 1 << 16]
    for enc in ("gb18030", "big5", "utf-16", "latin-1"):
        try:
            sample.decode(enc)
        except UnicodeDecodeError:
            continue
        return "gbk" if enc == "gb18030" else enc
    return None


def transcode(file: Path, spec: SourceSpec, staging: Path) -> Path:
    """Copy ``file`` to UTF-8 in ``staging`` (streaming); errors name the byte offset."""
    staging.mkdir(parents=True, exist_ok=True)
    out = staging / f"{spec.name}__{file.name}"
    encoding = "gb18030" if spec.encoding.lower().replace("-", "") in ("gbk", "gb2312") else spec.encoding
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceError(
            f"source {spec.name!r}: unknown encoding {spec.encoding!r}; use a Python codec name such as "
            "utf-8, gbk, gb18030, big5, utf-16, latin-1"
        ) from None
    offset = 0
    with file.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        decoder = codecs.getincrementaldecoder(encoding)()
        while chunk := src.read(1 << 20):
            try:
                dst.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"source {spec.name!r}: {file} is not valid {spec.encoding} at byte {offset + exc.start}; "
                    "check `encoding:` in huaxiang.yaml"
                ) from None
            offset += len(chunk)
        dst.write(decoder.decode(b"", final=True))
    return out


def _prepare_text(files: list[Path], spec: SourceSpec, staging: Path) -> list[Path]:
    if spec.encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig", "ascii"):
        for f in files:
            _check_utf8(f, spec)
        return files
    return [transcode(f, spec, staging) for f in files]


def _header(file: Path, spec: SourceSpec, delimiter: str) -> list[str]:
    with file.open("r", encoding="utf-8-sig", newline="") as fh:
        for _ in range(spec.skip_rows):
            fh.readline()
        first = fh.readline()
    if not first.strip():
        return []
    if spec.format == "whitespace":
        names = first.split()
    else:
        names = next(csv.reader(io.StringIO(first), delimiter=delimiter))
    names = [n.strip().lstrip("\ufeff") for n in names]
    if not spec.header:
        return [f"column{i + 1}" for i in range(len(names))]
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        n = n or "column"
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
        unique.append(n)
    return unique


def _empty_raw(engine: Engine, name: str, columns: Sequence[str]) -> ir.Table:
    schema = pa.schema([(c, pa.string()) for c in columns] + [(ROW_COLUMN, pa.int64())])
    return engine.register_arrow(name, pa.Table.from_pylist([], schema=schema))


_NO_REJECTS = pd.DataFrame({"line": pd.Series([], dtype="int64"), "error": [], "payload": [], "file": []})


def read_source(engine: Engine, spec: SourceSpec, base_dir: Path, staging: Path) -> RawSource:
    """Read ``spec`` into ``engine`` as the raw table ``_hx_raw_<source>``."""
    name = f"_hx_raw_{safe_name(spec.name)}"
    if spec.format == "sql":
        return RawSource(_read_sql(engine, spec, name), _NO_REJECTS.copy(), [])
    files = resolve_files(spec, base_dir)
    if spec.format in ("csv", "tsv", "whitespace"):
        files = _prepare_text(files, spec, staging)
        delimiter = spec.delimiter or ("\t" if spec.format == "tsv" else ",")
        columns = _header(files[0], spec, delimiter)
        if not columns:
            if all(f.stat().st_size == 0 or not f.read_text(encoding="utf-8").strip() for f in files):
                return RawSource(_empty_raw(engine, name, []), _NO_REJECTS.copy(), files, empty=True)
            raise SourceError(f"source {spec.name!r}: {files[0]} has an empty first line; expected a header")
        if spec.format == "whitespace":
            return RawSource(_read_whitespace(engine, spec, files, name, columns), _NO_REJECTS.copy(), files)
        table, rejects = engine.read_delimited(
            files, name=name, delimiter=delimiter, header=spec.header, columns=columns, skip_rows=spec.skip_rows
        )
        return RawSource(table, rejects, files)
    if spec.format == "parquet":
        return RawSource(engine.read_parquet(files, name=name), _NO_REJECTS.copy(), files)
    if spec.format == "jsonl":
        arrow, rejects = _read_jsonl(files, spec)
        return RawSource(engine.register_arrow(name, arrow), rejects, files)
    if spec.format == "xlsx":
        return RawSource(engine.register_arrow(name, _read_xlsx(files, spec)), _NO_REJECTS.copy(), files)
    raise SourceError(f"source {spec.name!r}: format {spec.format!r} is not readable")  # pragma: no cover


def _read_whitespace(
    engine: Engine, spec: SourceSpec, files: list[Path], name: str, columns: list[str]
) -> ir.Table:
    lines = engine.read_lines(files, name=name + "_lines")
    skip = spec.skip_rows + (1 if spec.header else 0)
    stripped = strip_text(lines.line)
    body = lines.filter(lines[ROW_COLUMN] > skip, stripped.length() > 0)
    fields = strip_text(body.line).re_split(r"\s+")
    n = len(columns)
    projected = body.select(
        **{c: fields[i] for i, c in enumerate(columns)},
        _hx_fields=fields.length(),
        _hx_line=body.line,
        **{ROW_COLUMN: (body[ROW_COLUMN] - skip).cast("int64")},
    )
    # Rows with the wrong field count are flagged (quarantined by validation).
    flagged = projected.mutate(
        _hx_malformed=ibis.ifelse(
            projected._hx_fields != n,
            ibis.literal(f"expected {n} whitespace-separated fields, found ")
            + projected._hx_fields.cast("string"),
            ibis.null("string"),
        )
    )
    return engine.materialize(name, flagged, temp=True)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _iter_lines(files: list[Path], spec: SourceSpec) -> Iterator[tuple[Path, int, str]]:
    encoding = "utf-8-sig" if spec.encoding.lower() in ("utf-8", "utf8") else spec.encoding
    for f in files:
        try:
            with f.open("r", encoding=encoding) as fh:
                for lineno, line in enumerate(fh, start=1):
                    yield f, lineno, line
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"source {spec.name!r}: {f} is not valid {spec.encoding} ({exc.reason} at byte {exc.start}); "
                "set `encoding:` for this source in huaxiang.yaml"
            ) from None


def _read_jsonl(files: list[Path], spec: SourceSpec) -> tuple[pa.Table, pd.DataFrame]:
    # Built column by column: no dict per row, no from_pylist (bench/README.md).
    data: dict[str, list[str | None]] = {}
    rows: list[int] = []
    origin: list[str] = []
    bad: list[tuple[int, str, str, str]] = []
    row = 0
    loads = json.loads
    for f, lineno, line in _iter_lines(files, spec):
        if not line.strip():
            continue
        row += 1
        try:
            obj = loads(line)
        except json.JSONDecodeError as exc:
            bad.append((lineno, f"invalid JSON: {exc.msg} at column {exc.colno}", line.rstrip("\n"), str(f)))
            continue
        if not isinstance(obj, dict):
            bad.append((lineno, "a JSON Lines row must be an object {...}", line.rstrip("\n"), str(f)))
            continue
        n = len(rows)
        for k, v in obj.items():
            column = data.get(k)
            if column is None:
                column = data[k] = [None] * n
            column.append(v if type(v) is str else _json_text(v))
        rows.append(row)
        origin.append(str(f))
        if len(obj) != len(data):  # keys missing from this row: pad their columns
            for column in data.values():
                if len(column) == n:
                    column.append(None)
    columns: dict[str, list[Any]] = {c: v for c, v in data.items() if c not in (ROW_COLUMN, FILE_COLUMN)}
    columns[ROW_COLUMN] = rows
    columns[FILE_COLUMN] = origin
    schema = pa.schema(
        [(c, pa.string()) for c in columns if c not in (ROW_COLUMN, FILE_COLUMN)]
        + [(ROW_COLUMN, pa.int64()), (FILE_COLUMN, pa.string())]
    )
    rejects = pd.DataFrame(bad, columns=["line", "error", "payload", "file"])
    return pa.Table.from_pydict(columns, schema=schema), rejects


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        text: str = value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
        return text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(files: list[Path], spec: SourceSpec) -> pa.Table:
    import openpyxl

    columns: list[str] = []
    rows: list[list[str | None]] = []
    for f in files:
        try:
            book = openpyxl.load_workbook(f, read_only=True, data_only=True)
        except Exception as exc:
            raise SourceError(f"source {spec.name!r}: {f} is not a readable .xlsx workbook ({exc})") from None
        try:
            if spec.sheet is not None and spec.sheet not in book.sheetnames:
                raise SourceError(
                    f"source {spec.name!r}: {f} has no sheet {spec.sheet!r}; sheets: {', '.join(book.sheetnames)}"
                )
            sheet = book[spec.sheet] if spec.sheet else book.worksheets[0]
            it = sheet.iter_rows(values_only=True)
            for _ in range(spec.skip_rows):
                next(it, None)
            head = next(it, None)
            if head is None:
                continue
            names = [str(h).strip() if h is not None else f"column{i + 1}" for i, h in enumerate(head)]
            if not spec.header:
                rows.append([_cell_text(v) for v in head])
                names = [f"column{i + 1}" for i in range(len(head))]
            if not columns:
                columns = names
            elif names != columns:
                raise SourceError(f"source {spec.name!r}: {f} has columns {names}, expected {columns}")
            for values in it:
                if values is None or all(v is None for v in values):
                    continue
                rows.append([_cell_text(v) for v in values][: len(columns)])
        finally:
            book.close()
    data: dict[str, list[Any]] = {c: [r[i] if i < len(r) else None for r in rows] for i, c in enumerate(columns)}
    data[ROW_COLUMN] = list(range(1, len(rows) + 1))
    schema = pa.schema([(c, pa.string()) for c in columns] + [(ROW_COLUMN, pa.int64())])
    return pa.Table.from_pydict(data, schema=schema)


def _read_sql(engine: Engine, spec: SourceSpec, name: str) -> ir.Table:
    import sqlalchemy as sa

    assert spec.url is not None
    try:
        db = sa.create_engine(spec.url)
    except Exception as exc:
        raise SourceError(f"source {spec.name!r}: bad database url {spec.url!r} ({exc})") from None
    query = spec.query or f"SELECT * FROM {spec.db_table}"
    try:
        with db.connect() as conn:
            frame = pd.read_sql_query(sa.text(query), conn)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(
            f"source {spec.name!r}: could not read from {db.url.render_as_string(hide_password=True)}: "
            f"{first}; check 'url' and 'query'/'db_table' in huaxiang.yaml"
        ) from None
    finally:
        db.dispose()
    frame[ROW_COLUMN] = range(1, len(frame) + 1)
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(_cell_text)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    arrow = arrow.cast(
        pa.schema([pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in arrow.schema])
    )
    return engine.register_arrow(name, arrow)
