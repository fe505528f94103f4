"""The built-in tag library (zh/en): the tags a marketer expects out of the box.

Every rule reads only the feature names fixed in ``docs/CONTRACTS.md`` (:data:`FEATURE_NAMES`).
A feature the workspace's data cannot support is NULL, and a rule that reads a NULL does not fire
(SQL logic: ``night_owl`` never fires on date-only data, ``price_sensitive`` never without prices).
A workspace adds to or overrides these under ``tags:`` in ``huaxiang.yaml``
(see :mod:`huaxiang.tags.specs`). Money thresholds (value tiers, high value) are in the shop's
currency and suit the demo shop (yuan); override them for your business.

The habit thresholds were tuned on the synthetic shop (``seed=11``, 3,000 customers) and are
checked on another seed by ``tests/tags/test_ground_truth.py``: a habit needs enough purchases to
show (``orders_total >= 5``), then a share well above what chance gives (a payday window covers
~16 % of days, so 60 % of purchases there is a habit, not luck).

Examples
--------
>>> [t["id"] for t in BUILTIN_TAGS][:3]
['high_value', 'value_high', 'value_mid']
>>> set(FEATURE_NAMES) >= {"share_night_orders", "T", "orders_365d"}
True
"""

from __future__ import annotations

from typing import Any

#: The columns of ``features`` every stage may rely on (docs/CONTRACTS.md); built-in rules use only these.
FEATURE_NAMES: tuple[str, ...] = (
    "person_id", "as_of",
    "gender", "age", "age_band", "region", "city", "city_tier", "occupation", "member_level", "tenure_days",
    "recency_days", "orders_total", "orders_365d", "orders_90d", "orders_prev_90d", "spend_total", "spend_365d",
    "avg_order_value", "first_order_ts", "last_order_ts",
    "frequency", "recency", "T", "monetary_value",
    "orders_per_month", "orders_per_quarter", "orders_per_year", "order_trend_90d",
    "repurchase_interval_days", "repurchase_interval_cv",
    "top_category", "top_category_share", "top_brand", "top_brand_share", "category_breadth",
    "top_category_affinity",
    "top_payment_method", "top_payment_share", "top_channel", "top_channel_share", "channel_count",
    "share_app", "share_mini_program", "share_web", "share_store",
    "peak_hour", "peak_weekday", "share_night_orders", "share_weekend_orders",
    "share_payday_orders", "payday_lift", "share_festival_orders",
    "share_discounted_orders", "avg_discount_depth", "campaigns_received", "campaign_conversion_rate",
    "price_tier_index", "share_high_price_items",
    "share_refunded_orders", "lifecycle_stage",
    "sessions", "product_views", "add_to_carts", "checkouts", "order_events", "pays", "after_sales",
    "view_to_cart_rate", "cart_to_order_rate", "order_to_pay_rate", "entry_channel",
    "tickets", "complaints", "avg_rating", "reviews", "days_since_last_complaint",
)


def _tag(id: str, category: str, name_zh: str, name_en: str, rule: str, description_zh: str,
         description_en: str, *, group: str | None = None, priority: int = 0) -> dict[str, Any]:
    return {"id": id, "category": category, "name_zh": name_zh, "name_en": name_en, "rule": rule,
            "description_zh": description_zh, "description_en": description_en, "group": group,
            "priority": priority, "enabled": True}


