"""The app family of sources: accounts (``app_users.jsonl``) and the reviews they write
(``reviews.jsonl``); their behaviour events are in :mod:`huaxiang.datasets._events`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._orders import Orders
from huaxiang.datasets._population import Calendar, Persons, noisy_email, phone_variants
from huaxiang.datasets._vocab import NICK_HEAD, NICK_TAIL, ONLINE_STATUS, PLATFORMS, REVIEW_TEXT

Arr = npt.NDArray[Any]

_MINI_PROGRAM = PLATFORMS.index("mini_program")  # signs up with a WeChat openid
_CANCELLED = ONLINE_STATUS.index("已取消")
_REFUNDED = ONLINE_STATUS.index("已退款")


@dataclass(frozen=True)
class AppUsers:
    """The app's accounts: one per app person, in registration order; families share devices."""

    person: Arr  # person index of each account
    registered: Arr  # per person: epoch seconds of the sign-up
    row_of_person: Arr  # per person: account row, -1 = none
    user_id: pa.Array
    device_of_account: Arr  # device row of each account (a family's accounts share one)
    device_id: pa.Array  # device id string per device row

    @property
    def n(self) -> int:
        """Number of accounts."""
        return len(self.person)


def register_app_users(rng: np.random.Generator, p: Persons, cal: Calendar) -> AppUsers:
    """Who has an app account, since when, and the ~3 % of devices a family shares."""
    n = p.n
    person = np.flatnonzero(p.has_app)
    reg_day = np.where(p.first_day == 0, -rng.integers(1, 4 * 365, n), p.first_day)
    registered = (cal.day0 + reg_day) * 86400 + rng.integers(7 * 3600, 23 * 3600, n)
    person = person[np.argsort(registered[person], kind="stable")]
    na = len(person)
    row_of_person = np.full(n, -1, np.int64)
    row_of_person[person] = np.arange(na)
    user_id = ar.ids("U", 10_000_000 + np.arange(1, na + 1), 8)
    # families: ~3 % of devices are shared by 2–3 app users
    device_of_account = np.arange(na)
    n_shared = round(0.03 * na / 1.03 / 1.0)
    heads = rng.choice(na, n_shared, replace=False) if n_shared else np.zeros(0, np.int64)
    others = np.setdiff1d(np.arange(na), heads)
    n_members = np.where(rng.random(n_shared) < 0.7, 1, 2)
    members = rng.choice(others, int(n_members.sum()), replace=False) if n_shared else np.zeros(0, np.int64)
    device_of_account[members] = np.repeat(heads, n_members)
    device_id = ar.random_tokens(rng, na, 16, b"0123456789abcdef")
    return AppUsers(person, registered, row_of_person, user_id, device_of_account, device_id)


def app_users_table(rng: np.random.Generator, p: Persons, app: AppUsers, unionid: pa.Array) -> pa.Table:
    """``app_users.jsonl``: verified phones, WeChat ids for mini-program sign-ups, nicknames."""
    na, pa_app = app.n, pa.array(app.person)
    # mainland apps verify a mobile number at sign-up: only legacy / overseas accounts (1 %) lack one
    a_phone = ar.masked(phone_variants(rng, p.phone[app.person]), rng.random(na) < 0.01)
    a_email = ar.masked(noisy_email(rng, p.email.take(pa_app), na), rng.random(na) < 0.45)
    a_platform = p.platform[app.person]
    has_openid = (a_platform == _MINI_PROGRAM) | (rng.random(na) < 0.3)
    openid = ar.masked(
        ar.join(
            "oU",
            ar.random_tokens(rng, na, 26, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
        ),
        ~has_openid,
    )
    a_union = ar.masked(
        unionid.take(pa_app), ~(has_openid & p.has_unionid[app.person] & (rng.random(na) < 0.9))
    )
    nick = ar.join(
        ar.strings(NICK_HEAD).take(pa.array(rng.integers(0, len(NICK_HEAD), na))),
        ar.strings(NICK_TAIL).take(pa.array(rng.integers(0, len(NICK_TAIL), na))),
        pc.if_else(
            pa.array(rng.random(na) < 0.5), pc.cast(pa.array(rng.integers(1, 9999, na)), pa.string()), ""
        ),
    )
    return pa.table(
        {
            "user_id": app.user_id,
            "phone": a_phone,
            "email": a_email,
            "wechat_openid": openid,
            "wechat_unionid": a_union,
            "device_id": app.device_id.take(pa.array(app.device_of_account)),
            "nickname": nick,
            "registered_at": ar.format_ts(app.registered[app.person], sep=b"T", suffix=b"+08:00"),
            "signup_channel": ar.strings(PLATFORMS).take(pa.array(a_platform)),
        }
    )


def reviews_table(
    rng: np.random.Generator, p: Persons, cal: Calendar, orders: Orders, app: AppUsers, online_rows: Arr
) -> pa.Table:
    """``reviews.jsonl``: ~6 % of paid online orders reviewed a few days later; refunds rate low."""
    paid_on = online_rows[orders.status[online_rows] != _CANCELLED]
    r_ord = paid_on[rng.random(len(paid_on)) < 0.06]
    r_person = orders.person[r_ord]
    r_ts = orders.ts[r_ord] + rng.integers(86400, 9 * 86400, len(r_ord))
    keep = r_ts < (cal.day0 + p.end_day[r_person]) * 86400
    r_ord, r_person, r_ts = r_ord[keep], r_person[keep], r_ts[keep]
    nr = len(r_ord)
    rating = np.where(
        orders.status[r_ord] == _REFUNDED,
        rng.integers(1, 3, nr),
        rng.choice(5, nr, p=[0.04, 0.04, 0.12, 0.3, 0.5]) + 1,
    )
    texts = [t for group in REVIEW_TEXT for t in group]
    offsets = np.cumsum([0] + [len(gr) for gr in REVIEW_TEXT])
    counts = np.diff(offsets)
    text_idx = offsets[rating - 1] + (rng.random(nr) * counts[rating - 1]).astype(np.int64)
    return pa.table(
        {
            "review_id": ar.ids("R", np.arange(1, nr + 1), 8),
            "user_id": app.user_id.take(pa.array(app.row_of_person[r_person])),
            "ts": ar.format_ts(r_ts, sep=b"T", suffix=b"+08:00"),
            "rating": pa.array(rating),
            "text": ar.strings(texts).take(pa.array(text_idx)),
        }
    )
