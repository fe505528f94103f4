"""The zh/en label catalogue: every title, column header, unit and fixed reason a face shows.

One catalogue for every face (CLI, service, dashboard), so a word is translated once. Keys are the
stored column names, table names or ``title.*`` / ``unit.*`` / ``reason.*`` keys; both languages
hold the same keys (``tests/test_labels.py`` walks them). Data values (tag names, persona names)
carry their own ``_zh``/``_en`` columns and are not here.

Examples
--------
>>> label("churn_prob", "zh"), label("churn_prob", "en")
('流失概率', 'churn probability')
>>> label("no_such_column", "zh")          # unknown keys show as themselves
'no_such_column'
>>> check_lang("fr")
Traceback (most recent call last):
...
huaxiang.errors.ConfigError: --lang 'fr': use zh or en
"""

from __future__ import annotations

import re

from huaxiang.errors import ConfigError

__all__ = ["LABELS", "LANGS", "check_lang", "label", "translate_reason"]

#: The languages every face speaks.
LANGS = ("zh", "en")

# (key, zh, en): kept as one list so a key cannot be added to one language only.
_ENTRIES: tuple[tuple[str, str, str], ...] = (
    # --- titles
    ("title.sources", "数据源", "sources"),
    ("title.tables", "数据表", "tables"),
    ("title.stages", "阶段", "stages"),
    ("title.total", "合计", "total"),
    ("title.quarantine", "隔离区", "quarantine"),
    ("title.funnel", "消费路径漏斗", "funnel"),
    ("title.model_reports", "模型报告", "model reports"),
    ("title.scores_of", "评分 · {0}", "scores of {0}"),
    ("title.tags", "标签", "tags"),
    ("title.tags_of", "标签历史 · {0}", "tags of {0}"),
    ("title.tag_trend", "标签趋势", "tag trend"),
    ("title.records_of", "来源记录 · {0}", "records of {0}"),
    ("title.why_one", "为何是同一人", "why they are one person"),
    ("title.rfm", "RFM 分群", "RFM segments"),
    ("title.cell", "RFM 八象限", "RFM 8 cells"),
    ("title.cluster", "聚类", "clusters"),
    ("title.k_search", "K-means: k 的选择", "K-means: choosing k"),
    ("title.attributes", "基本属性", "attributes"),
    ("title.records", "来源记录", "source records"),
    ("title.features", "特征", "features"),
    ("title.orders", "最近订单", "recent orders"),
    ("title.events", "最近行为", "recent events"),
    ("title.scores", "评分", "scores"),
    ("title.segments", "分群", "segments"),
    ("title.recommendations", "推荐", "recommendations"),
    ("title.tag_history", "标签历史", "tag history"),
    ("title.none", "（无）", "(none)"),
    ("title.tables_list", "数据表", "tables"),
    # --- messages
    ("msg.quarantine_empty", "隔离区为空：读到的每一行都已载入", "quarantine is empty: every row read was loaded"),
    ("msg.n_tags", "共 {0} 个标签", "{0} tags"),
    ("msg.no_tags", "{0} 没有标签历史", "{0} has no tags in the history"),
    ("msg.merged_into", "{0} 已合并到 {1}", "{0} was merged into {1}"),
    ("msg.single_record", "只有一条记录：无需合并", "a single record: nothing joined"),
    ("msg.as_of", "数据截至 {0}", "as of {0}"),
    ("msg.no_data", "无数据（需要 {0}）", "no data (needs {0})"),
    ("msg.no_data_features", "特征：{0} 个在这份数据上无数据（为空；读取它们的标签不会触发）",
     "features: {0} have no data here (NULL; tags reading them do not fire)"),
    ("msg.calendar", "日历：{0}；节日 {1}", "calendar: {0}; festivals {1}"),
    ("msg.no_calendar", "日历：无（country: null）", "calendar: none (country: null)"),
    ("msg.purchases_from_events", "{0}：{1} 个购买事件计为订单", "{0}: {1} purchase events counted as orders"),
    ("msg.updated_at", "更新于 {0}", "updated {0}"),
    ("msg.beats", "优于基线", "beats baseline"),
    ("msg.loses", "不及基线", "below baseline"),
    # --- units
    ("unit.days", "天", "d"),
    ("unit.hours", "小时", "h"),
    ("unit.minutes", "分钟", "min"),
    ("unit.seconds", "秒", "s"),
    # --- build report columns
    ("source", "来源", "source"),
    ("table", "表", "table"),
    ("format", "格式", "format"),
    ("rows_read", "读取行数", "rows read"),
    ("rows_loaded", "载入行数", "loaded"),
    ("rows_quarantined", "隔离行数", "quarantined"),
    ("seconds", "秒", "seconds"),
    ("stage", "阶段", "stage"),
    ("rows", "行数", "rows"),
    # --- quarantine
    ("target_table", "目标表", "target table"),
    ("reason", "原因", "reason"),
    ("used", "实际采用", "used"),
    ("tier", "更新方式", "tier"),
    ("tier.event", "事件实时", "on event"),
    ("tier.scheduled", "定时刷新", "scheduled"),
    ("mean", "本群均值", "group mean"),
    ("median", "本群中位数", "group median"),
    ("population_mean", "总体均值", "everyone mean"),
    ("population_median", "总体中位数", "everyone median"),
    ("example_rows", "示例行号", "example rows"),
    ("example_values", "问题值", "offending values"),
    ("example", "示例", "example"),
    # --- funnel
    ("step_order", "序号", "#"),
    ("step", "步骤", "step"),
    ("event_types", "事件类型", "event types"),
    ("persons", "人数", "persons"),
    ("sessions", "会话数", "sessions"),
    ("conversion", "转化率", "conversion"),
    ("drop_off", "流失率", "drop-off"),
    ("session_conversion", "会话转化率", "session conversion"),
    ("median_seconds_from_previous", "距上一步（中位）", "median time from previous"),
    ("channel", "渠道", "channel"),
    ("segment", "分群", "segment"),
    # --- model reports
    ("model", "模型", "model"),
    ("metric", "指标", "metric"),
    ("value", "值", "value"),
    ("baseline", "基线", "baseline"),
    ("baseline_value", "基线值", "baseline value"),
    ("train_window", "数据窗口", "data window"),
    ("n", "样本数", "n"),
    ("note", "说明", "note"),
    ("beats_baseline", "优于基线", "beats baseline"),
    # --- scores
    ("person_id", "客户 ID", "person id"),
    ("clv", "客户终身价值", "CLV"),
    ("expected_purchases_90d", "90 天预计购买次数", "expected purchases (90 d)"),
    ("p_alive", "仍活跃概率", "probability alive"),
    ("churn_prob", "流失概率", "churn probability"),
    ("p_purchase_30d", "30 天内购买概率", "purchase probability (30 d)"),
    ("expected_days_to_next_purchase", "预计距下次购买天数", "expected days to next purchase"),
    ("anomaly_score", "异常分", "anomaly score"),
    ("anomaly_reasons", "异常原因", "anomaly reasons"),
    ("as_of", "数据截至", "as of"),
    # --- segments, personas
    ("kind", "类型", "kind"),
    ("key", "键", "key"),
    ("name", "名称", "name"),
    ("size", "人数", "size"),
    ("share", "占比", "share"),
    ("k", "k", "k"),
    ("inertia", "簇内平方和", "inertia"),
    ("silhouette", "轮廓系数", "silhouette"),
    ("chosen", "选中", "chosen"),
    ("elbow", "肘点", "elbow"),
    ("n_fit", "拟合人数", "n fit"),
    ("reused", "沿用", "reused"),
    ("card.distinguishing", "区分特征", "distinguishing features"),
    ("card.group", "群体", "group"),
    ("card.population", "总体", "population"),
    ("card.rules", "规则", "rules"),
    ("card.precision", "精确率", "precision"),
    ("card.recall", "召回率", "recall"),
    ("card.auto_label", "自动命名", "auto label"),
    ("card.feature", "特征", "feature"),
    ("rfm_segment", "RFM 分群", "RFM segment"),
    ("rfm_cell", "RFM 象限", "RFM cell"),
    ("rfm_score", "RFM 分", "RFM score"),
    ("cluster_id", "聚类", "cluster"),
    # --- tags
    ("id", "ID", "id"),
    ("tag_id", "标签 ID", "tag id"),
    ("tag", "标签", "tag"),
    ("category", "类别", "category"),
    ("group", "互斥组", "group"),
    ("priority", "优先级", "priority"),
    ("rule", "规则", "rule"),
    ("description", "说明", "description"),
    ("enabled", "启用", "enabled"),
    ("since", "起始", "since"),
    ("valid_from", "开始", "valid from"),
    ("valid_to", "结束", "valid to"),
    ("built_at", "构建时间", "built at"),
    # --- identity
    ("record_key", "记录", "record"),
    ("linked_record_key", "关联记录", "linked record"),
    ("identifier_value", "标识值", "identifier"),
    ("match_probability", "匹配概率", "match probability"),
    # --- attributes (persons, customers_raw)
    ("attr.name", "姓名", "name"),
    ("n_records", "记录数", "records"),
    ("sources", "来源", "sources"),
    ("phone", "手机", "phone"),
    ("email", "邮箱", "e-mail"),
    ("region", "省份", "region"),
    ("city", "城市", "city"),
    ("address", "地址", "address"),
    ("occupation", "职业", "occupation"),
    ("member_level", "会员等级", "member level"),
    ("member_card", "会员卡", "member card"),
    ("consent_marketing", "营销同意", "marketing consent"),
    ("gender", "性别", "gender"),
    ("birth_date", "出生日期", "birth date"),
    ("country", "国家", "country"),
    ("registered_at", "注册时间", "registered"),
    ("first_seen", "首次出现", "first seen"),
    ("user_id", "用户 ID", "user id"),
    ("wechat_unionid", "微信 UnionID", "WeChat UnionID"),
    ("source_customer_id", "来源客户号", "source customer id"),
    # --- orders, events, recommendations
    ("order_ts", "下单时间", "ordered at"),
    ("order_id", "订单号", "order id"),
    ("amount", "金额", "amount"),
    ("discount_amount", "优惠金额", "discount"),
    ("payment_method", "支付方式", "payment"),
    ("status", "状态", "status"),
    ("promo_id", "活动", "promotion"),
    ("store_id", "门店", "store"),
    ("event_ts", "时间", "time"),
    ("event_type", "行为", "event"),
    ("session_id", "会话", "session"),
    ("properties", "属性", "properties"),
    ("rank", "排名", "rank"),
    ("product_id", "商品编码", "product code"),
    ("product_name", "商品", "product"),
    ("score", "得分", "score"),
    # --- feature dimensions (feature_catalog.dimension)
    ("dim.attributes", "基本属性", "attributes"),
    ("dim.lifecycle", "生命周期", "lifecycle"),
    ("dim.frequency", "频次", "frequency"),
    ("dim.clv", "客户价值", "customer value"),
    ("dim.price", "价格", "price"),
    ("dim.channel", "渠道", "channel"),
    ("dim.promotion", "促销", "promotion"),
    ("dim.returns", "退货", "returns"),
    ("dim.service", "服务", "service"),
    ("dim.key", "关键指标", "key figures"),
    ("dim.rfm", "RFM", "RFM"),
    ("dim.preference", "偏好", "preference"),
    ("dim.payment", "支付", "payment"),
    ("dim.time", "时间", "time"),
    ("dim.path", "路径", "path"),
    ("dim.other", "其他", "other"),
    # --- fixed reasons the models write (recommendations.reason)
    ("reason.similar customers bought this", "相似客户购买过", "similar customers bought this"),
    ("reason.popular with all customers", "全体客户热销", "popular with all customers"),
    ("reason.bought before", "曾经购买", "bought before"),
)

