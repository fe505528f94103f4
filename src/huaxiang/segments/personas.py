"""Persona cards: what makes each RFM segment, 8-cell group and cluster different, in zh and en.

For every group the card gives its size and share, the features that most distinguish it from the
population (standardised difference ``z = (group mean - population mean) / population std``; skewed
counts and amounts are compared on ``log1p``, so that one very large customer does not decide the
ranking), each with the group's and the population's plain ``mean`` and ``median`` (what the card
shows, labelled; ``value``/``population`` keep the compared-scale typical value ``expm1(mean log1p)``),
its dominant tags (share in the group and lift over the population, from ``person_tags``), its typical
basket (categories by share of the group's spend, from ``person_category_pref``; spend without a
category is never named as one), its preferred channel, payment method and peak hour, a readable name
built from the distinguishing features (``年轻高频移动端促销敏感型`` / ``Young frequent mobile
promotion-sensitive``) and a description. Clusters also get plain rules from a depth-3 decision tree
(``orders_total > 4.5 and share_app > 0.6``) with their precision and recall.

All aggregates run on the engine over a long ``(person_id, kind, key)`` membership table, so the
cost is a handful of grouped queries whatever the number of groups.

Examples
--------
>>> name_group([("age", -1.2), ("orders_total", 0.9), ("share_app", 1.5), ("share_discounted_orders", 0.8)])
('年轻高频移动端促销敏感型', 'Young frequent mobile promotion-sensitive')
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from huaxiang.engine.base import Engine
from huaxiang.features.preferences import UNKNOWN
from huaxiang.segments.settings import SKEWED_FEATURES, PersonaSettings

__all__ = ["CARD_COLUMNS", "PROFILE_FEATURES", "VOCABULARY", "explain_clusters", "name_group", "persona_cards"]

#: Numeric features a card compares (those the features table has).
PROFILE_FEATURES: tuple[str, ...] = (
    "age", "tenure_days", "recency_days", "orders_total", "orders_365d", "spend_total", "spend_365d",
    "avg_order_value", "category_breadth", "price_tier_index", "share_high_price_items",
    "share_discounted_orders", "share_night_orders", "share_weekend_orders", "share_payday_orders",
    "share_festival_orders", "share_app", "share_mini_program", "share_web", "share_store",
    "share_refunded_orders", "campaign_conversion_rate", "complaints", "sessions",
)

#: feature -> (zh when high, en when high, zh when low, en when low); "" = not used to name a group.
#: Listed in the order adjectives appear in a name (who, how often, how much, where, how).
VOCABULARY: dict[str, tuple[str, str, str, str]] = {
    "age": ("年长", "senior", "年轻", "young"),
    "tenure_days": ("老会员", "long-standing", "新注册", "newly registered"),
    "recency_days": ("沉睡", "dormant", "近期活跃", "recently active"),
    "orders_total": ("高频", "frequent", "低频", "infrequent"),
    "orders_365d": ("高频", "frequent", "低频", "infrequent"),
    "spend_total": ("高消费", "high-spending", "低消费", "low-spending"),
    "spend_365d": ("高消费", "high-spending", "低消费", "low-spending"),
    "avg_order_value": ("大单", "big-ticket", "小单", "small-ticket"),
    "share_app": ("移动端", "mobile", "", ""),
    "share_mini_program": ("小程序", "mini-program", "", ""),
    "share_web": ("网页端", "web", "", ""),
    "share_store": ("门店", "in-store", "线上", "online"),
    "price_tier_index": ("高端", "premium", "平价", "budget"),
    "share_high_price_items": ("高端", "premium", "", ""),
    "share_discounted_orders": ("促销敏感", "promotion-sensitive", "", ""),
    "share_night_orders": ("夜猫子", "night-owl", "", ""),
    "share_weekend_orders": ("周末", "weekend", "", ""),
    "share_payday_orders": ("发薪日", "payday", "", ""),
    "share_festival_orders": ("大促", "festival", "", ""),
    "category_breadth": ("多品类", "multi-category", "", ""),
    "campaign_conversion_rate": ("营销响应", "campaign-responsive", "", ""),
    "share_refunded_orders": ("高退货", "high-return", "", ""),
    "complaints": ("易投诉", "complaint-prone", "", ""),
    "sessions": ("高互动", "engaged", "", ""),
}

CARD_COLUMNS = ["kind", "key", "size", "share", "name_zh", "name_en", "label_zh", "label_en", "description_zh",
                "description_en", "top_features", "top_tags", "top_categories", "top_channel",
                "top_payment_method", "peak_hour", "rules", "rule_precision", "rule_recall"]

#: The population's pseudo-group in the aggregates.
_ALL = "_all"
#: Group kinds: ``segments`` column -> card kind.
KINDS = {"rfm_segment": "rfm", "rfm_cell": "cell", "cluster_id": "cluster"}


def name_group(effects: Sequence[tuple[str, float]], *, words: int = 4, min_effect: float = 0.3) -> tuple[str, str]:
    """A name from the strongest nameable effects ``(feature, z)``: adjectives in :data:`VOCABULARY` order.

    >>> name_group([("spend_total", 2.0), ("recency_days", 1.1)])
    ('沉睡高消费型', 'Dormant high-spending')
    >>> name_group([("share_web", -2.0)])
    ('普通型', 'Average')
    """
    chosen: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    order = list(VOCABULARY)
    for feature, z in sorted(effects, key=lambda e: -abs(e[1])):
        if feature not in VOCABULARY or not abs(z) >= min_effect:
            continue
        hi_zh, hi_en, lo_zh, lo_en = VOCABULARY[feature]
        zh, en = (hi_zh, hi_en) if z > 0 else (lo_zh, lo_en)
        if not zh or zh in seen:
            continue
        seen.add(zh)
        chosen.append((order.index(feature), zh, en))
        if len(chosen) == words:
            break
    if not chosen:
        return "普通型", "Average"
    chosen.sort()
    en = " ".join(e for _, _, e in chosen)
    return "".join(z for _, z, _ in chosen) + "型", en[0].upper() + en[1:]


# ----------------------------------------------------------------------------- decision-tree rules
def _paths(tree: Any, features: list[str]) -> list[tuple[list[tuple[str, str, float]], int, int]]:
    """Each leaf: (conditions, predicted class index, samples)."""
    t = tree.tree_
    out: list[tuple[list[tuple[str, str, float]], int, int]] = []

    def classes(node: int) -> set[int]:
        if t.children_left[node] == t.children_right[node]:
            return {int(np.argmax(t.value[node][0]))}
        return classes(t.children_left[node]) | classes(t.children_right[node])

    def walk(node: int, conds: list[tuple[str, str, float]]) -> None:
        below = classes(node)
        if len(below) == 1:  # a split whose sides predict the same cluster says nothing
            out.append((conds, below.pop(), int(t.n_node_samples[node])))
            return
        name, thr = features[t.feature[node]], float(t.threshold[node])
        walk(t.children_left[node], [*conds, (name, "<=", thr)])
        walk(t.children_right[node], [*conds, (name, ">", thr)])

    walk(0, [])
    return out


def _simplify(conds: list[tuple[str, str, float]]) -> str:
    """Tightest bound per feature and direction, as text."""
    bounds: dict[tuple[str, str], float] = {}
    for name, op, thr in conds:
        key = (name, op)
        bounds[key] = min(bounds.get(key, thr), thr) if op == "<=" else max(bounds.get(key, thr), thr)
    return " and ".join(f"{n} {op} {v:.4g}" for (n, op), v in bounds.items()) or "everyone"


def explain_clusters(frame: pd.DataFrame, labels: np.ndarray, features: list[str], *, max_depth: int = 3,
                     seed: int = 0) -> dict[Any, dict[str, Any]]:
    """Readable rules for cluster membership from a shallow decision tree.

    Returns, per label: ``rules`` (leaves predicting it, joined by ``or``, largest first),
    ``precision`` and ``recall`` of those rules on ``frame``. Missing values are filled with medians.

    Examples
    --------
    >>> f = pd.DataFrame({"orders_total": [1, 2, 1, 8, 9, 7], "share_app": [0.1, 0.2, 0.9, 0.8, 0.1, 0.9]})
    >>> out = explain_clusters(f, np.array([1, 1, 1, 2, 2, 2]), ["orders_total", "share_app"])
    >>> out[2]
    {'rules': 'orders_total > 4.5', 'precision': 1.0, 'recall': 1.0}
    """
    from sklearn.tree import DecisionTreeClassifier

    filled = frame[features].astype("float64")
    x = filled.fillna(filled.median()).fillna(0.0).to_numpy()
    tree = DecisionTreeClassifier(max_depth=max_depth, random_state=seed, min_samples_leaf=max(1, len(x) // 200))
    tree.fit(x, labels)
    predicted = tree.predict(x)
    classes = list(tree.classes_)
    leaves = _paths(tree, features)
    out: dict[Any, dict[str, Any]] = {}
    for i, label in enumerate(classes):
        own = sorted([(n, c) for c, k, n in leaves if k == i], key=lambda e: -e[0])
        texts = [_simplify(c) for _, c in own]
        rule = " or ".join(f"({t})" for t in texts) if len(texts) > 1 else (texts[0] if texts else "")
        hit = predicted == label
        truth = labels == label
        key = label.item() if hasattr(label, "item") else label
        out[key] = {
            "rules": rule,
            "precision": round(float((hit & truth).sum() / hit.sum()), 4) if hit.any() else 0.0,
            "recall": round(float((hit & truth).sum() / truth.sum()), 4) if truth.any() else 0.0,
        }
    return out


# ----------------------------------------------------------------------------- aggregates on the engine
def membership(segments: ir.Table, kinds: Sequence[str]) -> ir.Table:
    """``(person_id, kind, key)``: one row per person and group kind (the group's key as text)."""
    parts = []
    for column in kinds:
        t = segments.filter(segments[column].notnull())
        parts.append(t.select(person_id=t.person_id, kind=ibis.literal(KINDS[column]),
                              key=t[column].cast("string")))
    return ibis.union(*parts, distinct=False)


def _value(t: ir.Table, feature: str) -> ir.FloatingValue:
    v = t[feature].cast("float64")
    if feature in SKEWED_FEATURES:
        return (ibis.greatest(v, 0.0) + 1.0).ln()
    return v


def _jsonable(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if math.isnan(float(v)) else round(float(v), 4)
    if isinstance(v, np.integer):
        return int(v)
    return v


def persona_cards(engine: Engine, segments: ir.Table, features: ir.Table, *,
                  settings: PersonaSettings | None = None, person_tags: ir.Table | None = None,
                  category_pref: ir.Table | None = None, names: dict[tuple[str, str], tuple[str, str]] | None = None,
                  rules: dict[tuple[str, str], dict[str, Any]] | None = None,
                  kinds: Sequence[str] = ("rfm_segment", "rfm_cell", "cluster_id"),
                  order: dict[tuple[str, str], int] | None = None) -> pd.DataFrame:
    """One card per group of each kind in ``segments`` (see the module docstring).

    Parameters
    ----------
    engine
        Runs the grouped queries.
    segments
        ``person_id`` and the group columns ``kinds`` (``rfm_segment``, ``rfm_cell``, ``cluster_id``).
    features
        The ``features`` table (numeric :data:`PROFILE_FEATURES`, ``top_channel``, ``top_payment_method``,
        ``peak_hour`` where present).
    settings
        ``segments.personas`` (how many distinguishing features, the smallest effect that names a group).
    person_tags, category_pref
        The tags (``person_id, tag_id, name_zh, name_en``) and ``person_category_pref`` tables, if any.
    names
        ``(kind, key) -> (name_zh, name_en)`` for groups with given names (RFM segments, cells);
        other groups (clusters) are named by :func:`name_group`.
    rules
        ``(kind, key) -> {"rules", "precision", "recall"}``.
    order
        ``(kind, key) -> position`` for sorting the cards within a kind (default: by key).

    Returns
    -------
    pandas.DataFrame
        :data:`CARD_COLUMNS`; ``top_features``, ``top_tags`` and ``top_categories`` are JSON lists.

    Examples
    --------
    >>> import ibis
    >>> from huaxiang.engine import create_engine
    >>> eng = create_engine("duckdb")
    >>> seg = ibis.memtable({"person_id": ["a", "b", "c", "d"], "cluster_id": [1, 1, 2, 2]})
    >>> feat = ibis.memtable({"person_id": ["a", "b", "c", "d"], "age": [22.0, 24, 60, 62],
    ...                       "share_app": [0.9, 0.8, 0.1, 0.0]})
    >>> cards = persona_cards(eng, seg, feat, kinds=["cluster_id"])
    >>> cards[["key", "size", "share", "name_zh", "name_en"]].values.tolist()
    [['1', 2, 0.5, '年轻移动端型', 'Young mobile'], ['2', 2, 0.5, '年长型', 'Senior']]
    """
    s = settings or PersonaSettings()
    kinds = [k for k in kinds if k in segments.columns]
    numeric = [c for c in PROFILE_FEATURES if c in features.columns]
    mode_columns = [c for c in ("top_channel", "top_payment_method", "peak_hour") if c in features.columns]
    # one long table: a row per person and kind, plus the population as the pseudo-group (_all, _all)
    people = segments.select(person_id=segments.person_id, kind=ibis.literal(_ALL), key=ibis.literal(_ALL))
    members = ibis.union(membership(segments, kinds), people, distinct=False)
    wide = members.left_join(features.select("person_id", *numeric, *mode_columns), "person_id")
    wide = engine.materialize("_hx_persona_members", wide.drop("person_id_right"), temp=True)

    aggs: dict[str, Any] = {"size": wide.count()}
    for c in numeric:  # mean and mean square on the compared scale (log1p for skewed features)
        v = _value(wide, c)
        aggs[f"m__{c}"] = v.mean()
        aggs[f"q__{c}"] = (v * v).mean()  # std from it: half the time of STDDEV_POP on Spark
        raw = wide[c].cast("float64")
        aggs[f"a__{c}"] = raw.mean()
        aggs[f"d__{c}"] = raw.median()
    groups = engine.execute(wide.group_by(["kind", "key"]).aggregate(**aggs))
    is_all = (groups["kind"] == _ALL) & (groups["key"] == _ALL)
    if not is_all.any():  # nobody to describe
        engine.drop("_hx_persona_members")
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("size", "peak_hour") else "object")
                             for c in CARD_COLUMNS})
    pop = groups[is_all].iloc[0]
    groups = groups[~is_all]
    total = int(pop["size"])

    modes: dict[str, dict[tuple[str, str], tuple[Any, float]]] = {c: {} for c in mode_columns}
    if mode_columns:
        parts = [wide.filter(wide[c].notnull()).select("kind", "key", column=ibis.literal(c),
                                                       value=wide[c].cast("string")) for c in mode_columns]
        long = ibis.union(*parts, distinct=False)
        counts = engine.execute(long.group_by(["kind", "key", "column", "value"]).aggregate(n=long.count()))
        counts = counts.sort_values(["column", "kind", "key", "n", "value"], ascending=[True, True, True, False, True])
        for (column, kind, key), g in counts.groupby(["column", "kind", "key"], sort=False):
            modes[str(column)][(str(kind), str(key))] = (g["value"].iloc[0], float(g["n"].iloc[0] / g["n"].sum()))

    size_of = {(str(r.kind), str(r.key)): int(r.size) for r in groups.itertuples()}
    tags: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if person_tags is not None:
        pt = person_tags.select("person_id", "tag_id", "name_zh", "name_en")
        jt = wide.select("person_id", "kind", "key").inner_join(pt, "person_id")
        # person_tags holds one row per person and tag, a person one row per kind: a count is a head count
        per = engine.execute(jt.group_by(["kind", "key", "tag_id", "name_zh", "name_en"]).aggregate(n=jt.count()))
        overall = per[(per["kind"] == _ALL) & (per["key"] == _ALL)]
        pop_share = {str(r.tag_id): r.n / max(total, 1) for r in overall.itertuples()}
        for r in per.itertuples():
            gk = (str(r.kind), str(r.key))
            if gk not in size_of:
                continue
            share = r.n / max(size_of[gk], 1)
            lift = share / pop_share[str(r.tag_id)] if pop_share.get(str(r.tag_id)) else 0.0
            tags.setdefault(gk, []).append({"tag_id": r.tag_id, "name_zh": r.name_zh, "name_en": r.name_en,
                                            "share": round(float(share), 4), "lift": round(float(lift), 3)})
        for gk, items in tags.items():
            lifted = [t for t in items if t["lift"] >= 1.2 and t["share"] >= 0.1]
            tags[gk] = sorted(lifted, key=lambda t: (-t["share"], t["tag_id"]))[:3]

    baskets: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if category_pref is not None:
        cp = category_pref.select("person_id", "category", "spend")
        jc = wide.filter(wide.kind != _ALL).select("person_id", "kind", "key").inner_join(cp, "person_id")
        spend = engine.execute(jc.group_by(["kind", "key", "category"]).aggregate(spend=jc.spend.sum()))
        for (kind, key), g in spend.groupby(["kind", "key"]):
            g = g[g["spend"] > 0].sort_values(["spend", "category"], ascending=[False, True])
            whole = float(g["spend"].sum())  # shares stay shares of all the group's spend
            named = g[g["category"].notna() & ~g["category"].astype(str).str.strip().str.lower().isin(
                [UNKNOWN, ""])]
            baskets[(str(kind), str(key))] = [{"category": str(r.category), "share": round(float(r.spend) / whole, 4)}
                                              for r in named.head(3).itertuples()] if whole > 0 else []

    by_group = {(str(r["kind"]), str(r["key"])): r for _, r in groups.iterrows()}
    rows = []
    for gk, g in by_group.items():
        effects: list[dict[str, Any]] = []
        for c in numeric:
            mu, gm = pop[f"m__{c}"], g[f"m__{c}"]
            if pd.isna(mu) or pd.isna(gm):
                continue
            sd = math.sqrt(max(float(pop[f"q__{c}"]) - float(mu) ** 2, 0.0))
            if not sd > 1e-9 * max(1.0, abs(float(mu))):  # constant (or nearly) in the population
                continue
            z = float((gm - mu) / sd)
            value, population = float(gm), float(mu)
            if c in SKEWED_FEATURES:  # typical values on the compared scale: expm1(mean of log1p)
                value, population = math.expm1(value), math.expm1(population)
            effects.append({"feature": c, "z": round(z, 3), "value": _jsonable(value),
                            "population": _jsonable(population), "mean": _jsonable(g[f"a__{c}"]),
                            "median": _jsonable(g[f"d__{c}"]), "population_mean": _jsonable(pop[f"a__{c}"]),
                            "population_median": _jsonable(pop[f"d__{c}"])})
        effects.sort(key=lambda e: (-abs(e["z"]), e["feature"]))
        top = [e for e in effects if abs(e["z"]) >= s.min_effect][: s.top_features]
        label_zh, label_en = name_group([(e["feature"], e["z"]) for e in effects], min_effect=s.min_effect)
        name_zh, name_en = (names or {}).get(gk, (label_zh, label_en))
        channel = modes.get("top_channel", {}).get(gk)
        payment = modes.get("top_payment_method", {}).get(gk)
        hour = modes.get("peak_hour", {}).get(gk)
        rule = (rules or {}).get(gk, {})
        size = int(g["size"])
        rows.append({
            "kind": gk[0], "key": gk[1], "size": size, "share": round(size / max(total, 1), 4),
            "name_zh": name_zh, "name_en": name_en, "label_zh": label_zh, "label_en": label_en,
            "top_features": top, "top_tags": tags.get(gk, []), "top_categories": baskets.get(gk, []),
            "top_channel": None if channel is None else str(channel[0]),
            "top_payment_method": None if payment is None else str(payment[0]),
            "peak_hour": None if hour is None else int(float(hour[0])),
            "rules": rule.get("rules"), "rule_precision": rule.get("precision"), "rule_recall": rule.get("recall"),
        })
    engine.drop("_hx_persona_members")
    for row in rows:
        row["description_zh"], row["description_en"] = describe_card(row)
        for col in ("top_features", "top_tags", "top_categories"):
            row[col] = json.dumps(row[col], ensure_ascii=False)
    kind_order = {KINDS[k]: i for i, k in enumerate(kinds)}

    def sort_key(row: dict[str, Any]) -> tuple[int, int, int, str]:
        pos = (order or {}).get((row["kind"], row["key"]))
        numeric_key = int(row["key"]) if row["key"].lstrip("-").isdigit() else 0
        return (kind_order.get(row["kind"], 9), pos if pos is not None else 10_000, numeric_key, row["key"])

    rows.sort(key=sort_key)
    frame = pd.DataFrame(rows, columns=CARD_COLUMNS)
    frame["size"] = frame["size"].astype("int64")
    frame["peak_hour"] = frame["peak_hour"].astype("Int64")
    return frame


