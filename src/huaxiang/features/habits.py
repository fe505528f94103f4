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

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

import ibis
import ibis.expr.datatypes as dt
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


#: Bits per counter of :func:`histogram`: two counters fill a 64-bit sum (the top one clear of the
#: sign bit). A counter holds up to 2^31 − 1, so the histograms are exact for any person with
#: fewer purchases than that; beyond it the derived columns are NULL, never wrong.
LANE_BITS = 31
LANE_LIMIT = 1 << LANE_BITS
_PER_SUM = 2


def histogram(column: ir.Value, values: Sequence[object], prefix: str) -> dict[str, ir.IntegerValue]:
    """Aggregates counting each of ``values`` in ``column``, two counters packed in one 64-bit sum
    (value number i in sum ``{prefix}{i // 2}`` at bit 31 × (i % 2)); :func:`histogram_count`
    reads a count back.

    A person's 24 hours cost 12 sums in the one grouped pass over the purchases, cheaper than a
    group-by over (person, hour) plus one per peak and per counted column (bench/README.md).

    >>> import ibis
    >>> t = ibis.memtable({"p": [1, 1, 1, 2], "hour": [3, 5, 5, 9]})
    >>> row = t.group_by("p").aggregate(**histogram(t.hour, range(24), "_h")).order_by("p")
    >>> [int(v) for v in row.select(five=histogram_count(row, "_h", 5)).execute()["five"]]
    [2, 0]
    """
    values = list(values)
    sums: dict[str, ir.IntegerValue] = {}
    for k in range(0, len(values), _PER_SUM):
        branches = [(column == v, ibis.literal(1 << (LANE_BITS * j), "int64"))
                    for j, v in enumerate(values[k:k + _PER_SUM])]
        sums[f"{prefix}{k // _PER_SUM}"] = ibis.cases(*branches, else_=ibis.literal(0, "int64")).sum()
    return sums


def histogram_count(row: ir.Table, prefix: str, i: int) -> ir.IntegerValue:
    """The count of value number ``i`` from :func:`histogram`'s sums on an aggregated row."""
    # An explicit cast (ibis drops one to the type it already knows): DuckDB sums BIGINTs into a
    # HUGEINT, whose shifts cost several times a BIGINT's.
    packed = row[f"{prefix}{i // _PER_SUM}"].cast(dt.Int64(nullable=False))
    # Shifts and masks, not division: Spark divides integers in floating point (inexact past 2^53).
    return (packed >> (LANE_BITS * (i % _PER_SUM))) & (LANE_LIMIT - 1)


def argmax_key(counts: Sequence[ir.IntegerValue]) -> ir.IntegerValue:
    """One integer that finds the largest of ``counts`` (the first on ties): the greatest of
    count × n + n − 1 − position; :func:`argmax_parts` splits it.

    >>> import ibis
    >>> key = argmax_key([ibis.literal(2), ibis.literal(3), ibis.literal(3)])
    >>> [int(v.execute()) for v in argmax_parts(key, 3)]
    [1, 3]
    """
    n = len(counts)
    return ibis.greatest(*[c.cast("int64") * n + (n - 1 - i) for i, c in enumerate(counts)])


def argmax_parts(key: ir.IntegerValue, n: int) -> tuple[ir.IntegerValue, ir.IntegerValue]:
    """The position of the largest count and that count, from :func:`argmax_key` over ``n`` counts."""
    return (n - 1) - key % n, key // n


#: Order columns of canonical values (:data:`huaxiang.schema.ENUMS`, enforced by ingest) that
#: :func:`coded_enums` turns into small integers.
ENUM_COLUMNS = ("channel", "payment_method", "status")


def coded_enums(orders: ir.Table) -> ir.Table:
    """``orders`` with channel, payment method and status as codes: the value's position in
    ``sorted(ENUMS[column])`` (−1 for another value, NULL for NULL). :func:`compute_habits` reads
    either form; the features stage's scratch orders hold codes (a smaller table to write, and the
    habits pass compares integers).

    >>> import ibis
    >>> t = coded_enums(ibis.memtable({"channel": ["web", None, "fax"]}))
    >>> t.execute()["channel"].tolist()
    [6.0, nan, -1.0]
    """
    return orders.mutate(**{c: ibis.literal(sorted(ENUMS[c])).index(orders[c]).cast("int8")
                            for c in ENUM_COLUMNS if c in orders.columns})


def enum_keys(column: ir.Value, name: str) -> tuple[list[Any], list[str]]:
    """The canonical values of ``ENUMS[name]`` in order, and what ``column`` holds for each: the
    values themselves, or their codes when :func:`coded_enums` coded it."""
    names = sorted(ENUMS[name])
    return (list(range(len(names))) if column.type().is_integer() else list(names)), names


