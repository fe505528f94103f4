"""How a person buys: time patterns, payday, channel, payment, promotion, returns.

All shares are over the person's purchases (paid or pending orders) before ``as_of``:

- ``peak_hour`` (0–23) and ``peak_weekday`` (0 = Monday) — the most frequent, earliest on ties;
- ``share_night_orders``: placed from 22:00 to 01:59; ``share_weekend_orders``: Saturday or Sunday;
- ``share_payday_orders``: placed on the payday (day of month, default 10) or the following
  ``payday_window - 1`` days; ``payday_lift``: that share over the share of calendar days the window
  covers (window / 30.44), so 1.0 means no payday effect;
- ``share_discounted_orders``: with a discount or a promotion id; ``avg_discount_depth``: mean of
  discount / (amount + discount) over discounted orders;
- ``top_channel``/``top_channel_share``, ``share_app`` … ``share_store``, ``channel_count``;
  ``top_payment_method``/``top_payment_share``;
- ``share_festival_orders``: placed during a shopping festival (:data:`FESTIVALS`);
- ``share_refunded_orders``: cancelled or refunded orders (credit notes excluded) over all orders.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

CHANNELS = ("app", "mini_program", "web", "store")

#: Shopping festivals as (month, first day, last day): 618 (Jun 1–18), Double 11 (Nov 1–11),
#: Double 12 (Dec 12). Spring Festival moves with the lunar calendar and is not in this first list.
FESTIVALS: tuple[tuple[int, int, int], ...] = ((6, 1, 18), (11, 1, 11), (12, 12, 12))


def _in_festival(ts: ir.TimestampValue) -> ir.BooleanValue:
    month, day = ts.month(), ts.day()
    hits = [(month == m) & (day >= a) & (day <= b) for m, a, b in FESTIVALS]
    out = hits[0]
    for h in hits[1:]:
        out = out | h
    return out


def _top(t: ir.Table, column: str, name: str, share_name: str) -> ir.Table:
    """Per person: the most frequent non-null value of ``column`` and its share of non-null values."""
    known = t.filter(t[column].notnull())
    counts = known.group_by(["person_id", column]).aggregate(n=known.count())
    w = ibis.window(group_by=counts.person_id, order_by=[ibis.desc(counts.n), counts[column]])
    ranked = counts.mutate(rank=ibis.row_number().over(w), total=counts.n.sum().over(group_by=counts.person_id))
    top = ranked.filter(ranked["rank"] == 0)
    return top.select("person_id", **{name: top[column], share_name: top.n / top.total})


def compute_habits(orders: ir.Table, *, payday: int = 10, payday_window: int = 5) -> ir.Table:
    """One row per person with the habit columns, from :func:`person_orders` rows."""
    purchases = orders.filter(orders.is_purchase)
    hour = purchases.order_ts.hour()
    weekday = purchases.order_ts.day_of_week.index()
    day = purchases.order_ts.day()
    discounted = (purchases.discount_amount.fill_null(0) > 0) | purchases.promo_id.notnull()
    depth = purchases.discount_amount.fill_null(0) / (purchases.amount + purchases.discount_amount.fill_null(0))
    p = purchases.mutate(
        _hour=hour, _weekday=weekday, _night=(hour >= 22) | (hour < 2), _weekend=weekday >= 5,
        _payday=(day >= payday) & (day < payday + payday_window), _disc=discounted,
        _festival=_in_festival(purchases.order_ts),
        _depth=ibis.ifelse(discounted & (purchases.amount + purchases.discount_amount.fill_null(0) > 0), depth,
                           ibis.null("float64")),
    )
    shares = p.group_by("person_id").aggregate(
        share_night_orders=p._night.mean(),
        share_weekend_orders=p._weekend.mean(),
        share_payday_orders=p._payday.mean(),
        share_discounted_orders=p._disc.mean(),
        share_festival_orders=p._festival.mean(),
        avg_discount_depth=p._depth.mean(),
        channel_count=p.channel.nunique(),
        **{f"share_{c}": (p.channel == c).mean() for c in CHANNELS},
    )
    shares = shares.mutate(payday_lift=shares.share_payday_orders / (payday_window / 30.44))
    voided = orders.status.isin(["cancelled", "refunded"]) & (orders.amount >= 0)
    returns = orders.group_by("person_id").aggregate(share_refunded_orders=voided.mean())
    out = shares.left_join(returns, "person_id").drop("person_id_right")
    for column, name, share in (("_hour", "peak_hour", None), ("_weekday", "peak_weekday", None),
                                ("channel", "top_channel", "top_channel_share"),
                                ("payment_method", "top_payment_method", "top_payment_share")):
        top = _top(p, column, name, share or "_hx_share")
        if share is None:
            top = top.drop("_hx_share")
        out = out.left_join(top, "person_id").drop("person_id_right")
    return out