_CHANNEL_ZH = {"app": "App", "web": "网页", "mini_program": "小程序", "store": "门店"}
_PAYMENT_ZH = {"alipay": "支付宝", "wechat_pay": "微信支付", "card": "银行卡", "cash": "现金",
               "union_pay": "银联", "other": "其他"}


def describe_card(card: dict[str, Any]) -> tuple[str, str]:
    """The zh and en description of a card (size, distinguishing features, basket, channel, timing).

    >>> describe_card({"name_zh": "冠军客户", "name_en": "Champions", "size": 120, "share": 0.08,
    ...     "top_features": [{"feature": "orders_total", "z": 1.4, "mean": 21.5, "median": 18.0,
    ...                       "population_mean": 9.4, "population_median": 7.0}],
    ...     "top_categories": [{"category": "食品", "share": 0.4}], "top_channel": "app",
    ...     "top_payment_method": "alipay", "peak_hour": 20, "top_tags": []})[1]
    'Champions: 120 persons (8.0%). Stand out by: frequent (orders_total mean 21.5, median 18; everyone: mean 9.4, median 7). Buy mostly 食品 (40%). Prefer app, pay by alipay, peak hour 20:00.'
    """
    zh = [f"{card['name_zh']}：{card['size']:,} 人，占 {card['share']:.1%}。"]
    en = [f"{card['name_en']}: {card['size']:,} persons ({card['share']:.1%})."]
    # features named by the same word are shown together: 高频（orders_total …；orders_365d …）
    words: dict[tuple[str, str, str], list[tuple[str, str, str, str, str]]] = {}
    for e in card["top_features"]:
        hi_zh, hi_en, lo_zh, lo_en = VOCABULARY.get(e["feature"], ("", "", "", ""))
        word_zh, word_en = (hi_zh, hi_en) if e["z"] > 0 else (lo_zh, lo_en)
        key = (word_zh, word_en, "") if word_zh else (
            "偏高" if e["z"] > 0 else "偏低", "higher" if e["z"] > 0 else "lower", e["feature"])
        words.setdefault(key, []).append((e["feature"], *_stats(e)))
    traits_zh = [f"{zh}（" + "；".join(f"{f} 均值 {m}、中位数 {d}，总体均值 {pm}、中位数 {pd_}"
                                      for f, m, d, pm, pd_ in items) + "）"
                 for (zh, _, _), items in words.items()]
    traits_en = [f"{en} (" + "; ".join(f"{f} mean {m}, median {d}; everyone: mean {pm}, median {pd_}"
                                      for f, m, d, pm, pd_ in items) + ")"
                 for (_, en, _), items in words.items()]
    if traits_zh:
        zh.append("特点：" + "；".join(traits_zh) + "。")
        en.append("Stand out by: " + "; ".join(traits_en) + ".")
    if card["top_categories"]:
        zh.append("主要购买" + "、".join(f"{c['category']}（{c['share']:.0%}）" for c in card["top_categories"]) + "。")
        en.append("Buy mostly " + ", ".join(f"{c['category']} ({c['share']:.0%})" for c in card["top_categories"])
                  + ".")
    habits_zh, habits_en = [], []
    if card.get("top_channel"):
        habits_zh.append(f"常用{_CHANNEL_ZH.get(card['top_channel'], card['top_channel'])}")
        habits_en.append(f"prefer {card['top_channel']}")
    if card.get("top_payment_method"):
        habits_zh.append(f"{_PAYMENT_ZH.get(card['top_payment_method'], card['top_payment_method'])}付款")
        habits_en.append(f"pay by {card['top_payment_method']}")
    if card.get("peak_hour") is not None:
        habits_zh.append(f"{card['peak_hour']} 点下单最多")
        habits_en.append(f"peak hour {card['peak_hour']}:00")
    if habits_zh:
        zh.append("，".join(habits_zh) + "。")
        en.append(" ".join([habits_en[0][0].upper() + habits_en[0][1:], *[", " + h for h in habits_en[1:]]])
                  .replace(" , ", ", ") + ".")
    if card.get("top_tags"):
        zh.append("典型标签：" + "、".join(t["name_zh"] for t in card["top_tags"]) + "。")
        en.append("Typical tags: " + ", ".join(t["name_en"] for t in card["top_tags"]) + ".")
    return "".join(zh), " ".join(en)


def _stats(e: dict[str, Any]) -> tuple[str, str, str, str]:
    """Group mean, median, population mean, median of a feature effect (cards saved before the medians
    existed show their typical values as both)."""
    return (_num(e.get("mean", e.get("value"))), _num(e.get("median", e.get("value"))),
            _num(e.get("population_mean", e.get("population"))), _num(e.get("population_median", e.get("population"))))


def _num(v: Any) -> str:
    if v is None:
        return "-"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
