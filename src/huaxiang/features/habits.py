"""How a person buys: time patterns, payday, festivals, channel, payment, promotion, returns.

All shares are over the person's purchases (see :func:`huaxiang.features.persons.person_orders`)
before ``as_of``, times in the workspace's local time as stored:

- ``peak_hour`` (0–23), ``peak_weekday`` (0 = Monday), ``peak_month`` (1–12): the most frequent,
  the smallest on ties;
- ``share_night_orders``: placed in the night hours (default 22:00–01:59);
  ``share_weekend_orders``: Saturday or Sunday;
- ``share_payday_orders``: placed on a payday (day of month, default the 10th) or the
  ``payday_window - 1`` days after it (a window running past the month's end continues into the next
  month); ``payday_lift``: that share over the share of calendar days the windows cover
  (covered days / 30.44), so 1.0 means no payday effect;
- ``share_festival_orders``: placed during a shopping festival of the calendar
  (:data:`huaxiang.features.settings.DEFAULT_FESTIVALS`);
- ``share_discounted_orders``: with a discount or a promotion id; ``avg_discount_depth``: mean of
  discount / (amount + discount) over discounted purchases;
- ``top_channel``/``top_channel_share``, ``share_app`` … ``share_store``, ``channel_count``;
  ``top_payment_method``/``top_payment_share`` (over purchases with a known value);
- ``share_refunded_orders``: cancellations over orders placed — (voided orders + credit notes) /
  (purchases + voided orders), capped at 1. A credit note (a negative cancellation invoice such as
  Online Retail's ``C…``) cancels an earlier purchase; a voided order is a cancelled or refunded
  order with a non-negative amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from huaxiang.features.settings import FeatureSettings, Festival
from huaxiang.schema import ENUMS

CHANNELS = ("app", "mini_program", "web", "store")


def in_festival(ts: ir.TimestampValue, festivals: Sequence[Festival]) -> ir.BooleanValue:
    """Whether ``ts`` falls in one of ``festivals`` (bounds inclusive).

    >>> import ibis
    >>> from huaxiang.features.settings import DEFAULT_FESTIVALS
    >>> ts = ibis.timestamp("2024-02-05 12:00:00")  # 5 days before the 2024 Spring Festival
    >>> bool(in_festival(ts, DEFAULT_FESTIVALS).execute())
    True
    """
    if not festivals:
        return ibis.literal(False)
    month_day = ts.month() * 100 + ts.day()
    day = ts.date()
    hits: list[ir.BooleanValue] = []
    for f in festivals:
        if f.recurring:
            lo, hi = (int(v.replace("-", "")) for v in (f.start, f.end))
            hits.append(month_day.between(lo, hi))
        else:
            hits.append(day.between(ibis.date(date.fromisoformat(f.start)), ibis.date(date.fromisoformat(f.end))))
    out = hits[0]
    for h in hits[1:]:
        out = out | h
    return out


def in_payday_window(ts: ir.TimestampValue, paydays: Sequence[int], window: int) -> ir.BooleanValue:
    """Whether ``ts`` is on a payday or in the ``window - 1`` days after it.

    >>> import ibis
    >>> bool(in_payday_window(ibis.timestamp("2024-03-02 08:00:00"), [28], 5).execute())  # Feb 28 + 3 days
    True
    """
    day = ts.day()
    out: ir.BooleanValue | None = None
    for p in paydays:
        if p + window - 1 <= 28:
            hit = day.between(p, p + window - 1)
        else:  # runs past the end of a short month: count back up to window - 1 days
            d = ts.date()
            hit = day == p
            for k in range(1, window):
                hit = hit | ((d - ibis.interval(days=k)).day() == p)
        out = hit if out is None else out | hit
    assert out is not None
    return out


def payday_expected_share(paydays: Sequence[int], window: int) -> float:
    """Share of an average month's days inside the payday windows (the baseline of ``payday_lift``).

    >>> round(payday_expected_share([10], 5), 4)
    0.1643
    """
    covered = {(p + k - 1) % 30 for p in paydays for k in range(window)}
    return min(len(covered) / 30.44, 1.0)


def in_hours(hour: ir.IntegerValue, hours: tuple[int, int]) -> ir.BooleanValue:
    """Whether ``hour`` is in ``[start, end)``, wrapping past midnight when start > end."""
    start, end = hours
    if start < end:
        return (hour >= start) & (hour < end)
    return (hour >= start) | (hour < end)


def top_value(t: ir.Table, column: str, name: str, share_name: str | None = None,
              count_name: str | None = None) -> ir.Table:
    """Per person: the most frequent non-null value of ``column`` (smallest on ties), its share and
    (``count_name``) the number of distinct non-null values.

    Group-bys and a join on person, no window (a sort per person costs more than hashing).
    """
    known = t.filter(t[column].notnull())
    counts = known.group_by(["person_id", column]).aggregate(_n=known.count())
    best = counts.group_by("person_id").aggregate(_max=counts._n.max(), _total=counts._n.sum(),
                                                  _values=counts.count())
    j = counts.inner_join(best, "person_id")
    j = j.filter(j._n == j._max)
    top = j.group_by("person_id").aggregate(
        _value=j[column].min(), _max=j._max.max(), _total=j._total.max(), _values=j._values.max()
    )
    columns: dict[str, ir.Value] = {name: top._value}
    if share_name is not None:
        columns[share_name] = top._max / top._total
    if count_name is not None:
        columns[count_name] = top._values
    return top.select("person_id", **columns)


def peak_value(t: ir.Table, column: str, name: str) -> ir.Table:
    """Per person: the most frequent non-null value of the small non-negative integer ``column``
    (below 32: an hour, weekday or month), the smallest on ties — :func:`top_value` without a window.

    The count and the value are packed into one number (count × 32 + 31 − value) whose maximum
    decodes to the most frequent value, the smallest of equally frequent ones.
    """
    known = t.filter(t[column].notnull())
    counts = known.group_by(["person_id", column]).aggregate(_n=known.count())
    best = counts.group_by("person_id").aggregate(_k=(counts._n * 32 + (31 - counts[column])).max())
    return best.select("person_id", **{name: (31 - best._k % 32).cast(t[column].type())})


def argmax_of_counts(counts: Sequence[tuple[object, ir.IntegerValue]]) -> tuple[ir.Value, ir.IntegerValue]:
    """The value with the largest count (the first listed on ties; NULL when all counts are 0) and
    that count, from ``(value, count)`` pairs listed smallest value first.

    The count and the value's position are packed into one integer (count × n + n − 1 − position),
    so one ``greatest`` finds both.

    >>> import ibis
    >>> value, n = argmax_of_counts([("a", ibis.literal(2)), ("b", ibis.literal(3)), ("c", ibis.literal(3))])
    >>> (value.execute(), int(n.execute()))
    ('b', 3)
    """
    n = len(counts)
    packed = ibis.greatest(*[c.cast("int64") * n + (n - 1 - i) for i, (_, c) in enumerate(counts)])
    position = (n - 1) - packed % n
    best = packed // n
    value = ibis.cases(*[(position == i, ibis.literal(v)) for i, (v, _) in enumerate(counts)])
    return ibis.ifelse(best > 0, value, ibis.null(value.type())), best


def compute_habits(orders: ir.Table, settings: FeatureSettings | None = None) -> ir.Table:
    """One row per buying person with the habit columns, from :func:`person_orders` rows.

    One grouped pass over the purchases gives the shares and counts every channel and payment
    method (``channel`` and ``payment_method`` hold the canonical values of
    :data:`huaxiang.schema.ENUMS`, which ingest enforces); the top ones are the largest counts.
    The hour, weekday and month peaks come from :func:`peak_value` — 43 more counts in the one
    pass measured slower (10M orders: 9.8 s for all in one pass, 7.7 s this way).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> o = ibis.memtable(pd.DataFrame({
    ...     "person_id": ["a", "a"], "order_ts": pd.to_datetime(["2024-06-10 23:00", "2024-07-02 12:00"]),
    ...     "amount": [10.0, 20.0], "discount_amount": [0.0, 5.0], "promo_id": [None, None],
    ...     "channel": ["app", "store"], "payment_method": ["alipay", "cash"], "status": ["paid", "paid"],
    ...     "is_purchase": [True, True]}))
    >>> h = compute_habits(o).execute().iloc[0]
    >>> [float(h[c]) for c in ("share_night_orders", "share_payday_orders", "share_festival_orders",
    ...                      "share_discounted_orders")]
    [0.5, 0.5, 0.5, 0.5]
    >>> (h.top_channel, int(h.channel_count), int(h.peak_hour), int(h.peak_month))
    ('app', 2, 12, 6)
    """
    s = settings or FeatureSettings()
    ts = orders.order_ts
    hour = ts.hour()
    weekday = ts.day_of_week.index()
    discount = orders.discount_amount.fill_null(0)
    discounted = (discount > 0) | orders.promo_id.notnull()
    gross = orders.amount + discount
    o = orders.mutate(
        _hour=hour, _weekday=weekday, _month=ts.month(),
        _night=in_hours(hour, s.night_hours), _weekend=weekday >= 5,
        _payday=in_payday_window(ts, s.paydays, s.payday_window), _disc=discounted,
        _festival=in_festival(ts, s.festivals),
        _depth=ibis.ifelse(discounted & (gross > 0), discount / gross, ibis.null("float64")),
    )
    p = o.filter(o.is_purchase)
    channels = sorted(ENUMS["channel"])
    payments = sorted(ENUMS["payment_method"])
    histograms = {
        **{f"_c_{c}": p.count(where=p.channel == c) for c in channels},
        **{f"_p_{m}": p.count(where=p.payment_method == m) for m in payments},
    }
    # One grouped pass over the purchases for the shares and the counts ...
    per = p.group_by("person_id").aggregate(
        _purchases=p.count(),
        **{f"_n{flag}": p.count(where=p[flag]) for flag in ("_night", "_weekend", "_payday", "_disc", "_festival")},
        avg_discount_depth=p._depth.mean(),
        **histograms,
    )
    # Shares as counts over purchases: all counts, the smallest aggregate state.
    per = per.mutate(**{f"share_{name}_orders": per[f"_n_{flag}"] / per._purchases for name, flag in (
        ("night", "night"), ("weekend", "weekend"), ("payday", "payday"), ("discounted", "disc"),
        ("festival", "festival"))})
    # ... and one over the few cancelled or refunded orders: voided (amount >= 0) or credit notes.
    c = orders.filter(orders.status.isin(["cancelled", "refunded"]))
    cancels = c.group_by("person_id").aggregate(
        _cancels=c.amount.count(), _voided=((c.amount >= 0) & ~c.is_purchase.fill_null(False)).sum()
    )
    per = per.left_join(cancels, "person_id").drop("person_id_right")
    placed = per._purchases + per._voided.fill_null(0)
    cancelled = per._cancels.fill_null(0)
    channel_counts = [(ch, per[f"_c_{ch}"]) for ch in channels]
    payment_counts = [(m, per[f"_p_{m}"]) for m in payments]
    top_channel, top_channel_n = argmax_of_counts(channel_counts)
    top_payment, top_payment_n = argmax_of_counts(payment_counts)
    known_channel = sum((n for _, n in channel_counts), ibis.literal(0))
    known_payment = sum((n for _, n in payment_counts), ibis.literal(0))

    def share(n: ir.NumericValue, total: ir.NumericValue) -> ir.Value:
        return ibis.ifelse(total > 0, n / total, ibis.null("float64"))

    out = per.select(
        "person_id", "share_night_orders", "share_weekend_orders", "share_payday_orders",
        "share_discounted_orders", "share_festival_orders", "avg_discount_depth",
        channel_count=sum(((n > 0).cast("int64") for _, n in channel_counts), ibis.literal(0)).cast("int64"),
        **{f"share_{ch}": per[f"_c_{ch}"] / per._purchases for ch in CHANNELS},
        payday_lift=per.share_payday_orders / payday_expected_share(s.paydays, s.payday_window),
        share_refunded_orders=ibis.ifelse(placed > 0, ibis.least(cancelled / placed, 1.0), ibis.null("float64")),
        top_channel=top_channel, top_channel_share=share(top_channel_n, known_channel),
        top_payment_method=top_payment, top_payment_share=share(top_payment_n, known_payment),
    )
    for part in (peak_value(p, "_hour", "peak_hour"), peak_value(p, "_weekday", "peak_weekday"),
                 peak_value(p, "_month", "peak_month")):
        out = out.left_join(part, "person_id").drop("person_id_right")
    return out
