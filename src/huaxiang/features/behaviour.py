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

from datetime import datetime

import ibis
import ibis.expr.types as ir

#: Default funnel: step name -> event type.
FUNNEL_STEPS: dict[str, str] = {
    "view": "product_view", "cart": "add_to_cart", "order": "order", "pay": "pay", "after_sale": "after_sale",
}


def events_with_persons(events: ir.Table, keys: ir.Table, identities: ir.Table | None, *, as_of: datetime) -> ir.Table:
    """Events before ``as_of`` with a ``person_id``: through the user id, else the anonymous id."""
    e = events.filter(events.event_ts < ibis.timestamp(as_of))
    by_user = keys.select(_src=keys.source, _uid=keys.source_customer_id, _p_user=keys.person_id)
    e = e.left_join(by_user, [e.source == by_user._src, e.user_id == by_user._uid]).drop("_src", "_uid")
    if identities is not None:
        anon = identities.filter(identities.identifier_type.isin(["anonymous_id", "device_id"]))
        anon = anon.select(_aid=anon.identifier_value, _p_anon=anon.person_id).distinct()
        e = e.left_join(anon, e.anonymous_id == anon._aid).drop("_aid")
        person = ibis.coalesce(e._p_user, e._p_anon)
        e = e.mutate(person_id=person).drop("_p_user", "_p_anon")
    else:
        e = e.mutate(person_id=e._p_user).drop("_p_user")
    return e.filter(e.person_id.notnull())


def compute_path(events: ir.Table) -> ir.Table:
    """One row per person with the consumption-path columns."""
    session = ibis.coalesce(events.session_id, events.event_ts.date().cast("string"))
    e = events.mutate(_session=session)
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

    return per.mutate(
        view_to_cart_rate=rate(per.add_to_carts, per.product_views),
        cart_to_order_rate=rate(per.order_events, per.add_to_carts),
        order_to_pay_rate=rate(per.pays, per.order_events),
    )


def population_funnel(events: ir.Table, steps: dict[str, str] | None = None) -> ir.Table:
    """Persons reaching each step, conversion from the previous step, drop-off and median dwell seconds.

    A person reaches step k when they reached step k-1 and later (or at the same time) had the
    event of step k; times are each person's first event of a step. Counts never increase.
    """
    steps = steps or FUNNEL_STEPS
    firsts = events.filter(events.event_type.isin(list(steps.values())))
    firsts = firsts.group_by(["person_id", "event_type"]).aggregate(first_ts=firsts.event_ts.min())
    parts = []
    reached: ir.Table | None = None
    for order, (step, event_type) in enumerate(steps.items()):
        cur = firsts.filter(firsts.event_type == event_type).select("person_id", ts="first_ts")
        if reached is None:
            reached = cur
            parts.append(cur.aggregate(persons=cur.count(), dwell=ibis.null("float64"))
                         .mutate(step=ibis.literal(step), step_order=order))
            continue
        prev = reached.select("person_id", prev_ts="ts")
        j = cur.inner_join(prev, "person_id")
        j = j.filter(j.ts >= j.prev_ts)
        dwell = (j.ts.epoch_seconds() - j.prev_ts.epoch_seconds()).cast("float64")
        parts.append(j.aggregate(persons=j.count(), dwell=dwell.median())
                     .mutate(step=ibis.literal(step), step_order=order))
        reached = j.select("person_id", "ts")
    funnel = ibis.union(*parts)
    prev_persons = funnel.persons.lag().over(order_by=funnel.step_order)
    return funnel.select(
        "step_order", "step", "persons",
        conversion=ibis.ifelse(prev_persons > 0, funnel.persons / prev_persons, ibis.null("float64")),
        drop_off=ibis.ifelse(prev_persons > 0, 1 - funnel.persons / prev_persons, ibis.null("float64")),
        median_seconds_from_previous=funnel.dwell,
    ).order_by("step_order")


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
