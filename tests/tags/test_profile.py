"""The customer 360 (``customer_profile`` and ``huaxiang profile``) and ``huaxiang tags …``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from typer.testing import CliRunner

from huaxiang.errors import WorkspaceError
from huaxiang.profile import customer_profile, find_person

CUSTOMERS = pd.DataFrame({
    "source": ["crm", "app", "crm"],
    "source_customer_id": ["M1", "U1", "M2"],
    "name": ["张伟", "张伟", "李娜"],
    "phone": ["+8613800138000", "+8613800138000", "+8613900139000"],
    "email": ["zhangwei@163.com", None, "lina@qq.com"],
    "registered_at": pd.to_datetime(["2023-01-01", "2024-05-01", "2023-03-01"]),
})
ORDERS = pd.DataFrame({
    "source": ["crm", "app", "app", "crm"],
    "order_id": ["o1", "o2", "o3", "o4"],
    "source_customer_id": ["M1", "U1", "U1", "M2"],
    "order_ts": pd.to_datetime(["2025-01-05 10:00", "2025-02-01 23:30", "2025-03-01 22:10", "2025-01-09 12:00"]),
    "amount": [100.0, 250.0, 80.0, 30.0],
    "channel": ["store", "app", "app", "store"],
    "status": ["paid", "paid", "refunded", "paid"],
})
EVENTS = pd.DataFrame({
    "event_id": ["e1", "e2", "e3", "e4"],
    "source": ["app", "app", "web", "app"],
    "user_id": ["U1", None, None, None],
    "anonymous_id": ["d1", "d1", "anon-9", "zzz"],
    "event_ts": pd.to_datetime(["2025-02-01 23:00", "2025-02-02 09:00", "2025-02-03 09:00", "2025-02-04 09:00"]),
    "event_type": ["product_view", "add_to_cart", "page_view", "page_view"],
    "channel": ["app", "app", "web", "app"],
})
INTERACTIONS = pd.DataFrame({"source": pd.Series([], dtype="string"),
                             "source_customer_id": pd.Series([], dtype="string")})


def _workspace(folder: Path, *, identity: bool) -> Path:
    import huaxiang

    ws = huaxiang.Workspace.init(folder)
    eng = ws.engine
    for name, frame in (("customers_raw", CUSTOMERS), ("orders", ORDERS), ("events", EVENTS),
                        ("interactions", INTERACTIONS)):
        eng.materialize(name, ibis.memtable(frame))
    if identity:
        eng.materialize("record_persons", ibis.memtable(pd.DataFrame({
            "source": ["crm", "app", "crm"], "source_customer_id": ["M1", "U1", "M2"],
            "person_id": ["P1", "P1", "P2"]})))
        eng.materialize("identities", ibis.memtable(pd.DataFrame({
            "identifier_type": ["phone", "email", "anonymous_id", "phone", "email"],
            "identifier_value": ["+8613800138000", "zhangwei@163.com", "anon-9", "+8613900139000", "lina@qq.com"],
            "person_id": ["P1", "P1", "P1", "P2", "P2"]})))
        eng.materialize("persons", ibis.memtable(pd.DataFrame({
            "person_id": ["P1", "P2"], "name": ["张伟", "李娜"], "phone": ["+8613800138000", "+8613900139000"],
            "n_records": [2, 1]})))
        eng.materialize("features", ibis.memtable(pd.DataFrame({
            "person_id": ["P1", "P2"], "as_of": pd.to_datetime(["2025-04-01"] * 2),
            "orders_total": [2, 1], "share_night_orders": [0.5, 0.0], "top_channel": ["app", "store"]})))
        eng.materialize("feature_catalog", ibis.memtable(pd.DataFrame({
            "name": ["orders_total", "share_night_orders"], "dimension": ["rfm", "time"],
            "definition_zh": ["购买订单数", "夜间订单占比"], "definition_en": ["purchases", "share of night purchases"]})))
        eng.materialize("person_tags", ibis.memtable(pd.DataFrame({
            "person_id": ["P1"], "tag_id": ["night_owl"], "name_zh": ["夜猫子"], "name_en": ["Night owl"],
            "reason": ["share_night_orders = 0.5 ≥ 0.5"], "since": pd.to_datetime(["2025-03-01"]),
            "as_of": pd.to_datetime(["2025-04-01"])})))
        eng.materialize("tags", ibis.memtable(pd.DataFrame({
            "person_id": ["P1", "P1"], "tag_id": ["new_customer", "night_owl"],
            "valid_from": pd.to_datetime(["2025-01-01", "2025-03-01"]),
            "valid_to": pd.to_datetime(["2025-03-01", None])})))
        eng.materialize("tag_catalog", ibis.memtable(pd.DataFrame({
            "tag_id": ["new_customer", "night_owl"], "name_zh": ["新客", "夜猫子"],
            "name_en": ["New customer", "Night owl"]})))
        eng.materialize("tag_trend", ibis.memtable(pd.DataFrame({
            "tag_id": ["night_owl", "night_owl", "new_customer"],
            "built_at": pd.to_datetime(["2025-03-01 08:00", "2025-04-01 08:00", "2025-04-01 08:00"]),
            "as_of": pd.to_datetime(["2025-03-01", "2025-04-01", "2025-04-01"]), "persons": [1, 1, 0]})))
        eng.materialize("scores", ibis.memtable(pd.DataFrame({"person_id": ["P1", "P2"], "clv": [321.5, 10.0]})))
    ws.close()
    return folder


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return _workspace(tmp_path / "shop", identity=True)


@pytest.fixture
def raw_shop(tmp_path: Path) -> Path:
    return _workspace(tmp_path / "raw", identity=False)


def test_profile_by_phone_gathers_everything(shop: Path) -> None:
    import huaxiang

    with huaxiang.Workspace.open(shop) as ws:
        p = customer_profile(ws, phone="138 0013 8000", lang="en")
    assert p["person_id"] == "P1"
    assert p["records"] == [{"source": "app", "source_customer_id": "U1"},
                            {"source": "crm", "source_customer_id": "M1"}]
    assert p["attributes"] == {"person_id": "P1", "name": "张伟", "phone": "+8613800138000", "n_records": 2}
    assert p["features"]["rfm"]["orders_total"] == {"value": 2, "definition": "purchases"}
    assert p["features"]["time"]["share_night_orders"]["definition"] == "share of night purchases"
    assert p["features"]["other"]["top_channel"]["value"] == "app"
    assert p["tags"] == [{"tag_id": "night_owl", "name": "Night owl", "reason": "share_night_orders = 0.5 ≥ 0.5",
                          "since": "2025-03-01T00:00:00"}]
    assert [h["tag_id"] for h in p["tag_history"]] == ["new_customer", "night_owl"]
    assert p["tag_history"][1]["valid_to"] is None
    assert [o["order_id"] for o in p["orders"]] == ["o3", "o2", "o1"]  # newest first, both sources
    assert [e["event_type"] for e in p["events"]] == ["page_view", "product_view"]  # user_id + anonymous_id
    assert p["scores"] == [{"person_id": "P1", "clv": 321.5}]
    assert "segments" not in p and "recommendations" not in p
    json.dumps(p)  # JSON-ready


@pytest.mark.parametrize("lookup", [
    {"person_id": "P1"}, {"email": " ZhangWei@163.COM "}, {"source_id": "app:U1"}, {"phone": "+86 138-0013-8000"},
])
def test_every_lookup_finds_the_same_person(shop: Path, lookup: dict[str, str]) -> None:
    import huaxiang

    with huaxiang.Workspace.open(shop) as ws:
        assert find_person(ws, **lookup) == "P1"


def test_profile_in_chinese_uses_chinese_names(shop: Path) -> None:
    import huaxiang

    with huaxiang.Workspace.open(shop) as ws:
        p = customer_profile(ws, "P1")
    assert p["tags"][0]["name"] == "夜猫子"
    assert p["features"]["rfm"]["orders_total"]["definition"] == "购买订单数"


@pytest.mark.parametrize(("lookup", "message"), [
    ({"phone": "13700000000"}, "no person has phone +8613700000000 (normalised from '13700000000'); check the "
                               "number or look the person up by --email or --source-id"),
    ({"phone": "12"}, "'12' is not a valid phone; give it as the customer wrote it"),
    ({"source_id": "crm-M1"}, "--source-id 'crm-M1': write SOURCE:CUSTOMER_ID, e.g. crm:M000123"),
    ({"source_id": "crm:M9"}, "no person has source id crm:M9"),
    ({"person_id": "P9"}, "no person 'P9' in this workspace"),
    ({}, "give exactly one of PERSON_ID, --phone, --email or --source-id"),
    ({"person_id": "P1", "phone": "1"}, "give exactly one of PERSON_ID, --phone, --email or --source-id "
                                        "(got person_id, phone)"),
])
def test_lookup_errors_say_what_and_how(shop: Path, lookup: dict[str, str], message: str) -> None:
    import re

    import huaxiang

    with huaxiang.Workspace.open(shop) as ws, pytest.raises(WorkspaceError, match=re.escape(message)):
        find_person(ws, **lookup)


def test_two_persons_with_one_phone_ask_for_an_id(shop: Path) -> None:
    import huaxiang

    with huaxiang.Workspace.open(shop) as ws:
        ws.engine.append("identities", ibis.memtable(pd.DataFrame({
            "identifier_type": ["phone"], "identifier_value": ["+8613900139000"], "person_id": ["P3"]})))
        with pytest.raises(WorkspaceError, match=r"2 persons have phone \+8613900139000 .*: P2, P3; pass one"):
            find_person(ws, phone="13900139000")


def test_without_identity_tables_the_profile_uses_customers_raw(raw_shop: Path) -> None:
    import huaxiang

    with huaxiang.Workspace.open(raw_shop) as ws:
        with pytest.raises(WorkspaceError, match=r"2 persons have phone \+8613800138000 .*: app:U1, crm:M1"):
            find_person(ws, phone="13800138000")
        p = customer_profile(ws, email="LINA@qq.com")
    assert p["person_id"] == "crm:M2"
    assert p["attributes"]["name"] == "李娜" and p["attributes"]["n_records"] == 1
    assert [o["order_id"] for o in p["orders"]] == ["o4"]
    assert p["features"] == {} and p["tags"] == []


def test_attributes_from_customers_raw_prefer_the_latest_record(raw_shop: Path, tmp_path: Path) -> None:
    import huaxiang

    with huaxiang.Workspace.open(raw_shop) as ws:
        ws.engine.materialize("record_persons", ibis.memtable(pd.DataFrame({
            "source": ["crm", "app"], "source_customer_id": ["M1", "U1"], "person_id": ["P1", "P1"]})))
        p = customer_profile(ws, "P1")
    assert p["attributes"]["email"] == "zhangwei@163.com"  # the newer app record has none
    assert p["attributes"]["registered_at"] == datetime(2024, 5, 1).isoformat()
    assert p["attributes"]["n_records"] == 2


# ------------------------------------------------------------------------------------------------ CLI


def _run(*args: str) -> Any:
    from huaxiang.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_profile_json_and_text(shop: Path) -> None:
    out = _run("profile", "--phone", "13800138000", "--json", "--lang", "en", "-w", str(shop))
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["tags"][0]["name"] == "Night owl"
    text = _run("profile", "--source-id", "crm:M1", "-w", str(shop))
    assert text.exit_code == 0, text.output
    assert "夜猫子 (night_owl)" in text.output and "share_night_orders = 0.5 ≥ 0.5" in text.output
    assert "o3" in text.output and "321.5" in text.output


def test_cli_profile_unknown_person_exits_1_with_one_line(shop: Path) -> None:
    out = _run("profile", "--email", "nobody@x.com", "-w", str(shop))
    assert out.exit_code == 1
    assert "error: no person has email nobody@x.com" in out.output


def test_cli_tags_list_in_both_languages(tmp_path: Path) -> None:
    import huaxiang

    huaxiang.Workspace.init(tmp_path / "w").close()
    zh = _run("tags", "list", "-w", str(tmp_path / "w"), "--json")
    en = _run("tags", "list", "-w", str(tmp_path / "w"), "--lang", "en", "--json")
    assert zh.exit_code == 0 and en.exit_code == 0, zh.output + en.output
    names_zh = {r["id"]: r["name"] for r in json.loads(zh.output)}
    names_en = {r["id"]: r["name"] for r in json.loads(en.output)}
    assert names_zh["night_owl"] == "夜猫子" and names_en["night_owl"] == "Night owl"
    text = _run("tags", "list", "-w", str(tmp_path / "w"))
    assert "payday_shopper" in text.output and "share_payday_orders" in text.output
    bad = _run("tags", "list", "-w", str(tmp_path / "w"), "--lang", "fr")
    assert bad.exit_code != 0 and "use zh or en" in bad.output


def test_cli_tags_history_and_trend(shop: Path) -> None:
    hist = _run("tags", "history", "P1", "-w", str(shop), "--lang", "en", "--json")
    assert hist.exit_code == 0, hist.output
    rows = json.loads(hist.output)
    assert [(r["tag_id"], r["name"]) for r in rows] == [("new_customer", "New customer"), ("night_owl", "Night owl")]
    trend = _run("tags", "trend", "night_owl", "-w", str(shop), "--json")
    assert [r["persons"] for r in json.loads(trend.output)] == [1, 1]
    wrong = _run("tags", "trend", "night_ow", "-w", str(shop))
    assert wrong.exit_code == 1 and "no trend for tag 'night_ow'; did you mean 'night_owl'?" in wrong.output
