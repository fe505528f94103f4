"""Stream and batch agree: a small shop sent through the journal equals the batch build of its records.

The shop (``generate_shop``, 150 persons) is reduced to what one Segment source carries: app members
(sent as ``identify``), online orders with their lines (``Order Completed``, plus ``Order Refunded`` /
``Order Cancelled`` for the orders whose status says so) and behaviour events (``track``, ``page`` for
page views), in time order. The batch workspace ingests the same records from files through its
mappings; the stream workspace starts empty and gets them through the journal and the updater in
several micro-batches. Compared: the persons (as sets of record keys), every feature, the tags.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from huaxiang.datasets.synthetic import generate_shop
from huaxiang.journal import JournalSettings, open_journal
from huaxiang.realtime import Updater
from huaxiang.tags.specs import resolve_tag_specs
from huaxiang.workspace import Workspace

pytestmark = pytest.mark.slow

PAYMENTS = {"支付宝": "alipay", "微信支付": "wechat_pay", "银联": "unionpay", "信用卡": "card"}
STATUS = {"已支付": "paid", "已取消": "cancelled", "已退款": "refunded"}
EVENT_NAMES = {"Page Viewed": "page_view", "Products Searched": "search", "Product Viewed": "product_view",
               "Product Added": "add_to_cart", "Product Added to Wishlist": "favorite", "Checkout Started": "checkout",
               "Order Completed": "order", "Payment Completed": "pay", "Return Requested": "after_sale",
               "Order Refunded": "refund", "Order Cancelled": "other"}
#: Features relative to the whole population (price percentiles within a category, category share of spend):
#: the stream ranks against the population of the last build, so they agree once that population is re-read.
POPULATION = ["price_tier_index", "share_high_price_items", "top_category_affinity"]

COMMON: dict[str, Any] = {"timezone": "Asia/Shanghai", "currency": "CNY",
                          "identity": {"probabilistic": {"enabled": False}}}


def _records(tmp: Path) -> dict[str, pd.DataFrame]:
    data = tmp / "shop"
    generate_shop(data, n_customers=150, seed=5)
    lines = (data / "app_users.jsonl").read_text(encoding="utf-8").splitlines()
    users = pd.DataFrame([json.loads(line) for line in lines if line.strip()])
    orders = pd.read_parquet(data / "online_orders.parquet")
    items = pd.read_parquet(data / "online_order_items.parquet")
    products = pd.read_csv(data / "products.csv", dtype=str)
    events = pd.read_parquet(data / "events.parquet")
    # One time per order: its Order Completed event happens at the order's time.
    when = orders.set_index("order_id")["order_time"]
    done = events["event"] == "Order Completed"
    events.loc[done, "ts"] = events.loc[done, "order_id"].map(when)
    # Refunds and cancellations are events of their own on the stream, so they are records of the batch too.
    closed = orders[orders["status"] != "已支付"]
    extra = pd.DataFrame({
        "event_id": "X" + closed["order_id"], "anonymous_id": None, "user_id": closed["user_id"],
        "ts": closed["order_time"] + pd.Timedelta(seconds=1),
        "event": np.where(closed["status"] == "已退款", "Order Refunded", "Order Cancelled"),
        "channel": closed["platform"], "session_id": None, "sku": None, "order_id": closed["order_id"]})
    events = pd.concat([events, extra], ignore_index=True)
    return {"users": users, "orders": orders, "items": items, "products": products, "events": events}


def _batch_workspace(tmp: Path, rec: dict[str, pd.DataFrame]) -> Workspace:
    folder = tmp / "batch"
    folder.mkdir()
    (folder / "app_users.jsonl").write_text(
        "".join(json.dumps(u, ensure_ascii=False) + "\n" for u in rec["users"].to_dict(orient="records")),
        encoding="utf-8")
    rec["orders"].to_parquet(folder / "orders.parquet")
    rec["items"].to_parquet(folder / "items.parquet")
    rec["products"].to_csv(folder / "products.csv", index=False)
    rec["events"].to_parquet(folder / "events.parquet")
    config = COMMON | {"sources": [
        {"name": "app_users", "system": "app", "table": "customers_raw", "format": "jsonl", "path": "app_users.jsonl",
         "columns": {"source_customer_id": "user_id", "user_id": "user_id", "phone": "phone", "email": "email",
                     "wechat_openid": "wechat_openid", "wechat_unionid": "wechat_unionid", "device_id": "device_id",
                     "registered_at": {"expr": "substr(registered_at, 1, 19)", "format": "%Y-%m-%dT%H:%M:%S"}}},
        {"name": "products", "system": "catalog", "table": "products", "format": "csv", "path": "products.csv",
         "columns": {"product_id": "sku", "name": "name", "category": "category", "brand": "brand"}},
        {"name": "orders", "system": "app", "table": "orders", "format": "parquet", "path": "orders.parquet",
         "columns": {"order_id": "order_id", "source_customer_id": "user_id", "order_ts": "order_time",
                     "amount": "pay_amount", "discount_amount": "discount", "promo_id": "coupon_id",
                     "channel": "platform", "payment_method": {"column": "pay_type", "map": PAYMENTS},
                     "status": {"column": "status", "map": STATUS}}},
        {"name": "items", "system": "app", "table": "order_items", "format": "parquet", "path": "items.parquet",
         "columns": {"order_id": "order_id", "line_no": "line_no", "product_id": "sku", "quantity": "qty",
                     "unit_price": "price"}},
        {"name": "events", "system": "app", "table": "events", "format": "parquet", "path": "events.parquet",
         "columns": {"event_id": "event_id", "anonymous_id": "anonymous_id", "user_id": "user_id", "event_ts": "ts",
                     "event_type": {"column": "event", "map": EVENT_NAMES}, "channel": "channel",
                     "session_id": "session_id", "product_id": "sku", "order_id": "order_id"}},
    ]}
    (folder / "huaxiang.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    ws = Workspace.open(folder)
    ws.build(stages=["ingest", "clean", "identity", "features", "tags"])
    return ws


def _messages(rec: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """The records as Segment messages, in time order."""
    out: list[tuple[pd.Timestamp, dict[str, Any]]] = []
    for u in rec["users"].to_dict(orient="records"):
        traits = {k: u[k] for k in ("phone", "email", "wechat_openid", "wechat_unionid", "device_id") if u.get(k)}
        traits["createdAt"] = u["registered_at"]
        at = pd.Timestamp(u["registered_at"]).tz_localize(None)
        out.append((at, {"type": "identify", "messageId": "I" + u["user_id"], "userId": u["user_id"],
                         "timestamp": u["registered_at"], "traits": traits}))
    products = rec["products"].set_index("sku")
    lines = rec["items"].groupby("order_id")
    orders = rec["orders"].set_index("order_id")
    for e in rec["events"].to_dict(orient="records"):
        props: dict[str, Any] = {"channel": e["channel"]}
        if e["session_id"]:
            props["session_id"] = e["session_id"]
        if e["sku"]:
            props["product_id"] = e["sku"]
        if e["order_id"]:
            props["order_id"] = e["order_id"]
        if e["event"] == "Order Completed":
            o = orders.loc[e["order_id"]]
            props |= {"total": float(o["pay_amount"]), "discount": float(o["discount"]),
                      "payment_method": PAYMENTS[o["pay_type"]], "channel": o["platform"],
                      "products": [{"product_id": li["sku"], "price": float(li["price"]), "quantity": int(li["qty"]),
                                    "position": int(li["line_no"]), "name": products.loc[li["sku"], "name"],
                                    "category": products.loc[li["sku"], "category"],
                                    "brand": products.loc[li["sku"], "brand"]}
                                   for li in lines.get_group(e["order_id"]).to_dict(orient="records")]}
            if o["coupon_id"]:
                props["coupon"] = o["coupon_id"]
        message: dict[str, Any] = {"messageId": e["event_id"], "timestamp": pd.Timestamp(e["ts"]).isoformat(),
                                   "anonymousId": e["anonymous_id"], "userId": e["user_id"], "properties": props}
        if e["event"] == "Page Viewed":
            message |= {"type": "page", "name": "home"}
        else:
            message |= {"type": "track", "event": e["event"]}
        out.append((pd.Timestamp(e["ts"]), message))
    out.sort(key=lambda pair: (pair[0], pair[1]["type"] != "identify"))
    return [json.loads(json.dumps(m, default=str)) for _, m in out]


def _by_records(ws: Workspace) -> dict[str, frozenset[str]]:
    rp = ws.engine.execute(ws.table("record_persons"))
    return {str(p): frozenset(g["record_key"]) for p, g in rp.groupby("person_id")}


def test_stream_equals_batch(tmp_path: Path) -> None:
    rec = _records(tmp_path)
    batch = _batch_workspace(tmp_path, rec)
    as_of = pd.Timestamp(batch.engine.execute(batch.table("features").as_of.max())).to_pydatetime()

    folder = tmp_path / "stream"
    folder.mkdir()
    (folder / "huaxiang.yaml").write_text(yaml.safe_dump(COMMON), encoding="utf-8")
    stream = Workspace.open(folder)
    stream.build(stages=["ingest", "clean", "identity", "features", "tags"])  # an empty workspace
    messages = _messages(rec)
    clock = as_of.replace(hour=12) - pd.Timedelta(days=1)  # the day of the last record: as_of = its next midnight
    with open_journal(folder, JournalSettings()) as journal:
        for start in range(0, len(messages), 700):  # what arrives while the updater works
            journal.append(messages[start:start + 700])
        updater = Updater(stream, journal, batch_size=500, clock=lambda: clock)
        applied = updater.drain()
        assert applied == len(messages)
        assert journal.committed() == journal.last_seq()
        # exactly once: the same messages again change nothing
        journal.append([dict(m, messageId=m["messageId"]) for m in messages[:50]])
        updater.drain()
        ws = updater.ws
        n_events = int(ws.engine.execute(ws.table("events").count()))
        assert n_events == len(rec["events"])
        assert int(ws.engine.execute(ws.table("orders").count())) == len(rec["orders"])

        # the same persons
        persons_b, persons_s = _by_records(batch), _by_records(ws)
        assert sorted(map(sorted, persons_s.values())) == sorted(map(sorted, persons_b.values()))
        key_b = {v: k for k, v in persons_b.items()}
        key_s = {v: k for k, v in persons_s.items()}
        same = {key_s[r]: key_b[r] for r in key_s}

        fb = batch.engine.execute(batch.table("features")).set_index("person_id")
        fs = ws.engine.execute(ws.table("features"))
        fs = fs[fs["person_id"].isin(list(same))]
        fs = fs.assign(person_id=fs["person_id"].map(same)).set_index("person_id").loc[fb.index, fb.columns]
        assert len(fs) == len(fb) == len(persons_b)

        def differing(columns: list[str]) -> list[str]:
            bad = []
            for c in columns:
                a, b = fb[c], fs[c]
                if a.dtype.kind in "fiu" and b.dtype.kind in "fiu":
                    ok = np.allclose(a.astype(float), b.astype(float), equal_nan=True, rtol=1e-9, atol=1e-9)
                else:
                    ok = a.astype(str).equals(b.astype(str))
                if not ok:
                    bad.append(c)
            return bad

        assert differing([c for c in fb.columns if c not in POPULATION]) == []

        # the tags whose rules read no population figure, and their history
        relative = {t.id for t in resolve_tag_specs(batch.config.tags) if set(t.parsed().columns()) & set(POPULATION)}

        def tags_of(w: Workspace, rename: dict[str, str] | None = None, *, every: bool = False) -> set[tuple[str, str]]:
            t = w.engine.execute(w.table("person_tags"))
            ids = t["person_id"].map(rename) if rename else t["person_id"]
            return {(p, g) for p, g in zip(ids, t["tag_id"], strict=True) if every or g not in relative}

        assert tags_of(ws, same) == tags_of(batch)
        assert len(tags_of(batch)) > 100  # the comparison covers many tags
        history = ws.engine.execute(ws.table("tags"))
        held = history[history["valid_to"].isna() & ~history["tag_id"].isin(relative)]
        assert set(zip(held["person_id"].map(same), held["tag_id"], strict=True)) == tags_of(batch)

        # the population figures: once the stream re-reads its population, they and their tags agree too
        refresher = updater._refresher_for()
        refresher.reset()
        refresher.refresh(list(same), as_of=as_of, at=clock, attributes_changed=False)
        fs = ws.engine.execute(ws.table("features"))
        fs = fs.assign(person_id=fs["person_id"].map(same)).set_index("person_id").loc[fb.index, fb.columns]
        assert differing(list(fb.columns)) == []
        assert tags_of(ws, same, every=True) == tags_of(batch, every=True)
        updater.stop(drain=False)
    batch.close()
    stream.close()
    assert isinstance(as_of, datetime)
