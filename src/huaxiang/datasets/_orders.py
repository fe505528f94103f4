"""Orders and their lines: when each person buys, where, how, and what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._population import Calendar, Catalog, Persons
from huaxiang.datasets._vocab import HOUR_ONLINE, HOUR_STORE

Arr = npt.NDArray[Any]

_HOUR_ONLINE_P = np.array(HOUR_ONLINE) / np.sum(HOUR_ONLINE)
_HOUR_STORE_P = np.array(HOUR_STORE) / np.sum(HOUR_STORE)
_NIGHT_HOURS = np.array([22, 23, 0, 1])
_NIGHT_P = np.array([0.35, 0.35, 0.2, 0.1])


@dataclass
class Orders:
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


def order_hours(rng: np.random.Generator, n: int, night: Arr, store: Arr) -> Arr:
    h_on = rng.choice(24, n, p=_HOUR_ONLINE_P)
    h_st = rng.choice(24, n, p=_HOUR_STORE_P)
    h_night = np.where(store, 22, rng.choice(_NIGHT_HOURS, n, p=_NIGHT_P))
    return np.where(night & (rng.random(n) < 0.8), h_night, np.where(store, h_st, h_on))


def make_orders(
    rng: np.random.Generator,
    p: Persons,
    cal: Calendar,
    cat: Catalog,
    crm_primary: Arr,
    crm_dup: Arr,
    dup_reg: Arr,
    n_stores: int,
) -> Orders:
    owner, pos, _ = ar.expand(p.n_orders)
    m = len(owner)
    day = cal.sample_days(rng, p.first_day[owner], p.end_day[owner])
    lo = p.loyal[owner]
    jitter = rng.normal(0.0, 0.15, m) * p.loyal_interval[owner]
    day_loyal = np.round(p.loyal_first[owner] + pos * p.loyal_interval[owner] + jitter).astype(np.int64)
    day = np.where(lo, np.clip(day_loyal, p.first_day[owner], p.end_day[owner] - 1), day)
    shift = p.payday[owner] & (rng.random(m) < 0.85)
    moved = cal.month_start[day] + 9 + rng.integers(0, 5, m)
    ok = shift & (moved >= p.first_day[owner]) & (moved < p.end_day[owner])
    day = np.where(ok, moved, day)

    online = p.has_app[owner] & (rng.random(m) < p.p_online[owner])
    hour = order_hours(rng, m, p.night[owner], ~online)
    ts = (cal.day0 + day) * 86400 + hour * 3600 + rng.integers(0, 3600, m)
    order = np.argsort(ts, kind="stable")
    owner, ts, online, day = owner[order], ts[order], online[order], day[order]

    lines = np.minimum(1 + rng.poisson(0.4, m), 8)
    p_disc = np.where(p.promo[owner], 0.85, 0.09 + 0.25 * cal.spike[day])
    discount_flag = rng.random(m) < p_disc
    depth = np.where(p.promo[owner], rng.uniform(0.15, 0.30, m), rng.uniform(0.05, 0.15, m))
    end_ts = (cal.day0 + p.end_day[owner]) * 86400
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
    return Orders(
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
