"""The features stage on the demo shop: every contract column, incremental == full, the funnel command."""

from __future__ import annotations

import json

import ibis
import pandas as pd
import pytest
from typer.testing import CliRunner

import huaxiang
from huaxiang.cli import app
from huaxiang.features.stage import compute_features, default_as_of

CONTRACT = ["recency_days", "orders_total", "orders_365d", "orders_90d", "orders_prev_90d", "spend_total", "spend_365d", "avg_order_value", "frequency", "recency", "T", "monetary_value", "orders_per_month", "orders_per_quarter", "orders_per_year", "order_trend_90d", "repurchase_interval_days", "repurchase_interval_cv", "top_category", "top_category_share", "top_brand", "top_brand_share", "category_breadth", "top_category_affinity", "top_payment_method", "top_payment_share", "top_channel", "top_channel_share", "channel_count", "share_app", "share_mini_program", "share_web", "share_store", "peak_hour", "peak_weekday", "share_night_orders", "share_weekend_orders", "share_payday_orders", "payday_lift", "share_festival_orders", "share_discounted_orders", "avg_discount_depth", "campaigns_received", "campaign_conversion_rate", "price_tier_index", "share_high_price_items", "share_refunded_orders", "lifecycle_stage", "sessions", "product_views", "add_to_carts", "checkouts", "order_events", "pays", "after_sales", "view_to_cart_rate", "cart_to_order_rate", "order_to_pay_rate", "entry_channel", "tickets", "complaints", "avg_rating", "reviews", "days_since_last_complaint", "gender", "age", "age_band", "region", "city", "city_tier", "occupation", "member_level", "tenure_days"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> huaxiang.Workspace:
    """The 2,000-customer demo shop; persons from the generator's truth (a perfect identity stage)."""
    folder = tmp_path_factory.mktemp("demo")
    huaxiang.Workspace.init(folder, example="demo", customers=2000, seed=11)
    ws = huaxiang.Workspace.open(folder)
    ws.build(stages=["ingest", "clean"])
    records = pd.read_csv(folder / "data" / "ground_truth" / "records.csv", dtype=str)
    ws.engine.materialize("record_persons", ibis.memtable(records))
    ws.build(stages=["features"])
    return ws


def test_planted_habits_are_separated(demo: huaxiang.Workspace) -> None:
    """Each planted habit is recovered by a one-threshold rule on its feature (P and R >= 0.9)."""
    truth = pd.read_csv(demo.path / "data" / "ground_truth" / "persons.csv").set_index("person_id")
    f = demo.engine.execute(demo.table("features")).set_index("person_id")
    j = truth.join(f, rsuffix="_f", how="inner")
    # Habits are planted on persons with about 7+ expected orders; judge persons with 5+ purchases.
    el = j[j["orders_total"] >= 5]
    rules = {
        "payday_shopper": el["share_payday_orders"] >= 0.5,
        "promotion_sensitive": el["share_discounted_orders"] >= 0.5,
        "night_owl": el["share_night_orders"] >= 0.5,
        "high_price": el["price_tier_index"] >= 0.6,
        "loyal_repurchaser": (el["repurchase_interval_cv"] <= 0.5) & (el["orders_total"] >= 12),
    }
    scores = {}
    for habit, predicted in rules.items():
        planted = el[habit].astype(bool)
        hits = int((predicted & planted).sum())
        scores[habit] = (hits / max(int(predicted.sum()), 1), hits / max(int(planted.sum()), 1), int(planted.sum()))
    print("\nhabit: (precision, recall, planted persons with 5+ purchases)", scores)
    assert all(p >= 0.9 and r >= 0.9 and n >= 50 for p, r, n in scores.values()), scores
    top = (el["top_category"] == el["preferred_category"]).mean()
    print(f"top_category == planted preferred_category: {top:.3f}")
    assert top >= 0.8
    churned = j[j["churned_at"].notna() & j["last_order_ts"].notna()]
    assert (pd.to_datetime(churned["last_order_ts"]) < pd.to_datetime(churned["churned_at"])).all()
    # Churned buyers more often sleep or are lost than the others.
    gone = j["lifecycle_stage"].isin(["sleeping", "lost"])
    assert gone[j["churned_at"].notna()].mean() > 1.5 * gone[j["churned_at"].isna()].mean()


def test_every_contract_column_is_there(demo: huaxiang.Workspace) -> None:
    f = demo.engine.execute(demo.table("features"))
    missing = [c for c in CONTRACT if c not in f.columns]
    assert missing == []
    assert f["person_id"].is_unique
    buyers = f[f["orders_total"] > 0]
    assert len(buyers) > 0.3 * len(f)
    assert set(f["lifecycle_stage"]) <= {"prospect", "new", "active", "growing", "declining", "sleeping", "lost"}
    assert buyers["share_app"].add(buyers["share_mini_program"]).add(buyers["share_web"]).add(
        buyers["share_store"]).between(0.999, 1.001).all()
    catalog = demo.engine.execute(demo.table("feature_catalog"))
    assert catalog["definition_zh"].notna().all() and catalog["definition_en"].notna().all()
    assert sorted(catalog["name"]) == sorted(f.columns)  # every column documented, nothing else


def test_incremental_equals_full(demo: huaxiang.Workspace) -> None:
    as_of = default_as_of(demo.engine)
    full = demo.engine.execute(compute_features(demo.engine, as_of=as_of))
    some = full["person_id"].sample(25, random_state=1).tolist()
    part = demo.engine.execute(compute_features(demo.engine, as_of=as_of, person_ids=some))
    assert len(part) == 25
    # Every column, population-relative ones (affinity, price percentile) included.
    a = full[full["person_id"].isin(some)].sort_values("person_id").reset_index(drop=True)
    b = part[full.columns].sort_values("person_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_funnel_command(demo: huaxiang.Workspace) -> None:
    result = CliRunner().invoke(app, ["funnel", "-w", str(demo.path), "--json"])
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)
    persons = [s["persons"] for s in steps]
    assert [s["step"] for s in steps] == ["view", "cart", "order", "pay", "after_sale"]
    assert persons == sorted(persons, reverse=True) and persons[0] > 0
    bad = CliRunner().invoke(app, ["funnel", "-w", str(demo.path), "--steps", "view,buy"])
    assert bad.exit_code == 1 and "unknown event types ['buy', 'view']" in bad.output
    custom = CliRunner().invoke(app, ["funnel", "-w", str(demo.path), "--json", "--by", "channel",
                                      "--steps", "product_view,favorite|add_to_cart,order"])
    assert custom.exit_code == 0, custom.output
    rows = pd.DataFrame(json.loads(custom.output))
    assert set(rows["step"]) == {"product_view", "favorite|add_to_cart", "order"}
    assert set(rows["channel"]) >= {"app", "web"}
    # Split by channel, each funnel is one channel's events: its first step counts at most everyone's.
    assert rows[rows["step"] == "product_view"]["persons"].max() <= persons[0]
    seg = CliRunner().invoke(app, ["funnel", "-w", str(demo.path), "--json", "--by", "segment"])
    assert seg.exit_code == 0, seg.output
    assert set(pd.DataFrame(json.loads(seg.output))["segment"]) <= {
        "prospect", "new", "active", "growing", "declining", "sleeping", "lost", "unknown"}


def test_demo_funnel_never_grows(demo: huaxiang.Workspace) -> None:
    funnel = demo.engine.execute(demo.table("funnel"))
    assert (funnel["drop_off"].dropna() >= 0).all()
    assert funnel["persons"].is_monotonic_decreasing
