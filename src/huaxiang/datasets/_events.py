"""Behaviour events: the purchase sessions behind online orders, return visits, and browsing."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._app import AppUsers
from huaxiang.datasets._orders import Orders, order_hours
from huaxiang.datasets._population import Calendar, Catalog, Persons
from huaxiang.datasets._sales import OrderNumbers
from huaxiang.datasets._vocab import EVENTS, PLATFORMS

Arr = npt.NDArray[Any]


class Event(IntEnum):
    """Event types, numbered as :data:`~huaxiang.datasets._vocab.EVENTS` names them."""

    PAGE_VIEWED = 0
    PRODUCTS_SEARCHED = 1
    PRODUCT_VIEWED = 2
    PRODUCT_ADDED = 3
    ADDED_TO_WISHLIST = 4
    CHECKOUT_STARTED = 5
    ORDER_COMPLETED = 6
    PAYMENT_COMPLETED = 7
    RETURN_REQUESTED = 8


def make_events(
    rng: np.random.Generator,
    p: Persons,
    cal: Calendar,
    cat: Catalog,
    orders: Orders,
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
        Event.PAGE_VIEWED,
        np.where(
            rr < l2,
            np.where(rr % 2 == 0, Event.PRODUCT_VIEWED, Event.PRODUCT_ADDED),
            np.where(
                rr == l2,
                Event.CHECKOUT_STARTED,
                np.where(rr == l2 + 1, Event.ORDER_COMPLETED, Event.PAYMENT_COMPLETED),
            ),
        ),
    )
    item_start = np.cumsum(orders.lines) - orders.lines
    line = np.clip(rr // 2, 0, None)
    sku = np.where(
        (rr >= 0) & (rr < l2), orders.item_sku[item_start[on[owner]] + np.minimum(line, lines[owner] - 1)], -1
    )
    gap = np.exp(
        rng.normal(
            np.log(
                np.where(
                    code == Event.PAYMENT_COMPLETED, 15.0, np.where(code == Event.ORDER_COMPLETED, 40.0, 25.0)
                )
            ),
            0.8,
        )
    )
    gap[r == 0] = 0.0
    cum = np.cumsum(gap)
    cum_s = cum - cum[starts[owner]]
    oc = starts + pv + 2 * lines + 1
    t_p = orders.ts[on][owner] + np.round(cum_s - cum_s[oc[owner]]).astype(np.int64)
    login = np.where(rng.random(no) < 0.6, 0, (rng.random(no) * (pv + 2 * lines + 1)).astype(np.int64))
    user_p = np.where(r >= login[owner], app_of[person_o[owner]], -1)
    order_p = np.where(code >= Event.ORDER_COMPLETED, on[owner], -1)
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
        [
            [Event.PAGE_VIEWED, -1, -1],
            [Event.PAGE_VIEWED, Event.PRODUCT_VIEWED, -1],
            [Event.PRODUCTS_SEARCHED, Event.PRODUCT_VIEWED, -1],
            [Event.PRODUCT_VIEWED, Event.PRODUCT_ADDED, -1],
            [Event.PRODUCT_VIEWED, Event.ADDED_TO_WISHLIST, -1],
            [Event.PRODUCT_VIEWED, Event.PRODUCT_ADDED, Event.CHECKOUT_STARTED],
        ]
    )
    t_len = (templates >= 0).sum(axis=1)
    s_type = rng.choice(len(templates), ns, p=[0.35, 0.33, 0.17, 0.09, 0.04, 0.02])
    s_day = cal.sample_days(rng, p.first_day[s_person], p.end_day[s_person])
    s_hour = order_hours(rng, ns, p.night[s_person], np.zeros(ns, bool))
    s_start = (cal.day0 + s_day) * 86400 + s_hour * 3600 + rng.integers(0, 3600, ns)
    s_owner, s_r, s_starts = ar.expand(t_len[s_type])
    x_code = templates[s_type[s_owner], s_r]
    x_gap = np.exp(rng.normal(np.log(30.0), 0.9, len(s_owner)))
    x_gap[s_r == 0] = 0.0
    x_cum = np.cumsum(x_gap)
    x_t = s_start[s_owner] + np.round(x_cum - x_cum[s_starts[s_owner]]).astype(np.int64)
    x_person = s_person[s_owner]
    product = (
        (x_code == Event.PRODUCT_VIEWED)
        | (x_code == Event.PRODUCT_ADDED)
        | (x_code == Event.ADDED_TO_WISHLIST)
    )
    x_sku = np.where(product, cat.pick(rng, p.top_pref[x_person], p.high[x_person]), -1)
    logged = rng.random(ns) < 0.5
    x_user = np.where(logged[s_owner], app_of[x_person], -1)
    s_chan = np.where(rng.random(ns) < 0.8, p.platform[s_person], rng.integers(0, 3, ns))

    person_all = np.concatenate([person_o[owner], person_o[ref], x_person])
    ts = np.concatenate([t_p, t_r, x_t])
    lo = cal.day0 * 86400
    hi = (cal.day0 + p.end_day[person_all]) * 86400 - 1
    ts = np.clip(ts, lo, hi)
    n_sessions = n_base + len(ref) + ns
    session_perm = 1 + rng.permutation(n_sessions)
    session = np.concatenate([sess_p, n_base + np.arange(len(ref)), n_base + len(ref) + s_owner])
    # narrow dtypes: these arrays are the largest of the run (tens of millions of events)
    return {
        "ts": ts,
        "code": np.concatenate([code, np.full(len(ref), Event.RETURN_REQUESTED), x_code]).astype(np.int8),
        "sku": np.concatenate([sku, np.full(len(ref), -1), x_sku]).astype(np.int32),
        "order": np.concatenate([order_p, on[ref], np.full(len(x_code), -1)]),
        "user": np.concatenate([user_p, app_of[person_o[ref]], x_user]).astype(np.int32),
        "device": device_of_app[app_of[person_all]].astype(np.int32),
        "channel": np.concatenate([chan_p, orders.platform[on][ref], s_chan[s_owner]]).astype(np.int8),
        "session": session_perm[session].astype(np.int64),
    }


def events_table(ev: dict[str, Arr], cat: Catalog, app: AppUsers, numbers: OrderNumbers) -> pa.Table:
    """``events.parquet``: the events of :func:`make_events` with their ids, dictionary-encoded."""
    online_pos = np.full(len(numbers.number), -1, np.int64)
    online_pos[numbers.online] = np.arange(len(numbers.online))
    ne = len(ev["ts"])
    return pa.table(
        {
            "event_id": ar.ids("E", np.arange(1, ne + 1), 10),
            "anonymous_id": ar.dictionary(app.device_id, ev["device"]),
            "user_id": ar.dictionary(app.user_id, ev["user"]),
            "ts": pa.array(ev["ts"] * 1000, pa.timestamp("ms")),
            "event": ar.dictionary(ar.strings(EVENTS), ev["code"]),
            "channel": ar.dictionary(ar.strings(PLATFORMS), ev["channel"]),
            "session_id": ar.ids("SS", ev["session"], 10),
            "sku": ar.dictionary(cat.sku, ev["sku"]),
            "order_id": ar.take(
                numbers.online_id, np.where(ev["order"] >= 0, online_pos[np.maximum(ev["order"], 0)], -1)
            ),
        }
    )
