"""File writers of the synthetic shop: CSV, Parquet, JSON lines and xlsx, each writing the same
bytes for the same table (no timestamps, no stored Arrow schema)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def write_csv(table: pa.Table, path: Path) -> int:
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return table.num_rows


def write_parquet(table: pa.Table, path: Path, dictionary: Sequence[str] = ()) -> int:
    """Zstd (level 1) Parquet; statistics only on non-text columns (min/max of ids cost time, help no one)."""
    stats = [
        f.name for f in table.schema if not (pa.types.is_string(f.type) or pa.types.is_dictionary(f.type))
    ]
    # no stored Arrow schema: dictionary-encoded columns read back as plain strings everywhere
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=1,
        use_dictionary=list(dictionary) or False,
        write_statistics=stats or False,
        store_schema=False,
        dictionary_pagesize_limit=64 << 20,
        row_group_size=1 << 20,
    )
    return table.num_rows


def write_jsonl(table: pa.Table, path: Path) -> int:
    df = table.to_pandas()
    df = df.astype(object).where(df.notna(), None)
    df.to_json(path, orient="records", lines=True, force_ascii=False)
    return table.num_rows


def write_xlsx(df: pd.DataFrame, path: Path, sheet: str) -> int:
    """An xlsx with fixed zip timestamps and document dates, so the same data writes the same bytes."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    fixed = datetime(2024, 1, 1)
    wb.properties.creator = "huaxiang"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    ws = wb.create_sheet(sheet)
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):  # at most ~20k rows by construction
        ws.append([None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in row])
    raw = io.BytesIO()
    wb.save(raw)
    raw.seek(0)
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode()
                for tag in ("dcterms:created", "dcterms:modified"):
                    head = text.find(f"<{tag}")
                    close = text.find(f"</{tag}>", head)
                    if head >= 0 and close >= 0:
                        open_end = text.find(">", head) + 1
                        text = text[:open_end] + "2024-01-01T00:00:00Z" + text[close:]
                data = text.encode()
            dst.writestr(zipfile.ZipInfo(info.filename, (2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return len(df)
