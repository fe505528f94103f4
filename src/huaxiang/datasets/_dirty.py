"""Rows broken on purpose: the defects an ingest must quarantine (``ground_truth/dirty_rows.csv``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._vocab import BAD_TIMESTAMPS, BAD_TOTAL, UNKNOWN_STORE_PAY

Arr = npt.NDArray[Any]

DIRTY_SHARE = 0.002
"""Share of ``pos_orders.csv`` (and of ``crm_members.csv``) rows that are deliberately defective."""

DEFECTS: tuple[str, ...] = (
    "unreadable_timestamp",
    "text_in_total",
    "unknown_payment",
    "negative_total",
    "exact_duplicate",
    "duplicate_key",
)
"""Defect labels of ``ground_truth/dirty_rows.csv``, in their code order."""


def _with_rows_inserted(table: pa.Table, extra: pa.Table, after: Arr) -> tuple[pa.Table, Arr, Arr]:
    """``table`` with row ``j`` of ``extra`` inserted after row ``after[j]`` (zero-copy slices).

    Returns the new table, the 1-based row number of each ``extra`` row, and the sorted
    insertion points (for :func:`_row_numbers` of the original rows).
    """
    o = np.argsort(after, kind="stable")
    after_s = after[o]
    pieces, prev = [], 0
    for at, j in zip(after_s.tolist(), o.tolist(), strict=True):  # a few per thousand rows
        pieces += [table.slice(prev, at + 1 - prev), extra.slice(j, 1)]
        prev = at + 1
    pieces.append(table.slice(prev))
    extra_rows = np.empty(len(after), np.int64)
    extra_rows[o] = after_s + 2 + np.arange(len(o))
    return pa.concat_tables(pieces), extra_rows, after_s


def _row_numbers(idx: Arr, after_sorted: Arr) -> Arr:
    """1-based row numbers, after the insertions, of original rows ``idx``."""
    return idx + 1 + np.searchsorted(after_sorted, idx, side="left")


def plant_pos_defects(
    rng: np.random.Generator, pos: pa.Table, ts: Arr, total: Arr, paid: Arr
) -> tuple[pa.Table, Arr, Arr, Arr]:
    """Plant defects into the POS receipts (``total`` becomes a text column).

    Four kinds damage a receipt in place (its order lines stay): an unreadable timestamp, text
    in the total, an unknown payment label, a negative total on a paid receipt. Two add a line
    a few rows after an intact receipt: its exact copy (a re-sent batch), and a re-rung receipt
    reusing its number with a later time and another total.

    Returns the table, a mask of receipts left intact, and the row numbers and defect codes
    (indices into :data:`DEFECTS`) of the defective lines.
    """
    n = pos.num_rows
    per = max(5, round(n * DIRTY_SHARE / len(DEFECTS)))
    cand = np.flatnonzero(paid & (total > 0))
    pick = rng.choice(cand, 6 * per, replace=False).reshape(6, per)
    pick.sort(axis=1)
    bad_ts, text_total, bad_pay, negative, copied, rerung = pick
    intact = np.ones(n, bool)
    intact[pick[:4].ravel()] = False

    def mask(idx: Arr) -> pa.Array:
        m = np.zeros(n, bool)
        m[idx] = True
        return pa.array(m)

    ts_col = pc.replace_with_mask(
        pos["ts"].combine_chunks(),
        mask(bad_ts),
        ar.strings(BAD_TIMESTAMPS).take(pa.array(rng.integers(0, len(BAD_TIMESTAMPS), per))),
    )
    total_txt = pc.cast(pa.array(total), pa.string())
    both = np.concatenate([text_total, negative])
    o = np.argsort(both)
    replacement = pa.concat_arrays(
        [ar.strings([BAD_TOTAL] * per), pc.cast(pa.array(-total[negative]), pa.string())]
    ).take(pa.array(o))
    total_col = pc.replace_with_mask(total_txt, mask(both[o]), replacement)
    pay_col = pc.replace_with_mask(
        pos["payment"].combine_chunks(), mask(bad_pay), ar.strings([UNKNOWN_STORE_PAY] * per)
    )
    pos = (
        pos.set_column(pos.schema.get_field_index("ts"), "ts", ts_col)
        .set_column(pos.schema.get_field_index("total"), "total", total_col)
        .set_column(pos.schema.get_field_index("payment"), "payment", pay_col)
    )
    extra = pos.take(pa.array(np.concatenate([copied, rerung])))
    new_total = np.round(total[rerung] * rng.uniform(0.5, 1.5, per) + 1.0, 2)
    extra = extra.set_column(
        extra.schema.get_field_index("ts"),
        "ts",
        pa.concat_arrays(
            [
                extra["ts"].combine_chunks().slice(0, per),
                ar.format_ts(ts[rerung] + rng.integers(60, 1800, per)),
            ]
        ),
    ).set_column(
        extra.schema.get_field_index("total"),
        "total",
        pa.concat_arrays(
            [extra["total"].combine_chunks().slice(0, per), pc.cast(pa.array(new_total), pa.string())]
        ),
    )
    after = np.minimum(np.concatenate([copied, rerung]) + rng.integers(1, 40, 2 * per), n - 1)
    pos, extra_rows, after_s = _with_rows_inserted(pos, extra, after)
    rows = np.concatenate([_row_numbers(pick[:4].ravel(), after_s), extra_rows])
    codes = np.repeat(np.arange(6), per)
    return pos, intact, rows, codes


def plant_crm_duplicates(rng: np.random.Generator, crm: pa.Table) -> tuple[pa.Table, Arr]:
    """Exact copies of a few member rows, a few rows after the original (a double export)."""
    n = crm.num_rows
    per = max(5, round(n * DIRTY_SHARE))
    src = np.sort(rng.choice(n, per, replace=False))
    after = np.minimum(src + rng.integers(1, 200, per), n - 1)
    crm, rows, _ = _with_rows_inserted(crm, crm.take(pa.array(src)), after)
    return crm, rows
