"""The synthetic shop's world: its calendar, its product catalogue and its people.

Everything here is drawn with numpy from the generator it is given, one array per attribute
(no per-person Python loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._vocab import (
    ADJECTIVES,
    CITIES,
    EMAIL_DOMAINS,
    FEMALE_CHARS,
    LEAVES,
    MALE_CHARS,
    OCCUPATIONS,
    SPRING_FESTIVAL,
    SURNAMES,
    TOPS,
)

Arr = npt.NDArray[Any]

PLACEHOLDER_PHONE = "13800000000"
"""The phone number shop staff type when a member gives none."""

#: Mobile prefixes of the mainland carriers the phone numbers are drawn from.
MOBILE_PREFIXES = (
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
)

# cumulative chances of a product's price quartile (cheapest first) for most buyers and for the
# planted high-price buyers
_QUARTILE_CUM_LOW = np.cumsum([0.36, 0.33, 0.22, 0.09])
_QUARTILE_CUM_HIGH = np.cumsum([0.03, 0.05, 0.12, 0.80])


@dataclass(frozen=True)
class Calendar:
    n_days: int
    day0: int  # start as days since 1970-01-01
    cum: Arr  # cumulative day weights, length n_days + 1
    month_start: Arr  # day index of the first of each day's month
    spike: Arr  # bool: a shopping festival day (Double 11, 618, Double 12)

    def sample_days(self, rng: np.random.Generator, lo: Arr, hi: Arr) -> Arr:
        """One day in ``[lo, hi)`` per entry, weighted by the seasonal day weights."""
        u = self.cum[lo] + rng.random(len(lo)) * (self.cum[hi] - self.cum[lo])
        return np.clip(np.searchsorted(self.cum, u, side="right") - 1, lo, hi - 1)


def make_calendar(start: date, end: date) -> Calendar:
    """Day weights of the window: weekends, the festivals (Double 11, 618, Double 12) and Spring Festival."""
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
    return Calendar(n_days, day0, np.concatenate([[0.0], np.cumsum(w)]), month_start, spike)


@dataclass(frozen=True)
class Catalog:
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
        q = np.where(
            high,
            np.searchsorted(_QUARTILE_CUM_HIGH, u * _QUARTILE_CUM_HIGH[-1]),
            np.searchsorted(_QUARTILE_CUM_LOW, u * _QUARTILE_CUM_LOW[-1]),
        )
        b = leaf * 4 + np.minimum(q, 3)
        return self.bucket_offset[b] + (rng.random(m) * self.bucket_count[b]).astype(np.int64)


def make_catalog(rng: np.random.Generator, n_customers: int) -> Catalog:
    """Products per leaf category with log-normal prices; ``products.csv`` in sku order."""
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
    return Catalog(
        table, sku, price, top_w / top_w.sum(), leaf_offset, leaf_count, bucket_offset, bucket_count
    )


@dataclass
class Persons:
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
    first_day: Arr  # first active day (index into the window)
    end_day: Arr  # end of activity (exclusive day index)
    n_orders: Arr
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


def make_persons(rng: np.random.Generator, n: int, cal: Calendar, n_stores: int) -> Persons:
    """The real people: who they are, when they buy and how often, and the habits planted on them."""
    n_days = cal.n_days
    gender = (rng.random(n) < 0.55).astype(np.int64)
    sw = np.array([x[3] for x in SURNAMES])
    surname = rng.choice(len(SURNAMES), n, p=sw / sw.sum())
    pool = np.where(gender == 1, len(FEMALE_CHARS), len(MALE_CHARS))
    last = (rng.random(n) * pool).astype(np.int64)
    first = np.where(rng.random(n) < 0.25, -1, (rng.random(n) * pool).astype(np.int64))
    age = np.clip(rng.gamma(6.0, 6.0, n) + 16, 18, 75)
    birth = cal.day0 - (age * 365.25).astype(np.int64)
    prefixes = np.array(MOBILE_PREFIXES, np.int64)
    cand = rng.choice(prefixes, int(n * 1.05) + 16) * 10**8 + rng.integers(0, 10**8, int(n * 1.05) + 16)
    cand = cand[cand != int(PLACEHOLDER_PHONE)]
    _uniq, first_seen = np.unique(cand, return_index=True)
    phone = cand[np.sort(first_seen)][:n]
    cw = np.array([c[3] for c in CITIES])
    city = rng.choice(len(CITIES), n, p=cw / cw.sum())
    occupation = np.where(rng.random(n) < 0.15, -1, rng.integers(0, len(OCCUPATIONS), n))

    # activity window and order count
    existing = rng.random(n) < 0.55
    first_day = np.where(existing, 0, rng.integers(0, max(n_days - 60, 1), n))
    end_day = np.full(n, n_days, np.int64)
    kind = rng.random(n)
    repeat = np.ceil(
        np.exp(rng.normal(np.log(8.0), 1.0, n)) * np.maximum((n_days - first_day) / n_days, 0.15)
    )
    n_orders = np.where(kind < 0.07, 0, np.where(kind < 0.33, 1, np.clip(repeat, 2, 300))).astype(np.int64)
    has_crm = rng.random(n) < 0.85
    has_app = rng.random(n) < 0.60
    identifiable = has_crm | has_app
    p_online = np.where(has_app, rng.beta(2.0, 2.2, n), 0.0)
    p_online = np.where(has_app & ~has_crm, 1.0, p_online)

    # churn: active buyers who stop in the last nine months
    churn_window = min(274, n_days // 3)
    churn_ok = n_orders >= 3
    churned = churn_ok & (rng.random(n) < min(0.95, 0.15 * n / max(churn_ok.sum(), 1)))
    churn_day = n_days - rng.integers(1, churn_window + 1, n)
    end_day = np.where(churned, churn_day, end_day)
    first_day = np.where(churned, np.minimum(first_day, np.maximum(churn_day - 150, 0)), first_day)

    # loyal repurchasers: regular interval, at least 12 orders, always identifiable
    span = end_day - first_day
    loyal_ok = identifiable & (span >= 13 * 14) & (n_orders >= 2)
    loyal = loyal_ok & (rng.random(n) < min(0.95, 0.10 * n / max(loyal_ok.sum(), 1)))
    interval = rng.uniform(14.0, np.maximum(np.minimum(45.0, span / 13), 14.0))
    loyal_first = first_day + (rng.random(n) * interval).astype(np.int64)
    n_loyal = np.floor((end_day - 1 - loyal_first) / interval).astype(np.int64) + 1
    n_orders = np.where(loyal, np.maximum(n_loyal, 1), n_orders)

    # habits need repetition to show: only persons with ≥ ~7 expected attributable orders
    attributable = n_orders * (has_app * p_online + has_crm * (1 - p_online) * 0.97)
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

    return Persons(
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
        first_day=first_day,
        end_day=end_day,
        n_orders=n_orders,
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


def person_names(p: Persons) -> dict[str, pa.Array]:
    """True name and its typo variants (homophone, traditional, full-width space), one per person."""
    pools = []
    for chars in (MALE_CHARS, FEMALE_CHARS):
        pools.append(
            {
                kind: ar.strings([c[i] for c in chars] + [""])
                for i, kind in enumerate(("simplified", "traditional", "homophone"))
            }
        )
    sur = ar.strings([x[0] for x in SURNAMES]).take(pa.array(p.surname))
    sur_t = ar.strings([x[1] for x in SURNAMES]).take(pa.array(p.surname))
    female = pa.array(p.gender == 1)

    def pick(kind: str, idx: Arr) -> pa.Array:
        f = pools[1][kind].take(pa.array(np.minimum(idx, len(FEMALE_CHARS))))
        m = pools[0][kind].take(pa.array(np.minimum(idx, len(MALE_CHARS))))
        return pc.if_else(female, f, m)

    first = np.where(p.first < 0, np.where(p.gender == 1, len(FEMALE_CHARS), len(MALE_CHARS)), p.first)
    name = ar.join(sur, pick("simplified", first), pick("simplified", p.last))
    return {
        "name": name,
        "homophone": ar.join(sur, pick("simplified", first), pick("homophone", p.last)),
        "traditional": ar.join(sur_t, pick("traditional", first), pick("traditional", p.last)),
        "spaced": ar.join(sur, "\u3000", pick("simplified", first), pick("simplified", p.last)),
    }


def phone_variants(rng: np.random.Generator, phone: Arr) -> pa.Array:
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


def noisy_email(rng: np.random.Generator, email: pa.Array, n: int) -> pa.Array:
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