# Reasons the stages write with values in them (quarantine, anomaly): a pattern per language, the
# English one being the text as written. ``translate_reason`` tries them in order.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^exact duplicate of source row (.+)$"), r"与来源第 \1 行完全相同"),
    (re.compile(r"^duplicate key \((.+)\), first at source row (.+)$"), r"主键重复（\1），首次出现在来源第 \2 行"),
    (re.compile(r"^(\w+): cannot read (.+) as a number$"), r"\1：无法把 \2 读作数字"),
    (re.compile(r"^(\w+): cannot read (.+) as format (.+)$"), r"\1：无法按格式 \3 读取 \2"),
    (re.compile(r"^(\w+): unknown value (.+); valid: (.+)$"), r"\1：未知取值 \2；有效取值：\3"),
    (re.compile(r"^missing (\w+)$"), r"缺少 \1"),
    (re.compile(r"^negative (\w+) on a sale$"), r"销售单的 \1 为负"),
    (re.compile(r"^malformed line(.*)$"), r"格式错误的行\1"),
    (re.compile(r" ?\(typical ([^,]+), z = ([^)]+)\)"), r"（通常 \1，z = \2）"),
)

#: ``LABELS[lang][key]``: the catalogue, one dict per language.
LABELS: dict[str, dict[str, str]] = {
    "zh": {key: zh for key, zh, _ in _ENTRIES},
    "en": {key: en for key, _, en in _ENTRIES},
}


