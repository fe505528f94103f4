"""The live writer: which customer records a micro-batch changed (what makes identity and attributes run again)."""

from __future__ import annotations

from typing import Any

from huaxiang.realtime.segment import map_messages
from huaxiang.realtime.writer import ensure_tables, write_batch


def _identify(mid: str, ts: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": mid, "userId": "u1", "timestamp": ts, "traits": traits}


def test_only_new_or_different_records_count_as_changed(make_workspace: Any) -> None:
    ws = make_workspace({"timezone": "Asia/Shanghai"})
    eng = ws.engine
    ensure_tables(eng)

    def write(*messages: dict[str, Any]) -> set[tuple[str, str]]:
        batch = map_messages(messages, source="app", timezone_name="Asia/Shanghai")
        return write_batch(eng, batch, ws.config).customer_records

    assert write(_identify("m1", "2026-12-01T10:00:00Z", email="a@x.cn", member_level="gold")) == {("app", "u1")}
    # an SDK repeats the traits on every identify: only updated_at differs, which is no change
    assert write(_identify("m2", "2026-12-02T10:00:00Z", email="a@x.cn", member_level="gold")) == set()
    assert write(_identify("m3", "2026-12-03T10:00:00Z", member_level="gold")) == set()  # absent trait: kept
    assert write(_identify("m4", "2026-12-04T10:00:00Z", member_level="platinum")) == {("app", "u1")}
    stored = eng.execute(eng.table("customers_raw"))
    assert stored[["email", "member_level"]].values.tolist() == [["a@x.cn", "platinum"]]
    assert str(stored["updated_at"].iloc[0]).startswith("2026-12-04")