def compute_habits(orders: ir.Table, settings: FeatureSettings | None = None, *,
                   timed_sources: Collection[str] | None = None) -> ir.Table:
    """One row per buying person with the habit columns, from :func:`person_orders` rows.

    ``timed_sources``: the sources whose order times carry a time of day (the others' dates sit
    at 00:00); the hour features (``peak_hour``, ``share_night_orders``) read only their orders
    and are NULL for a person with none. Default: every source.

    One grouped pass over the purchases gives the shares and, as :func:`histogram` sums, how often
    each channel, payment method, hour, weekday and month occurs (``channel`` and
    ``payment_method`` hold the canonical values of :data:`huaxiang.schema.ENUMS`, which ingest
    enforces); the top ones and the peaks are the largest counts.

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
    if timed_sources is not None:
        hour = ibis.ifelse(orders.source.isin(list(timed_sources)), hour, ibis.null("int32")) \
            if timed_sources else ibis.null("int32")
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
    # The histograms: prefix -> (column, what it holds for each counted value, their names).
    counted: dict[str, tuple[ir.Value, list[Any], list[Any]]] = {
        "_c": (p.channel, *enum_keys(p.channel, "channel")),
        "_pm": (p.payment_method, *enum_keys(p.payment_method, "payment_method")),
        "_h": (p._hour, list(range(24)), list(range(24))),
        "_w": (p._weekday, list(range(7)), list(range(7))),
        "_m": (p._month, list(range(1, 13)), list(range(1, 13))),
    }
    # One grouped pass over the purchases for the shares, the counts and the histograms ...
    per = p.group_by("person_id").aggregate(
        _purchases=p.count(),
        **{f"_n{flag}": p.count(where=p[flag]) for flag in ("_night", "_weekend", "_payday", "_disc", "_festival")},
        _timed=p._hour.count(),
        avg_discount_depth=p._depth.mean(),
        **{name: agg for prefix, (column, keys, _) in counted.items()
           for name, agg in histogram(column, keys, prefix).items()},
    )
    # Shares as counts over purchases: all counts, the smallest aggregate state.
    per = per.mutate(**{f"share_{name}_orders": per[f"_n_{flag}"] / per._purchases for name, flag in (
        ("weekend", "weekend"), ("payday", "payday"), ("discounted", "disc"), ("festival", "festival"))},
        share_night_orders=ibis.ifelse(per._timed > 0, per._n_night / per._timed, ibis.null("float64")))
    # ... and one over the few cancelled or refunded orders: voided (amount >= 0) or credit notes.
    status_keys, status_names = enum_keys(orders.status, "status")
    c = orders.filter(orders.status.isin([k for k, n in zip(status_keys, status_names, strict=True)
                                          if n in ("cancelled", "refunded")]))
    cancels = c.group_by("person_id").aggregate(
        _cancels=c.amount.count(), _voided=((c.amount >= 0) & ~c.is_purchase.fill_null(False)).sum()
    )
    per = per.left_join(cancels, "person_id").drop("person_id_right")
    # The counts as columns, then each histogram's argmax key as a column: the outputs below
    # read them as fields (written inline, every CASE branch would decode them again: bench/README.md).
    per = per.mutate(**{f"{prefix}{i}_n": histogram_count(per, prefix, i)
                        for prefix, (_, keys, _) in counted.items() for i in range(len(keys))})

    def counts(prefix: str) -> list[ir.IntegerValue]:
        return [per[f"{prefix}{i}_n"] for i in range(len(counted[prefix][1]))]

    per = per.mutate(**{f"{prefix}_key": argmax_key(counts(prefix)) for prefix in counted})
    placed = per._purchases + per._voided.fill_null(0)
    cancelled = per._cancels.fill_null(0)
    exact = per._purchases < LANE_LIMIT

    def top(prefix: str) -> tuple[ir.Value, ir.Value]:
        """The most frequent value (NULL when none is known) and its share of the known ones."""
        values = counted[prefix][2]
        position, best = argmax_parts(per[f"{prefix}_key"], len(values))
        known = sum(counts(prefix), ibis.literal(0, "int64"))
        value = ibis.literal(values)[position.cast("int32")]  # Spark indexes arrays with an int
        return (ibis.ifelse(exact & (best > 0), value, ibis.null(value.type())),
                ibis.ifelse(exact & (known > 0), best / known, ibis.null("float64")))

    def peak(prefix: str, like: ir.Value) -> ir.Value:
        """The most frequent of the consecutive integers counted under ``prefix``."""
        values = counted[prefix][2]
        position, best = argmax_parts(per[f"{prefix}_key"], len(values))
        first = int(values[0])
        return ibis.ifelse(exact & (best > 0), position + first, ibis.null()).cast(like.type())

    channel = dict(zip(counted["_c"][2], counts("_c"), strict=True))
    top_channel, top_channel_share = top("_c")
    top_payment, top_payment_share = top("_pm")
    return per.select(
        "person_id", "share_night_orders", "share_weekend_orders", "share_payday_orders",
        "share_discounted_orders", "share_festival_orders", "avg_discount_depth",
        channel_count=ibis.ifelse(exact, sum(((n > 0).cast("int64") for n in counts("_c")), ibis.literal(0, "int64")),
                                  ibis.null("int64")),
        **{f"share_{ch}": ibis.ifelse(exact, channel[ch] / per._purchases, ibis.null("float64")) for ch in CHANNELS},
        payday_lift=per.share_payday_orders / payday_expected_share(s.paydays, s.payday_window),
        share_refunded_orders=ibis.ifelse(placed > 0, ibis.least(cancelled / placed, 1.0), ibis.null("float64")),
        top_channel=top_channel, top_channel_share=top_channel_share,
        top_payment_method=top_payment, top_payment_share=top_payment_share,
        peak_hour=peak("_h", p._hour), peak_weekday=peak("_w", p._weekday), peak_month=peak("_m", p._month),
    )
