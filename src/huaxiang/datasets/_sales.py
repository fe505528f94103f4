"""The sales family of sources: the online shop's orders and lines (Parquet) and the stores'
receipts and lines (CSV), numbered separately."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._app import AppUsers
from huaxiang.datasets._orders import Orders
from huaxiang.datasets._population import Calendar, Catalog
from huaxiang.datasets._vocab import (
    ONLINE_PAY,
    ONLINE_STATUS,
    PLATFORMS,
    PROMO_CODES,
    STORE_PAY,
    STORE_STATUS,
)

Arr = npt.NDArray[Any]

#: Promo codes a receipt shows: the everyday ones, and the festival ones on festival days.
_EVERYDAY_PROMOS = range(0, PROMO_CODES.index("VIPDAY") + 1)
_FESTIVAL_PROMOS = range(PROMO_CODES.index("DOUBLE11"), len(PROMO_CODES))


@dataclass(frozen=True)
class OrderNumbers:
    """Orders split by channel, numbered from 1 within their channel."""

    online: Arr  # order rows of the online orders
    store: Arr  # order rows of the store receipts
    number: Arr  # per order row: its number within its channel
    online_id: pa.Array  # order id of each online order

    @classmethod
    def of(cls, orders: Orders) -> OrderNumbers:
        """Number the orders of ``orders``."""
        online = np.flatnonzero(orders.online)
        store = np.flatnonzero(~orders.online)
        number = np.zeros(len(orders.ts), np.int64)
        number[online] = np.arange(1, len(online) + 1)
        number[store] = np.arange(1, len(store) + 1)
        return cls(online, store, number, ar.ids("O", 1_000_000_000 + number[online], 10))


def online_orders_table(
    rng: np.random.Generator, orders: Orders, numbers: OrderNumbers, app: AppUsers
) -> pa.Table:
    """``online_orders.parquet``: epoch-millisecond times, coupons on most discounted orders."""
    on_idx = numbers.online
    ts_ms = pa.array(orders.ts[on_idx] * 1000, pa.timestamp("ms"))
    has_coupon = orders.discount_flag[on_idx] & (rng.random(len(on_idx)) < 0.85)
    coupon_days = orders.ts[on_idx] // 86400
    cy, cm, _ = ar.ymd(coupon_days)
    coupon = ar.masked(
        ar.fixed_width(len(on_idx), [b"CP", (cy % 100, 2), (cm, 2), (rng.integers(0, 100, len(on_idx)), 2)]),
        ~has_coupon,
    )
    return pa.table(
        {
            "order_id": numbers.online_id,
            "user_id": app.user_id.take(pa.array(app.row_of_person[orders.person[on_idx]])),
            "order_time": ts_ms,
            "pay_amount": pa.array(orders.amount[on_idx]),
            "discount": pa.array(orders.discount[on_idx]),
            "coupon_id": coupon,
            "platform": ar.dictionary(ar.strings(PLATFORMS), orders.platform[on_idx]),
            "pay_type": ar.dictionary(ar.strings(ONLINE_PAY), orders.pay[on_idx]),
            "status": ar.dictionary(ar.strings(ONLINE_STATUS), orders.status[on_idx]),
        }
    )


def _item_rows(orders: Orders, online: bool) -> Arr:
    item_online = orders.online[orders.item_order]
    return np.flatnonzero(item_online if online else ~item_online)


def online_items_table(orders: Orders, numbers: OrderNumbers, cat: Catalog) -> pa.Table:
    """``online_order_items.parquet``: one row per order line."""
    rows = _item_rows(orders, online=True)
    local_num = numbers.number[orders.item_order]
    return pa.table(
        {
            "order_id": ar.ids("O", 1_000_000_000 + local_num[rows], 10),
            "line_no": pa.array(orders.item_pos[rows] + 1),
            "sku": ar.dictionary(cat.sku, orders.item_sku[rows]),
            "qty": pa.array(orders.item_qty[rows]),
            "price": pa.array(cat.price[orders.item_sku[rows]]),
        }
    )


def pos_orders_table(
    rng: np.random.Generator, cal: Calendar, orders: Orders, numbers: OrderNumbers, card: pa.Array
) -> pa.Table:
    """``pos_orders.csv`` before its defects: receipts with the member card shown (blank for guests)."""
    st_idx = numbers.store
    receipt = ar.ids("S", 1_000_000_000 + numbers.number[st_idx], 10)
    spike_st = cal.spike[np.clip(orders.ts[st_idx] // 86400 - cal.day0, 0, cal.n_days - 1)]
    promo_pick = np.where(
        spike_st,
        rng.integers(_FESTIVAL_PROMOS.start, _FESTIVAL_PROMOS.stop, len(st_idx)),
        rng.integers(_EVERYDAY_PROMOS.start, _EVERYDAY_PROMOS.stop, len(st_idx)),
    )
    return pa.table(
        {
            "receipt_no": receipt,
            "store_id": ar.ids("ST", orders.store[st_idx] + 1, 4),
            "member_card": ar.take(card, orders.card_row[st_idx]),
            "ts": ar.format_ts(orders.ts[st_idx]),
            "total": pa.array(orders.amount[st_idx]),
            "discount": pa.array(orders.discount[st_idx]),
            "promo_code": ar.masked(
                ar.strings(PROMO_CODES).take(pa.array(promo_pick)), ~orders.discount_flag[st_idx]
            ),
            "payment": ar.strings(STORE_PAY).take(pa.array(orders.pay[st_idx])),
            # the stores know paid and refunded only (order status 0 and 2)
            "status": ar.strings(STORE_STATUS).take(pa.array(orders.status[st_idx] // 2)),
        }
    )


def pos_items_table(orders: Orders, numbers: OrderNumbers, cat: Catalog) -> pa.Table:
    """``pos_order_items.csv``: one row per receipt line."""
    rows = _item_rows(orders, online=False)
    local_num = numbers.number[orders.item_order]
    sku_per_item = cat.sku.take(pa.array(orders.item_sku))
    return pa.table(
        {
            "receipt_no": ar.ids("S", 1_000_000_000 + local_num[rows], 10),
            "line_no": pa.array(orders.item_pos[rows] + 1),
            "sku": sku_per_item.take(pa.array(rows)),
            "qty": pa.array(orders.item_qty[rows]),
            "price": pa.array(cat.price[orders.item_sku[rows]]),
        }
    )
