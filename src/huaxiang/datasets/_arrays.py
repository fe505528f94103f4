"""Vectorised Arrow string columns for the synthetic shop: ids, dates, timestamps, tokens.

Millions of formatted values without a Python loop: digits are written with numpy into one byte
buffer and wrapped as an Arrow string array (:func:`fixed_width`); dates and times are gathered
from small tables of formatted days and seconds (:func:`format_ts`). Used by
:mod:`huaxiang.datasets.synthetic`.

>>> import numpy as np
>>> ids("C", np.array([7, 1234]), 6).to_pylist()
['C000007', 'C001234']
>>> format_ts(np.array([0, 86399 + 86400])).to_pylist()
['1970-01-01 00:00:00', '1970-01-02 23:59:59']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Arr = npt.NDArray[Any]


def strings(values: Sequence[str]) -> pa.Array:
    return pa.array(list(values), pa.string())


_ONES = (48 + np.arange(100) % 10).astype(np.uint8)  # ASCII digits of 00..99
_TENS = (48 + np.arange(100) // 10).astype(np.uint8)


def fixed_width(n: int, parts: Sequence[bytes | tuple[Arr, int]]) -> pa.Array:
    """Fixed-width ASCII strings built from literals and zero-padded integers, without Python loops.

    Digits are written two at a time, column by column (one contiguous byte row per character
    position, uint32 arithmetic where the numbers fit), and transposed once at the end.
    """
    width = sum(len(p) if isinstance(p, bytes) else p[1] for p in parts)
    chars = np.empty((width, n), np.uint8)
    col = 0
    for part in parts:
        if isinstance(part, bytes):
            chars[col : col + len(part)] = np.frombuffer(part, np.uint8)[:, None]
            col += len(part)
            continue
        values, w = part
        v = np.asarray(values)
        small = n == 0 or (int(v.min()) >= 0 and int(v.max()) < 2**32)
        v = v.astype(np.uint32) if small else v.astype(np.int64)
        k = w - 1
        while k >= 1:  # two digits per division
            q = v // 100
            r = v - q * 100
            np.take(_ONES, r, out=chars[col + k])
            np.take(_TENS, r, out=chars[col + k - 1])
            v, k = q, k - 2
        if k == 0:
            np.add(v % 10, 48, out=chars[col], casting="unsafe")
        col += w
    return from_rows(np.ascontiguousarray(chars.T), n, width)


def from_rows(buf: Arr, n: int, width: int) -> pa.Array:
    """A string array over the bytes of ``buf``: ``n`` rows of ``width`` ASCII characters."""
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf)).cast(pa.string())


def ids(prefix: str, numbers: Arr, width: int) -> pa.Array:
    return fixed_width(len(numbers), [prefix.encode(), (numbers, width)])


def ymd(days: Arr) -> tuple[Arr, Arr, Arr]:
    d64 = days.astype("datetime64[D]")
    m64 = d64.astype("datetime64[M]")
    year = m64.astype(np.int64) // 12 + 1970
    month = m64.astype(np.int64) % 12 + 1
    day = (d64 - m64.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def lookup(parts: Sequence[bytes | tuple[Arr, Arr]]) -> Arr:
    """Gather fixed-width byte strings: literals, or ``(table, index)`` rows of a small table.

    Each table is a 2-D uint8 array (one formatted value per row); the result is the
    row-major byte buffer of the concatenated fields.
    """
    fields = []
    for i, part in enumerate(parts):
        width = len(part) if isinstance(part, bytes) else part[0].shape[1]
        fields.append((f"f{i}", f"S{width}"))
    n = next(len(p[1]) for p in parts if not isinstance(p, bytes))
    out = np.empty(n, np.dtype(fields))
    for i, part in enumerate(parts):
        if isinstance(part, bytes):
            out[f"f{i}"] = part
        else:
            table, idx = part
            out[f"f{i}"] = table.view(f"S{table.shape[1]}").ravel()[idx]
    return out.view(np.uint8)


def date_table(lo: int, hi: int, sep: bytes) -> Arr:
    """``YYYY{sep}MM{sep}DD`` for days ``lo .. hi - 1`` (days since 1970-01-01), one row per day."""
    days = np.arange(lo, hi)
    y, m, d = ymd(days)
    table = np.empty((len(days), 8 + 2 * len(sep)), np.uint8)
    table[:] = np.frombuffer(fixed_width(len(days), [(y, 4), sep, (m, 2), sep, (d, 2)]).buffers()[2], np.uint8)[
        : table.size
    ].reshape(table.shape)
    return table


_CLOCK: list[Arr] = []


def clock_table() -> Arr:
    """``HH:MM:SS`` for every second of the day, one row per second (built once)."""
    if not _CLOCK:
        sod = np.arange(86400)
        clock = fixed_width(86400, [(sod // 3600, 2), b":", (sod // 60 % 60, 2), b":", (sod % 60, 2)])
        _CLOCK.append(np.frombuffer(clock.buffers()[2], np.uint8)[: 86400 * 8].reshape(86400, 8))
    return _CLOCK[0]


def format_ts(sec: Arr, sep: bytes = b" ", date_sep: bytes = b"-", suffix: bytes = b"") -> pa.Array:
    """Epoch seconds (local time) as ``YYYY-MM-DD HH:MM:SS`` strings (a gather from day and clock tables)."""
    n = len(sec)
    width = 18 + len(sep) + len(suffix)
    if n == 0:
        return from_rows(np.zeros(0, np.uint8), 0, width)
    days, sod = np.divmod(sec, 86400)
    lo = int(days.min())
    parts: list[bytes | tuple[Arr, Arr]] = [
        (date_table(lo, int(days.max()) + 1, date_sep), days - lo),
        sep,
        (clock_table(), sod),
    ]
    if suffix:
        parts.append(suffix)
    return from_rows(lookup(parts), n, width)


def format_date(days: Arr, sep: bytes) -> pa.Array:
    n = len(days)
    if n == 0:
        return from_rows(np.zeros(0, np.uint8), 0, 8 + 2 * len(sep))
    lo = int(days.min())
    table = date_table(lo, int(days.max()) + 1, sep)
    return from_rows(lookup([(table, days - lo)]), n, table.shape[1])


def masked(arr: pa.Array, null: Arr) -> pa.Array:
    """``arr`` with nulls where ``null`` is true."""
    return pc.if_else(pa.array(null), pa.scalar(None, arr.type), arr)


def take(values: pa.Array, idx: Arr) -> pa.Array:
    """``values[idx]`` with null wherever ``idx < 0``."""
    idx = np.asarray(idx, np.int64)
    return values.take(pa.array(np.where(idx < 0, 0, idx), mask=idx < 0))


def dictionary(values: pa.Array, idx: Arr) -> pa.DictionaryArray:
    """``values[idx]`` as a dictionary array (null where ``idx < 0``): no copy of the strings."""
    idx = np.asarray(idx)
    return pa.DictionaryArray.from_arrays(
        pa.array(np.where(idx < 0, 0, idx).astype(np.int32, copy=False), mask=idx < 0), values
    )


def expand(counts: Arr) -> tuple[Arr, Arr, Arr]:
    """Owner index, position within owner and owner start for ``counts`` children per owner."""
    counts = np.asarray(counts, np.int64)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(len(counts)), counts)
    pos = np.arange(int(counts.sum())) - starts[owner]
    return owner, pos, starts


def random_tokens(rng: np.random.Generator, n: int, width: int, alphabet: bytes) -> pa.Array:
    table = np.frombuffer(alphabet, np.uint8)
    return from_rows(table[rng.integers(0, len(table), (n, width))], n, width)


def join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")
