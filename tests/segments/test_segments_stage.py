"""The segments stage on the demo shop: every person once, scores as recomputed in pandas, persona
cards and the k search, identical rows on a rebuild, the CLI, and Spark equal to DuckDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import huaxiang
from huaxiang.cli import app
from huaxiang.pipeline import StageContext, stage_names
from huaxiang.segments.clusters import MODEL_FILE, load_model
from huaxiang.segments.settings import DEFAULT_RFM_MAP

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[huaxiang.Workspace, Any]]:
    """The 800-customer demo shop; persons from the generator's truth (a perfect identity stage)."""
    folder = tmp_path_factory.mktemp("segments-demo")
    huaxiang.Workspace.init(folder, example="demo", customers=800, seed=21).close()
    ws = huaxiang.Workspace.open(folder)
    ws.build(stages=["ingest", "clean"])
    records = pd.read_csv(folder / "data" / "ground_truth" / "records.csv", dtype=str)
    ws.engine.materialize("record_persons", ibis.memtable(records))
    report = ws.build(stages=["features", "tags", "segments"])
    yield ws, report
    ws.close()


def _frame(ws: huaxiang.Workspace, name: str, key: list[str]) -> pd.DataFrame:
    return ws.engine.execute(ws.table(name)).sort_values(key).reset_index(drop=True)


def _scores(values: pd.Series, ascending: bool = True) -> pd.Series:
    """Hand formula: floor(min-rank * 5 / (n - 1)) + 1, at most 5 (rank 0-based)."""
    rank = values.rank(method="min", ascending=ascending) - 1
    return np.minimum(np.floor(rank * 5 / (len(values) - 1)) + 1, 5).astype(int)


def test_stage_runs_after_tags() -> None:
    names = stage_names()
    assert names.index("segments") == names.index("tags") + 1


def test_every_person_once_and_buyers_clustered(shop: tuple[huaxiang.Workspace, Any]) -> None:
    ws, report = shop
    seg = _frame(ws, "segments", ["person_id"])
    features = _frame(ws, "features", ["person_id"])
    assert seg["person_id"].tolist() == features["person_id"].tolist()
    assert report.tables["segments"] == len(features)
    buyer = features["recency_days"].notna()
    assert seg.loc[buyer, "cluster_id"].notna().all() and seg.loc[~buyer, "cluster_id"].isna().all()
    assert (seg.loc[~buyer, "rfm_segment"] == "no_purchase").all() and (seg.loc[~buyer, "rfm_cell_zh"] == "未购买").all()
    assert seg.loc[buyer, ["rfm_r", "rfm_f", "rfm_m"]].isin([1, 2, 3, 4, 5]).all().all()
    assert (seg["as_of"] == features["as_of"]).all()
    named = seg.loc[buyer, "cluster_name_zh"]
    assert named.notna().all() and named.str.endswith("型").all()


def test_scores_segments_and_cells_equal_a_pandas_recomputation(shop: tuple[huaxiang.Workspace, Any]) -> None:
    ws, _ = shop
    seg = _frame(ws, "segments", ["person_id"]).set_index("person_id")
    f = _frame(ws, "features", ["person_id"]).set_index("person_id")
    b = f[f["recency_days"].notna()]
    r = _scores(b["recency_days"], ascending=False)
    fr = _scores(b["orders_total"].fillna(0))
    m = _scores(b["spend_total"].fillna(0))
    got = seg.loc[b.index]
    assert (got["rfm_r"].astype(int) == r).all() and (got["rfm_f"].astype(int) == fr).all()
    assert (got["rfm_m"].astype(int) == m).all()

    def first_rule(scores: tuple[int, int, int]) -> str:
        for rule in DEFAULT_RFM_MAP:
            ranges = rule.ranges(5)
            if all(ranges[k][0] <= v <= ranges[k][1] for k, v in zip("rfm", scores, strict=True)):
                return rule.id
        return "others"

    expected = [first_rule(s) for s in zip(r, fr, m, strict=True)]
    assert got["rfm_segment"].tolist() == expected
    high = ((b["recency_days"] < b["recency_days"].mean()).map({True: "R", False: "r"})
            + (b["orders_total"] > b["orders_total"].mean()).map({True: "F", False: "f"})
            + (b["spend_total"] > b["spend_total"].mean()).map({True: "M", False: "m"}))
    cells = {"RFM": "important_value", "RfM": "important_development", "rFM": "important_retention",
             "rfM": "important_winback", "RFm": "general_value", "Rfm": "general_development",
             "rFm": "general_retention", "rfm": "general_winback"}
    assert got["rfm_cell"].tolist() == high.map(cells).tolist()
    # a real shop spreads over the map
    assert got["rfm_segment"].nunique() >= 8 and got["rfm_cell"].nunique() == 8


