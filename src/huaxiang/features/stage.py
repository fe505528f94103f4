"""The features stage: one row per person, point in time (``as_of``).

Writes ``features`` and ``feature_catalog``. Dimensions: attributes and lifecycle
(:mod:`~huaxiang.features.attributes`), RFM, frequency and the CLV inputs (:mod:`~huaxiang.features.rfm`),
habits (:mod:`~huaxiang.features.habits`), preferences and price tier
(:mod:`~huaxiang.features.preferences`), consumption path and service
(:mod:`~huaxiang.features.behaviour`). Also writes the population ``funnel``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huaxiang.engine.base import Engine
from huaxiang.errors import ConfigError
from huaxiang.features.attributes import compute_attributes, lifecycle_stage
from huaxiang.features.behaviour import compute_path, compute_service, events_with_persons, population_funnel
from huaxiang.features.habits import compute_habits
from huaxiang.features.persons import person_keys, person_orders
from huaxiang.features.preferences import compute_preferences
from huaxiang.features.rfm import compute_rfm
from huaxiang.pipeline import StageContext, StageResult


class FeatureSettings(BaseModel):
    """The ``features:`` section of huaxiang.yaml."""

    model_config = ConfigDict(extra="forbid")

    as_of: datetime | None = None
    payday: int = Field(default=10, ge=1, le=28)
    payday_window: int = Field(default=5, ge=1, le=15)
    high_price_percentile: float = Field(default=0.75, gt=0, lt=1)


def parse_settings(raw: dict[str, Any]) -> FeatureSettings:
    """Validate the ``features:`` section, naming the key and the fix on errors."""
    try:
        return FeatureSettings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"features.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"huaxiang.yaml: {problems}") from None


def default_as_of(engine: Engine) -> datetime:
    """The day after the latest order or event: today's profile of the data at hand."""
    latest = [engine.execute(engine.table(t)[c].max()) for t, c in (("orders", "order_ts"), ("events", "event_ts"))]
    known = [pd.Timestamp(v) for v in latest if v is not None and not pd.isna(v)]
    if not known:
        return datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return (max(known).normalize() + timedelta(days=1)).to_pydatetime()


def _purchased_lines(engine: Engine, orders: ir.Table) -> ir.Table:
    """Purchased order lines with ``person_id`` and the product's category and brand."""
    items = engine.table("order_items")
    sales = orders.filter(orders.is_purchase).select("source", "order_id", "person_id")
    lines = items.inner_join(sales, ["source", "order_id"])
    products = engine.table("products")
    catalog = products.group_by("product_id").aggregate(category=products.category.max(), brand=products.brand.max())
    lines = lines.left_join(catalog, "product_id").drop("product_id_right")
    return lines.select("person_id", "product_id", "category", "brand", "quantity", "unit_price")


def compute_features(engine: Engine, *, as_of: datetime, settings: FeatureSettings | None = None,
                     person_ids: list[str] | None = None) -> ir.Table:
    """The features of every person (or only ``person_ids``) from data before ``as_of``."""
    settings = settings or FeatureSettings()
    keys = person_keys(engine)
    orders = person_orders(engine, as_of=ibis.timestamp(as_of))
    persons = keys.select("person_id").distinct()
    identities = engine.table("identities") if engine.has_table("identities") else None
    events = events_with_persons(engine.table("events"), keys, identities, as_of=as_of)
    if person_ids is not None:
        orders = orders.filter(orders.person_id.isin(person_ids))
        persons = persons.filter(persons.person_id.isin(person_ids))
        events = events.filter(events.person_id.isin(person_ids))
    parts = [
        compute_attributes(engine.table("customers_raw"), keys, as_of=as_of),
        compute_rfm(orders, as_of=as_of),
        compute_habits(orders, payday=settings.payday, payday_window=settings.payday_window),
        compute_preferences(_purchased_lines(engine, orders), high_price_percentile=settings.high_price_percentile),
        compute_path(events),
        compute_service(engine.table("interactions"), keys, as_of=as_of),
    ]
    out = persons
    for part in parts:
        out = out.left_join(part, "person_id").drop("person_id_right")
    return out.mutate(lifecycle_stage=lifecycle_stage(out), as_of=ibis.timestamp(as_of))


