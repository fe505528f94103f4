"""The feature catalogue: every column of ``features`` with its dimension, unit, window and meaning.

Written to the table ``feature_catalog`` (name, dimension, unit, window, definition_zh,
definition_en, needs, supported) so marketers can read what a number means and tag authors can
check a name. Windows end at ``as_of`` (exclusive); "all time" means all data before it.
``needs`` lists the inputs a feature reads (:data:`FEATURE_NEEDS`, capabilities of
:mod:`huaxiang.features.capabilities`); ``supported`` is false when the workspace's data lacks one
of them, and the feature is then NULL ("no data") for everyone.

>>> c = feature_catalog()
>>> c.set_index("name").loc["share_payday_orders", "definition_en"]
'share of purchases on a payday (day 10) or the 4 days after it'
"""

from __future__ import annotations

import pandas as pd

from huaxiang.features.settings import FeatureSettings, Festival

COLUMNS = ("name", "dimension", "unit", "window", "definition_zh", "definition_en", "needs", "supported")

_SPEND = ("purchases", "amounts")
_HAVE_PURCHASES = ("purchases",)
#: What each feature reads: the capabilities (:mod:`huaxiang.features.capabilities`) its inputs
#: need. A feature listed here is NULL when the data lacks one of them; one not listed needs nothing.
FEATURE_NEEDS: dict[str, tuple[str, ...]] = {
    "gender": ("gender",), "age": ("birth_date",), "age_band": ("birth_date",), "region": ("region",),
    "city": ("city",), "city_tier": ("city",), "occupation": ("occupation",), "member_level": ("member_level",),
    "tenure_days": ("registered_at",),
    **{c: _HAVE_PURCHASES for c in (
        "lifecycle_stage", "recency_days", "orders_total", "orders_365d", "orders_90d",
        "first_order_ts", "last_order_ts", "frequency", "recency", "T", "orders_per_month", "orders_per_quarter",
        "orders_per_year", "repurchase_interval_days", "repurchase_interval_cv", "peak_weekday",
        "peak_month", "share_weekend_orders")},
    # The trend compares the last 90 days with the 90 before: both must lie within the data.
    "orders_prev_90d": ("purchases", "history_180d"), "order_trend_90d": ("purchases", "history_180d"),
    "share_payday_orders": ("purchases", "payday_calendar"), "payday_lift": ("purchases", "payday_calendar"),
    **{c: _SPEND for c in ("spend_total", "spend_365d", "avg_order_value", "monetary_value")},
    # By spend: without prices every spend is 0 and the "top" is the first name.
    "top_category": ("categories", "prices"), "top_category_share": ("categories", "prices"),
    "top_category_affinity": ("categories", "prices"),
    "top_category_by_count": ("categories",), "category_breadth": ("categories",),
    "top_brand": ("brands", "prices"), "top_brand_share": ("brands", "prices"),
    "price_tier_index": ("prices",), "share_high_price_items": ("prices",),
    "top_payment_method": ("payment_methods",), "top_payment_share": ("payment_methods",),
    **{c: ("channels",) for c in ("top_channel", "top_channel_share", "channel_count", "share_app",
                                  "share_mini_program", "share_web", "share_store")},
    "peak_hour": ("time_of_day",), "share_night_orders": ("time_of_day",),
    "share_festival_orders": ("purchases", "festival_calendar"),
    "share_discounted_orders": ("discounts",), "avg_discount_depth": ("discounts",),
    "campaigns_received": ("campaigns",), "campaign_conversion_rate": ("campaigns",),
    "share_refunded_orders": ("returns",),
    "sessions": ("events",), "product_views": ("event:product_view",), "add_to_carts": ("event:add_to_cart",),
    "checkouts": ("event:checkout",), "order_events": ("event:order",), "pays": ("event:pay",),
    "after_sales": ("event:after_sale",),
    "view_to_cart_rate": ("event:product_view", "event:add_to_cart"),
    "cart_to_order_rate": ("event:add_to_cart", "event:order"), "order_to_pay_rate": ("event:order", "event:pay"),
    "entry_channel": ("event_channels",), "peak_active_hour": ("event_time_of_day",),
    "peak_active_weekday": ("events",), "top_browsed_category": ("event_categories",),
    "tickets": ("tickets",), "complaints": ("tickets",), "days_since_last_complaint": ("tickets",),
    "reviews": ("reviews",), "avg_rating": ("ratings",),
}