def test_persona_cards_and_cluster_report(shop: tuple[huaxiang.Workspace, Any]) -> None:
    ws, report = shop
    cards = _frame(ws, "persona_cards", ["kind", "key"])
    n = report.tables["segments"]
    assert cards.groupby("kind")["size"].sum().to_dict() == {"cell": n, "cluster": n - int(
        (_frame(ws, "segments", ["person_id"])["cluster_id"].isna()).sum()), "rfm": n}
    k_report = _frame(ws, "cluster_report", ["k"])
    assert k_report["k"].tolist() == [3, 4, 5, 6, 7, 8] and k_report["chosen"].sum() == 1
    chosen = int(k_report.loc[k_report["chosen"], "k"].iloc[0])
    clusters = cards[cards["kind"] == "cluster"]
    assert sorted(clusters["key"].astype(int)) == list(range(1, chosen + 1))
    assert report.details["segments"]["clusters"]["k"] == chosen
    assert (clusters["rule_precision"] > 0.5).all() and clusters["rules"].str.contains(r" [<>]=? ").all()
    for card in cards.to_dict(orient="records"):
        assert card["description_zh"].startswith(f"{card['name_zh']}：{card['size']:,} 人")
        assert json.loads(card["top_features"]) or card["key"] in ("others", "no_purchase")
    champions = cards[(cards["kind"] == "rfm") & (cards["key"] == "champions")].iloc[0]
    top = {e["feature"]: e["z"] for e in json.loads(champions["top_features"])}
    assert any(f in top and top[f] > 0.5 for f in ("orders_total", "spend_total", "orders_365d", "spend_365d"))
    model = load_model(ws.path / MODEL_FILE)
    assert model is not None and model.k == chosen and model.as_of is not None
    assert model.as_of.startswith(str(_frame(ws, "features", ["person_id"])["as_of"].iloc[0])[:10])


def test_rebuild_gives_identical_rows(shop: tuple[huaxiang.Workspace, Any]) -> None:
    ws, _ = shop
    before = _frame(ws, "segments", ["person_id"])
    cards = _frame(ws, "persona_cards", ["kind", "key"])
    model = load_model(ws.path / MODEL_FILE)
    again = ws.build(stages=["segments"])
    assert again.details["segments"]["clusters"]["reused_model"] is False  # refit: always
    pd.testing.assert_frame_equal(_frame(ws, "segments", ["person_id"]), before)
    pd.testing.assert_frame_equal(_frame(ws, "persona_cards", ["kind", "key"]), cards)
    refit = load_model(ws.path / MODEL_FILE)
    assert model is not None and refit is not None
    assert refit.ids == model.ids and np.allclose(refit.centroids, model.centroids)
    # refit: never predicts with the saved model: the same rows, and the report says so
    saved = ws.config.segments
    ws.config.segments = {"clusters": {"refit": "never"}}
    try:
        reused = ws.build(stages=["segments"])
    finally:
        ws.config.segments = saved
    assert reused.details["segments"]["clusters"]["reused_model"] is True
    assert _frame(ws, "cluster_report", ["k"])["reused"].all()
    pd.testing.assert_frame_equal(_frame(ws, "segments", ["person_id"]), before)


def test_cli_personas_and_segments(shop: tuple[huaxiang.Workspace, Any]) -> None:
    ws, _ = shop
    runner = CliRunner()
    out = runner.invoke(app, ["personas", "-w", str(ws.path), "--kind", "cluster", "--lang", "en", "--json"])
    assert out.exit_code == 0, out.output
    cards = json.loads(out.output)
    assert {c["kind"] for c in cards} == {"cluster"} and all(isinstance(c["top_features"], list) for c in cards)
    out = runner.invoke(app, ["personas", "-w", str(ws.path), "--kind", "rfm"])
    assert out.exit_code == 0 and "冠军客户" in out.output and "R 4-5, F 4-5, M 4-5" in out.output
    out = runner.invoke(app, ["segments", "-w", str(ws.path), "--lang", "en"])
    assert out.exit_code == 0 and "Champions" in out.output and "Important value customers" in out.output
    assert "silhouette" in out.output
    out = runner.invoke(app, ["personas", "-w", str(ws.path), "--kind", "nope"])
    assert out.exit_code != 0 and "--kind 'nope': use one of rfm, cell, cluster" in out.output


@pytest.mark.spark
def test_spark_gives_the_same_segments(shop: tuple[huaxiang.Workspace, Any], spark_session: Any,
                                       tmp_path: Path) -> None:
    from huaxiang.engine import create_engine
    from huaxiang.segments.stage import run_segments

    ws, _ = shop
    eng = create_engine("spark", workspace_dir=tmp_path, session=spark_session)
    from huaxiang.segments.personas import PROFILE_FEATURES
    from huaxiang.segments.settings import DEFAULT_CLUSTER_FEATURES

    used = {"person_id", "as_of", "top_channel", "top_payment_method", "peak_hour", *PROFILE_FEATURES,
            *DEFAULT_CLUSTER_FEATURES}
    for name in ("features", "person_tags", "person_category_pref"):
        table = ws.table(name)
        if name == "features":  # the columns the stage reads (a narrower copy is quicker to write)
            table = table.select(*[c for c in table.columns if c in used])
        eng.materialize(name, ibis.memtable(ws.engine.execute(table), schema=table.schema()), temp=True)
    result = run_segments(StageContext(engine=eng, config=ws.config, workspace_dir=tmp_path, data_dir=tmp_path))
    assert result.tables["segments"] == len(_frame(ws, "segments", ["person_id"]))
    spark = eng.execute(eng.table("segments")).sort_values("person_id").reset_index(drop=True)
    duck = _frame(ws, "segments", ["person_id"])
    pd.testing.assert_frame_equal(spark.drop(columns="as_of"), duck.drop(columns="as_of"), check_dtype=False)
    cols = ["kind", "key", "size", "name_zh", "name_en", "rules", "top_channel", "peak_hour"]
    spark_cards = eng.execute(eng.table("persona_cards")).sort_values(["kind", "key"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(spark_cards[cols], _frame(ws, "persona_cards", ["kind", "key"])[cols],
                                  check_dtype=False)
    eng.close()
