"""Anomalies: planted spend spikes, refund abusers and shared devices are found and explained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from huaxiang.errors import ModelError, SchemaError
from huaxiang.models import AnomalyModel, score_anomalies


def shop(seed: int = 5, n: int = 2000, planted: int = 20) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """Usual customers plus three planted groups (``planted`` each) on distinct rows."""
    rng = np.random.default_rng(seed)
    orders = rng.poisson(4, n) + 1
    aov = rng.lognormal(5.0, 0.5, n)
    prev = orders * aov * rng.uniform(0.5, 1.0, n)
    spend_90d = prev * 90 / 275 * rng.lognormal(0.0, 0.4, n)
    refunded = rng.binomial(orders, 0.03)
    frame = pd.DataFrame({
        "spend_90d": spend_90d, "orders_90d": rng.poisson(1.5, n), "avg_order_value": aov,
        "refunded_orders": refunded.astype(float), "refund_share": refunded / orders,
        "accounts_per_device": np.where(rng.random(n) < 0.1, 2.0, 1.0),
    })
    frame["spend_spike"] = (frame["spend_90d"] + 150) / (prev * 90 / 275 + 150)
    rows = rng.permutation(n)[: 3 * planted]
    groups = {"spend_spike": list(rows[:planted]), "refund_share": list(rows[planted:2 * planted]),
              "accounts_per_device": list(rows[2 * planted:])}
    spike = groups["spend_spike"]
    frame.loc[spike, "spend_90d"] *= rng.uniform(6, 12, planted)
    frame.loc[spike, "spend_spike"] = ((frame.loc[spike, "spend_90d"] + 150)
                                       / (prev[spike] * 90 / 275 + 150))
    abuse = groups["refund_share"]
    frame.loc[abuse, "refunded_orders"] = orders[abuse] * 0.7
    frame.loc[abuse, "refund_share"] = 0.7
    frame.loc[groups["accounts_per_device"], "accounts_per_device"] = rng.integers(6, 12, planted).astype(float)
    return frame, groups


def test_planted_anomalies_rank_high_with_the_right_reason() -> None:
    frame, groups = shop()
    out = score_anomalies(frame)
    k = 100  # 5% of 2,000: the top of the list a fraud analyst would look at
    top = set(out["anomaly_score"].nlargest(k).index)
    rows = []
    for feature, planted in groups.items():
        found = [i for i in planted if i in top]
        named = [i for i in planted if out.loc[i, "anomaly_reasons"].startswith(feature)]
        rows.append({"planted": feature, "recall_top_k": len(found) / len(planted),
                     "reason_first": len(named) / len(planted)})
    table = pd.DataFrame(rows)
    print(f"\nplanted anomalies, top {k} of {len(frame)}:\n{table.to_string(index=False)}")
    assert (table["recall_top_k"] >= 0.9).all()
    assert (table["reason_first"] >= 0.9).all()
    usual = out.drop(index=[i for g in groups.values() for i in g])
    assert usual["anomaly_score"].median() < out.loc[groups["refund_share"], "anomaly_score"].min()


def test_anomaly_model_errors() -> None:
    with pytest.raises(SchemaError, match="none of the behaviour features"):
        AnomalyModel().fit(pd.DataFrame({"x": range(20)}))
    with pytest.raises(ModelError, match="at least 10 persons"):
        AnomalyModel().fit(pd.DataFrame({"orders_90d": [1, 2, 3]}))
    with pytest.raises(ModelError, match="not fitted"):
        AnomalyModel().score(pd.DataFrame({"orders_90d": [1, 2, 3]}))