def check_lang(lang: str) -> None:
    """Raise :class:`~huaxiang.errors.ConfigError` unless ``lang`` is ``zh`` or ``en``.

    >>> check_lang("zh")
    """
    if lang not in LANGS:
        raise ConfigError(f"--lang {lang!r}: use zh or en")


def label(key: str, lang: str = "zh", *args: object) -> str:
    """The label of ``key`` in ``lang`` (``key`` itself when the catalogue has none).

    ``args`` fill the ``{0}``, ``{1}`` … slots of titles and messages.

    >>> label("title.scores_of", "en", "P1")
    'scores of P1'
    """
    text = LABELS.get(lang, LABELS["en"]).get(key, key)
    return text.format(*args) if args else text


def translate_reason(reason: object, lang: str = "zh") -> str:
    """A fixed model reason in ``lang`` (free-form reasons, e.g. a tag rule's, are returned as they are).

    >>> translate_reason("similar customers bought this", "zh")
    '相似客户购买过'
    >>> translate_reason("amount: cannot read 'N/A' as a number", "zh")
    "amount：无法把 'N/A' 读作数字"
    >>> translate_reason("refunded_orders = 7 (typical 0, z = 5.6)", "zh")
    'refunded_orders = 7（通常 0，z = 5.6）'
    """
    if not isinstance(reason, str):  # None, NaN: no reason
        return ""
    fixed = LABELS.get(lang, LABELS["en"]).get(f"reason.{reason}")
    if fixed is not None or lang != "zh":
        return fixed or reason
    out = str(reason)
    for pattern, zh in _PATTERNS:
        out = pattern.sub(zh, out)
    return out
