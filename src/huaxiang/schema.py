"""Canonical tables: the fixed column names and types every stage relies on.

Sources are mapped onto these tables by ``huaxiang.yaml``; every later stage
reads only these names. Timestamps are naive, in the business's local time.

Examples
--------
>>> from huaxiang.schema import CANONICAL
>>> CANONICAL["orders"].primary_key
('source', 'order_id')
>>> "amount" in CANONICAL["orders"].columns
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import ibis
import ibis.expr.datatypes as dt

#: Allowed values of enumerated columns. Anything else is quarantined with the
#: list of valid values in the reason.
ENUMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "gender": ("male", "female", "unknown"),
        "channel": ("app", "web", "mini_program", "store", "phone", "wholesale", "marketplace", "other"),
        "payment_method": (
            "alipay", "wechat_pay", "card", "unionpay", "cash", "bank_transfer", "credit", "voucher", "other",
        ),
        "status": ("paid", "pending", "cancelled", "refunded"),
        "event_type": (
            "page_view", "product_view", "search", "favorite", "add_to_cart", "remove_from_cart",
            "checkout", "order", "pay", "refund", "after_sale", "login", "signup", "identify", "other",
        ),
        "kind": (
            "ticket", "complaint", "review", "survey",
            "campaign_sent", "campaign_opened", "campaign_clicked", "campaign_converted",
        ),
    }
)


@dataclass(frozen=True)
class TableSchema:
    """Schema of one canonical table.

    Parameters
    ----------
    name
        Table name in the workspace.
    columns
        Column name -> Ibis type string, in canonical order.
    primary_key
        Columns that identify a row; duplicates are quarantined.
    required
        Columns that must not be null (the primary key is always required).
    enums
        Columns whose values must be one of :data:`ENUMS` (after mapping).
    non_negative
        Numeric columns that must be >= 0 on rows that are not cancellations/refunds.
    """

    name: str
    columns: Mapping[str, str]
    primary_key: tuple[str, ...]
    required: tuple[str, ...] = ()
    enums: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    description: str = ""
    docs: Mapping[str, str] = field(default_factory=dict)

    @property
    def ibis_schema(self) -> ibis.Schema:
        """The schema as an :class:`ibis.Schema`."""
        return ibis.schema(dict(self.columns))

    def dtype(self, column: str) -> dt.DataType:
        """Ibis data type of ``column``."""
        return dt.dtype(self.columns[column])

    @property
    def all_required(self) -> tuple[str, ...]:
        """Primary key plus required columns, without repeats."""
        return tuple(dict.fromkeys((*self.primary_key, *self.required)))


# Lineage columns every canonical table carries: where the row came from.
_LINEAGE = {"source": "string", "source_row": "int64"}

CUSTOMERS_RAW = TableSchema(
    name="customers_raw",
    columns={
        **_LINEAGE,
        "source_customer_id": "string",
        "name": "string",
        "gender": "string",
        "birth_date": "date",
        "phone": "string",
        "email": "string",
        "country": "string",
        "region": "string",
        "city": "string",
        "address": "string",
        "occupation": "string",
        "member_level": "string",
        "registered_at": "timestamp",
        "member_card": "string",
        "user_id": "string",
        "device_id": "string",
        "wechat_openid": "string",
        "wechat_unionid": "string",
        "consent_marketing": "boolean",
        "updated_at": "timestamp",
    },
    primary_key=("source", "source_customer_id"),
    enums=("gender",),
    description="One row per customer record in a source (CRM member, app account, POS member…).",
)

ORDERS = TableSchema(
    name="orders",
    columns={
        **_LINEAGE,
        "order_id": "string",
        "source_customer_id": "string",
        "order_ts": "timestamp",
        "amount": "float64",
        "discount_amount": "float64",
        "promo_id": "string",
        "channel": "string",
        "payment_method": "string",
        "store_id": "string",
        "status": "string",
        "currency": "string",
        "country": "string",
    },
    primary_key=("source", "order_id"),
    required=("order_ts", "amount", "status"),
    enums=("channel", "payment_method", "status"),
    non_negative=("amount", "discount_amount"),
    description=(
        "One row per order. amount is what the customer paid after discounts; cancelled/refunded "
        "orders keep their (possibly negative) amount and a status saying so. source_customer_id is "
        "null for guest orders."
    ),
)

ORDER_ITEMS = TableSchema(
    name="order_items",
    columns={
        **_LINEAGE,
        "order_id": "string",
        "line_no": "int64",
        "product_id": "string",
        "quantity": "float64",
        "unit_price": "float64",
    },
    primary_key=("source", "order_id", "line_no"),
    required=("product_id", "quantity", "unit_price"),
    description="One row per order line; negative quantity on cancellation/return lines.",
)

PRODUCTS = TableSchema(
    name="products",
    columns={
        **_LINEAGE,
        "product_id": "string",
        "name": "string",
        "category": "string",
        "brand": "string",
        "list_price": "float64",
    },
    primary_key=("source", "product_id"),
    non_negative=("list_price",),
    description="One row per product; category is a path like 'food/dairy/milk'.",
)

EVENTS = TableSchema(
    name="events",
    columns={
        **_LINEAGE,
        "event_id": "string",
        "anonymous_id": "string",
        "user_id": "string",
        "event_ts": "timestamp",
        "event_type": "string",
        "channel": "string",
        "session_id": "string",
        "product_id": "string",
        "category": "string",
        "order_id": "string",
        "properties": "string",
    },
    primary_key=("source", "event_id"),
    required=("event_ts", "event_type"),
    enums=("event_type", "channel"),
    description=(
        "One row per behaviour event (Segment-style). user_id is the source's customer id when "
        "known; anonymous_id the device/cookie id. properties is a JSON object as text."
    ),
)

INTERACTIONS = TableSchema(
    name="interactions",
    columns={
        **_LINEAGE,
        "interaction_id": "string",
        "source_customer_id": "string",
        "ts": "timestamp",
        "kind": "string",
        "campaign_id": "string",
        "rating": "float64",
        "text": "string",
    },
    primary_key=("source", "interaction_id"),
    required=("source_customer_id", "ts", "kind"),
    enums=("kind",),
    description="One row per service ticket, review, survey answer or campaign touch.",
)

QUARANTINE = TableSchema(
    name="quarantine",
    columns={
        "source": "string",
        "source_row": "int64",
        "target_table": "string",
        "reason": "string",
        "payload": "string",
    },
    primary_key=("source", "target_table", "source_row"),
    description="Every rejected input row with its reason; payload is the raw row as JSON text.",
)

#: Canonical tables by name, in load order.
CANONICAL: Mapping[str, TableSchema] = MappingProxyType(
    {s.name: s for s in (CUSTOMERS_RAW, PRODUCTS, ORDERS, ORDER_ITEMS, EVENTS, INTERACTIONS, QUARANTINE)}
)

#: Tables a source may map onto. ``order_lines`` is a convenience target for
#: exports with one row per invoice line: it is split into ``orders``,
#: ``order_items`` and ``products``.
MAPPABLE_TABLES: tuple[str, ...] = (
    "customers_raw", "products", "orders", "order_items", "events", "interactions", "order_lines",
)

#: Columns of the ``order_lines`` target (before it is split).
ORDER_LINE_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        **_LINEAGE,
        "order_id": "string",
        "line_no": "int64",
        "source_customer_id": "string",
        "order_ts": "timestamp",
        "product_id": "string",
        "product_name": "string",
        "category": "string",
        "brand": "string",
        "quantity": "float64",
        "unit_price": "float64",
        "discount_amount": "float64",
        "promo_id": "string",
        "channel": "string",
        "payment_method": "string",
        "store_id": "string",
        "status": "string",
        "currency": "string",
        "country": "string",
    }
)


def empty_table(name: str) -> ibis.Table:
    """An empty in-memory table with the canonical schema of ``name``.

    >>> empty_table("orders").count().execute()
    0
    """
    import pyarrow as pa

    schema = CANONICAL[name].ibis_schema
    return ibis.memtable(pa.Table.from_pylist([], schema=schema.to_pyarrow()))
