"""Segment messages onto canonical rows: the e-commerce spec v2 names, traits where clients put them."""

from __future__ import annotations

import json

from huaxiang.realtime.segment import map_messages


def test_traits_at_either_place_and_later_identify_wins() -> None:
    batch = map_messages([
        {"type": "identify", "messageId": "1", "userId": "u1", "timestamp": "2025-03-01T08:00:00Z",
         "context": {"traits": {"email": "A@x.cn", "name": "旧名"}}},
        {"type": "identify", "messageId": "2", "userId": "u1", "anonymousId": "d1", "timestamp": "2025-03-02T08:00:00Z",
         "traits": {"firstName": "芳", "lastName": "王", "birthday": "1990-05-01", "member_card": "C9",
                    "address": {"city": "上海", "state": "上海", "country": "CN"}, "createdAt": "2024-01-01T00:00:00Z"}},
        {"type": "identify", "messageId": "3", "anonymousId": "d2", "traits": {"email": "b@x.cn"}},
    ], source="app", timezone_name="Asia/Shanghai")
    c = batch.customers.iloc[0]
    assert len(batch.customers) == 1 and c["source_customer_id"] == "u1" and c["user_id"] == "u1"
    assert c["email"] == "A@x.cn" and c["name"] == "王 芳" and c["member_card"] == "C9" and c["city"] == "上海"
    assert str(c["birth_date"]) == "1990-05-01"
    assert str(c["registered_at"]) == "2024-01-01 08:00:00"  # UTC midnight is 08:00 in Shanghai
    # the identify carrying both ids is the link the identity stage reads; the anonymous one is skipped
    assert batch.events[["event_type", "user_id", "anonymous_id"]].values.tolist() == [["identify", "u1", "d1"]]
    assert batch.skipped == {"identify without userId": 1}


def test_ecommerce_events_orders_and_refunds() -> None:
    batch = map_messages([
        {"type": "page", "messageId": "p", "anonymousId": "d1", "timestamp": "2025-03-01T10:00:00",
         "properties": {"path": "/"}},
        {"type": "track", "event": "Product Viewed", "messageId": "v", "anonymousId": "d1",
         "timestamp": "2025-03-01T10:01:00", "properties": {"product_id": "p1", "category": "food/milk"}},
        {"type": "track", "event": "Product Viewed", "messageId": "v", "anonymousId": "d1",
         "timestamp": "2025-03-01T10:01:00", "properties": {"product_id": "p1"}},
        {"type": "track", "event": "Order Completed", "messageId": "o", "userId": "u1",
         "timestamp": "2025-03-01T10:05:00",
         "properties": {"order_id": "A1", "revenue": 25.0, "discount": 5, "coupon": "SPRING",
                        "payment_method": "WeChat", "products": [
                            {"product_id": "p1", "price": 10.0, "quantity": 2, "category": "food/milk", "brand": "b"},
                            {"sku": "p2", "price": 5.0}]}},
        {"type": "track", "event": "Order Refunded", "messageId": "r", "userId": "u1",
         "timestamp": "2025-03-02T10:00:00", "properties": {"order_id": "A1"}},
        {"type": "alias", "messageId": "al", "previousId": "d1", "userId": "u1", "timestamp": "2025-03-01T10:06:00"},
        {"type": "group", "messageId": "g", "userId": "u1", "groupId": "acme"},
    ], source="app")
    ev = batch.events.set_index("event_id")
    assert list(ev.index) == ["p", "v", "o", "r", "al"]  # the repeated messageId is one event
    assert ev["event_type"].tolist() == ["page_view", "product_view", "order", "refund", "identify"]
    assert json.loads(ev.loc["o", "properties"])["order_id"] == "A1"
    o = batch.orders.iloc[0]
    assert (o["order_id"], o["amount"], o["discount_amount"], o["promo_id"], o["payment_method"], o["status"]) == (
        "A1", 25.0, 5.0, "SPRING", "wechat_pay", "paid")
    assert batch.items[["product_id", "line_no", "quantity", "unit_price"]].values.tolist() == [
        ["p1", 1, 2.0, 10.0], ["p2", 2, 1.0, 5.0]]
    assert batch.products["product_id"].tolist() == ["p1"]  # p2 came without category, brand or name
    assert batch.status_updates[["order_id", "status"]].values.tolist() == [["A1", "refunded"]]
    assert batch.skipped == {"group": 1}
