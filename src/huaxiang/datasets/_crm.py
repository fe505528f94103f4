"""The CRM family of sources: member records (``crm_members.csv``), the service tickets raised
against them (``service_tickets.xlsx``) and the campaigns sent to them (``campaign_touches.csv``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._population import PLACEHOLDER_PHONE, Calendar, Persons, noisy_email, phone_variants
from huaxiang.datasets._vocab import CITIES, LEVELS, OCCUPATIONS, TICKET_TEXT, TICKET_TYPES

Arr = npt.NDArray[Any]

#: How the CRM writes a gender, by code: the person's gender (0 male, 1 female) in Chinese, the
#: same in Latin letters (code + 2), or blank.
GENDER_LABELS = ("男", "女", "M", "F", "")
_GENDER_LATIN_OFFSET, _GENDER_BLANK = 2, 4
#: A misspelt name: 0 = as the person writes it, else one of these variants (see ``person_names``).
NAME_TYPOS = ("homophone", "traditional", "spaced")
#: Orders a member needs for each level of :data:`~huaxiang.datasets._vocab.LEVELS` above the first.
LEVEL_ORDERS = (5, 15, 40)
_NEVER = 2**62  # a registration time no order reaches


@dataclass(frozen=True)
class CrmMembers:
    """The CRM's member records: one per CRM person, plus a second record for the re-registered."""

    person: Arr  # person index of each record, records in registration order
    is_second: Arr  # the record is a person's second registration
    registered: Arr  # epoch seconds
    primary_row: Arr  # per person: row of the first record, -1 = none
    second_row: Arr  # per person: row of the second record, -1 = none
    second_registered: Arr  # per person: epoch seconds of the second registration (never: 2**62)
    member_id: pa.Array
    card: pa.Array  # member card number per record

    @property
    def n(self) -> int:
        """Number of records."""
        return len(self.person)


