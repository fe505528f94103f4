"""The collector speaks Segment's tracking API: the real Python SDK, bad messages, gzip, limits, keys, repeats."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest


def _track(i: int, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "messageId": f"m{i}", "userId": f"u{i % 3}", "event": "Product Viewed",
            "properties": {"product_id": f"p{i}"}, **extra}


def test_real_segment_sdk_end_to_end(live_server: str, collector_key: str, workspace_dir: Path, journal_of: Any) -> None:
    """segment-analytics-python, unchanged, posting every call type (gzip on) to the collector."""
    from segment.analytics import Client

    errors: list[Any] = []
    sdk = Client(collector_key, host=live_server, gzip=True, sync_mode=False, upload_interval=0.05,
                 on_error=lambda exc, batch: errors.append(exc), max_retries=1)
    sent = [
        sdk.identify("u1", {"email": "ann@example.com", "phone": "13800138000"}, anonymous_id="a1"),
        sdk.track("u1", "Order Completed", {"order_id": "o1", "total": 120.0}),
        sdk.page("u1", "shop", "home", {"url": "https://shop/"}),
        sdk.screen(None, "app", "cart", anonymous_id="a2"),
        sdk.alias("a1", "u1"),
        sdk.group("u1", "g1", {"name": "Acme"}),
        sdk.track(anonymous_id="a2", event="Product Viewed", properties={"product_id": "p9"}),
    ]
    sdk.flush()
    sdk.join()
    assert errors == []
    assert all(ok for ok, _ in sent)
    stored = {e.message["messageId"]: e.message for e in journal_of(workspace_dir)}
    assert set(stored) == {msg["messageId"] for _, msg in sent}
    by_type = {m["type"]: m for m in stored.values() if m.get("event") != "Product Viewed"}
    assert by_type["identify"]["traits"] == {"email": "ann@example.com", "phone": "13800138000"}
    assert by_type["identify"]["anonymousId"] == "a1"
    assert by_type["track"]["properties"] == {"order_id": "o1", "total": 120.0}
    assert by_type["alias"]["previousId"] == "a1" and by_type["alias"]["userId"] == "u1"
    assert by_type["group"]["groupId"] == "g1"
    assert by_type["screen"]["anonymousId"] == "a2" and "userId" not in by_type["screen"]
    assert all("writeKey" not in m for m in stored.values())
    assert all(m["receivedAt"] and m["originalTimestamp"] and m["sentAt"] for m in stored.values())


def test_batch_with_one_bad_message_keeps_the_rest(client: Any, collector_key: str, workspace_dir: Path, journal_of: Any) -> None:
    batch = [_track(0), {"type": "track", "messageId": "bad", "userId": "u1"}, _track(2)]
    answer = client.post("/v1/batch", json={"batch": batch}, auth=(collector_key, ""))
    assert answer.status_code == 400
    body = answer.json()
    assert body["rejected"] == [{"index": 1, "messageId": "bad", "field": "event",
                                 "error": "a track call needs a non-empty string 'event'"}]
    assert body["accepted"] == ["m0", "m2"] and body["success"] is False
    assert "message 1: event" in body["message"]
    assert [e.message["messageId"] for e in journal_of(workspace_dir)] == ["m0", "m2"]


@pytest.mark.parametrize(("message", "field"), [
    ({"type": "track", "event": "E"}, "userId"),
    ({"type": "track", "event": "E", "userId": None, "anonymousId": None}, "userId"),
    ({"type": "fly", "userId": "u"}, "type"),
    ({"type": "alias", "userId": "u"}, "previousId"),
    ({"type": "group", "userId": "u"}, "groupId"),
    ({"type": "track", "event": "E", "userId": "u", "properties": [1]}, "properties"),
    ({"type": "track", "event": "E", "userId": "u", "timestamp": "yesterday"}, "timestamp"),
    ({"type": "identify", "userId": "u", "context": {"traits": "x"}}, "context.traits"),
    # out of datetime's range once corrected by sentAt, or once in UTC: a 400 naming the field, not a 500
    ({"type": "track", "event": "E", "userId": "u", "timestamp": "9999-12-31T23:00:00Z",
      "sentAt": "2000-01-01T00:00:00Z"}, "timestamp"),
    ({"type": "track", "event": "E", "userId": "u", "timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),
    ("not an object", "(message)"),
])
def test_each_invalid_field_is_named(client: Any, collector_key: str, message: Any, field: str) -> None:
    answer = client.post("/v1/batch", json={"batch": [_track(0), message]}, auth=(collector_key, ""))
    assert answer.status_code == 400
    assert [(r["index"], r["field"]) for r in answer.json()["rejected"]] == [(1, field)]
    assert answer.json()["accepted"] == ["m0"]


def test_anonymous_id_null_with_user_id_and_traits_in_context(client: Any, collector_key: str,
                                                              workspace_dir: Path, journal_of: Any) -> None:
    answer = client.post("/v1/identify", auth=(collector_key, ""), json={
        "messageId": "i1", "userId": "u7", "anonymousId": None,
        "context": {"traits": {"email": "a@b.cn", "name": "old"}}, "traits": {"name": "new"}})
    assert answer.status_code == 200, answer.text
    (entry,) = journal_of(workspace_dir)
    assert entry.message["type"] == "identify"
    assert "anonymousId" not in entry.message
    assert entry.message["traits"] == {"email": "a@b.cn", "name": "new"}


def test_sent_at_corrects_clock_skew(client: Any, collector_key: str, workspace_dir: Path, journal_of: Any) -> None:
    """A device clock 1 h fast: timestamp = receivedAt - (sentAt - originalTimestamp)."""
    device_now = datetime.now().astimezone() + timedelta(hours=1)
    happened = device_now - timedelta(seconds=30)
    answer = client.post("/v1/batch", auth=(collector_key, ""), json={
        "sentAt": device_now.isoformat(), "batch": [
            _track(0, timestamp=happened.isoformat()), _track(1),
            # the same timestamp again, then with a sentAt of its own (no skew): each pair corrected on its own
            _track(2, timestamp=happened.isoformat()), _track(3, timestamp=happened.isoformat(),
                                                              sentAt=happened.isoformat())]})
    assert answer.status_code == 200
    first, second, third, fourth = (e.message for e in journal_of(workspace_dir))
    received = datetime.fromisoformat(first["receivedAt"])
    corrected = datetime.fromisoformat(first["timestamp"])
    assert first["originalTimestamp"] == happened.isoformat()
    assert abs((received - corrected) - timedelta(seconds=30)) < timedelta(milliseconds=2)
    assert second["timestamp"] == second["receivedAt"]  # no timestamp sent: the server's clock
    assert third["timestamp"] == first["timestamp"]
    assert fourth["timestamp"] == fourth["receivedAt"] and fourth["sentAt"] == happened.isoformat()


def test_gzip_body(client: Any, collector_key: str, workspace_dir: Path, journal_of: Any) -> None:
    body = gzip.compress(json.dumps({"batch": [_track(i) for i in range(50)]}).encode())
    answer = client.post("/v1/batch", content=body, auth=(collector_key, ""),
                         headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["accepted"]) == 50
    assert len(journal_of(workspace_dir)) == 50
    broken = client.post("/v1/batch", content=body[:-12], auth=(collector_key, ""),
                         headers={"Content-Encoding": "gzip"})
    assert broken.status_code == 400 and "gzip" in broken.json()["message"]


def test_oversized_message_batch_and_gzip_bomb(client: Any, collector_key: str, workspace_dir: Path, journal_of: Any) -> None:
    big = _track(1, properties={"blob": "x" * 40_000})
    answer = client.post("/v1/batch", json={"batch": [_track(0), big]}, auth=(collector_key, ""))
    assert answer.status_code == 413
    assert [(r["index"], r["field"]) for r in answer.json()["rejected"]] == [(1, "(message)")]
    assert answer.json()["accepted"] == ["m0"]
    # a 31 KB message is within the limit
    assert client.post("/v1/track", json=_track(5, properties={"blob": "y" * 31_000}),
                       auth=(collector_key, "")).status_code == 200
    huge = {"batch": [_track(i, properties={"blob": "z" * 20_000}) for i in range(10, 40)]}  # ~600 KB
    answer = client.post("/v1/batch", json=huge, auth=(collector_key, ""))
    assert answer.status_code == 413 and answer.json()["message"].startswith("the body")
    bomb = gzip.compress(json.dumps(huge).encode())
    assert len(bomb) < 50_000
    answer = client.post("/v1/batch", content=bomb, auth=(collector_key, ""), headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert sorted(e.message["messageId"] for e in journal_of(workspace_dir)) == ["m0", "m5"]


def test_keys_basic_bearer_body_wrong_missing(client: Any, collector_key: str, admin_key: str,
                                              workspace_dir: Path, journal_of: Any) -> None:
    msg = _track(0)
    assert client.post("/v1/track", json=msg, auth=("hx_wrong", "")).status_code == 401
    assert client.post("/v1/track", json=msg).status_code == 401
    assert client.post("/v1/batch", json={"batch": [msg], "writeKey": "nope"}).status_code == 401
    assert client.post("/v1/track", json=msg, headers={"Authorization": "Token abc"}).status_code == 401
    assert client.post("/v1/batch", json={"batch": [_track(1)], "writeKey": collector_key}).status_code == 200
    assert client.post("/v1/track", json=_track(2),
                       headers={"Authorization": f"Bearer {collector_key}"}).status_code == 200
    assert client.post("/v1/track", json=_track(3), auth=(admin_key, "")).status_code == 200
    assert [e.message["messageId"] for e in journal_of(workspace_dir)] == ["m1", "m2", "m3"]


def test_duplicate_message_ids_are_acknowledged_and_stored_once(client: Any, collector_key: str,
                                                               workspace_dir: Path, journal_of: Any) -> None:
    batch = [_track(i) for i in range(5)]
    first = client.post("/v1/batch", json={"batch": batch}, auth=(collector_key, "")).json()
    retry = client.post("/v1/batch", json={"batch": [*batch, _track(5), _track(5)]}, auth=(collector_key, ""))
    assert retry.status_code == 200
    assert first["accepted"] == [f"m{i}" for i in range(5)]
    assert retry.json()["accepted"] == ["m5"]
    assert retry.json()["duplicates"] == [*(f"m{i}" for i in range(5)), "m5"]
    ids = [e.message["messageId"] for e in journal_of(workspace_dir)]
    assert sorted(ids) == [f"m{i}" for i in range(6)]


def test_invalid_json_and_missing_batch(client: Any, collector_key: str) -> None:
    answer = client.post("/v1/batch", content=b"{nope", auth=(collector_key, ""))
    assert answer.status_code == 400 and "JSON" in answer.json()["message"]
    # a lone surrogate escape cannot be stored as UTF-8: refused with the body, not a 500 later
    answer = client.post("/v1/batch", content=b'{"batch": [{"type": "track", "event": "\\ud800", "userId": "u"}]}',
                         auth=(collector_key, ""))
    assert answer.status_code == 400 and "JSON" in answer.json()["message"]
    # a UTF-8 byte-order mark in front is tolerated, as before
    answer = client.post("/v1/batch", content=b"\xef\xbb\xbf" + json.dumps({"batch": [_track(0)]}).encode(),
                         auth=(collector_key, ""))
    assert answer.status_code == 200, answer.text
    answer = client.post("/v1/batch", json={"messages": []}, auth=(collector_key, ""))
    assert answer.status_code == 400 and answer.json()["message"].startswith("batch:")


def test_health_and_docs_list_every_route(client: Any) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    for kind in ("batch", "identify", "track", "page", "screen", "alias", "group"):
        operation = spec["paths"][f"/v1/{kind}"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in spec["components"]["schemas"]
        assert "CollectPublic" in json.dumps(operation["responses"]["200"])
    assert "/healthz" in spec["paths"]
    assert "MessageIn" in spec["components"]["schemas"]["BatchIn"]["properties"]["batch"]["items"]["$ref"]


def test_sdk_logs_nothing_on_success(live_server: str, collector_key: str, caplog: pytest.LogCaptureFixture) -> None:
    from segment.analytics import Client

    sdk = Client(collector_key, host=live_server, sync_mode=True)
    with caplog.at_level(logging.ERROR, logger="segment"):
        sdk.track("u1", "Signed Up")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_analytics_js_paths_and_text_plain(client: Any, collector_key: str, workspace_dir: Path,
                                           journal_of: Any) -> None:
    """analytics.js posts to /v1/<first letter> (and /v1/b when batching) as text/plain with writeKey inside."""
    one = client.post("/v1/t", content=json.dumps({"event": "Signed Up", "anonymousId": "a1", "messageId": "js1",
                                                    "writeKey": collector_key}),
                      headers={"Content-Type": "text/plain"})
    assert one.status_code == 200, one.text
    page = client.post("/v1/p", json={"anonymousId": "a1", "messageId": "js2", "writeKey": collector_key,
                                      "properties": {"url": "https://shop/"}})
    batch = client.post("/v1/b", json={"writeKey": collector_key, "batch": [_track(3)]})
    assert page.status_code == 200 and batch.status_code == 200
    stored = [(e.message["messageId"], e.message["type"]) for e in journal_of(workspace_dir)]
    assert stored == [("js1", "track"), ("js2", "page"), ("m3", "track")]


def test_settings_swapped_with_dependency_overrides(workspace_dir: Path, collector_key: str) -> None:
    """STYLE row 14: the app reads its settings through get_settings, which a test overrides."""
    from fastapi.testclient import TestClient

    from huaxiang.service.app import create_app
    from huaxiang.service.settings import ServiceSettings, get_settings

    app = create_app()
    app.dependency_overrides[get_settings] = lambda: ServiceSettings(
        workspace=workspace_dir, run_updater=False, max_batch_bytes=2_000)
    with TestClient(app) as small:
        answer = small.post("/v1/batch", json={"batch": [_track(i) for i in range(30)]}, auth=(collector_key, ""))
    assert answer.status_code == 413 and "2,000" in answer.json()["message"]


def test_while_stopping_events_get_503_and_health_says_so(client: Any, collector_key: str,
                                                          workspace_dir: Path, journal_of: Any) -> None:
    client.app.state.service.accepting = False  # what the lifespan sets on SIGTERM
    answer = client.post("/v1/track", json=_track(0), auth=(collector_key, ""))
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "stopping"
    assert journal_of(workspace_dir) == []
