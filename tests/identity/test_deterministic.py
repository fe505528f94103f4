"""Identity resolution on the synthetic shop, scored against its ground truth, on DuckDB and Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import huaxiang
from huaxiang.errors import ConfigError
from huaxiang.identity.probabilistic import pairwise_scores

# The demo shop re-registers ~2 % of CRM members with a *new* member card (synthetic.py: crm_dup), so in
# this shop a member card is not unique per person (demo.yaml says so too); the rest keeps the defaults.
DEMO_IDENTITY = {"unique_per_person": ["user_id", "national_id"]}


def _demo(tmp_path: Path, customers: int, seed: int, identity: dict[str, Any] | None = None) -> Path:
    folder = tmp_path / "demo"
    huaxiang.Workspace.init(folder, example="demo", customers=customers, seed=seed)
    config_file = folder / "huaxiang.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config.setdefault("identity", {}).update(identity if identity is not None else DEMO_IDENTITY)
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return folder


def _score(ws: huaxiang.Workspace) -> tuple[float, float, pd.DataFrame]:
    truth = pd.read_csv(ws.path / "data" / "ground_truth" / "records.csv", dtype=str)
    pred = ws.engine.execute(ws.table("record_persons"))
    merged = truth.merge(pred, on=["source", "source_customer_id"], suffixes=("_true", "_pred"), validate="one_to_one")
    assert len(merged) == len(truth)  # every true record got a person
    precision, recall, _ = pairwise_scores(merged["person_id_true"], merged["person_id_pred"])
    return precision, recall, merged


def test_demo_persons_against_ground_truth(tmp_path: Path, engine_name: str, request: pytest.FixtureRequest) -> None:
    # the same shop on both engines (Splink on Spark runs many small jobs: ~2 min here)
    folder = _demo(tmp_path, 1500, 5)
    options = {"session": request.getfixturevalue("spark_session")} if engine_name == "spark" else {}
    ws = huaxiang.Workspace.open(folder, engine=engine_name, **options)
    report = ws.build(stages=["ingest", "clean", "identity"])
    precision, recall, merged = _score(ws)
    print(f"\n[{engine_name}] identity: pairwise precision {precision:.4f} recall {recall:.4f} "
          f"({report.tables['persons']} persons from {report.tables['record_persons']} records; "
          f"{merged['person_id_true'].nunique()} true persons) seconds {report.details['identity']['seconds']}")
    assert precision >= 0.995  # the goal
    # Misses left: app accounts with no phone (1 %, legacy / overseas) whose CRM twin shares no e-mail or
    # WeChat id either, and CRM records carrying the staff placeholder phone — no honest evidence links them.
    assert recall >= 0.98  # the goal
    hubs = ws.engine.execute(ws.table("identity_hubs"))
    assert "+8613800000000" in set(hubs["identifier_value"])  # the shop's placeholder phone never links
    persons = ws.engine.execute(ws.table("persons"))
    assert persons["person_id"].is_unique and len(persons) == merged["person_id_pred"].nunique()
    # every pos record (a member card) reaches its CRM member through source_keys
    pos = merged[merged.source == "pos"]
    crm = merged[merged.source == "crm"].set_index("person_id_true")["person_id_pred"]
    joined = pos.person_id_pred == pos.person_id_true.map(crm.groupby(level=0).first())
    assert joined.mean() > 0.99
    ws.close()


def test_member_card_conflict_blocks_merges(tmp_path: Path) -> None:
    """With member_card unique per person (the default), re-registered members stay apart: reported."""
    folder = _demo(tmp_path, 600, 11, identity={"unique_per_person": ["user_id", "member_card", "national_id"]})
    ws = huaxiang.Workspace.open(folder)
    ws.build(stages=["ingest", "clean", "identity"])
    precision, recall, merged = _score(ws)
    print(f"\n[duckdb, member_card unique] precision {precision:.4f} recall {recall:.4f}")
    conflicts = ws.engine.execute(ws.table("identity_conflicts"))
    assert precision == 1.0
    assert set(conflicts["identifier_type"]) == {"member_card"}
    # each refused merge is a real re-registration: the true person of the group holds two CRM cards
    crm = merged[merged.source == "crm"]
    twice = crm.groupby("person_id_true").size()
    true_of = (merged.source + ":" + merged.source_customer_id).to_frame("k").assign(p=merged.person_id_true)
    owner = conflicts["label"].map(true_of.set_index("k")["p"])
    assert len(conflicts) > 0 and owner.map(twice).eq(2).all()
    rp = ws.engine.execute(ws.table("record_persons"))
    cards = rp[rp.source == "crm"].groupby("person_id").size()
    assert cards.max() == 1  # no person holds two CRM member records (two cards)
    ws.close()


def test_hub_identifier_does_not_glue_500_people(make_workspace: Any) -> None:
    rows = ["id,name,phone,email"] + [f"C{i},Person {i},13912345678,p{i}@example.com" for i in range(500)]
    rows.append("C9999,Person 0 again,13700000001,p0@example.com")  # a real duplicate through the email
    config = {
        "sources": [{"name": "crm", "table": "customers_raw", "format": "csv", "path": "c.csv",
                     "columns": {"source_customer_id": "id", "name": "name", "phone": "phone", "email": "email"}}],
    }
    ws = make_workspace(config, {"c.csv": "\n".join(rows) + "\n"})
    report = ws.build(stages=["ingest", "clean", "identity"])
    assert report.tables["persons"] == 500
    hubs = ws.engine.execute(ws.table("identity_hubs"))
    assert hubs[["identifier_type", "identifier_value", "records"]].values.tolist() == [["phone", "+8613912345678", 500]]
    rp = ws.engine.execute(ws.table("record_persons")).set_index("source_customer_id")["person_id"]
    assert rp["C9999"] == rp["C0"] and rp["C1"] != rp["C0"]


def test_bad_identity_settings_name_the_key(make_workspace: Any) -> None:
    config = {"identity": {"identifiers": ["phone", "passport"], "hub_treshold": 3}, "sources": []}
    with pytest.raises(ConfigError, match=r"identity.hub_treshold: unknown key; remove it or check its "
                                          r"spelling \(did you mean hub_threshold\? valid keys: .*hub_threshold") as err:
        make_workspace(config)  # checked when huaxiang.yaml is loaded, before any stage
    assert "identity.identifiers: unknown identifier types ['passport']" in str(err.value)
    with pytest.raises(ConfigError, match=r"identity.survivorship.name: Input should be 'most_recent'"):
        from huaxiang.identity.settings import parse_settings

        parse_settings({"survivorship": {"name": "longest"}})


@pytest.mark.slow
def test_demo_precision_holds_at_20000_customers(tmp_path: Path) -> None:
    """The demo shop at its default size (seed 42): more strangers share a common name than at 1,500, yet
    pairwise precision stays >= 0.995 and recall >= 0.98 (the issue measured 0.951 / 0.986 before)."""
    folder = _demo(tmp_path, 20_000, 42)
    ws = huaxiang.Workspace.open(folder)
    report = ws.build(stages=["ingest", "clean", "identity"])
    precision, recall, merged = _score(ws)
    print(f"\n[duckdb, 20,000 customers, seed 42] identity: pairwise precision {precision:.4f} recall {recall:.4f} "
          f"({report.tables['persons']} persons from {report.tables['record_persons']} records) "
          f"seconds {report.details['identity']['seconds']}")
    assert precision >= 0.995
    assert recall >= 0.98
    # What recall misses carries no evidence: the records of one real person left apart share no value of
    # any field (placeholder hubs aside) — e.g. a CRM member without a phone or e-mail and the same person's
    # app account, which has no name or birth date. Nothing honest can join them.
    raw = ws.engine.execute(ws.table("customers_raw"))
    hubs = set(ws.engine.execute(ws.table("identity_hubs"))["identifier_value"])
    fields = ["name", "birth_date", "phone", "email", "wechat_unionid", "wechat_openid", "member_card", "user_id",
              "device_id"]
    raw = raw.assign(rk=raw.source + ":" + raw.source_customer_id).set_index("rk")[fields]
    merged["rk"] = merged.source + ":" + merged.source_customer_id
    split = merged[merged.groupby("person_id_true").person_id_pred.transform("nunique") > 1]
    shared = 0
    for _, group in split[split.rk.isin(raw.index)].groupby("person_id_true"):
        parts = [raw.loc[g.rk] for _, g in group.groupby("person_id_pred")]
        values = [{(c, v) for c in fields for v in p[c].dropna() if v not in hubs} for p in parts]
        shared += any(a & b for i, a in enumerate(values) for b in values[i + 1:])
    print(f"real persons split: {split.person_id_true.nunique()}; of them sharing any value across the split: "
          f"{shared}")
    assert shared == 0
    ws.close()