#: The built-in tags as plain mappings (validated into :class:`~huaxiang.tags.specs.TagSpec`).
BUILTIN_TAGS: tuple[dict[str, Any], ...] = (
    # ------------------------------------------------------------------ value
    _tag("high_value", "value", "高价值客户", "High-value customer",
         "spend_365d >= 5000 and orders_365d >= 3",
         "近一年消费满 5000 元且至少 3 单", "spent 5,000+ in the last year over 3+ purchases"),
    _tag("value_high", "value", "高价值", "Value tier: high", "spend_365d >= 5000",
         "价值分层：近一年消费 ≥ 5000 元", "value tier: 5,000+ spent in the last year",
         group="value_tier", priority=3),
    _tag("value_mid", "value", "中价值", "Value tier: mid", "spend_365d >= 1000",
         "价值分层：近一年消费 1000–5000 元", "value tier: 1,000–5,000 spent in the last year",
         group="value_tier", priority=2),
    _tag("value_low", "value", "低价值", "Value tier: low", "spend_365d > 0",
         "价值分层：近一年有消费但不足 1000 元", "value tier: under 1,000 spent in the last year",
         group="value_tier", priority=1),
    _tag("high_frequency", "value", "高频购买", "Frequent buyer", "orders_365d >= 12",
         "近一年购买 12 单以上（月均一单以上）", "12+ purchases in the last year (monthly or more)"),
    # -------------------------------------------------------------- lifecycle
    _tag("new_customer", "lifecycle", "新客", "New customer", "orders_total >= 1 and T < 90",
         "首次购买在 90 天内", "first purchase within the last 90 days"),
    _tag("one_time_buyer", "lifecycle", "一次性购买", "One-time buyer",
         "orders_total = 1 and recency_days >= 90",
         "只买过一次，且已超过 90 天", "bought once, more than 90 days ago"),
    _tag("churn_risk", "lifecycle", "潜在流失", "Churn risk",
         "orders_total >= 3 and recency_days between 60 and 365 "
         "and recency_days > 2.5 * repurchase_interval_days",
         "曾多次购买，距上次购买已超过平常复购间隔的 2.5 倍（60–365 天）",
         "a repeat buyer now silent for over 2.5× their usual repurchase interval (60–365 days)"),
    _tag("sleeping", "lifecycle", "沉睡客户", "Sleeping customer", "orders_total >= 1 and recency_days > 365",
         "超过一年没有购买", "no purchase for more than a year"),
    _tag("growing", "lifecycle", "成长型客户", "Growing customer",
         "orders_90d >= orders_prev_90d + 2 and orders_total >= 3",
         "近 90 天比前 90 天多买 2 单以上", "2+ more purchases in the last 90 days than in the 90 before"),
    # ---------------------------------------------------------------- habits
    _tag("loyal_repurchaser", "habit", "复购忠诚型", "Loyal repurchaser",
         "orders_total >= 10 and repurchase_interval_cv <= 0.5",
         "至少 10 单且复购间隔稳定（间隔变异系数 ≤ 0.5）",
         "10+ purchases at a steady interval (coefficient of variation ≤ 0.5)"),
    _tag("payday_shopper", "habit", "发薪日购物", "Payday shopper",
         "orders_total >= 5 and share_payday_orders >= 0.6",
         "60% 以上的订单在发薪日后几天内", "60%+ of purchases in the days right after payday"),
    _tag("night_owl", "habit", "夜猫子", "Night owl",
         "orders_total >= 5 and share_night_orders >= 0.5",
         "一半以上的订单在 22 点到凌晨 2 点之间", "half or more of purchases between 22:00 and 02:00"),
    _tag("weekend_shopper", "habit", "周末购物者", "Weekend shopper",
         "orders_total >= 5 and share_weekend_orders >= 0.6",
         "60% 以上的订单在周末", "60%+ of purchases on weekends"),
    _tag("festival_shopper", "habit", "大促活跃", "Festival shopper",
         "orders_total >= 4 and share_festival_orders >= 0.5",
         "一半以上的订单在本地节日/大促期间（中国：618、双十一、年货节；其他国家：法定节假日）",
         "half or more of purchases during the workspace's festivals (China: 618, Double 11, Spring "
         "Festival; elsewhere: public holidays)"),
    # ------------------------------------------------------ promotion & price
    _tag("promotion_sensitive", "price", "促销敏感型", "Promotion-sensitive",
         "orders_total >= 4 and share_discounted_orders >= 0.5 and avg_discount_depth >= 0.15",
         "一半以上的订单使用优惠，且平均折扣力度 ≥ 15%",
         "half or more of purchases discounted, at a mean discount of 15% or deeper"),
    _tag("price_sensitive", "price", "价格敏感型", "Price-sensitive",
         "orders_total >= 3 and price_tier_index <= 0.3",
         "常买同类中价格较低的商品（价格分位 ≤ 0.3）",
         "buys the cheaper items of a category (mean price percentile ≤ 0.3)"),
    _tag("high_price_preference", "price", "高单价偏好型", "High-price preference",
         "orders_total >= 4 and price_tier_index >= 0.65",
         "所购商品在同类中的平均价格分位 ≥ 0.65",
         "buys items priced, on average, at the 65th percentile of their category or above"),
    _tag("campaign_responder", "price", "营销响应型", "Campaign responder",
         "campaigns_received >= 3 and campaign_conversion_rate >= 0.3",
         "收到 3 次以上营销活动且转化率 ≥ 30%", "converts on 30%+ of 3 or more campaigns received"),
    # --------------------------------------------------------------- channel
    _tag("omnichannel", "channel", "全渠道", "Omnichannel", "channel_count >= 3",
         "在 3 个及以上渠道购买", "buys through 3 or more channels"),
    _tag("mobile_first", "channel", "移动端偏好", "Mobile-first",
         "orders_total >= 3 and share_app + share_mini_program >= 0.8",
         "80% 以上订单来自 App 或小程序", "80%+ of purchases in the app or mini-program"),
    _tag("store_first", "channel", "门店偏好", "Store-first", "orders_total >= 3 and share_store >= 0.8",
         "80% 以上订单在门店完成", "80%+ of purchases in stores"),
    _tag("wechat_pay_user", "channel", "微信支付偏好", "WeChat Pay user",
         "top_payment_method = 'wechat_pay' and top_payment_share >= 0.7",
         "70% 以上订单用微信支付", "pays with WeChat Pay 70%+ of the time"),
    _tag("alipay_user", "channel", "支付宝偏好", "Alipay user",
         "top_payment_method = 'alipay' and top_payment_share >= 0.7",
         "70% 以上订单用支付宝", "pays with Alipay 70%+ of the time"),
    # ----------------------------------------------------------- preference
    _tag("category_explorer", "preference", "多品类探索者", "Category explorer", "category_breadth >= 5",
         "购买过 5 个以上品类", "bought from 5 or more categories"),
    _tag("brand_loyal", "preference", "品牌忠诚", "Brand loyal",
         "orders_total >= 4 and top_brand_share >= 0.6",
         "60% 以上的消费集中在一个品牌", "60%+ of spend on one brand"),
    # ------------------------------------------------------------------ path
    _tag("browser_not_buyer", "path", "浏览未购", "Browser, not buyer",
         "product_views >= 10 and (orders_total is null or orders_total = 0)",
         "浏览商品 10 次以上但从未购买", "10+ product views but never bought"),
    _tag("cart_abandoner", "path", "加购未买", "Cart abandoner",
         "add_to_carts >= 3 and cart_to_order_rate < 0.3",
         "加购 3 次以上但下单转化不足 30%", "3+ add-to-carts but under 30% of them ordered"),
    # --------------------------------------------------------------- service
    _tag("high_returns", "service", "高退货", "High returns",
         "orders_total >= 3 and share_refunded_orders >= 0.3",
         "30% 以上的订单取消或退款", "30%+ of orders cancelled or refunded"),
    _tag("complainer", "service", "投诉客户", "Complainer",
         "complaints >= 2 or (complaints >= 1 and days_since_last_complaint <= 90)",
         "投诉 2 次以上，或近 90 天内有投诉", "2+ complaints, or one in the last 90 days"),
    _tag("happy_reviewer", "service", "高满意度", "Happy reviewer", "reviews >= 2 and avg_rating >= 4.5",
         "至少 2 条评价且平均评分 ≥ 4.5", "2+ reviews averaging 4.5 stars or more"),
    # ------------------------------------------------------------ attributes
    _tag("gen_z", "attribute", "Z世代", "Gen Z", "age between 18 and 28",
         "18–28 岁", "aged 18 to 28"),
)
