"""The profile API over a live workspace: events in through the collector, the profile out, in zh or en."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from huaxiang.identity.operations import merge_persons
from huaxiang.realtime.refresh import refresh_persons
from huaxiang.workspace import Workspace


@pytest.fixture
def served(workspace_dir: Path, collector_key: str, admin_key: str) -> Iterator[tuple[Any, Any]]:
    """An in-process client of a built (empty) workspace with the updater running; yields (client, updater)."""
    from fastapi.testclient import TestClient

    from huaxiang.service.app import create_app
    from huaxiang.service.settings import ServiceSettings

    with Workspace.open(workspace_dir) as ws:
        ws.build(stages=["ingest", "clean", "identity", "features", "tags"])
    app = create_app(ServiceSettings(workspace=workspace_dir, updater_interval=0.05))
    with TestClient(app) as client:
        yield client, app.state.service.updater


def _ts(days_ago: float) -> str:
    return (datetime.now() - timedelta(days=days_ago)).replace(microsecond=0).isoformat()


def _send(client: Any, key: str, batch: list[dict[str, Any]]) -> None:
    answer = client.post("/v1/batch", json={"batch": batch}, auth=(key, ""))
    assert answer.status_code == 200, answer.text


def test_profile_after_identify_and_order(served: tuple[Any, Any], collector_key: str, admin_key: str) -> None:
    client, updater = served
    _send(client, collector_key, [
        {"type": "page", "messageId": "m0", "anonymousId": "anon-1", "name": "home", "timestamp": _ts(3),
         "properties": {"channel": "web"}},
        {"type": "identify", "messageId": "m1", "userId": "u1", "anonymousId": "anon-1", "timestamp": _ts(2),
         "traits": {"name": "王晓芳", "phone": "139 0000 0001", "email": "WXF@example.com"}},
        {"type": "track", "event": "Order Completed", "messageId": "m2", "userId": "u1", "timestamp": _ts(1),
         "properties": {"order_id": "o-1", "total": 6000.0, "currency": "CNY", "payment_method": "alipay",
                        "products": [{"product_id": "p1", "price": 3000.0, "quantity": 2, "category": "数码家电/手机",
                                      "brand": "华为"}]}},
    ])
    updater.drain()
    admin = {"Authorization": f"Bearer {admin_key}"}
    answer = client.get("/v1/profiles", params={"user_id": "u1"}, headers=admin | {"Accept-Language": "zh-CN"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    pid = body["person_id"]
    rfm = body["features"]["rfm"]
    assert rfm["orders_total"]["value"] == 1 and rfm["spend_total"]["value"] == 6000.0
    tags = {t["id"]: t for t in body["tags"]}
    assert tags["value_high"]["name"] == "高价值" and tags["value_high"]["name_en"] == "Value tier: high"
    assert "spend_365d" in tags["value_high"]["reason"] and tags["value_high"]["since"]
    assert tags["value_high"]["tier"] == "scheduled"  # spend_365d also changes with time alone
    assert [o["order_id"] for o in body["orders"]] == ["o-1"]
    # the anonymous page view before the identify belongs to the person now
    assert "page_view" in [e["event_type"] for e in body["events"]]
    assert body["attributes"]["phone"] == "+8613900000001" and body["as_of"] and body["updated_at"]

    en = client.get(f"/v1/profiles/{pid}", headers=admin | {"Accept-Language": "en-US,en;q=0.9"}).json()
    assert en["person_id"] == pid and {t["id"]: t["name"] for t in en["tags"]}["value_high"] == "Value tier: high"
    for params in ({"anonymous_id": "anon-1"}, {"phone": "13900000001"}, {"email": "wxf@example.com"},
                   {"source_id": "app:u1"}):
        assert client.get("/v1/profiles", params=params, headers=admin).json()["person_id"] == pid

    missing = client.get("/v1/profiles", params={"user_id": "nobody"}, headers=admin)
    assert missing.status_code == 404 and "no person has user id 'nobody'" in missing.json()["detail"]
    assert client.get("/v1/profiles/Pnope", headers=admin).status_code == 404
    assert client.get("/v1/profiles", params={"user_id": "u1", "phone": "1"}, headers=admin).status_code == 422
    assert client.get(f"/v1/profiles/{pid}").status_code == 401
    assert client.get(f"/v1/profiles/{pid}", headers={"Authorization": f"Bearer {collector_key}"}).status_code == 403


def test_retired_id_answers_with_the_survivor(served: tuple[Any, Any], collector_key: str, admin_key: str) -> None:
    client, updater = served
    _send(client, collector_key, [
        {"type": "identify", "messageId": "a1", "userId": "u1", "timestamp": _ts(5), "traits": {"email": "a@x.cn"}},
        {"type": "identify", "messageId": "a2", "userId": "u2", "timestamp": _ts(4), "traits": {"email": "b@x.cn"}},
        {"type": "track", "event": "Order Completed", "messageId": "a3", "userId": "u2", "timestamp": _ts(1),
         "properties": {"order_id": "o-9", "total": 80.0}},
    ])
    updater.drain()
    admin = {"Authorization": f"Bearer {admin_key}"}
    p1 = client.get("/v1/profiles", params={"user_id": "u1"}, headers=admin).json()["person_id"]
    p2 = client.get("/v1/profiles", params={"user_id": "u2"}, headers=admin).json()["person_id"]
    assert p1 != p2
    with updater._lock:
        merge_persons(updater.ws, [p1, p2], refresh=lambda ids: refresh_persons(updater.ws, ids))
    answers = {p: client.get(f"/v1/profiles/{p}", headers=admin).json() for p in (p1, p2)}
    survivor = answers[p1]["person_id"]
    assert answers[p2]["person_id"] == survivor and survivor in (p1, p2)
    retired = ({p1, p2} - {survivor}).pop()
    assert answers[retired]["resolved_from"] == retired and answers[survivor]["resolved_from"] is None
    body = answers[survivor]
    assert body["features"]["rfm"]["orders_total"]["value"] == 1  # u2's order, on the merged person
    assert sorted(r["source_customer_id"] for r in body["records"]) == ["u1", "u2"]
    assert client.get("/v1/profiles", params={"user_id": "u2"}, headers=admin).json()["person_id"] == survivor


def test_a_live_start_with_no_orders_yet_gets_order_features(served: tuple[Any, Any], collector_key: str,
                                                             admin_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first batch holds only a page view: the feature query compiled then assumes no purchases; when
    orders arrive it is compiled again (after ``CAPABILITY_RECHECK_SECONDS``, 0 here)."""
    import huaxiang.features.refresh as refresh

    monkeypatch.setattr(refresh, "CAPABILITY_RECHECK_SECONDS", 0.0)
    client, updater = served
    _send(client, collector_key, [{"type": "page", "messageId": "p0", "userId": "u7", "name": "home",
                                   "timestamp": _ts(3)}])
    updater.drain()
    _send(client, collector_key, [{"type": "track", "event": "Order Completed", "messageId": "o7", "userId": "u7",
                                   "timestamp": _ts(1), "properties": {"order_id": "o-7", "total": 120.0}}])
    updater.drain()
    body = client.get("/v1/profiles", params={"user_id": "u7"}, headers={"Authorization": f"Bearer {admin_key}"}).json()
    assert body["features"]["rfm"]["orders_total"]["value"] == 1
    assert body["features"]["rfm"]["spend_total"]["value"] == 120.0
