"""Segment-spec messages onto the canonical tables (the e-commerce spec v2 names).

:func:`map_messages` turns a list of Segment messages (``identify``, ``track``, ``page``,
``screen``, ``alias``, ``group``) into canonical rows:

- ``identify`` with a ``userId`` → a ``customers_raw`` record ``(source, userId)`` from its traits
  (reserved traits: ``name`` or ``firstName``/``lastName``, ``gender``, ``birthday``, ``phone``,
  ``email``, ``address.{country,state,city,street}``, ``createdAt``; any trait named like a canonical
  column, e.g. ``member_card``, ``member_level``, ``device_id``, is taken as is);
- ``identify`` carrying both ids, and ``alias`` (``previousId`` → ``userId``) → an ``events`` row of
  type ``identify``: the link the identity stage reads (``anonymous_id`` is attach-only: it attaches
  a visitor's events to a person, it never merges persons);
- ``Order Completed`` → ``orders`` (``order_id``, ``total``/``revenue``, ``discount``, ``coupon``,
  ``currency``, channel and payment method from the properties) + one ``order_items`` row per
  ``products[]`` entry + ``products`` rows for the products it names + an ``order`` event;
- ``Order Refunded`` / ``Order Cancelled`` → the order's new ``status`` (``refunded``/``cancelled``);
- other ``track`` events → ``events`` with the type of :data:`EVENT_TYPES` (else ``other``);
  ``page``/``screen`` → ``page_view``.

The ``messageId`` is the ``event_id`` (events are stored once per messageId). ``group`` messages
carry no person data and are skipped (counted). Timestamps arrive skew-corrected by the collector;
they are stored naive in local time, like every canonical timestamp.

Examples
--------
>>> batch = map_messages([
...     {"type": "identify", "messageId": "m1", "userId": "u1", "traits": {"phone": "13800138001"},
...      "timestamp": "2025-01-01T08:00:00Z"},
...     {"type": "track", "event": "Order Completed", "messageId": "m2", "userId": "u1",
...      "timestamp": "2025-01-02T09:30:00Z",
...      "properties": {"order_id": "o1", "total": 30.0, "products": [{"product_id": "p1", "price": 15.0,
...                                                                    "quantity": 2, "category": "food"}]}},
... ], source="app")
>>> batch.customers["phone"].tolist(), batch.orders["amount"].tolist(), batch.items["quantity"].tolist()
(['13800138001'], [30.0], [2.0])
>>> batch.events["event_type"].tolist()
['order']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from huaxiang.schema import CANONICAL, ENUMS

__all__ = ["EVENT_TYPES", "MappedBatch", "map_messages", "message_persons"]

#: Segment e-commerce spec v2 event names (and a few common ones) → canonical ``event_type``.
EVENT_TYPES: Mapping[str, str] = {
    "Products Searched": "search",
    "Product List Viewed": "page_view",
    "Product List Filtered": "page_view",
    "Product Clicked": "product_view",
    "Product Viewed": "product_view",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Cart Viewed": "page_view",
    "Product Added to Wishlist": "favorite",
    "Checkout Started": "checkout",
    "Checkout Step Viewed": "checkout",
    "Checkout Step Completed": "checkout",
    "Payment Info Entered": "checkout",
    "Order Completed": "order",
    "Payment Completed": "pay",
    "Order Updated": "other",
    "Order Refunded": "refund",
    "Order Cancelled": "other",
    "Return Requested": "after_sale",
    "Signed Up": "signup",
    "Signed In": "login",
}

#: Order status set by the refund and cancel events.
_STATUS_EVENTS = {"Order Refunded": "refunded", "Order Cancelled": "cancelled"}

#: Payment method words in properties → canonical value.
_PAYMENTS = {"alipay": "alipay", "wechat": "wechat_pay", "wechat_pay": "wechat_pay", "wechatpay": "wechat_pay",
             "card": "card", "credit_card": "card", "unionpay": "unionpay", "cash": "cash"}

_TRAIT_COLUMNS = frozenset(CANONICAL["customers_raw"].columns) - {"source", "source_row", "source_customer_id"}


@dataclass
class MappedBatch:
    """Canonical rows of one micro-batch (frames in canonical column order) and what was skipped."""

    customers: pd.DataFrame
    orders: pd.DataFrame
    items: pd.DataFrame
    products: pd.DataFrame
    events: pd.DataFrame
    status_updates: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in CANONICAL[table].columns})


def _ts(value: Any, tz: tzinfo | None) -> datetime | None:
    """An ISO-8601 timestamp as naive local time (``tz``; naive input is taken as local already)."""
    if value in (None, ""):
        return None
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(t):
        return None
    if t.tzinfo is not None:
        t = t.tz_convert(tz or UTC).tz_localize(None)
    return t.to_pydatetime()


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _channel(message: Mapping[str, Any], props: Mapping[str, Any]) -> str | None:
    given = _text(props.get("channel")) or _text((message.get("context") or {}).get("channel"))
    if given in ENUMS["channel"]:
        return given
    library = str(((message.get("context") or {}).get("library") or {}).get("name") or "")
    if "analytics.js" in library or given == "browser":
        return "web"
    if any(k in library for k in ("ios", "android", "react-native", "flutter")) or given in ("mobile", "app"):
        return "app"
    return None if given is None else "other"


def _traits(message: Mapping[str, Any]) -> dict[str, Any]:
    """Traits at ``traits`` or ``context.traits`` (clients differ), top level winning."""
    out = dict((message.get("context") or {}).get("traits") or {})
    out.update(message.get("traits") or {})
    return out


def _customer(message: Mapping[str, Any], source: str, tz: tzinfo | None) -> dict[str, Any]:
    traits = _traits(message)
    given = traits.get("address")
    address: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    name = _text(traits.get("name")) or _text(" ".join(
        str(traits[k]) for k in ("lastName", "firstName") if _text(traits.get(k))))
    row: dict[str, Any] = {k: v for k, v in traits.items() if k in _TRAIT_COLUMNS}
    row.update({k: v for k, v in {
        "name": name,
        "birth_date": _text(traits.get("birthday")),
        "country": _text(address.get("country")), "region": _text(address.get("state")),
        "city": _text(address.get("city")), "address": _text(address.get("street")),
        "registered_at": _ts(traits.get("createdAt"), tz),
    }.items() if v is not None})
    for key in ("birth_date",):
        if row.get(key) is not None:
            stamp = pd.to_datetime(row[key], errors="coerce")
            row[key] = None if pd.isna(stamp) else stamp.date()
    if "registered_at" in row and not isinstance(row["registered_at"], datetime | type(None)):
        row["registered_at"] = _ts(row["registered_at"], tz)
    # The Segment userId is the source's user id (a unique identifier of the identity stage).
    row.update(source=source, source_customer_id=str(message["userId"]), user_id=str(message["userId"]),
               updated_at=_ts(message.get("timestamp"), tz))
    return row


def _event(message: Mapping[str, Any], source: str, event_type: str, tz: tzinfo | None) -> dict[str, Any]:
    props = message.get("properties") or {}
    context = message.get("context") or {}
    return {
        "source": source, "event_id": str(message.get("messageId")),
        "anonymous_id": _text(message.get("anonymousId") or message.get("previousId")),
        "user_id": _text(message.get("userId")), "event_ts": _ts(message.get("timestamp"), tz),
        "event_type": event_type, "channel": _channel(message, props),
        "session_id": _text(props.get("session_id") or context.get("session_id")),
        "product_id": _text(props.get("product_id") or props.get("sku")),
        "category": _text(props.get("category")), "order_id": _text(props.get("order_id")),
        "properties": json.dumps(props, ensure_ascii=False, default=str, sort_keys=True) if props else None,
    }


def _order(message: Mapping[str, Any], source: str, tz: tzinfo | None) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                                  list[dict[str, Any]]]:
    p = message.get("properties") or {}
    order_id = _text(p.get("order_id")) or str(message.get("messageId"))
    payment = _text(p.get("payment_method"))
    status = _text(p.get("status"))
    order = {
        "source": source, "order_id": order_id, "source_customer_id": _text(message.get("userId")),
        "order_ts": _ts(message.get("timestamp"), tz),
        "amount": _number(p.get("total") if p.get("total") is not None else p.get("revenue")),
        "discount_amount": _number(p.get("discount")), "promo_id": _text(p.get("coupon")),
        "channel": _channel(message, p),
        "payment_method": _PAYMENTS.get(payment.lower(), "other") if payment else None,
        "store_id": _text(p.get("store_id") or p.get("affiliation")),
        "status": status if status in ENUMS["status"] else "paid",
        "currency": _text(p.get("currency")), "country": None,
    }
    items: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []
    for i, item in enumerate(p.get("products") or [], start=1):
        if not isinstance(item, Mapping):
            continue
        pid = _text(item.get("product_id") or item.get("sku"))
        items.append({"source": source, "order_id": order_id, "line_no": int(item.get("position") or i),
                      "product_id": pid, "quantity": _number(item.get("quantity")) or 1.0,
                      "unit_price": _number(item.get("price"))})
        if pid and any(item.get(k) is not None for k in ("category", "brand", "name")):
            products.append({"source": source, "product_id": pid, "name": _text(item.get("name")),
                             "category": _text(item.get("category")), "brand": _text(item.get("brand")),
                             "list_price": None})
    if order["amount"] is None:
        order["amount"] = float(sum(float(i["unit_price"] or 0.0) * float(i["quantity"]) for i in items))
    return order, items, products


def map_messages(messages: Iterable[Mapping[str, Any]], *, source: str = "segment",
                 timezone_name: str | None = None) -> MappedBatch:
    """Map Segment messages (already validated by the collector) onto canonical rows.

    Parameters
    ----------
    messages
        Segment-spec dicts, in journal order.
    source
        The ``source`` column of every row (the Segment source's system, e.g. ``app``).
    timezone_name
        The workspace's local time zone (``timezone:`` in huaxiang.yaml); timestamps with an
        offset are converted to it; default UTC.

    Returns
    -------
    MappedBatch
        Rows per canonical table; the same messageId twice gives one event.
    """
    tz = ZoneInfo(timezone_name) if timezone_name else None
    customers, orders, items, products, events, statuses = [], [], [], [], [], []
    skipped: dict[str, int] = {}
    for m in messages:
        kind = str(m.get("type") or "")
        if kind == "identify":
            if _text(m.get("userId")):
                customers.append(_customer(m, source, tz))
                if _text(m.get("anonymousId")):
                    events.append(_event(m, source, "identify", tz) | {"properties": None})
            else:
                skipped["identify without userId"] = skipped.get("identify without userId", 0) + 1
        elif kind == "alias":
            if _text(m.get("userId")) and _text(m.get("previousId")):
                events.append(_event(m, source, "identify", tz))
            else:
                skipped["alias without ids"] = skipped.get("alias without ids", 0) + 1
        elif kind in ("page", "screen"):
            events.append(_event(m, source, "page_view", tz))
        elif kind == "track":
            name = str(m.get("event") or "")
            events.append(_event(m, source, EVENT_TYPES.get(name, "other"), tz))
            if name == "Order Completed":
                order, lines, prods = _order(m, source, tz)
                orders.append(order)
                items += lines
                products += prods
            elif name in _STATUS_EVENTS and _text((m.get("properties") or {}).get("order_id")):
                statuses.append({"source": source, "order_id": str(m["properties"]["order_id"]),
                                 "status": _STATUS_EVENTS[name], "ts": _ts(m.get("timestamp"), tz)})
        else:
            skipped[kind or "no type"] = skipped.get(kind or "no type", 0) + 1

    def frame(rows: list[dict[str, Any]], table: str, key: list[str]) -> pd.DataFrame:
        if not rows:
            return _empty(table)
        out = pd.DataFrame(rows).reindex(columns=list(CANONICAL[table].columns))
        return out.drop_duplicates(key, keep="last").reset_index(drop=True)

    ev = frame(events, "events", ["source", "event_id"])
    return MappedBatch(
        customers=_merge_customers(customers),
        orders=frame(orders, "orders", ["source", "order_id"]),
        items=frame(items, "order_items", ["source", "order_id", "line_no"]),
        products=frame(products, "products", ["source", "product_id"]),
        events=ev,
        status_updates=pd.DataFrame(statuses, columns=["source", "order_id", "status", "ts"]),
        skipped=skipped,
    )


def _merge_customers(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per customer key: later identify calls fill in or overwrite earlier traits."""
    if not rows:
        return _empty("customers_raw")
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["source"], row["source_customer_id"])
        merged[key] = {**merged.get(key, {}), **{k: v for k, v in row.items() if v is not None}}
    return pd.DataFrame(list(merged.values())).reindex(columns=list(CANONICAL["customers_raw"].columns))


def message_persons(messages: Iterable[Mapping[str, Any]]) -> list[tuple[str | None, str | None]]:
    """``(userId, anonymousId)`` of every message (``previousId`` for an alias), in order."""
    out = []
    for m in messages:
        out.append((_text(m.get("userId")), _text(m.get("anonymousId") or m.get("previousId"))))
    return out
