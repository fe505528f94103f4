"""What each score means and why a model was (not) used, in Chinese and English.

:data:`SCORES` defines every column of the ``scores`` table; :data:`REASONS` every ``reason`` code
of ``model_reports`` (why the build delivered the model, its baseline or nothing). Faces (CLI,
profile, service) show these texts; the stage writes only the codes.

Examples
--------
>>> score_catalog("en").set_index("score").loc["p_purchase_30d", "name"]
'Purchase probability, next 30 days'
>>> describe_reason("baseline_better", "zh")
'基线在留出数据上更好，交付基线'
>>> describe_reason("nonsense", "en")
Traceback (most recent call last):
...
KeyError: "unknown model_reports reason 'nonsense'; known: model_better, baseline_better, no_signal, below_baseline_kept, not_evaluated, skipped"
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

__all__ = ["REASONS", "SCORES", "describe_reason", "reason_catalog", "score_catalog"]

Lang = Literal["zh", "en"]

#: score column -> (zh name, en name, zh definition, en definition)
SCORES: dict[str, tuple[str, str, str, str]] = {
    "clv": (
        "客户终身价值", "Customer lifetime value",
        "未来 12 个月（models.clv.horizon_months）的预计消费，按月折现；来自 BG/NBD + Gamma-Gamma，"
        "若该模型在留出数据上不如历史频率基线，则用基线（历史购买频率 × 平均客单价）",
        "expected spend over the next 12 months (models.clv.horizon_months), discounted monthly; from "
        "BG/NBD + Gamma-Gamma, or from the run-rate baseline (past purchase rate x mean spend) when that "
        "was closer on held-out data"),
    "expected_purchases_90d": (
        "未来 90 天预计购买次数", "Expected purchases, next 90 days",
        "未来 90 天预计的购买天数；与 clv 来自同一个模型（BG/NBD 或历史频率基线）",
        "expected purchase days in the next 90 days; from the same model as clv (BG/NBD or the run-rate "
        "baseline)"),
    "p_alive": (
        "仍活跃概率", "Probability still active",
        "BG/NBD 估计的客户仍未流失的概率；流失模型无信号时为空",
        "BG/NBD's probability that the customer has not lapsed; empty when churn shows no signal"),
    "churn_prob": (
        "流失概率", "Churn probability",
        "未来 90 天（models.churn.horizon_days）不再购买的校准概率；模型在留出数据上无信号"
        "（AUC 与 0.5 相差不到 0.02 或在其抽样误差内）时为空",
        "calibrated probability of no purchase in the next 90 days (models.churn.horizon_days); empty when "
        "the model shows no signal on held-out data (AUC within 0.02 of 0.5, or within its sampling noise)"),
    "p_purchase_30d": (
        "30 天内购买概率", "Purchase probability, next 30 days",
        "未来 30 天内至少购买一次的概率（BG/NBD）；无信号时为空",
        "probability of at least one purchase in the next 30 days (BG/NBD); empty when the model shows no "
        "signal"),
    "expected_days_to_next_purchase": (
        "预计距下次购买天数", "Expected days to next purchase",
        "下次购买时间的中位数：到这一天，购买概率达到 50%；与 p_purchase_30d 同一模型，因此 30 天内购买概率"
        "不低于 50% 当且仅当本值不超过 30；一年内达不到 50% 时记为 365",
        "the median time to the next purchase: the day by which the purchase probability reaches 50%; from "
        "the same model as p_purchase_30d, so p_purchase_30d >= 0.5 exactly when this is <= 30; 365 when "
        "50% is not reached within a year"),
    "anomaly_score": (
        "异常分", "Anomaly score",
        "行为与多数人相比的异常程度（孤立森林，0-1，越高越异常）",
        "how unusual the behaviour is compared with most persons (isolation forest, 0-1, higher = more "
        "unusual)"),
    "anomaly_reasons": (
        "异常原因", "Anomaly reasons",
        "被标为异常的人最偏离常态的特征",
        "the features furthest from the usual for persons flagged as unusual"),
    "as_of": ("评分日期", "Scored as of", "评分所用数据的截止时间", "the point in time the scores use data up to"),
}

#: model_reports reason code -> (zh, en)
REASONS: dict[str, tuple[str, str]] = {
    "model_better": ("模型在留出数据上优于基线，交付模型", "the model beat its baseline on held-out data and is delivered"),
    "baseline_better": ("基线在留出数据上更好，交付基线", "the baseline did better on held-out data and is delivered instead"),
    "no_signal": ("模型在留出数据上无信号（AUC 与 0.5 相差不到 0.02 或在其抽样误差内），不写入相关评分",
                  "no signal on held-out data (AUC within 0.02 of 0.5, or within its sampling noise): its "
                  "scores are left empty"),
    "below_baseline_kept": ("模型在留出数据上排序不如基线，但基线给不出概率，仍交付模型（谨慎使用）",
                            "below its baseline's ranking on held-out data, kept because the baseline gives no "
                            "probability (use with care)"),
    "not_evaluated": ("数据不足以留出评估，按模型交付", "too little data for a held-out check; the model is delivered"),
    "skipped": ("模型未能拟合（见 note）", "the model could not be fitted (see note)"),
}


def score_catalog(lang: Lang = "en") -> pd.DataFrame:
    """Every score column with its name and definition in ``lang``.

    Examples
    --------
    >>> score_catalog("zh").columns.tolist()
    ['score', 'name', 'definition']
    """
    i = 0 if lang == "zh" else 1
    return pd.DataFrame([{"score": k, "name": v[i], "definition": v[2 + i]} for k, v in SCORES.items()])


def reason_catalog(lang: Lang = "en") -> pd.DataFrame:
    """Every ``model_reports.reason`` code with its text in ``lang``.

    Examples
    --------
    >>> len(reason_catalog("zh")) == len(REASONS)
    True
    """
    i = 0 if lang == "zh" else 1
    return pd.DataFrame([{"reason": k, "text": v[i]} for k, v in REASONS.items()])


def describe_reason(code: str, lang: Lang = "en") -> str:
    """The text of one ``reason`` code; ``KeyError`` naming the known codes for an unknown one."""
    if code not in REASONS:
        raise KeyError(f"unknown model_reports reason {code!r}; known: {', '.join(REASONS)}")
    return REASONS[code][0 if lang == "zh" else 1]