def register_crm_members(rng: np.random.Generator, p: Persons, cal: Calendar) -> CrmMembers:
    """Who has a CRM record, since when, and the ~2 % who registered a second time."""
    n = p.n
    # existing members registered before the window
    reg_day = np.where(p.first_day == 0, -rng.integers(1, 5 * 365, n), p.first_day)
    reg_ts = (cal.day0 + reg_day) * 86400 + rng.integers(9 * 3600, 21 * 3600, n)
    second_ok = p.has_crm & (p.end_day - p.first_day >= 120)
    second = second_ok & (rng.random(n) < min(0.9, 0.02 * n / max(int(second_ok.sum()), 1)))
    second_day = (
        p.first_day + 30 + (rng.random(n) * np.maximum(p.end_day - p.first_day - 60, 1)).astype(np.int64)
    )
    second_reg = np.where(
        second, (cal.day0 + second_day) * 86400 + rng.integers(9 * 3600, 21 * 3600, n), _NEVER
    )
    person = np.concatenate([np.flatnonzero(p.has_crm), np.flatnonzero(second)])
    is_second = np.concatenate([np.zeros(int(p.has_crm.sum()), bool), np.ones(int(second.sum()), bool)])
    registered = np.where(is_second, second_reg[person], reg_ts[person])
    order = np.argsort(registered, kind="stable")
    person, is_second, registered = person[order], is_second[order], registered[order]
    nc = len(person)
    primary_row = np.full(n, -1, np.int64)
    second_row = np.full(n, -1, np.int64)
    primary_row[person[~is_second]] = np.flatnonzero(~is_second)
    second_row[person[is_second]] = np.flatnonzero(is_second)
    member_id = ar.ids("M", np.arange(1, nc + 1), 7)
    reg_year = ar.ymd(registered // 86400)[0]
    card = ar.fixed_width(nc, [b"C", (reg_year, 4), (np.arange(1, nc + 1), 7)])
    return CrmMembers(person, is_second, registered, primary_row, second_row, second_reg, member_id, card)


def crm_members_table(
    rng: np.random.Generator, p: Persons, names: dict[str, pa.Array], crm: CrmMembers, unionid: pa.Array
) -> pa.Table:
    """``crm_members.csv``: names with typos, genders four ways, noisy phones and e-mails, levels."""
    nc, person = crm.n, crm.person
    typo = rng.random(nc) < np.where(crm.is_second, 0.3, 0.03)
    trad_differs = pc.not_equal(names["traditional"], names["name"]).to_numpy(zero_copy_only=False)
    typo_kind = rng.choice(len(NAME_TYPOS), nc, p=[0.45, 0.30, 0.25])
    traditional = NAME_TYPOS.index("traditional")
    typo_kind = np.where((typo_kind == traditional) & ~trad_differs[person], 0, typo_kind)
    pa_person = pa.array(person)
    crm_name = pc.choose(
        pa.array(np.where(typo, typo_kind + 1, 0).astype(np.int8)),
        names["name"].take(pa_person),
        *(names[kind].take(pa_person) for kind in NAME_TYPOS),
    )
    g = p.gender[person]
    u = rng.random(nc)
    gender_code = np.where(u < 0.01, _GENDER_BLANK, np.where(u < 0.025, g + _GENDER_LATIN_OFFSET, g)).astype(
        np.int8
    )
    gender = pc.choose(pa.array(gender_code), *(ar.strings([label] * nc) for label in GENDER_LABELS))
    gender = ar.masked(gender, gender_code == _GENDER_BLANK)
    birth = ar.masked(ar.format_date(p.birth[person], b"/"), rng.random(nc) < 0.10)
    phone = phone_variants(rng, p.phone[person])
    u = rng.random(nc)
    phone = pc.if_else(pa.array(u < 0.005), pa.scalar(PLACEHOLDER_PHONE), phone)
    phone = ar.masked(phone, (u >= 0.005) & (u < 0.055) & ~crm.is_second)
    email = noisy_email(rng, p.email.take(pa_person), nc)
    email = ar.masked(email, rng.random(nc) < 0.08)  # on top of persons without e-mail: ~40 % blank
    province = ar.strings([c[0] for c in CITIES]).take(pa.array(p.city[person]))
    city = ar.strings([c[1] for c in CITIES]).take(pa.array(p.city[person]))
    city = pc.if_else(pa.array(rng.random(nc) < 0.15), ar.join(city, "市"), city)
    occ = ar.take(ar.strings(OCCUPATIONS), p.occupation[person])
    n_orders = p.n_orders[person]
    level = np.searchsorted(np.array(LEVEL_ORDERS), n_orders, side="right")
    top_level = len(LEVELS) - 1
    level = np.where(p.high[person] & (n_orders >= 10), top_level, level)
    crm_union = ar.masked(unionid.take(pa_person), ~(p.has_unionid[person] & (rng.random(nc) < 0.83)))
    return pa.table(
        {
            "会员编号": crm.member_id,
            "姓名": crm_name,
            "性别": gender,
            "出生日期": birth,
            "手机号": phone,
            "邮箱": email,
            "省份": province,
            "城市": city,
            "职业": occ,
            "会员等级": ar.strings(LEVELS).take(pa.array(level)),
            "注册时间": ar.format_ts(crm.registered),
            "会员卡号": crm.card,
            "unionid": crm_union,
            "营销同意": ar.strings(["否", "是"]).take(pa.array(p.consent[person].astype(np.int64))),
        }
    )


def service_tickets_frame(
    rng: np.random.Generator, p: Persons, cal: Calendar, crm: CrmMembers
) -> pd.DataFrame:
    """``service_tickets.xlsx``: a sample of at most 20k tickets, more from members who buy more."""
    nt = int(min(20_000, max(20, round(0.05 * crm.n))))
    weight = 1.0 + p.n_orders[crm.person]
    t_row = rng.choice(crm.n, nt, p=weight / weight.sum())
    t_person = crm.person[t_row]
    t_day = cal.sample_days(rng, p.first_day[t_person], p.end_day[t_person])
    t_ts = (cal.day0 + t_day) * 86400 + rng.integers(8 * 3600, 22 * 3600, nt)
    t_ts = np.sort(t_ts)
    t_type = rng.choice(len(TICKET_TYPES), nt, p=[0.25, 0.5, 0.25])
    complaint = TICKET_TYPES.index("投诉")
    sat = np.clip(np.round(rng.normal(np.where(t_type == complaint, 2.3, 4.2), 1.0)), 1, 5)
    text_pick = [
        TICKET_TEXT[t][i % len(TICKET_TEXT[t])]
        for t, i in zip(t_type.tolist(), rng.integers(0, 60, nt).tolist(), strict=True)
    ]  # ≤ 20k rows
    return pd.DataFrame(
        {
            "工单号": ar.ids("TK", np.arange(1, nt + 1), 7).to_pylist(),
            "会员编号": crm.member_id.take(pa.array(t_row)).to_pylist(),
            "创建时间": pd.to_datetime(t_ts, unit="s").to_pydatetime().tolist(),
            "类型": [TICKET_TYPES[t] for t in t_type.tolist()],
            "满意度": [
                None if b else int(v)
                for v, b in zip(sat.tolist(), (rng.random(nt) < 0.2).tolist(), strict=True)
            ],
            "内容": text_pick,
        }
    )


#: The steps of a campaign touch, each a subset of the one before.
TOUCH_ACTIONS = ("sent", "opened", "clicked", "converted")


def campaign_touches_table(rng: np.random.Generator, p: Persons, cal: Calendar, crm: CrmMembers) -> pa.Table:
    """``campaign_touches.csv``: monthly campaigns plus festival warm-ups to consenting members,
    sent ⊃ opened ⊃ clicked ⊃ converted."""
    crm_person, crm_reg, member_id = crm.person, crm.registered, crm.member_id
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
    end_ts = (cal.day0 + p.end_day[person]) * 86400
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
            "action": ar.strings(TOUCH_ACTIONS).take(pa.array(action)),
        }
    )
