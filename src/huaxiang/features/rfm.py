"""Recency, frequency, monetary value — and the CLV inputs, point in time.

Definitions (``as_of`` is exclusive: only orders before it count; the observation
period ends on the day before ``as_of``):

- ``recency_days``: days from the last purchase to ``as_of``.
- ``orders_total`` / ``orders_365d`` / ``orders_90d`` / ``orders_prev_90d``: purchases (paid or
  pending orders) in all time / the last 365 days / the last 90 / the 90 before those.
- ``spend_total`` / ``spend_365d``: net spend (sales less credit notes, see
  :func:`huaxiang.features.persons.person_orders`); ``avg_order_value`` = spend_total / orders_total.
- ``orders_per_month``/``_quarter``/``_year``: purchases per 30.44/91.3/365.25 days since the first
  purchase day; ``order_trend_90d``: (orders_90d + 1) / (orders_prev_90d + 1), above 1 = growing.
- ``repurchase_interval_days``: median days between consecutive purchase days;
  ``repurchase_interval_cv``: their standard deviation over their mean (low = regular).
- CLV inputs as ``lifetimes.utils.summary_data_from_transaction_data(freq="D")`` defines them:
  orders of one day are one transaction whose value is the day's net spend; ``frequency`` = purchase
  days − 1; ``recency`` = days from the first to the last purchase day; ``T`` = days from the first
  purchase day to the end of the observation period; ``monetary_value`` = mean value of the repeat
  days (0 when frequency is 0).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir


def compute_rfm(orders: ir.Table, *, as_of: datetime) -> ir.Table:
    """One row per person with the RFM and CLV columns, from :func:`person_orders` rows.

    >>> import ibis, pandas as pd
    >>> from datetime import datetime, timedelta
    >>> o = ibis.memtable(pd.DataFrame({
    ...     "person_id": ["a", "a", "a", "b"],
    ...     "order_ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 18:00", "2024-01-11 00:00", "2024-01-05 00:00"]),
    ...     "net_amount": [10.0, 5.0, 20.0, 7.0], "is_purchase": [True, True, True, True]}))
    >>> r = compute_rfm(o, as_of=datetime(2024, 1, 21)).order_by("person_id").execute()
    >>> r[["person_id", "frequency", "recency", "T", "monetary_value", "recency_days"]].values.tolist()
    [['a', 1, 10.0, 19.0, 20.0, 10.0], ['b', 0, 0.0, 15.0, 0.0, 16.0]]
    """
    cutoff = ibis.timestamp(as_of)
    end_day = ibis.date((as_of - _one_day()).date()) if isinstance(as_of, datetime) else None
    o = orders.mutate(day=orders.order_ts.date())
    buy = o.is_purchase
    d365 = cutoff - ibis.interval(days=365)
    d90 = cutoff - ibis.interval(days=90)
    d180 = cutoff - ibis.interval(days=180)
    # One grouped pass over the purchases in time order: the counts, the CLV summary (one
    # transaction per purchase day, valued at the day's net spend) and the gaps between
    # consecutive purchase days (repurchase interval). A purchase on a new day has a gap > 0 to
    # the previous one — no group-by per person and day (it cost as much as the window:
    # bench/README.md), and no second pass over all orders for the spend (credit notes are few: their
    # rows are grouped on their own below).
    purchases = o.filter(buy)
    w = ibis.window(group_by=purchases.person_id, order_by=purchases.order_ts)
    p = purchases.mutate(
        _gap=purchases.day.delta(purchases.day.lag().over(w), unit="day"),
        _first=purchases.day.min().over(ibis.window(group_by=purchases.person_id)),
    )
    gap = ibis.ifelse(p._gap > 0, p._gap.cast("float64"), ibis.null("float64"))
    ts = p.order_ts
    clv = p.group_by("person_id").aggregate(
        orders_total=p.count(),
        orders_365d=(ts >= d365).sum(),
        orders_90d=(ts >= d90).sum(),
        orders_prev_90d=((ts >= d180) & (ts < d90)).sum(),
        first_order_ts=ts.min(),
        last_order_ts=ts.max(),
        _spend=p.net_amount.sum(),
        _spend_365d=ibis.ifelse(ts >= d365, p.net_amount, 0.0).sum(),
        n_days=gap.count() + 1,
        first_day=p.day.min(),
        last_day=p.day.max(),
        repeat_value=p.net_amount.sum(where=p.day > p._first),
        repurchase_interval_days=gap.median(),
        _gap_mean=gap.mean(),
        _gap_std=gap.std(how="pop"),
    )
    # Credit notes (net spend outside purchases) count in the spend; one on a later purchase day
    # also in that day's value (few rows: joins on them, the purchases only probed).
    credit = o.filter(~buy.fill_null(False) & (o.net_amount != 0))
    credit_spend = credit.group_by("person_id").aggregate(
        _credit_spend=credit.net_amount.sum(),
        _credit_365d=ibis.ifelse(credit.order_ts >= d365, credit.net_amount, 0.0).sum(),
    )
    notes = credit.group_by(["person_id", "day"]).aggregate(_credit=credit.net_amount.sum())
    noted = purchases.semi_join(notes, "person_id")
    first = noted.group_by("person_id").aggregate(_first_day=noted.day.min())
    on_purchase_days = noted.semi_join(notes, ["person_id", "day"]).select("person_id", "day").distinct()
    notes = notes.semi_join(on_purchase_days, ["person_id", "day"]).inner_join(first, "person_id")
    notes = notes.filter(notes.day > notes._first_day)
    credits = notes.group_by("person_id").aggregate(_credit=notes._credit.sum())
    clv = clv.left_join(credits, "person_id").drop("person_id_right")
    clv = clv.left_join(credit_spend, "person_id").drop("person_id_right")
    clv = clv.mutate(repeat_value=clv.repeat_value.fill_null(0.0) + clv._credit.fill_null(0.0),
                     spend_total=clv._spend + clv._credit_spend.fill_null(0.0),
                     spend_365d=clv._spend_365d + clv._credit_365d.fill_null(0.0))
    assert end_day is not None
    clv = clv.mutate(
        frequency=(clv.n_days - 1).cast("int64"),
        recency=clv.last_day.delta(clv.first_day, unit="day").cast("float64"),
        T=end_day.delta(clv.first_day, unit="day").cast("float64"),
        monetary_value=ibis.ifelse(clv.n_days > 1, clv.repeat_value / (clv.n_days - 1), 0.0),
        repurchase_interval_cv=ibis.ifelse(clv._gap_mean > 0, clv._gap_std / clv._gap_mean, ibis.null("float64")),
    )
    out = clv.select("person_id", "orders_total", "orders_365d", "orders_90d", "orders_prev_90d", "first_order_ts",
                     "last_order_ts", "spend_total", "spend_365d", "frequency", "recency", "T", "monetary_value",
                     "repurchase_interval_days", "repurchase_interval_cv")
    months = (out["T"] + 1) / 30.44
    return out.mutate(
        recency_days=(cutoff.epoch_seconds() - out.last_order_ts.epoch_seconds()) / 86400.0,
        avg_order_value=out.spend_total / out.orders_total,
        orders_total=out.orders_total.cast("int64"),
        orders_365d=out.orders_365d.cast("int64"),
        orders_90d=out.orders_90d.cast("int64"),
        orders_prev_90d=out.orders_prev_90d.cast("int64"),
        orders_per_month=out.orders_total / months,
        orders_per_quarter=out.orders_total / months * 3,
        orders_per_year=out.orders_total / months * 12,
        order_trend_90d=(out.orders_90d + 1) / (out.orders_prev_90d + 1),
    )


def _one_day() -> timedelta:
    return timedelta(days=1)
