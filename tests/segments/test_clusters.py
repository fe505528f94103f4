"""K-means: the planted k is found, ids are stable across fits, shuffles and rebuilds."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from huaxiang.segments.clusters import ClusterModel, fit_clusters, load_model
from huaxiang.segments.settings import ClusterSettings

COLUMNS = [f"f{i}" for i in range(6)]


@pytest.fixture(scope="module")
def blobs() -> tuple[pd.DataFrame, np.ndarray]:
    """Five planted groups of 300 in 6 dimensions."""
    x, y = make_blobs(n_samples=1500, centers=5, n_features=6, cluster_std=1.0, center_box=(-10, 10),
                      random_state=7)
    return pd.DataFrame(x, columns=COLUMNS, index=[f"p{i:04d}" for i in range(1500)]), y


def _settings(**kw: object) -> ClusterSettings:
    return ClusterSettings(features=COLUMNS, log_features=[], k_min=2, k_max=8, **kw)


def test_silhouette_picks_the_planted_k(blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, truth = blobs
    model = fit_clusters(frame, _settings())
    assert model.k == 5
    assert [r["k"] for r in model.report] == [2, 3, 4, 5, 6, 7, 8]
    chosen = next(r for r in model.report if r["chosen"])
    assert chosen["silhouette"] == max(r["silhouette"] for r in model.report) == model.silhouette
    inertia = [r["inertia"] for r in model.report]
    assert all(a > b for a, b in itertools.pairwise(inertia))
    assert adjusted_rand_score(truth, model.predict(frame)) > 0.99
    # ids 1..k ordered by the centroid of the first feature (no monetary feature), highest first
    assert model.ids == [1, 2, 3, 4, 5]
    f0 = model.centroid_frame()["f0"].tolist()
    assert f0 == sorted(f0, reverse=True)


def test_ids_are_stable_across_fits_and_shuffles(blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = blobs
    first = fit_clusters(frame, _settings(k=5))
    again = fit_clusters(frame, _settings(k=5))
    assert again.centroids == first.centroids and again.ids == first.ids
    labels = pd.Series(first.predict(frame), index=frame.index)
    shuffled = frame.sample(frac=1.0, random_state=3)
    refit = fit_clusters(shuffled, _settings(k=5))
    relabelled = pd.Series(refit.predict(shuffled), index=shuffled.index).loc[frame.index]
    assert (relabelled == labels).all()


def test_a_previous_model_keeps_its_ids(blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = blobs
    base = fit_clusters(frame, _settings(k=5))
    # the saved model numbered the clusters differently: 1..5 -> 9, 4, 7, 2, 5
    mapping = {1: 9, 2: 4, 3: 7, 4: 2, 5: 5}
    previous = ClusterModel(**{**base.to_dict(), "ids": [mapping[i] for i in base.ids]})
    matched = fit_clusters(frame, _settings(k=5), previous=previous)
    expected = pd.Series(base.predict(frame)).map(mapping)
    assert (pd.Series(matched.predict(frame)) == expected).all()
    assert matched.ids == sorted(mapping.values())


def test_a_new_cluster_gets_a_new_id(blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = blobs
    four = fit_clusters(frame, _settings(k=4))  # two planted groups share a cluster
    five = fit_clusters(frame, _settings(k=5), previous=four)
    assert sorted(five.ids) == [1, 2, 3, 4, 5]
    table = pd.crosstab(pd.Series(five.predict(frame), name="new"), pd.Series(four.predict(frame), name="old"))
    for new_id in (1, 2, 3, 4):  # every matched cluster holds rows of the old cluster with its id only
        row = table.loc[new_id]
        assert row[row > 0].index.tolist() == [new_id]
    assert (table.loc[5] > 0).sum() == 1  # the new one is split off a single old cluster


def test_sampled_fit_predicts_everyone(blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, truth = blobs
    model = fit_clusters(frame, _settings(k=5, fit_rows=300))
    assert model.n_fit == 300
    labels = model.predict(frame, batch_rows=128)
    assert len(labels) == 1500 and adjusted_rand_score(truth, labels) > 0.99


def test_save_and_load(blobs: tuple[pd.DataFrame, np.ndarray], tmp_path: Path) -> None:
    frame, _ = blobs
    model = fit_clusters(frame, _settings(k=3), as_of="2025-01-01")
    loaded = load_model(model.save(tmp_path / "models" / "m.json"))
    assert loaded is not None and loaded.as_of == "2025-01-01" and loaded.ids == model.ids
    assert (loaded.predict(frame) == model.predict(frame)).all()
    assert load_model(tmp_path / "missing.json") is None


def test_missing_values_and_log_scale_by_hand() -> None:
    # spend: 0, e-1, e^2-1, missing -> log1p 0, 1, 2 and the median e-1 -> 1; mean 1, std sqrt(1/2)
    frame = pd.DataFrame({"spend_total": [0.0, math.e - 1, math.e**2 - 1, None],
                          "share_app": [0.0, 0.0, 1.0, 1.0]})
    model = fit_clusters(frame, ClusterSettings(features=["spend_total", "share_app"], k=2))
    assert model.log_features == ["spend_total"]
    assert model.fill[0] == pytest.approx(math.e - 1)
    z = model.transform(frame)[:, 0]
    assert z == pytest.approx([-math.sqrt(2), 0.0, math.sqrt(2), 0.0])
    assert model.centroid_frame().shape == (2, 2)
