"""Synthetic shop: a seeded, vectorised Chinese retail business with planted ground truth.

:func:`generate_shop` writes the scattered exports a real shop has — a CRM
member list, app accounts, a product catalogue, online and in-store orders
with their lines, web/app/mini-program behaviour events, service tickets,
reviews and campaign touches — plus ``ground_truth/`` telling which records
belong to which real person and which habits were planted on whom.

Everything is drawn with numpy from one seed (no per-customer Python loop), so
the same seed writes byte-identical files and 1M customers take about a
minute and a half on two cores. The noise is the kind identity resolution and cleaning must survive:
phone numbers in six formats (sometimes full-width, sometimes the staff's
placeholder ``13800000000``), name typos (homophones, traditional characters,
full-width spaces), re-registered members with two CRM records, families
sharing one device, guests paying without a member card. A few rows are broken
on purpose (about 0.2 %, listed in ``ground_truth/dirty_rows.csv``): in
``pos_orders.csv`` unreadable timestamps, ``N/A`` totals, an unknown payment
label, negative totals on paid receipts, re-sent and re-rung receipts; in
``crm_members.csv`` exact duplicate rows. An ingest should quarantine exactly
those.

Planted habits (flags in ``ground_truth/persons.csv``) are only given to
persons with enough attributable orders (at least about 7 expected) to show
a habit at all: ``payday_shopper`` (orders on days 10–14 of the month),
``promotion_sensitive`` (discounted orders, deeper discounts, campaign
conversions), ``night_owl`` (orders and events between 22:00 and 02:00),
``high_price`` (items from the top price quartile of their category) and
``loyal_repurchaser`` (≥ 12 orders at a regular interval). ``churned_at``
marks active buyers who stop: nothing of theirs happens on or after it.

Examples
--------
>>> import tempfile
>>> from huaxiang.datasets.synthetic import generate_shop
>>> with tempfile.TemporaryDirectory() as tmp:
...     summary = generate_shop(tmp, n_customers=1_000, seed=7)
>>> summary.rows["ground_truth/persons.csv"]
1000
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._vocab import (
    ADJECTIVES,
    BAD_TIMESTAMPS,
    BAD_TOTAL,
    CITIES,
    EMAIL_DOMAINS,
    EVENTS,
    FEMALE_CHARS,
    HOUR_ONLINE,
    HOUR_STORE,
    LEAVES,
    LEVELS,
    MALE_CHARS,
    NICK_HEAD,
    NICK_TAIL,
    OCCUPATIONS,
    ONLINE_PAY,
    ONLINE_STATUS,
    PLATFORMS,
    PROMO_CODES,
    REVIEW_TEXT,
    SPRING_FESTIVAL,
    STORE_PAY,
    STORE_STATUS,
    SURNAMES,
    TICKET_TEXT,
    TICKET_TYPES,
    TOPS,
    UNKNOWN_STORE_PAY,
)

__all__ = ["FILES", "ShopSummary", "generate_shop", "main"]

Arr = npt.NDArray[Any]

FILES: tuple[str, ...] = (
    "crm_members.csv",
    "app_users.jsonl",
    "products.csv",
    "online_orders.parquet",
    "online_order_items.parquet",
    "pos_orders.csv",
    "pos_order_items.csv",
    "events.parquet",
    "service_tickets.xlsx",
    "reviews.jsonl",
    "campaign_touches.csv",
    "ground_truth/records.csv",
    "ground_truth/persons.csv",
    "ground_truth/dirty_rows.csv",
)
"""Every file :func:`generate_shop` writes, relative to ``out_dir``."""

PLACEHOLDER_PHONE = "13800000000"
"""The phone number shop staff type when a member gives none."""

_PV, _PS, _PRV, _PA, _PW, _CS, _OC, _PC, _RR = range(9)
_HOUR_ONLINE_P = np.array(HOUR_ONLINE) / np.sum(HOUR_ONLINE)
_HOUR_STORE_P = np.array(HOUR_STORE) / np.sum(HOUR_STORE)
_NIGHT_HOURS = np.array([22, 23, 0, 1])
_NIGHT_P = np.array([0.35, 0.35, 0.2, 0.1])
_Q_LOW = np.cumsum([0.36, 0.33, 0.22, 0.09])
_Q_HIGH = np.cumsum([0.03, 0.05, 0.12, 0.80])


# --------------------------------------------------------------------------- small helpers


@dataclass(frozen=True)
class ShopSummary:
    """What :func:`generate_shop` wrote.

    Attributes
    ----------
    out_dir : Path
        The folder the files are in.
    rows : Mapping[str, int]
        Data rows per file (header excluded), keyed by the path relative to ``out_dir``.
    seconds : float
        Wall-clock time of the generation.

    Examples
    --------
    >>> s = ShopSummary(Path("shop"), {"products.csv": 3}, 0.5)
    >>> s.rows["products.csv"]
    3
    """

    out_dir: Path
    rows: Mapping[str, int]
    seconds: float

    def __str__(self) -> str:
        lines = [f"synthetic shop in {self.out_dir} ({self.seconds:.1f} s)"]
        lines += [f"  {name:<32}{count:>12,}" for name, count in self.rows.items()]
        return "\n".join(lines)


# --------------------------------------------------------------------------- dirty rows

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


def _dirty_pos(
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
            [extra["ts"].combine_chunks().slice(0, per), ar.format_ts(ts[rerung] + rng.integers(60, 1800, per))]
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


def _dirty_crm(rng: np.random.Generator, crm: pa.Table) -> tuple[pa.Table, Arr]:
    """Exact copies of a few member rows, a few rows after the original (a double export)."""
    n = crm.num_rows
    per = max(5, round(n * DIRTY_SHARE))
    src = np.sort(rng.choice(n, per, replace=False))
    after = np.minimum(src + rng.integers(1, 200, per), n - 1)
    crm, rows, _ = _with_rows_inserted(crm, crm.take(pa.array(src)), after)
    return crm, rows


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class _Calendar:
    n_days: int
    day0: int  # start as days since 1970-01-01
    cum: Arr  # cumulative day weights, length n_days + 1
    month_start: Arr  # day index of the first of each day's month
    spike: Arr  # bool: a shopping festival day (Double 11, 618, Double 12)

    def sample_days(self, rng: np.random.Generator, lo: Arr, hi: Arr) -> Arr:
        """One day in ``[lo, hi)`` per entry, weighted by the seasonal day weights."""
        u = self.cum[lo] + rng.random(len(lo)) * (self.cum[hi] - self.cum[lo])
        return np.clip(np.searchsorted(self.cum, u, side="right") - 1, lo, hi - 1)


def _make_calendar(start: date, end: date) -> _Calendar:
    n_days = (end - start).days + 1
    d0 = np.datetime64(start, "D")
    dates = d0 + np.arange(n_days)
    day0 = int((d0 - np.datetime64("1970-01-01", "D")).astype(np.int64))
    weekday = (dates.astype(np.int64) + 3) % 7
    _, month, dom = ar.ymd(dates.astype(np.int64))
    w = np.ones(n_days)
    w[weekday >= 5] *= 1.25
    w[(month == 11) & (dom <= 10)] *= 1.5
    w[(month == 11) & (dom == 11)] *= 6.0
    w[(month == 11) & (dom == 12)] *= 2.0
    w[(month == 6) & (dom < 18)] *= 1.3
    w[(month == 6) & (dom == 18)] *= 4.0
    w[(month == 12) & (dom == 12)] *= 2.5
    for sf in SPRING_FESTIVAL:
        k = int((np.datetime64(sf, "D") - d0).astype(np.int64))
        w[max(k - 18, 0) : max(k, 0)] *= 1.4
        w[max(k, 0) : max(k + 7, 0)] *= 0.45
    spike = ((month == 11) & (dom == 11)) | ((month == 6) & (dom == 18)) | ((month == 12) & (dom == 12))
    month_start = (dates.astype("datetime64[M]").astype("datetime64[D]") - d0).astype(np.int64)
    return _Calendar(n_days, day0, np.concatenate([[0.0], np.cumsum(w)]), month_start, spike)


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Catalog:
    table: pa.Table  # products.csv, rows in sku order
    sku: pa.Array  # sku string per internal index (internal = sorted by leaf, price)
    price: Arr
    top_weights: Arr
    leaf_offset: Arr  # per top: first leaf index
    leaf_count: Arr  # per top: number of leaves
    bucket_offset: Arr  # per leaf*4 + quartile
    bucket_count: Arr

    def pick(self, rng: np.random.Generator, top_pref: Arr, high: Arr) -> Arr:
        """Internal sku indices: 72 % from the preferred top category, price quartile by taste."""
        m = len(top_pref)
        top = np.where(
            rng.random(m) < 0.72, top_pref, rng.choice(len(self.top_weights), m, p=self.top_weights)
        )
        leaf = self.leaf_offset[top] + (rng.random(m) * self.leaf_count[top]).astype(np.int64)
        u = rng.random(m)
        q = np.where(high, np.searchsorted(_Q_HIGH, u * _Q_HIGH[-1]), np.searchsorted(_Q_LOW, u * _Q_LOW[-1]))
        b = leaf * 4 + np.minimum(q, 3)
        return self.bucket_offset[b] + (rng.random(m) * self.bucket_count[b]).astype(np.int64)


def _make_catalog(rng: np.random.Generator, n_customers: int) -> _Catalog:
    n_leaves = len(LEAVES)
    n_sku = int(np.clip(2000 * (n_customers / 20_000) ** 0.15, 400, 5000))
    per_leaf = 8 + rng.multinomial(n_sku - 8 * n_leaves, np.full(n_leaves, 1 / n_leaves))
    leaf = np.repeat(np.arange(n_leaves), per_leaf)
    median = np.array([lf[2] for lf in LEAVES])[leaf]
    raw = median * np.exp(rng.normal(0.0, 0.55, len(leaf)))
    price = np.where(
        raw >= 100, np.floor(raw / 10) * 10 + 9, np.where(raw >= 20, np.floor(raw) + 0.9, np.round(raw, 1))
    )
    price = np.maximum(price, 1.9)
    order = np.lexsort((price, leaf))
    leaf, price = leaf[order], price[order]
    _, pos, _starts = ar.expand(per_leaf)
    quart = pos * 4 // per_leaf[leaf]
    bucket = leaf * 4 + quart
    bucket_count = np.bincount(bucket, minlength=4 * n_leaves)
    bucket_offset = np.cumsum(bucket_count) - bucket_count
    tops = np.array([lf[0] for lf in LEAVES])
    leaf_count = np.bincount(tops, minlength=len(TOPS))
    leaf_offset = np.cumsum(leaf_count) - leaf_count
    top_w = np.array([t[2] for t in TOPS])
    # sku numbers are shuffled so they do not reveal the price rank
    number = 100_001 + rng.permutation(len(leaf))
    sku = ar.ids("SKU", number, 6)
    brand_pick = rng.integers(0, 1000, len(leaf))
    adj_pick = rng.integers(0, len(ADJECTIVES), len(leaf))
    spec_pick = rng.integers(0, 1000, len(leaf))
    names, brands, cats = [], [], []
    for i, lf in enumerate(leaf.tolist()):  # catalogue-sized loop (a few thousand), not per customer
        top_i, path, _, specs = LEAVES[lf]
        top_name, top_brands, _ = TOPS[top_i]
        b = top_brands[brand_pick[i] % len(top_brands)]
        names.append(
            f"{b} {ADJECTIVES[adj_pick[i]]}{path.rsplit('/', 1)[1]} {specs[spec_pick[i] % len(specs)]}"
        )
        brands.append(b)
        cats.append(f"{top_name}/{path}")
    table = pa.table(
        {
            "sku": sku,
            "name": ar.strings(names),
            "category": ar.strings(cats),
            "brand": ar.strings(brands),
            "list_price": pa.array(price, pa.float64()),
        }
    ).take(pa.array(np.argsort(number)))
    return _Catalog(
        table, sku, price, top_w / top_w.sum(), leaf_offset, leaf_count, bucket_offset, bucket_count
    )


# --------------------------------------------------------------------------- persons


@dataclass
class _Persons:
    n: int
    gender: Arr  # 0 male, 1 female
    surname: Arr
    first: Arr  # index into the gender's char pool; -1 = single-char given name
    last: Arr
    birth: Arr  # days since epoch
    phone: Arr  # int64, 11 digits
    email: pa.Array  # nullable
    city: Arr
    occupation: Arr  # -1 = none
    s: Arr  # first active day (index into the window)
    e: Arr  # end of activity (exclusive day index)
    k: Arr  # number of orders
    has_crm: Arr
    has_app: Arr
    has_unionid: Arr
    p_online: Arr
    platform: Arr
    pay: Arr
    top_pref: Arr
    store: Arr
    payday: Arr
    promo: Arr
    night: Arr
    high: Arr
    loyal: Arr
    churned: Arr
    loyal_first: Arr
    loyal_interval: Arr
    consent: Arr


def _make_persons(rng: np.random.Generator, n: int, cal: _Calendar, n_stores: int) -> _Persons:
    D = cal.n_days
    gender = (rng.random(n) < 0.55).astype(np.int64)
    sw = np.array([s[3] for s in SURNAMES])
    surname = rng.choice(len(SURNAMES), n, p=sw / sw.sum())
    pool = np.where(gender == 1, len(FEMALE_CHARS), len(MALE_CHARS))
    last = (rng.random(n) * pool).astype(np.int64)
    first = np.where(rng.random(n) < 0.25, -1, (rng.random(n) * pool).astype(np.int64))
    age = np.clip(rng.gamma(6.0, 6.0, n) + 16, 18, 75)
    birth = cal.day0 - (age * 365.25).astype(np.int64)
    prefixes = np.array(
        [
            130,
            131,
            132,
            133,
            135,
            136,
            137,
            138,
            139,
            150,
            151,
            152,
            155,
            156,
            157,
            158,
            159,
            166,
            176,
            177,
            180,
            181,
            182,
            183,
            185,
            186,
            187,
            188,
            189,
            191,
            198,
            199,
        ],
        np.int64,
    )
    cand = rng.choice(prefixes, int(n * 1.05) + 16) * 10**8 + rng.integers(0, 10**8, int(n * 1.05) + 16)
    cand = cand[cand != int(PLACEHOLDER_PHONE)]
    _uniq, first_seen = np.unique(cand, return_index=True)
    phone = cand[np.sort(first_seen)][:n]
    cw = np.array([c[3] for c in CITIES])
    city = rng.choice(len(CITIES), n, p=cw / cw.sum())
    occupation = np.where(rng.random(n) < 0.15, -1, rng.integers(0, len(OCCUPATIONS), n))

    # activity window and order count
    existing = rng.random(n) < 0.55
    s = np.where(existing, 0, rng.integers(0, max(D - 60, 1), n))
    e = np.full(n, D, np.int64)
    kind = rng.random(n)
    repeat = np.ceil(np.exp(rng.normal(np.log(8.0), 1.0, n)) * np.maximum((D - s) / D, 0.15))
    k = np.where(kind < 0.07, 0, np.where(kind < 0.33, 1, np.clip(repeat, 2, 300))).astype(np.int64)
    has_crm = rng.random(n) < 0.85
    has_app = rng.random(n) < 0.60
    identifiable = has_crm | has_app
    p_online = np.where(has_app, rng.beta(2.0, 2.2, n), 0.0)
    p_online = np.where(has_app & ~has_crm, 1.0, p_online)

    # churn: active buyers who stop in the last nine months
    churn_window = min(274, D // 3)
    churn_ok = k >= 3
    churned = churn_ok & (rng.random(n) < min(0.95, 0.15 * n / max(churn_ok.sum(), 1)))
    c = D - rng.integers(1, churn_window + 1, n)
    e = np.where(churned, c, e)
    s = np.where(churned, np.minimum(s, np.maximum(c - 150, 0)), s)

    # loyal repurchasers: regular interval, at least 12 orders, always identifiable
    span = e - s
    loyal_ok = identifiable & (span >= 13 * 14) & (k >= 2)
    loyal = loyal_ok & (rng.random(n) < min(0.95, 0.10 * n / max(loyal_ok.sum(), 1)))
    interval = rng.uniform(14.0, np.maximum(np.minimum(45.0, span / 13), 14.0))
    loyal_first = s + (rng.random(n) * interval).astype(np.int64)
    k_loyal = np.floor((e - 1 - loyal_first) / interval).astype(np.int64) + 1
    k = np.where(loyal, np.maximum(k_loyal, 1), k)

    # habits need repetition to show: only persons with ≥ ~7 expected attributable orders
    attributable = k * (has_app * p_online + has_crm * (1 - p_online) * 0.97)
    eligible = identifiable & (attributable >= 7)

    def plant(share: float, ok: Arr) -> Arr:
        return ok & (rng.random(n) < min(0.9, share * n / max(int(ok.sum()), 1)))

    payday = plant(0.10, eligible & ~loyal)
    promo = plant(0.15, eligible)
    night = plant(0.08, eligible & has_app & (p_online >= 0.5))
    p_online = np.where(night, np.maximum(p_online, 0.9), p_online)
    high = plant(0.12, eligible)

    tw = np.array([t[2] for t in TOPS])
    top_pref = rng.choice(len(TOPS), n, p=tw / tw.sum())
    platform = rng.choice(3, n, p=[0.40, 0.45, 0.15])
    pay = rng.choice(4, n, p=[0.45, 0.40, 0.08, 0.07])
    store = rng.integers(0, n_stores, n)
    consent = rng.random(n) < 0.65
    has_unionid = rng.random(n) < 0.6

    # e-mail: QQ numbers or pinyin + digits, de-duplicated
    chars_py = [np.array([c[3] for c in MALE_CHARS] + [""]), np.array([c[3] for c in FEMALE_CHARS] + [""])]
    sur_py = np.array([x[2] for x in SURNAMES])[surname]
    nf, nm = len(FEMALE_CHARS), len(MALE_CHARS)
    first_py = np.where(gender == 1, chars_py[1][np.minimum(first, nf)], chars_py[0][np.minimum(first, nm)])
    last_py = np.where(gender == 1, chars_py[1][np.minimum(last, nf)], chars_py[0][np.minimum(last, nm)])
    year = ar.ymd(birth)[0] % 100
    local = np.char.add(np.char.add(sur_py, first_py), last_py)
    local = np.where(rng.random(n) < 0.5, np.char.add(local, np.char.zfill(year.astype(str), 2)), local)
    qq = rng.integers(10**5, 10**10, n).astype(str)
    domain = rng.choice(len(EMAIL_DOMAINS), n, p=[0.35, 0.2, 0.1, 0.1, 0.1, 0.05, 0.1])
    local = np.where(domain == 0, qq, local)
    dup = (
        pd.Series(np.char.add(np.char.add(local, "@"), np.array(EMAIL_DOMAINS)[domain]))
        .duplicated()
        .to_numpy()
    )
    local = np.where(dup, np.char.add(local, np.char.mod("%d", np.arange(n))), local)
    email_np = np.char.add(np.char.add(local, "@"), np.array(EMAIL_DOMAINS)[domain])
    email = ar.masked(pa.array(email_np.tolist(), pa.string()), rng.random(n) < 0.35)

    return _Persons(
        n=n,
        gender=gender,
        surname=surname,
        first=first,
        last=last,
        birth=birth,
        phone=phone,
        email=email,
        city=city,
        occupation=occupation,
        s=s,
        e=e,
        k=k,
        has_crm=has_crm,
        has_app=has_app,
        has_unionid=has_unionid,
        p_online=p_online,
        platform=platform,
        pay=pay,
        top_pref=top_pref,
        store=store,
        payday=payday,
        promo=promo,
        night=night,
        high=high,
        loyal=loyal,
        churned=churned,
        loyal_first=loyal_first,
        loyal_interval=interval,
        consent=consent,
    )


def _names(p: _Persons) -> dict[str, pa.Array]:
    """True name and its typo variants (homophone, traditional, full-width space), one per person."""
    pools = []
    for chars in (MALE_CHARS, FEMALE_CHARS):
        pools.append({k: ar.strings([c[i] for c in chars] + [""]) for i, k in enumerate(("s", "t", "h"))})
    sur = ar.strings([x[0] for x in SURNAMES]).take(pa.array(p.surname))
    sur_t = ar.strings([x[1] for x in SURNAMES]).take(pa.array(p.surname))
    female = pa.array(p.gender == 1)

    def pick(kind: str, idx: Arr) -> pa.Array:
        f = pools[1][kind].take(pa.array(np.minimum(idx, len(FEMALE_CHARS))))
        m = pools[0][kind].take(pa.array(np.minimum(idx, len(MALE_CHARS))))
        return pc.if_else(female, f, m)

    first = np.where(p.first < 0, np.where(p.gender == 1, len(FEMALE_CHARS), len(MALE_CHARS)), p.first)
    name = ar.join(sur, pick("s", first), pick("s", p.last))
    return {
        "name": name,
        "homophone": ar.join(sur, pick("s", first), pick("h", p.last)),
        "traditional": ar.join(sur_t, pick("t", first), pick("t", p.last)),
        "spaced": ar.join(sur, "\u3000", pick("s", first), pick("s", p.last)),
    }


def _phone_variants(rng: np.random.Generator, phone: Arr) -> pa.Array:
    """The same numbers as a CRM or app would hold them: six formats, some full-width."""
    n = len(phone)
    digits = ar.fixed_width(n, [(phone, 11)])
    a = pc.utf8_slice_codeunits(digits, 0, 3)
    b = pc.utf8_slice_codeunits(digits, 3, 7)
    c = pc.utf8_slice_codeunits(digits, 7, 11)
    style = rng.choice(6, n, p=[0.55, 0.12, 0.1, 0.08, 0.07, 0.08]).astype(np.int8)
    out = pc.choose(
        pa.array(style),
        digits,
        ar.join(a, " ", b, " ", c),
        ar.join("+86 ", a, "-", b, "-", c),
        ar.join("86 ", digits),
        ar.join("(+86)", digits),
        ar.join("+86", digits),
    )
    wide = rng.random(n) < 0.02
    if wide.any():
        fw = out
        for d in range(10):
            fw = pc.replace_substring(fw, str(d), chr(0xFF10 + d))
        out = pc.if_else(pa.array(wide), fw, out)
    return out


# --------------------------------------------------------------------------- orders


@dataclass
class _Orders:
    person: Arr
    ts: Arr  # epoch seconds, sorted
    online: Arr
    lines: Arr
    discount_flag: Arr
    depth: Arr
    status: Arr  # 0 paid, 1 cancelled, 2 refunded (store: 0 paid, 2 refunded)
    platform: Arr
    pay: Arr
    store: Arr
    card_row: Arr  # CRM row whose card was shown, -1 = guest
    item_sku: Arr
    item_qty: Arr
    item_order: Arr
    item_pos: Arr
    gross: Arr
    discount: Arr
    amount: Arr


def _hours(rng: np.random.Generator, n: int, night: Arr, store: Arr) -> Arr:
    h_on = rng.choice(24, n, p=_HOUR_ONLINE_P)
    h_st = rng.choice(24, n, p=_HOUR_STORE_P)
    h_night = np.where(store, 22, rng.choice(_NIGHT_HOURS, n, p=_NIGHT_P))
    return np.where(night & (rng.random(n) < 0.8), h_night, np.where(store, h_st, h_on))


def _make_orders(
    rng: np.random.Generator,
    p: _Persons,
    cal: _Calendar,
    cat: _Catalog,
    crm_primary: Arr,
    crm_dup: Arr,
    dup_reg: Arr,
    n_stores: int,
) -> _Orders:
    owner, pos, _ = ar.expand(p.k)
    m = len(owner)
    day = cal.sample_days(rng, p.s[owner], p.e[owner])
    lo = p.loyal[owner]
    jitter = rng.normal(0.0, 0.15, m) * p.loyal_interval[owner]
    day_loyal = np.round(p.loyal_first[owner] + pos * p.loyal_interval[owner] + jitter).astype(np.int64)
    day = np.where(lo, np.clip(day_loyal, p.s[owner], p.e[owner] - 1), day)
    shift = p.payday[owner] & (rng.random(m) < 0.85)
    moved = cal.month_start[day] + 9 + rng.integers(0, 5, m)
    ok = shift & (moved >= p.s[owner]) & (moved < p.e[owner])
    day = np.where(ok, moved, day)

    online = p.has_app[owner] & (rng.random(m) < p.p_online[owner])
    hour = _hours(rng, m, p.night[owner], ~online)
    ts = (cal.day0 + day) * 86400 + hour * 3600 + rng.integers(0, 3600, m)
    order = np.argsort(ts, kind="stable")
    owner, ts, online, day = owner[order], ts[order], online[order], day[order]

    lines = np.minimum(1 + rng.poisson(0.4, m), 8)
    p_disc = np.where(p.promo[owner], 0.85, 0.09 + 0.25 * cal.spike[day])
    discount_flag = rng.random(m) < p_disc
    depth = np.where(p.promo[owner], rng.uniform(0.15, 0.30, m), rng.uniform(0.05, 0.15, m))
    end_ts = (cal.day0 + p.e[owner]) * 86400
    u = rng.random(m)
    can_refund = ts + 11 * 86400 < end_ts
    status = np.where(
        online,
        np.where(u < 0.06, 1, np.where((u < 0.10) & can_refund, 2, 0)),
        np.where((u < 0.03) & can_refund, 2, 0),
    )
    platform = np.where(rng.random(m) < 0.8, p.platform[owner], rng.integers(0, 3, m))
    pay = np.where(rng.random(m) < 0.75, p.pay[owner], rng.integers(0, 4, m))
    pay = np.where(online & (platform == 1) & (rng.random(m) < 0.9), 1, pay)
    store = np.where(rng.random(m) < 0.85, p.store[owner], rng.integers(0, n_stores, m))
    use_dup = (crm_dup[owner] >= 0) & (ts > dup_reg[owner]) & (rng.random(m) < 0.5)
    card_row = np.where(use_dup, crm_dup[owner], crm_primary[owner])
    forgot = ~p.loyal[owner] & (rng.random(m) < 0.03)
    card_row = np.where(online | forgot, -1, card_row)

    item_order, item_pos, _ = ar.expand(lines)
    item_person = owner[item_order]
    item_sku = cat.pick(rng, p.top_pref[item_person], p.high[item_person])
    item_qty = 1 + rng.poisson(0.3, len(item_order))
    line_total = item_qty * cat.price[item_sku]
    gross = np.round(np.bincount(item_order, line_total, minlength=m), 2)
    discount = np.where(discount_flag, np.round(gross * depth, 2), 0.0)
    amount = np.round(gross - discount, 2)
    return _Orders(
        person=owner,
        ts=ts,
        online=online,
        lines=lines,
        discount_flag=discount_flag,
        depth=depth,
        status=status,
        platform=platform,
        pay=pay,
        store=store,
        card_row=card_row,
        item_sku=item_sku,
        item_qty=item_qty,
        item_order=item_order,
        item_pos=item_pos,
        gross=gross,
        discount=discount,
        amount=amount,
    )


# --------------------------------------------------------------------------- writers


def _write_csv(table: pa.Table, path: Path) -> int:
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return table.num_rows


def _write_parquet(table: pa.Table, path: Path, dictionary: Sequence[str] = ()) -> int:
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


def _write_jsonl(table: pa.Table, path: Path) -> int:
    df = table.to_pandas()
    df = df.astype(object).where(df.notna(), None)
    df.to_json(path, orient="records", lines=True, force_ascii=False)
    return table.num_rows


def _write_xlsx(df: pd.DataFrame, path: Path, sheet: str) -> int:
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


# --------------------------------------------------------------------------- the shop


def generate_shop(
    out_dir: str | Path,
    *,
    n_customers: int = 20_000,
    seed: int = 42,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
) -> ShopSummary:
    """Write a synthetic Chinese retail shop with planted ground truth into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if missing; existing files are overwritten).
    n_customers : int, default 20_000
        Number of real persons. About 85 % have a CRM record, 60 % an app account;
        orders average about ten per person.
    seed : int, default 42
        The same seed writes byte-identical files.
    start, end : date
        First and last day of the order history (inclusive).

    Returns
    -------
    ShopSummary
        Rows written per file, the folder and the seconds taken.

    Raises
    ------
    ValueError
        If ``n_customers < 100`` or the window is shorter than 120 days.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     s = generate_shop(tmp, n_customers=500, seed=1)
    ...     sorted(s.rows) == sorted(FILES)
    True
    """
    t0 = time.perf_counter()
    if n_customers < 100:
        raise ValueError(f"n_customers={n_customers}: a synthetic shop needs at least 100 customers")
    if (end - start).days + 1 < 120:
        raise ValueError(f"start={start}, end={end}: the window must cover at least 120 days")
    out = Path(out_dir)
    (out / "ground_truth").mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(seed)
    rngs = [np.random.default_rng(s) for s in root.spawn(12)]
    rows: dict[str, int] = {}

    cal = _make_calendar(start, end)
    n = n_customers
    n_stores = int(np.clip(n // 400, 12, 600))
    cat = _make_catalog(rngs[0], n)
    p = _make_persons(rngs[1], n, cal, n_stores)
    names = _names(p)
    pid = ar.ids("P", np.arange(1, n + 1), 7)
    phones_e164 = ar.fixed_width(n, [b"+86", (p.phone, 11)])

    # ---- CRM rows: one per CRM person, plus a second record for ~2 % of persons (re-registered)
    rng = rngs[2]
    reg_day = np.where(
        p.s == 0, -rng.integers(1, 5 * 365, n), p.s
    )  # existing members registered before the window
    reg_ts = (cal.day0 + reg_day) * 86400 + rng.integers(9 * 3600, 21 * 3600, n)
    dup_ok = p.has_crm & (p.e - p.s >= 120)
    dup = dup_ok & (rng.random(n) < min(0.9, 0.02 * n / max(int(dup_ok.sum()), 1)))
    dup_day = p.s + 30 + (rng.random(n) * np.maximum(p.e - p.s - 60, 1)).astype(np.int64)
    dup_reg = np.where(dup, (cal.day0 + dup_day) * 86400 + rng.integers(9 * 3600, 21 * 3600, n), 2**62)
    crm_person = np.concatenate([np.flatnonzero(p.has_crm), np.flatnonzero(dup)])
    crm_is_dup = np.concatenate([np.zeros(int(p.has_crm.sum()), bool), np.ones(int(dup.sum()), bool)])
    crm_reg = np.where(crm_is_dup, dup_reg[crm_person], reg_ts[crm_person])
    o = np.argsort(crm_reg, kind="stable")
    crm_person, crm_is_dup, crm_reg = crm_person[o], crm_is_dup[o], crm_reg[o]
    nc = len(crm_person)
    crm_primary = np.full(n, -1, np.int64)
    crm_dup = np.full(n, -1, np.int64)
    crm_primary[crm_person[~crm_is_dup]] = np.flatnonzero(~crm_is_dup)
    crm_dup[crm_person[crm_is_dup]] = np.flatnonzero(crm_is_dup)
    member_id = ar.ids("M", np.arange(1, nc + 1), 7)
    reg_year = ar.ymd(crm_reg // 86400)[0]
    card = ar.fixed_width(nc, [b"C", (reg_year, 4), (np.arange(1, nc + 1), 7)])

    # ---- orders and items
    orders = _make_orders(rngs[3], p, cal, cat, crm_primary, crm_dup, dup_reg, n_stores)

    # ---- app accounts
    rng = rngs[4]
    app_person = np.flatnonzero(p.has_app)
    app_reg_day = np.where(p.s == 0, -rng.integers(1, 4 * 365, n), p.s)
    app_reg = (cal.day0 + app_reg_day) * 86400 + rng.integers(7 * 3600, 23 * 3600, n)
    app_person = app_person[np.argsort(app_reg[app_person], kind="stable")]
    na = len(app_person)
    app_of = np.full(n, -1, np.int64)
    app_of[app_person] = np.arange(na)
    user_id = ar.ids("U", 10_000_000 + np.arange(1, na + 1), 8)
    # families: ~3 % of devices are shared by 2–3 app users
    device_of_app = np.arange(na)
    n_shared = round(0.03 * na / 1.03 / 1.0)
    heads = rng.choice(na, n_shared, replace=False) if n_shared else np.zeros(0, np.int64)
    others = np.setdiff1d(np.arange(na), heads)
    n_members = np.where(rng.random(n_shared) < 0.7, 1, 2)
    members = rng.choice(others, int(n_members.sum()), replace=False) if n_shared else np.zeros(0, np.int64)
    device_of_app[members] = np.repeat(heads, n_members)
    device_str = ar.random_tokens(rng, na, 16, b"0123456789abcdef")

    # ---- events
    ev = _make_events(rngs[5], p, cal, cat, orders, app_of, device_of_app)

    # ==================================================================== write: products
    rows["products.csv"] = _write_csv(cat.table, out / "products.csv")

    # ---- crm_members.csv
    rng = rngs[6]
    typo = rng.random(nc) < np.where(crm_is_dup, 0.3, 0.03)
    trad_differs = pc.not_equal(names["traditional"], names["name"]).to_numpy(zero_copy_only=False)
    kind = rng.choice(3, nc, p=[0.45, 0.30, 0.25])
    kind = np.where((kind == 1) & ~trad_differs[crm_person], 0, kind)
    pa_person = pa.array(crm_person)
    crm_name = pc.choose(
        pa.array(np.where(typo, kind + 1, 0).astype(np.int8)),
        names["name"].take(pa_person),
        names["homophone"].take(pa_person),
        names["traditional"].take(pa_person),
        names["spaced"].take(pa_person),
    )
    g = p.gender[crm_person]
    u = rng.random(nc)
    gender_code = np.where(u < 0.01, 4, np.where(u < 0.025, g + 2, g)).astype(np.int8)
    gender = pc.choose(
        pa.array(gender_code),
        ar.strings(["男"] * nc),
        ar.strings(["女"] * nc),
        ar.strings(["M"] * nc),
        ar.strings(["F"] * nc),
        ar.strings([""] * nc),
    )
    gender = ar.masked(gender, gender_code == 4)
    birth = ar.masked(ar.format_date(p.birth[crm_person], b"/"), rng.random(nc) < 0.10)
    phone = _phone_variants(rng, p.phone[crm_person])
    u = rng.random(nc)
    phone = pc.if_else(pa.array(u < 0.005), pa.scalar(PLACEHOLDER_PHONE), phone)
    phone = ar.masked(phone, (u >= 0.005) & (u < 0.055) & ~crm_is_dup)
    email = _noisy_email(rng, p.email.take(pa_person), nc)
    email = ar.masked(email, rng.random(nc) < 0.08)  # on top of persons without e-mail: ~40 % blank
    province = ar.strings([c[0] for c in CITIES]).take(pa.array(p.city[crm_person]))
    city = ar.strings([c[1] for c in CITIES]).take(pa.array(p.city[crm_person]))
    city = pc.if_else(pa.array(rng.random(nc) < 0.15), ar.join(city, "市"), city)
    occ = ar.take(ar.strings(OCCUPATIONS), p.occupation[crm_person])
    k_person = p.k[crm_person]
    level = np.where(k_person >= 40, 3, np.where(k_person >= 15, 2, np.where(k_person >= 5, 1, 0)))
    level = np.where(p.high[crm_person] & (k_person >= 10), 3, level)
    unionid_str = ar.join(
        "o",
        ar.random_tokens(rngs[7], n, 27, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
    )
    crm_union = ar.masked(unionid_str.take(pa_person), ~(p.has_unionid[crm_person] & (rng.random(nc) < 0.83)))
    crm = pa.table(
        {
            "会员编号": member_id,
            "姓名": crm_name,
            "性别": gender,
            "出生日期": birth,
            "手机号": phone,
            "邮箱": email,
            "省份": province,
            "城市": city,
            "职业": occ,
            "会员等级": ar.strings(LEVELS).take(pa.array(level)),
            "注册时间": ar.format_ts(crm_reg),
            "会员卡号": card,
            "unionid": crm_union,
            "营销同意": ar.strings(["否", "是"]).take(pa.array(p.consent[crm_person].astype(np.int64))),
        }
    )
    crm, crm_dirty = _dirty_crm(rngs[11], crm)
    rows["crm_members.csv"] = _write_csv(crm, out / "crm_members.csv")

    # ---- app_users.jsonl
    rng = rngs[8]
    pa_app = pa.array(app_person)
    # mainland apps verify a mobile number at sign-up: only legacy / overseas accounts (1 %) lack one
    a_phone = ar.masked(_phone_variants(rng, p.phone[app_person]), rng.random(na) < 0.01)
    a_email = ar.masked(_noisy_email(rng, p.email.take(pa_app), na), rng.random(na) < 0.45)
    a_platform = p.platform[app_person]
    has_openid = (a_platform == 1) | (rng.random(na) < 0.3)
    openid = ar.masked(
        ar.join(
            "oU",
            ar.random_tokens(rng, na, 26, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
        ),
        ~has_openid,
    )
    a_union = ar.masked(
        unionid_str.take(pa_app), ~(has_openid & p.has_unionid[app_person] & (rng.random(na) < 0.9))
    )
    nick = ar.join(
        ar.strings(NICK_HEAD).take(pa.array(rng.integers(0, len(NICK_HEAD), na))),
        ar.strings(NICK_TAIL).take(pa.array(rng.integers(0, len(NICK_TAIL), na))),
        pc.if_else(
            pa.array(rng.random(na) < 0.5), pc.cast(pa.array(rng.integers(1, 9999, na)), pa.string()), ""
        ),
    )
    app = pa.table(
        {
            "user_id": user_id,
            "phone": a_phone,
            "email": a_email,
            "wechat_openid": openid,
            "wechat_unionid": a_union,
            "device_id": device_str.take(pa.array(device_of_app)),
            "nickname": nick,
            "registered_at": ar.format_ts(app_reg[app_person], sep=b"T", suffix=b"+08:00"),
            "signup_channel": ar.strings(PLATFORMS).take(pa.array(a_platform)),
        }
    )
    rows["app_users.jsonl"] = _write_jsonl(app, out / "app_users.jsonl")

    # ---- online orders and items
    on_idx = np.flatnonzero(orders.online)
    st_idx = np.flatnonzero(~orders.online)
    order_num = np.zeros(len(orders.ts), np.int64)
    order_num[on_idx] = np.arange(1, len(on_idx) + 1)
    order_num[st_idx] = np.arange(1, len(st_idx) + 1)
    order_id = ar.ids("O", 1_000_000_000 + order_num[on_idx], 10)
    ts_ms = pa.array(orders.ts[on_idx] * 1000, pa.timestamp("ms"))
    has_coupon = orders.discount_flag[on_idx] & (rng.random(len(on_idx)) < 0.85)
    coupon_days = orders.ts[on_idx] // 86400
    cy, cm, _ = ar.ymd(coupon_days)
    coupon = ar.masked(
        ar.fixed_width(len(on_idx), [b"CP", (cy % 100, 2), (cm, 2), (rng.integers(0, 100, len(on_idx)), 2)]),
        ~has_coupon,
    )
    online_tbl = pa.table(
        {
            "order_id": order_id,
            "user_id": user_id.take(pa.array(app_of[orders.person[on_idx]])),
            "order_time": ts_ms,
            "pay_amount": pa.array(orders.amount[on_idx]),
            "discount": pa.array(orders.discount[on_idx]),
            "coupon_id": coupon,
            "platform": ar.dictionary(ar.strings(PLATFORMS), orders.platform[on_idx]),
            "pay_type": ar.dictionary(ar.strings(ONLINE_PAY), orders.pay[on_idx]),
            "status": ar.dictionary(ar.strings(ONLINE_STATUS), orders.status[on_idx]),
        }
    )
    rows["online_orders.parquet"] = _write_parquet(
        online_tbl, out / "online_orders.parquet", ("platform", "pay_type", "status")
    )
    item_online = orders.online[orders.item_order]
    it_on = np.flatnonzero(item_online)
    it_st = np.flatnonzero(~item_online)
    local_num = order_num[orders.item_order]
    sku_per_item = cat.sku.take(pa.array(orders.item_sku))
    items_on = pa.table(
        {
            "order_id": ar.ids("O", 1_000_000_000 + local_num[it_on], 10),
            "line_no": pa.array(orders.item_pos[it_on] + 1),
            "sku": ar.dictionary(cat.sku, orders.item_sku[it_on]),
            "qty": pa.array(orders.item_qty[it_on]),
            "price": pa.array(cat.price[orders.item_sku[it_on]]),
        }
    )
    rows["online_order_items.parquet"] = _write_parquet(
        items_on, out / "online_order_items.parquet", ("sku",)
    )

    # ---- POS
    receipt = ar.ids("S", 1_000_000_000 + order_num[st_idx], 10)
    spike_st = cal.spike[np.clip(orders.ts[st_idx] // 86400 - cal.day0, 0, cal.n_days - 1)]
    promo_pick = np.where(spike_st, rng.integers(5, 7, len(st_idx)), rng.integers(0, 5, len(st_idx)))
    pos_tbl = pa.table(
        {
            "receipt_no": receipt,
            "store_id": ar.ids("ST", orders.store[st_idx] + 1, 4),
            "member_card": ar.take(card, orders.card_row[st_idx]),
            "ts": ar.format_ts(orders.ts[st_idx]),
            "total": pa.array(orders.amount[st_idx]),
            "discount": pa.array(orders.discount[st_idx]),
            "promo_code": ar.masked(
                ar.strings(PROMO_CODES).take(pa.array(promo_pick)), ~orders.discount_flag[st_idx]
            ),
            "payment": ar.strings(STORE_PAY).take(pa.array(orders.pay[st_idx])),
            "status": ar.strings(STORE_STATUS).take(pa.array(orders.status[st_idx] // 2)),
        }
    )
    pos_tbl, pos_intact, pos_dirty, pos_defect = _dirty_pos(
        rngs[11], pos_tbl, orders.ts[st_idx], orders.amount[st_idx], orders.status[st_idx] == 0
    )
    rows["pos_orders.csv"] = _write_csv(pos_tbl, out / "pos_orders.csv")
    items_st = pa.table(
        {
            "receipt_no": ar.ids("S", 1_000_000_000 + local_num[it_st], 10),
            "line_no": pa.array(orders.item_pos[it_st] + 1),
            "sku": sku_per_item.take(pa.array(it_st)),
            "qty": pa.array(orders.item_qty[it_st]),
            "price": pa.array(cat.price[orders.item_sku[it_st]]),
        }
    )
    rows["pos_order_items.csv"] = _write_csv(items_st, out / "pos_order_items.csv")

    # ---- events
    online_pos = np.full(len(orders.ts), -1, np.int64)
    online_pos[on_idx] = np.arange(len(on_idx))
    ne = len(ev["ts"])
    events = pa.table(
        {
            "event_id": ar.ids("E", np.arange(1, ne + 1), 10),
            "anonymous_id": ar.dictionary(device_str, ev["device"]),
            "user_id": ar.dictionary(user_id, ev["user"]),
            "ts": pa.array(ev["ts"] * 1000, pa.timestamp("ms")),
            "event": ar.dictionary(ar.strings(EVENTS), ev["code"]),
            "channel": ar.dictionary(ar.strings(PLATFORMS), ev["channel"]),
            "session_id": ar.ids("SS", ev["session"], 10),
            "sku": ar.dictionary(cat.sku, ev["sku"]),
            "order_id": ar.take(
                order_id, np.where(ev["order"] >= 0, online_pos[np.maximum(ev["order"], 0)], -1)
            ),
        }
    )
    rows["events.parquet"] = _write_parquet(
        events, out / "events.parquet", ("anonymous_id", "user_id", "event", "channel", "sku")
    )
    del events, ev, online_pos  # the largest arrays of the run: free them before the rest

    # ---- service tickets (a sample: at most 20k)
    rng = rngs[9]
    nt = int(min(20_000, max(20, round(0.05 * nc))))
    w = 1.0 + p.k[crm_person]
    t_row = rng.choice(nc, nt, p=w / w.sum())
    t_person = crm_person[t_row]
    t_day = cal.sample_days(rng, p.s[t_person], p.e[t_person])
    t_ts = (cal.day0 + t_day) * 86400 + rng.integers(8 * 3600, 22 * 3600, nt)
    t_ts = np.sort(t_ts)
    t_type = rng.choice(3, nt, p=[0.25, 0.5, 0.25])
    sat = np.clip(np.round(rng.normal(np.where(t_type == 0, 2.3, 4.2), 1.0)), 1, 5)
    text_pick = [
        TICKET_TEXT[t][i % len(TICKET_TEXT[t])]
        for t, i in zip(t_type.tolist(), rng.integers(0, 60, nt).tolist(), strict=True)
    ]  # ≤ 20k rows
    tickets = pd.DataFrame(
        {
            "工单号": ar.ids("TK", np.arange(1, nt + 1), 7).to_pylist(),
            "会员编号": member_id.take(pa.array(t_row)).to_pylist(),
            "创建时间": pd.to_datetime(t_ts, unit="s").to_pydatetime().tolist(),
            "类型": [TICKET_TYPES[t] for t in t_type.tolist()],
            "满意度": [
                None if b else int(v)
                for v, b in zip(sat.tolist(), (rng.random(nt) < 0.2).tolist(), strict=True)
            ],
            "内容": text_pick,
        }
    )
    rows["service_tickets.xlsx"] = _write_xlsx(tickets, out / "service_tickets.xlsx", "tickets")

    # ---- reviews
    paid_on = on_idx[orders.status[on_idx] != 1]
    r_ord = paid_on[rng.random(len(paid_on)) < 0.06]
    r_person = orders.person[r_ord]
    r_ts = orders.ts[r_ord] + rng.integers(86400, 9 * 86400, len(r_ord))
    keep = r_ts < (cal.day0 + p.e[r_person]) * 86400
    r_ord, r_person, r_ts = r_ord[keep], r_person[keep], r_ts[keep]
    nr = len(r_ord)
    rating = np.where(
        orders.status[r_ord] == 2,
        rng.integers(1, 3, nr),
        rng.choice(5, nr, p=[0.04, 0.04, 0.12, 0.3, 0.5]) + 1,
    )
    texts = [t for group in REVIEW_TEXT for t in group]
    offsets = np.cumsum([0] + [len(gr) for gr in REVIEW_TEXT])
    counts = np.diff(offsets)
    text_idx = offsets[rating - 1] + (rng.random(nr) * counts[rating - 1]).astype(np.int64)
    reviews = pa.table(
        {
            "review_id": ar.ids("R", np.arange(1, nr + 1), 8),
            "user_id": user_id.take(pa.array(app_of[r_person])),
            "ts": ar.format_ts(r_ts, sep=b"T", suffix=b"+08:00"),
            "rating": pa.array(rating),
            "text": ar.strings(texts).take(pa.array(text_idx)),
        }
    )
    rows["reviews.jsonl"] = _write_jsonl(reviews, out / "reviews.jsonl")

    # ---- campaign touches
    touches = _make_touches(rngs[10], p, cal, crm_person, crm_reg, member_id)
    rows["campaign_touches.csv"] = _write_csv(touches, out / "campaign_touches.csv")

    # ==================================================================== ground truth
    # a card seen only on damaged receipts never loads: it is no record of the truth
    shown = orders.card_row[st_idx][pos_intact]
    pos_cards = np.unique(shown[shown >= 0])
    records = pa.table(
        {
            "source": pa.concat_arrays(
                [ar.strings(["crm"] * nc), ar.strings(["app"] * na), ar.strings(["pos"] * len(pos_cards))]
            ),
            "source_customer_id": pa.concat_arrays([member_id, user_id, card.take(pa.array(pos_cards))]),
            "person_id": pa.concat_arrays(
                [
                    pid.take(pa.array(crm_person)),
                    pid.take(pa.array(app_person)),
                    pid.take(pa.array(crm_person[pos_cards])),
                ]
            ),
        }
    )
    rows["ground_truth/records.csv"] = _write_csv(records, out / "ground_truth" / "records.csv")
    churn_date = ar.masked(ar.format_date(cal.day0 + p.e, b"-"), ~p.churned)
    persons = pa.table(
        {
            "person_id": pid,
            "name": names["name"],
            "phone": phones_e164,
            "email": p.email,
            "city": ar.strings([c[1] for c in CITIES]).take(pa.array(p.city)),
            "birth_date": ar.format_date(p.birth, b"-"),
            "payday_shopper": pa.array(p.payday),
            "promotion_sensitive": pa.array(p.promo),
            "night_owl": pa.array(p.night),
            "high_price": pa.array(p.high),
            "loyal_repurchaser": pa.array(p.loyal),
            "churned_at": churn_date,
            "preferred_category": ar.strings([t[0] for t in TOPS]).take(pa.array(p.top_pref)),
        }
    )
    rows["ground_truth/persons.csv"] = _write_csv(persons, out / "ground_truth" / "persons.csv")
    dirty = pa.table(
        {
            "file": ar.strings(["crm_members.csv"] * len(crm_dirty) + ["pos_orders.csv"] * len(pos_dirty)),
            "row_number": pa.array(np.concatenate([crm_dirty, pos_dirty])),
            "defect": ar.strings(DEFECTS).take(
                pa.array(
                    np.concatenate([np.full(len(crm_dirty), DEFECTS.index("exact_duplicate")), pos_defect])
                )
            ),
        }
    ).sort_by([("file", "ascending"), ("row_number", "ascending")])
    rows["ground_truth/dirty_rows.csv"] = _write_csv(dirty, out / "ground_truth" / "dirty_rows.csv")
    return ShopSummary(out, {f: rows[f] for f in FILES}, time.perf_counter() - t0)


def _noisy_email(rng: np.random.Generator, email: pa.Array, n: int) -> pa.Array:
    """Case and surrounding-whitespace noise, as typed into a form."""
    style = rng.choice(5, n, p=[0.8, 0.07, 0.05, 0.05, 0.03]).astype(np.int8)
    return pc.choose(
        pa.array(style),
        email,
        pc.utf8_upper(email),
        pc.utf8_capitalize(email),
        ar.join(" ", email),
        ar.join(email, "  "),
    )


def _make_events(
    rng: np.random.Generator,
    p: _Persons,
    cal: _Calendar,
    cat: _Catalog,
    orders: _Orders,
    app_of: Arr,
    device_of_app: Arr,
) -> dict[str, Arr]:
    """Behaviour events: one purchase session per online order, a return visit per refund, browsing."""
    on = np.flatnonzero(orders.online)
    no = len(on)
    person_o = orders.person[on]
    lines = orders.lines[on]
    status = orders.status[on]
    paid = status != 1
    pv = rng.random(no) < 0.2
    n_ev = pv + 2 * lines + 2 + paid
    owner, r, starts = ar.expand(n_ev)
    rr = r - pv[owner]
    l2 = 2 * lines[owner]
    code = np.where(
        rr < 0,
        _PV,
        np.where(
            rr < l2,
            np.where(rr % 2 == 0, _PRV, _PA),
            np.where(rr == l2, _CS, np.where(rr == l2 + 1, _OC, _PC)),
        ),
    )
    item_start = np.cumsum(orders.lines) - orders.lines
    line = np.clip(rr // 2, 0, None)
    sku = np.where(
        (rr >= 0) & (rr < l2), orders.item_sku[item_start[on[owner]] + np.minimum(line, lines[owner] - 1)], -1
    )
    gap = np.exp(rng.normal(np.log(np.where(code == _PC, 15.0, np.where(code == _OC, 40.0, 25.0))), 0.8))
    gap[r == 0] = 0.0
    cum = np.cumsum(gap)
    cum_s = cum - cum[starts[owner]]
    oc = starts + pv + 2 * lines + 1
    t_p = orders.ts[on][owner] + np.round(cum_s - cum_s[oc[owner]]).astype(np.int64)
    login = np.where(rng.random(no) < 0.6, 0, (rng.random(no) * (pv + 2 * lines + 1)).astype(np.int64))
    user_p = np.where(r >= login[owner], app_of[person_o[owner]], -1)
    order_p = np.where(code >= _OC, on[owner], -1)
    chan_p = orders.platform[on][owner]
    sess_p = owner

    # after-sale: a return request a few days later, in its own session
    ref = np.flatnonzero(status == 2)
    t_r = orders.ts[on][ref] + rng.integers(86400, 10 * 86400, len(ref))
    n_base = no

    # browsing sessions, most of which only view
    k_online = np.bincount(person_o, minlength=p.n)
    lam = np.where(p.has_app, 1.7 * k_online + 0.7, 0.0)
    n_sess = rng.poisson(lam)
    s_person, _, _ = ar.expand(n_sess)
    ns = len(s_person)
    templates = np.array(
        [[_PV, -1, -1], [_PV, _PRV, -1], [_PS, _PRV, -1], [_PRV, _PA, -1], [_PRV, _PW, -1], [_PRV, _PA, _CS]]
    )
    t_len = (templates >= 0).sum(axis=1)
    s_type = rng.choice(len(templates), ns, p=[0.35, 0.33, 0.17, 0.09, 0.04, 0.02])
    s_day = cal.sample_days(rng, p.s[s_person], p.e[s_person])
    s_hour = _hours(rng, ns, p.night[s_person], np.zeros(ns, bool))
    s_start = (cal.day0 + s_day) * 86400 + s_hour * 3600 + rng.integers(0, 3600, ns)
    s_owner, s_r, s_starts = ar.expand(t_len[s_type])
    x_code = templates[s_type[s_owner], s_r]
    x_gap = np.exp(rng.normal(np.log(30.0), 0.9, len(s_owner)))
    x_gap[s_r == 0] = 0.0
    x_cum = np.cumsum(x_gap)
    x_t = s_start[s_owner] + np.round(x_cum - x_cum[s_starts[s_owner]]).astype(np.int64)
    x_person = s_person[s_owner]
    product = (x_code == _PRV) | (x_code == _PA) | (x_code == _PW)
    x_sku = np.where(product, cat.pick(rng, p.top_pref[x_person], p.high[x_person]), -1)
    logged = rng.random(ns) < 0.5
    x_user = np.where(logged[s_owner], app_of[x_person], -1)
    s_chan = np.where(rng.random(ns) < 0.8, p.platform[s_person], rng.integers(0, 3, ns))

    person_all = np.concatenate([person_o[owner], person_o[ref], x_person])
    ts = np.concatenate([t_p, t_r, x_t])
    lo = cal.day0 * 86400
    hi = (cal.day0 + p.e[person_all]) * 86400 - 1
    ts = np.clip(ts, lo, hi)
    n_sessions = n_base + len(ref) + ns
    session_perm = 1 + rng.permutation(n_sessions)
    session = np.concatenate([sess_p, n_base + np.arange(len(ref)), n_base + len(ref) + s_owner])
    # narrow dtypes: these arrays are the largest of the run (tens of millions of events)
    return {
        "ts": ts,
        "code": np.concatenate([code, np.full(len(ref), _RR), x_code]).astype(np.int8),
        "sku": np.concatenate([sku, np.full(len(ref), -1), x_sku]).astype(np.int32),
        "order": np.concatenate([order_p, on[ref], np.full(len(x_code), -1)]),
        "user": np.concatenate([user_p, app_of[person_o[ref]], x_user]).astype(np.int32),
        "device": device_of_app[app_of[person_all]].astype(np.int32),
        "channel": np.concatenate([chan_p, orders.platform[on][ref], s_chan[s_owner]]).astype(np.int8),
        "session": session_perm[session].astype(np.int64),
    }


def _make_touches(
    rng: np.random.Generator, p: _Persons, cal: _Calendar, crm_person: Arr, crm_reg: Arr, member_id: pa.Array
) -> pa.Table:
    """Monthly campaigns plus festival warm-ups to consenting members: sent ⊃ opened ⊃ clicked ⊃ converted."""
    camp_day = np.concatenate([np.unique(cal.month_start) + 7, np.flatnonzero(cal.spike) - 8])
    camp_day = np.unique(camp_day[(camp_day >= 0) & (camp_day < cal.n_days)])
    ncamp = len(camp_day)
    consent = p.consent[crm_person]
    rows_c, cols_c = np.nonzero(consent[:, None] & (rng.random((len(crm_person), ncamp)) < 0.15))
    send_ts = (cal.day0 + camp_day[cols_c]) * 86400 + 10 * 3600 + rng.integers(0, 1800, len(rows_c))
    ok = crm_reg[rows_c] < send_ts
    rows_c, cols_c, send_ts = rows_c[ok], cols_c[ok], send_ts[ok]
    person = crm_person[rows_c]
    promo = p.promo[person]
    end_ts = (cal.day0 + p.e[person]) * 86400
    m = len(rows_c)
    open_ts = send_ts + rng.integers(600, 2 * 86400, m)
    click_ts = open_ts + rng.integers(5, 600, m)
    conv_ts = click_ts + rng.integers(60, 6 * 3600, m)
    opened = (rng.random(m) < np.where(promo, 0.45, 0.3)) & (open_ts < end_ts)
    clicked = opened & (rng.random(m) < np.where(promo, 0.6, 0.2)) & (click_ts < end_ts)
    converted = clicked & (rng.random(m) < np.where(promo, 0.6, 0.1)) & (conv_ts < end_ts)
    sel = [np.ones(m, bool), opened, clicked, converted]
    idx = np.concatenate([np.flatnonzero(s) for s in sel])
    action = np.concatenate([np.full(int(s.sum()), i) for i, s in enumerate(sel)])
    ts = np.concatenate([send_ts[sel[0]], open_ts[opened], click_ts[clicked], conv_ts[converted]])
    o = np.lexsort((action, ts))
    idx, action, ts = idx[o], action[o], ts[o]
    cy, cmo, cd = ar.ymd(camp_day + cal.day0)
    camp_id = ar.fixed_width(ncamp, [b"CMP", (cy, 4), (cmo, 2), (cd, 2)])
    return pa.table(
        {
            "touch_id": ar.ids("T", np.arange(1, len(idx) + 1), 9),
            "member_id": member_id.take(pa.array(rows_c[idx])),
            "campaign_id": camp_id.take(pa.array(cols_c[idx])),
            "ts": ar.format_ts(ts),
            "action": ar.strings(["sent", "opened", "clicked", "converted"]).take(pa.array(action)),
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m huaxiang.datasets.synthetic OUT --customers N --seed S``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     main([tmp, "--customers", "300"])
    0
    """
    parser = argparse.ArgumentParser(description="Write a synthetic Chinese retail shop with ground truth.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31))
    args = parser.parse_args(argv)
    summary = generate_shop(
        args.out, n_customers=args.customers, seed=args.seed, start=args.start, end=args.end
    )
    if argv is None:
        print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