def _names(festivals: list[Festival]) -> list[str]:
    from huaxiang.features.calendar import festival_names

    return festival_names(festivals)


def _rows(s: FeatureSettings, festival_names: list[str] | None = None) -> list[tuple[str, str, str, str, str, str]]:
    night = f"{s.night_hours[0]:02d}:00–{(s.night_hours[1] - 1) % 24:02d}:59"
    paydays = ", ".join(str(d) for d in s.paydays)
    after = s.payday_window - 1
    lc = s.lifecycle
    all_time = "all time"
    return [
        ("person_id", "key", "", "", "人员编号", "person id (identity stage, else source:customer id)"),
        ("as_of", "key", "timestamp", "", "特征截止时间（不含）", "cut-off: only data before it is used"),
        # attributes
        ("gender", "attributes", "", "", "性别", "gender of the latest registered record that has one"),
        ("age", "attributes", "years", "at as_of", "年龄", "whole years from birth date to as_of"),
        ("age_band", "attributes", "", "at as_of", "年龄段", "age band: <18, 18-24, 25-34, 35-44, 45-54, 55+"),
        ("region", "attributes", "", "", "省份", "province (short name)"),
        ("city", "attributes", "", "", "城市", "city"),
        ("city_tier", "attributes", "", "", "城市等级", "city tier (1, new 1, 2, 3, …)"),
        ("occupation", "attributes", "", "", "职业", "occupation"),
        ("member_level", "attributes", "", "", "会员等级", "member level"),
        ("tenure_days", "attributes", "days", "at as_of", "注册天数", "days from the earliest registration to as_of"),
        ("lifecycle_stage", "lifecycle", "", all_time, "生命周期阶段",
         f"prospect (never bought), lost (no purchase > {lc.lost_days} d), sleeping (> {lc.sleeping_days} d), "
         f"new (first purchase < {lc.new_days} d ago), growing / declining (last 90 d vs the 90 before), else active"),
        # rfm
        ("recency_days", "rfm", "days", all_time, "距最近一次购买的天数", "days from the last purchase to as_of"),
        ("orders_total", "rfm", "orders", all_time, "购买订单数",
         "purchases (paid or pending orders; credit notes and voided orders are not purchases)"),
        ("orders_365d", "rfm", "orders", "365 days", "近一年购买订单数", "purchases in the last 365 days"),
        ("orders_90d", "frequency", "orders", "90 days", "近90天购买订单数", "purchases in the last 90 days"),
        ("orders_prev_90d", "frequency", "orders", "90–180 days", "前一个90天购买订单数", "purchases 180 to 90 days ago"),
        ("spend_total", "rfm", "currency", all_time, "净消费额", "net spend: purchases less credit notes"),
        ("spend_365d", "rfm", "currency", "365 days", "近一年净消费额", "net spend in the last 365 days"),
        ("avg_order_value", "rfm", "currency", all_time, "客单价", "net spend per purchase"),
        ("first_order_ts", "rfm", "timestamp", all_time, "首次购买时间", "time of the first purchase"),
        ("last_order_ts", "rfm", "timestamp", all_time, "最近购买时间", "time of the last purchase"),
        # clv
        ("frequency", "clv", "days", all_time, "重复购买天数",
         "purchase days after the first (same-day orders merged; lifetimes' frequency)"),
        ("recency", "clv", "days", all_time, "首末购买间隔天数", "days from the first to the last purchase day"),
        ("T", "clv", "days", all_time, "客户年龄（天）", "days from the first purchase day to the day before as_of"),
        ("monetary_value", "clv", "currency", all_time, "重复购买日平均消费",
         "mean net spend of the repeat purchase days (0 without repeats)"),
        # frequency
        ("orders_per_month", "frequency", "orders/month", "since first purchase", "月均购买次数",
         "purchases per 30.44 days since the first purchase day"),
        ("orders_per_quarter", "frequency", "orders/quarter", "since first purchase", "季均购买次数",
         "purchases per 91.3 days since the first purchase day"),
        ("orders_per_year", "frequency", "orders/year", "since first purchase", "年均购买次数",
         "purchases per 365.3 days since the first purchase day"),
        ("order_trend_90d", "frequency", "ratio", "180 days", "购买趋势",
         "(orders_90d + 1) / (orders_prev_90d + 1); above 1 = buying more"),
        ("repurchase_interval_days", "frequency", "days", all_time, "复购间隔中位数",
         "median days between consecutive purchase days"),
        ("repurchase_interval_cv", "frequency", "ratio", all_time, "复购间隔变异系数",
         "standard deviation / mean of the repurchase intervals (low = regular)"),
        # preference
        ("top_category", "preference", "", all_time, "最偏好品类", "category (first level) with the most spend"),
        ("top_category_share", "preference", "share", all_time, "最偏好品类消费占比", "its share of the person's spend"),
        ("top_category_by_count", "preference", "", all_time, "购买件次最多的品类", "category with the most order lines"),
        ("top_category_affinity", "preference", "ratio", all_time, "品类偏好指数",
         "top_category_share over the population's share of spend in that category"),
        ("category_breadth", "preference", "categories", all_time, "购买品类数", "distinct categories bought"),
        ("top_brand", "preference", "", all_time, "最偏好品牌", "brand with the most spend"),
        ("top_brand_share", "preference", "share", all_time, "最偏好品牌消费占比", "its share of branded spend"),
        ("price_tier_index", "price", "0–1", all_time, "价格档位指数",
         "mean percentile of the unit prices paid within their category"),
        ("share_high_price_items", "price", "share", all_time, "高价商品占比",
         f"share of lines at or above the {s.high_price_percentile:.0%} price percentile of their category"),
        # payment and channel
        ("top_payment_method", "payment", "", all_time, "偏好支付方式", "most used payment method"),
        ("top_payment_share", "payment", "share", all_time, "偏好支付方式占比", "share of purchases paid with it"),
        ("top_channel", "channel", "", all_time, "偏好购买渠道", "most used purchase channel"),
        ("top_channel_share", "channel", "share", all_time, "偏好渠道占比", "share of purchases in it"),
        ("channel_count", "channel", "channels", all_time, "购买渠道数", "distinct purchase channels"),
        ("share_app", "channel", "share", all_time, "App订单占比", "share of purchases in the app"),
        ("share_mini_program", "channel", "share", all_time, "小程序订单占比", "share of purchases in the mini program"),
        ("share_web", "channel", "share", all_time, "网页订单占比", "share of purchases on the web"),
        ("share_store", "channel", "share", all_time, "门店订单占比", "share of purchases in stores"),
        # time
        ("peak_hour", "time", "hour", all_time, "最常购买时段", "most frequent purchase hour (0–23)"),
        ("peak_weekday", "time", "weekday", all_time, "最常购买星期", "most frequent purchase weekday (0 = Monday)"),
        ("peak_month", "time", "month", all_time, "最常购买月份", "most frequent purchase month (seasonality)"),
        ("share_night_orders", "time", "share", all_time, "夜间订单占比", f"share of purchases {night}"),
        ("share_weekend_orders", "time", "share", all_time, "周末订单占比", "share of purchases on Saturday or Sunday"),
        ("share_payday_orders", "time", "share", all_time, "发薪日订单占比",
         f"share of purchases on a payday (day {paydays}) or the {after} days after it"),
        ("payday_lift", "time", "ratio", all_time, "发薪日效应",
         "share_payday_orders over the share of days the payday windows cover (1 = no effect)"),
        ("share_festival_orders", "time", "share", all_time, "购物节订单占比",
         "share of purchases during the festivals of the workspace's calendar ("
         + (", ".join(festival_names if festival_names is not None else _names(s.festivals)) or "none") + ")"),
        # promotion
        ("share_discounted_orders", "promotion", "share", all_time, "优惠订单占比",
         "share of purchases with a discount or a promotion code"),
        ("avg_discount_depth", "promotion", "share", all_time, "平均折扣力度",
         "mean discount / (amount + discount) of discounted purchases"),
        ("campaigns_received", "promotion", "campaigns", all_time, "收到营销活动数", "campaign messages sent"),
        ("campaign_conversion_rate", "promotion", "share", all_time, "营销活动转化率",
         "campaign conversions / campaigns received"),
        # returns
        ("share_refunded_orders", "returns", "share", all_time, "取消/退款订单占比",
         "(voided orders + credit notes) / (purchases + voided orders), at most 1"),
        # path
        ("sessions", "path", "sessions", all_time, "访问会话数", "distinct sessions (no session id: one per day)"),
        ("product_views", "path", "events", all_time, "商品浏览次数", "product_view events"),
        ("add_to_carts", "path", "events", all_time, "加购次数", "add_to_cart events"),
        ("checkouts", "path", "events", all_time, "结算次数", "checkout events"),
        ("order_events", "path", "events", all_time, "下单事件数", "order events"),
        ("pays", "path", "events", all_time, "支付事件数", "pay events"),
        ("after_sales", "path", "events", all_time, "售后事件数", "after_sale events"),
        ("view_to_cart_rate", "path", "ratio", all_time, "浏览加购率", "add_to_carts / product_views"),
        ("cart_to_order_rate", "path", "ratio", all_time, "加购下单率", "order_events / add_to_carts"),
        ("order_to_pay_rate", "path", "ratio", all_time, "下单支付率", "pays / order_events"),
        ("entry_channel", "path", "", all_time, "首次触达渠道", "channel of the person's first event"),
        ("peak_active_hour", "path", "hour", all_time, "最活跃时段", "most frequent hour of the person's events"),
        ("peak_active_weekday", "path", "weekday", all_time, "最活跃星期",
         "most frequent weekday of the person's events (0 = Monday)"),
        ("top_browsed_category", "path", "", all_time, "最常浏览品类",
         "category (first level) of most of the person's events"),
        # service
        ("tickets", "service", "tickets", all_time, "服务工单数", "service tickets and complaints"),
        ("complaints", "service", "tickets", all_time, "投诉数", "complaints"),
        ("reviews", "service", "reviews", all_time, "评价数", "reviews written"),
        ("avg_rating", "service", "rating", all_time, "平均评分", "mean rating of reviews and rated tickets"),
        ("days_since_last_complaint", "service", "days", all_time, "距最近投诉天数", "days from the last complaint to as_of"),
    ]


def feature_catalog(settings: FeatureSettings | None = None, *, have: set[str] | None = None,
                    festival_names: list[str] | None = None) -> pd.DataFrame:
    """The catalogue as a DataFrame with :data:`COLUMNS`, definitions following ``settings``.

    ``have``: the capabilities of the workspace's data (``supported`` is true for every feature
    when not given); ``festival_names``: the calendar in force (default that of ``settings``).

    >>> c = feature_catalog(have={"purchases"}).set_index("name")
    >>> c.loc["peak_hour", "needs"], bool(c.loc["peak_hour", "supported"]), bool(c.loc["T", "supported"])
    ('time_of_day', False, True)
    """
    rows = _rows(settings or FeatureSettings(), festival_names)
    frame = pd.DataFrame(rows, columns=list(COLUMNS[:6]))
    frame["needs"] = [",".join(FEATURE_NEEDS.get(n, ())) for n in frame["name"]]
    frame["supported"] = [have is None or all(c in have for c in FEATURE_NEEDS.get(n, ())) for n in frame["name"]]
    return frame