CATALOG = [
    ("recency_days", "rfm", "days", "all time", "距最近一次购买的天数", "days since the last purchase"),
    ("orders_total", "rfm", "orders", "all time", "购买订单数", "purchases (paid or pending orders)"),
    ("orders_365d", "rfm", "orders", "365 days", "近一年购买订单数", "purchases in the last 365 days"),
    ("orders_90d", "frequency", "orders", "90 days", "近90天购买订单数", "purchases in the last 90 days"),
    ("orders_prev_90d", "frequency", "orders", "90–180 days", "前90天购买订单数", "purchases 90–180 days ago"),
    ("spend_total", "rfm", "currency", "all time", "净消费额", "net spend: sales less credit notes"),
    ("spend_365d", "rfm", "currency", "365 days", "近一年净消费额", "net spend in the last 365 days"),
    ("avg_order_value", "rfm", "currency", "all time", "客单价", "net spend per purchase"),
    ("frequency", "clv", "days", "all time", "重复购买天数", "purchase days after the first (lifetimes)"),
    ("recency", "clv", "days", "all time", "首末购买间隔天数", "days from first to last purchase day"),
    ("T", "clv", "days", "all time", "客户年龄（天）", "days from first purchase day to the end of observation"),
    ("monetary_value", "clv", "currency", "all time", "重复购买日均消费", "mean value of repeat purchase days"),
    ("share_night_orders", "time", "share", "all time", "夜间（22–2点）订单占比", "share of purchases 22:00–01:59"),
    ("share_weekend_orders", "time", "share", "all time", "周末订单占比", "share of purchases on weekends"),
    ("share_payday_orders", "time", "share", "all time", "发薪日后订单占比", "share of purchases in the payday window"),
    ("payday_lift", "time", "ratio", "all time", "发薪日效应", "payday share over the window's share of days"),
    ("peak_hour", "time", "hour", "all time", "最常购买时段", "most frequent purchase hour"),
    ("peak_weekday", "time", "weekday", "all time", "最常购买星期", "most frequent purchase weekday (0 = Monday)"),
    ("share_discounted_orders", "promotion", "share", "all time", "优惠订单占比", "share of purchases with a discount or promotion"),
    ("avg_discount_depth", "promotion", "share", "all time", "平均折扣力度", "mean discount / list value of discounted purchases"),
    ("top_channel", "channel", "", "all time", "偏好渠道", "most used purchase channel"),
    ("top_channel_share", "channel", "share", "all time", "偏好渠道占比", "share of purchases in the top channel"),
    ("channel_count", "channel", "channels", "all time", "购买渠道数", "distinct purchase channels"),
    ("top_payment_method", "payment", "", "all time", "偏好支付方式", "most used payment method"),
    ("top_payment_share", "payment", "share", "all time", "偏好支付方式占比", "share of purchases with it"),
    ("share_refunded_orders", "returns", "share", "all time", "取消/退款订单占比", "cancelled or refunded orders over all orders"),
]


def run_features(ctx: StageContext) -> StageResult:
    """Compute ``features`` for every person and write the ``feature_catalog``."""
    settings = parse_settings(ctx.config.features)
    as_of = settings.as_of or default_as_of(ctx.engine)
    features = ctx.engine.materialize("features", compute_features(ctx.engine, as_of=as_of, settings=settings))
    catalog = pd.DataFrame(CATALOG, columns=["name", "dimension", "unit", "window", "definition_zh", "definition_en"])
    ctx.engine.materialize("feature_catalog", ibis.memtable(catalog))
    rows = int(ctx.engine.execute(features.count()))
    keys = person_keys(ctx.engine)
    identities = ctx.engine.table("identities") if ctx.engine.has_table("identities") else None
    events = events_with_persons(ctx.engine.table("events"), keys, identities, as_of=as_of)
    funnel = ctx.engine.materialize("funnel", population_funnel(events))
    return StageResult(
        tables={"features": rows, "feature_catalog": len(catalog), "funnel": int(ctx.engine.execute(funnel.count()))},
        details={"as_of": str(as_of)},
    )
