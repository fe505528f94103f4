"""The profile store: documents gathered in bulk equal one person's, and the store answers as the warehouse does.

On a built 400-customer demo shop. The independent check reads ``orders`` and ``person_tags`` with
pandas; the store is compared with the warehouse path of the same ``ws.profiles.get``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import huaxiang
from huaxiang.engine.warehouse import LIVE_FILE
from huaxiang.errors import PersonNotFoundError
from huaxiang.profiles.documents import gather_documents

pytestmark = pytest.mark.xdist_group("profile_store")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store") / "demo"
    with huaxiang.Workspace.init(folder, example="demo", customers=400) as ws:
        ws.build()
    return folder


def _sample(ws: Any, n: int = 15) -> list[str]:
    f = ws.engine.execute(ws.engine.table("features").select("person_id", "orders_total"))
    buyers = f.sort_values("orders_total", ascending=False)["person_id"].tolist()
    return buyers[:5] + buyers[-5:] + buyers[len(buyers) // 2: len(buyers) // 2 + n - 10]


def test_bulk_documents_equal_single_ones_and_an_independent_read(shop: Path) -> None:
    with huaxiang.Workspace.open(shop) as ws:
        eng = ws.engine
        people = _sample(ws)
        everyone = gather_documents(eng, eng.execute(eng.table("features").select("person_id"))["person_id"].tolist())
        orders = eng.execute(eng.table("orders")).merge(eng.execute(eng.table("record_persons")),
                                                        on=["source", "source_customer_id"])
        tags = eng.execute(eng.table("person_tags"))
        for pid in people:
            alone = gather_documents(eng, [pid])[pid]
            assert json.dumps(everyone[pid], sort_keys=True) == json.dumps(alone, sort_keys=True)
            mine = orders[orders["person_id"] == pid].sort_values("order_ts", ascending=False).head(10)
            assert [o["order_id"] for o in alone["orders"]] == mine["order_id"].tolist()
            assert sorted(t["tag_id"] for t in alone["tags"]) == sorted(tags.loc[tags["person_id"] == pid, "tag_id"])
        assert sum(len(d["orders"]) for d in everyone.values()) == int(
            orders.groupby("person_id").size().clip(upper=10).sum())


def test_the_store_answers_as_the_warehouse(shop: Path) -> None:
    with huaxiang.Workspace.open(shop) as ws:
        profiles = ws.profiles
        assert profiles.publish_all() == ws.engine.execute(ws.engine.table("features").count())
        ids = ws.engine.table("identities")
        lookups: list[dict[str, str]] = [{"person_id": p} for p in _sample(ws)]
        for kind in ("phone", "email", "anonymous_id"):
            got = ws.engine.execute(ids.filter(ids.identifier_type == kind).select("identifier_value").limit(3))
            lookups += [{kind: v} for v in got["identifier_value"]]
        users = ws.engine.execute(ids.filter(ids.identifier_type == "user_id").limit(3))["identifier_value"]
        lookups += [{"user_id": u.split(":", 1)[1]} for u in users]
        rp = ws.engine.execute(ws.engine.table("record_persons").limit(3))
        lookups += [{"source_id": f"{s}:{c}"} for s, c in zip(rp["source"], rp["source_customer_id"], strict=True)]
        stored = {json.dumps(lk): profiles.get(lang="en", **lk).model_dump(mode="json") for lk in lookups}
        with pytest.raises(PersonNotFoundError, match="no person has user id 'nobody'"):
            profiles.get(user_id="nobody")
        profiles.store.clear()  # now every read goes to the warehouse
        assert profiles.store.get(lookups[0]["person_id"]) is None
        for key, answer in stored.items():
            assert profiles.get(lang="en", **json.loads(key)).model_dump(mode="json") == answer, key


def test_a_new_build_leaves_the_old_documents_unread(shop: Path) -> None:
    with huaxiang.Workspace.open(shop) as ws:
        pid = _sample(ws)[0]
        ws.profiles.publish([pid])
        doc = ws.profiles.store.get(pid)
        assert doc is not None
        doc["attributes"]["name"] = "planted"
        ws.profiles.store.write({pid: doc}, [])
        assert ws.profiles.get(pid).attributes["name"] == "planted"
        live = shop / LIVE_FILE  # what a build's switch does: a new build id
        state = json.loads(live.read_text())
        state["build"] = state["build"] + "-next"
        live.write_text(json.dumps(state))
        assert ws.profiles.store.get(pid) is None
        assert ws.profiles.get(pid).attributes["name"] != "planted"
        ws.profiles.publish([pid])  # the first write of the new build starts the store over
        assert ws.profiles.store.count() == 1


def test_ambiguous_lookups_name_the_persons(shop: Path) -> None:
    with huaxiang.Workspace.open(shop) as ws:
        a, b = _sample(ws)[:2]
        ws.profiles.publish([a, b])
        ws.profiles.store.write({}, [("email", "shared@example.com", a), ("email", "shared@example.com", b)])
        with pytest.raises(huaxiang.errors.AmbiguousPersonError, match=rf"2 persons have email .*{min(a, b)}"):
            ws.profiles.get(email="shared@example.com")
        assert pd.notna(ws.profiles.get(a).person_id)
