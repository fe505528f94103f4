"""Workspace components: what the CLI, the service and the dashboard call (checked on planted tables)."""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import pandas as pd
import pytest

import huaxiang
from huaxiang.errors import HuaxiangError, PersonNotFoundError, WorkspaceError
from huaxiang.profiles import Profile, customer_profile

TABLES = {
    "customers_raw": pd.DataFrame({
        "source": ["crm", "app"], "source_customer_id": ["M1", "U1"], "name": ["张伟", "张伟"],
        "phone": ["+8613800138000", "+8613800138000"], "user_id": [None, "U1"]}),
    "orders": pd.DataFrame({
        "source": ["crm", "app"], "order_id": ["o1", "o2"], "source_customer_id": ["M1", "U1"],
        "order_ts": pd.to_datetime(["2025-01-05 10:00", "2025-02-01 23:30"]), "amount": [100.0, 250.0]}),
    "record_persons": pd.DataFrame({"source": ["crm", "app"], "source_customer_id": ["M1", "U1"],
                                    "person_id": ["P1", "P1"]}),
    "identities": pd.DataFrame({"identifier_type": ["phone", "user_id", "anonymous_id"],
                                "identifier_value": ["+8613800138000", "U1", "dev-7"], "person_id": ["P1"] * 3}),
    "features": pd.DataFrame({"person_id": ["P1"], "as_of": pd.to_datetime(["2025-04-01"]), "orders_total": [2]}),
    "feature_catalog": pd.DataFrame({"name": ["orders_total"], "dimension": ["rfm"], "definition_zh": ["购买订单数"],
                                     "definition_en": ["purchases"]}),
    "person_tags": pd.DataFrame({"person_id": ["P1"], "tag_id": ["night_owl"], "name_zh": ["夜猫子"],
                                 "name_en": ["Night owl"], "reason": ["share_night_orders = 0.5 ≥ 0.5"],
                                 "since": pd.to_datetime(["2025-03-01"])}),
    "tags": pd.DataFrame({"person_id": ["P1"], "tag_id": ["night_owl"], "valid_from": pd.to_datetime(["2025-03-01"]),
                          "valid_to": pd.Series([None], dtype="datetime64[ns]")}),
    "tag_catalog": pd.DataFrame({"tag_id": ["night_owl"], "name_zh": ["夜猫子"], "name_en": ["Night owl"]}),
    "scores": pd.DataFrame({"person_id": ["P1"], "clv": [321.5], "churn_prob": [0.25],
                            "as_of": pd.to_datetime(["2025-04-01"])}),
    "recommendations": pd.DataFrame({"person_id": ["P1", "P1"], "rank": [2, 1], "product_id": ["SKU2", "SKU1"],
                                     "score": [0.5, 1.0], "reason": ["similar customers bought this"] * 2}),
    "products": pd.DataFrame({"source": ["erp", "erp"], "product_id": ["SKU1", "SKU2"], "name": ["酸奶", "牛奶"],
                              "category": ["food/dairy", "food/dairy"]}),
    "model_reports": pd.DataFrame({"model": ["churn", "churn", "clv"], "metric": ["auc", "brier", "skipped"],
                                   "value": [0.8, 0.3, float("nan")], "baseline": ["bgnbd", "base_rate", ""],
                                   "baseline_value": [0.7, 0.2, float("nan")]}),
}


@pytest.fixture
def ws(tmp_path: Path) -> huaxiang.Workspace:
    w = huaxiang.Workspace.init(tmp_path / "shop")
    for name, frame in TABLES.items():
        w.engine.materialize(name, ibis.memtable(frame))
    yield w
    w.close()


def test_profiles_get_is_the_dict_profile_typed(ws: huaxiang.Workspace) -> None:
    p = ws.profiles.get(phone="138 0013 8000", lang="en")
    d = customer_profile(ws, phone="138 0013 8000", lang="en")
    assert isinstance(p, Profile) and p.person_id == d["person_id"] == "P1"
    assert [(t.id, t.name_zh, t.name_en, t.reason) for t in p.tags] == [
        ("night_owl", "夜猫子", "Night owl", "share_night_orders = 0.5 ≥ 0.5")]
    assert p.tags[0].since is not None and p.tags[0].since.isoformat() == d["tags"][0]["since"]
    assert p.features["rfm"]["orders_total"].value == 2 and p.features["rfm"]["orders_total"].definition == "purchases"
    assert p.scores == {"clv": 321.5, "churn_prob": 0.25, "as_of": d["scores"][0]["as_of"]}
    assert [o["order_id"] for o in p.orders] == [o["order_id"] for o in d["orders"]] == ["o2", "o1"]
    assert p.as_of is not None and p.as_of.date().isoformat() == "2025-04-01"
    # recommendations come best first with the product's name beside the code
    assert [(r["rank"], r["product_id"], r["product_name"]) for r in p.recommendations] == [
        (1, "SKU1", "酸奶"), (2, "SKU2", "牛奶")]
    assert p.model_dump(mode="json")["tags"][0]["id"] == "night_owl"


@pytest.mark.parametrize("lookup", [{"person_id": "P1"}, {"user_id": "U1"}, {"anonymous_id": " dev-7 "},
                                    {"source_id": "app:U1"}, {"email": None, "phone": "+86 138-0013-8000"}])
def test_every_lookup_of_the_service_signature_finds_the_person(ws: huaxiang.Workspace,
                                                                lookup: dict[str, str]) -> None:
    assert ws.profiles.get(**lookup).person_id == "P1"


@pytest.mark.parametrize(("lookup", "message"), [
    ({"person_id": "P9"}, "no person 'P9' in this workspace"),
    ({"user_id": "U9"}, "no person has user id 'U9'"),
    ({"anonymous_id": "dev-0"}, "no person has anonymous id 'dev-0'"),
    ({"phone": "13900139000"}, "no person has phone +8613900139000"),
])
def test_nobody_found_is_a_lookup_error(ws: huaxiang.Workspace, lookup: dict[str, str], message: str) -> None:
    with pytest.raises(PersonNotFoundError, match=re.escape(message)) as caught:
        ws.profiles.get(**lookup)
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, HuaxiangError)


def test_tags_component(ws: huaxiang.Workspace) -> None:
    history = ws.tags.history("P1", lang="en")
    assert list(history[["tag_id", "name"]].itertuples(index=False, name=None)) == [("night_owl", "Night owl")]
    assert ws.tags.history("P9").empty
    catalog = ws.tags.catalog(lang="zh")
    assert catalog.set_index("id").loc["night_owl", "name"] == "夜猫子" and catalog["id"].is_unique
    with pytest.raises(WorkspaceError, match="no tag trend yet"):
        ws.tags.trend()


def test_models_component(ws: huaxiang.Workspace) -> None:
    report = ws.models.report()
    # auc: higher is better (0.8 > 0.7); brier: lower is better (0.3 > 0.2 loses); skipped: no verdict
    assert report["beats_baseline"].tolist() == [True, False, None]
    assert ws.models.scores("P1")["clv"] == 321.5
    with pytest.raises(PersonNotFoundError, match="no scores for person 'P9'"):
        ws.models.scores("P9")


def test_segments_and_identity_need_their_stage(ws: huaxiang.Workspace) -> None:
    with pytest.raises(WorkspaceError, match="no persona cards yet"):
        ws.segments.summary()
    assert ws.segments.cluster_search().empty
    assert ws.identity.resolve("P1") == "P1"
    with pytest.raises(WorkspaceError, match="person 'P9' is not in this workspace"):
        ws.identity.resolve("P9")
