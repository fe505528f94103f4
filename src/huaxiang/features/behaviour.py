"""The consumption path from events, and service and feedback from interactions.

Steps of the path (event types): view = ``product_view``, cart = ``add_to_cart``, checkout,
order, pay, after_sale. Per person: ``sessions`` (distinct session ids; events without one count
as one session per day), counts per step (``product_views`` … ``after_sales``), step conversion
rates (``view_to_cart_rate`` = add_to_carts / product_views, ``cart_to_order_rate``,
``order_to_pay_rate``; NULL when the earlier step never happened), ``entry_channel`` (channel of
the person's first event). Service: ``tickets`` (tickets and complaints), ``complaints``,
``reviews``, ``avg_rating`` (over reviews and rated tickets), ``days_since_last_complaint``.

:func:`population_funnel` gives the population view: persons reaching each step, step conversion,
drop-off and the median seconds from a person's first event of the previous step to their first
event of this step.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.features.settings import DEFAULT_FUNNEL


def events_with_persons(events: ir.Table, keys: ir.Table, identities: ir.Table | None, *, as_of: datetime) -> ir.Table:
    """Events before ``as_of`` with ``person_id`` (through the user id, else the anonymous id; NULL when
    neither resolves) and ``visitor_id`` (the person, else ``anonymous:<anonymous_id>``)."""
    e = events.filter(events.event_ts < ibis.timestamp(as_of))
    by_user = keys.select(_src=keys.source, _uid=keys.source_customer_id, _p_user=keys.person_id)
    e = e.left_join(by_user, [e.source == by_user._src, e.user_id == by_user._uid]).drop("_src", "_uid")
    if identities is not None:
        anon = identities.filter(identities.identifier_type.isin(["anonymous_id", "device_id"]))
        anon = anon.group_by(_aid=anon.identifier_value).aggregate(_p_anon=anon.person_id.min())
        e = e.left_join(anon, e.anonymous_id == anon._aid).drop("_aid")
        person = ibis.coalesce(e._p_user, e._p_anon)
        e = e.mutate(person_id=person).drop("_p_user", "_p_anon")
    else:
        e = e.mutate(person_id=e._p_user).drop("_p_user")
    visitor = ibis.coalesce(e.person_id, "anonymous:" + e.anonymous_id)
    return e.mutate(visitor_id=visitor).filter(visitor.notnull())


def compute_path(events: ir.Table, *, timed_sources: Collection[str] | None = None) -> ir.Table:
    """One row per person with the consumption-path columns, from :func:`events_with_persons` rows
    (with ``person_id``). ``timed_sources``: the sources whose event times carry a time of day
    (``peak_active_hour`` reads only theirs; default every source).

    Besides the step counts and rates: ``peak_active_hour`` (0–23) and ``peak_active_weekday``
    (0 = Monday) of all the person's events, and ``top_browsed_category`` (the category, or the
    first level of a category path, with most events carrying one) — the browsing view of time
    and category preference, for shops whose purchases are only events (Taobao's ``buy``).
    """
    from huaxiang.features.habits import top_value

    e = events.filter(events.person_id.notnull())
    session = ibis.coalesce(e.session_id, e.person_id + "@" + e.event_ts.date().cast("string"))
    hour = e.event_ts.hour()
    if timed_sources is not None:
        hour = ibis.ifelse(e.source.isin(list(timed_sources)), hour, ibis.null("int32")) \
            if timed_sources else ibis.null("int32")
    e = e.mutate(_session=session, _hour=hour, _weekday=e.event_ts.day_of_week.index(),
                 _category=e.category.split("/")[0])
    per = e.group_by("person_id").aggregate(
        sessions=e._session.nunique(),
        product_views=(e.event_type == "product_view").sum(),
        add_to_carts=(e.event_type == "add_to_cart").sum(),
        checkouts=(e.event_type == "checkout").sum(),
        order_events=(e.event_type == "order").sum(),
        pays=(e.event_type == "pay").sum(),
        after_sales=(e.event_type == "after_sale").sum(),
        entry_channel=e.channel.argmin(e.event_ts),
    )

    def rate(num: ir.NumericValue, den: ir.NumericValue) -> ir.Value:
        return ibis.ifelse(den > 0, num.cast("float64") / den, ibis.null("float64"))

    out = per.mutate(
        view_to_cart_rate=rate(per.add_to_carts, per.product_views),
        cart_to_order_rate=rate(per.order_events, per.add_to_carts),
        order_to_pay_rate=rate(per.pays, per.order_events),
    )
    for column, name in (("_hour", "peak_active_hour"), ("_weekday", "peak_active_weekday"),
                         ("_category", "top_browsed_category")):
        out = out.left_join(top_value(e, column, name), "person_id").drop("person_id_right")
    return out


def _reach(events: ir.Table, steps: Mapping[str, list[str]], key: str, by: list[str]) -> ir.Table:
    """Per step: how many ``key`` values reach it, and the median seconds from the previous step.

    ``key`` reaches step k at its first step-k event at or after the time it reached step k-1.
    """
    parts = []
    reached: ir.Table | None = None
    for order, types in enumerate(steps.values()):
        e = events.filter(events.event_type.isin(types))
        if reached is None:
            cur = e.group_by([*by, key]).aggregate(ts=e.event_ts.min())
            dwell = ibis.null("float64")
        else:
            prev = reached.rename(_prev_ts="ts")
            j = e.inner_join(prev, [*by, key])
            j = j.filter(j.event_ts >= j._prev_ts)
            cur = j.group_by([*by, key]).aggregate(ts=j.event_ts.min(), _prev_ts=j._prev_ts.min())
            dwell = (cur.ts.epoch_seconds() - cur._prev_ts.epoch_seconds()).cast("float64")
        metrics = {"n": cur.count(), "dwell": dwell.median() if reached is not None else ibis.null("float64")}
        agg = cur.group_by(by).aggregate(**metrics) if by else cur.aggregate(**metrics)
        parts.append(agg.mutate(step_order=order))
        reached = cur.select(*by, key, "ts")
    return ibis.union(*parts)


def population_funnel(events: ir.Table, steps: Mapping[str, str | Sequence[str]] | None = None,
                      by: str | None = None) -> ir.Table:
    """The population consumption path: persons and sessions reaching each step, step conversion,
    drop-off and the median seconds from the previous step.

    ``events`` come from :func:`events_with_persons` (a visitor is a person, or an anonymous id no
    identity resolves). A visitor reaches step k at their first event of that step at or after the
    time they reached step k-1; a session likewise within the session (events without a session id
    form one session per visitor and day). ``conversion`` = persons at this step / at the previous
    step, ``drop_off`` = 1 − conversion, ``session_conversion`` likewise for sessions;
    ``median_seconds_from_previous`` over the persons reaching the step. Counts never increase.
    ``by`` (a column of ``events``, e.g. ``channel``) gives one funnel per value.

    >>> import ibis, pandas as pd
    >>> e = ibis.memtable(pd.DataFrame({"visitor_id": ["a", "a", "b"], "session_id": ["s", "s", "t"],
    ...     "event_type": ["product_view", "add_to_cart", "product_view"],
    ...     "event_ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:02", "2024-01-01 11:00"])}))
    >>> f = population_funnel(e, {"view": "product_view", "cart": "add_to_cart"}).execute()
    >>> f[["step", "persons", "sessions", "conversion", "median_seconds_from_previous"]].values.tolist()
    [['view', 2, 2, nan, nan], ['cart', 1, 1, 0.5, 120.0]]
    """
    raw = steps or DEFAULT_FUNNEL
    named = {name: [types] if isinstance(types, str) else list(types) for name, types in raw.items()}
    group = [by] if by else []
    e = events
    if by:
        e = e.mutate(**{by: e[by].cast("string").fill_null("unknown")})
    session = ibis.coalesce(e.session_id.cast("string"), e.visitor_id + "@" + e.event_ts.date().cast("string"))
    e = e.mutate(_session=session).select(*group, "visitor_id", "_session", "event_type", "event_ts")
    persons = _reach(e, named, "visitor_id", group)
    sessions = _reach(e, named, "_session", group).rename(_sessions="n").drop("dwell")
    frame = pd.DataFrame({"step_order": range(len(named)), "step": list(named),
                          "event_types": [",".join(t) for t in named.values()]})
    grid = ibis.memtable(frame)
    if by:
        grid = e.select(by).distinct().cross_join(grid)
    f = grid
    for part in (persons, sessions):
        f = f.left_join(part, ["step_order", *group])
        f = f.drop(*[c for c in f.columns if c.endswith("_right")])
    f = f.mutate(persons=f.n.fill_null(0).cast("int64"), sessions=f._sessions.fill_null(0).cast("int64"))
    w = ibis.window(group_by=group or None, order_by=f.step_order)
    prev_p, prev_s = f.persons.lag().over(w), f.sessions.lag().over(w)
    conversion = ibis.ifelse(prev_p > 0, f.persons / prev_p, ibis.null("float64"))
    return f.select(
        *group, "step_order", "step", "event_types", "persons", "sessions",
        conversion=conversion, drop_off=1 - conversion,
        session_conversion=ibis.ifelse(prev_s > 0, f.sessions / prev_s, ibis.null("float64")),
        median_seconds_from_previous=f.dwell,
    ).order_by([*group, "step_order"])


def compute_service(interactions: ir.Table, keys: ir.Table, *, as_of: datetime) -> ir.Table:
    """One row per person with service and feedback columns."""
    i = interactions.filter(interactions.ts < ibis.timestamp(as_of)).inner_join(keys, ["source", "source_customer_id"])
    complaint_ts = ibis.ifelse(i.kind == "complaint", i.ts, ibis.null("timestamp"))
    per = i.group_by("person_id").aggregate(
        tickets=i.kind.isin(["ticket", "complaint"]).sum(),
        complaints=(i.kind == "complaint").sum(),
        reviews=(i.kind == "review").sum(),
        avg_rating=ibis.ifelse(i.kind.isin(["review", "ticket", "complaint"]), i.rating, ibis.null("float64")).mean(),
        last_complaint=complaint_ts.max(),
        campaigns_received=(i.kind == "campaign_sent").sum(),
        campaigns_converted=(i.kind == "campaign_converted").sum(),
    )
    cutoff = ibis.timestamp(as_of)
    return per.mutate(
        days_since_last_complaint=(cutoff.epoch_seconds() - per.last_complaint.epoch_seconds()) / 86400.0,
        campaign_conversion_rate=ibis.ifelse(per.campaigns_received > 0,
                                             per.campaigns_converted / per.campaigns_received, ibis.null("float64")),
    ).drop("last_complaint", "campaigns_converted")
