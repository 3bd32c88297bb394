"""Image heads as sweep cells: evaluated on the images, same splits as feature cells, cached, resumed, recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import ConfigError

from helpers.studies import TINY_MODEL

#: Training options that keep one image-head fit to about a second on two cores (random-init trunk).
FAST_IMAGE = {"epochs": 1, "batch_size": 4, "crop_size": 32, "test_views": "center", "val_views": "center",
              "num_workers": 0, "progress": False, "precision": "fp32"}  # fmt: skip


def _sweep(ds, tmp_path: Path, heads, **options):
    settings = {"backbones": TINY_MODEL, "layers": ["stage2"], "heads": heads, "weights": "random", "n_splits": 2, "seed": 3,
                "store": tmp_path / "features.zarr", "results": tmp_path / "study.db", "progress": False}  # fmt: skip
    settings.update(options)
    return dfi.sweep(ds, **settings)


def test_feature_and_image_head_cells_share_splits_and_are_cached(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    heads = ["linear-svr", ("spaq-bl", FAST_IMAGE)]
    study = _sweep(tiny, tmp_path, heads)
    table = study.table()
    assert (table["status"] == "done").all(), table["error"].tolist()
    assert table[["layer", "pooling", "views", "head"]].values.tolist() == [
        ["stage2", "avg", "center", "linear-svr"], ["images", "\u2014", "\u2014", "spaq-bl"],
    ]  # fmt: skip
    assert table["dim"].iloc[0] == 128 and pd.isna(table["dim"].iloc[1])
    assert table["n_splits"].eq(2).all() and np.isfinite(table["srocc"].astype(float)).all()
    assert len(study.best(k=1)) == 2 and "spaq-bl" in study.to_markdown()
    feature, image = study.result(head="linear-svr"), study.result(head="spaq-bl")
    assert feature.signatures == image.signatures
    assert image.info["consumes"] == "images" and image.info["feature_key"]["backbone"] == TINY_MODEL
    matrix = dfi.significance({"linear-svr": feature, "spaq-bl": image})
    assert list(matrix.verdict.index) == ["linear-svr", "spaq-bl"]

    def no_work(*args, **kwargs):
        raise AssertionError("a finished sweep must not extract or train again")

    monkeypatch.setattr("deepfeat_iqa.extraction._extract.extract", no_work)
    monkeypatch.setattr("deepfeat_iqa.evaluation._evaluate.evaluate", no_work)
    again = _sweep(tiny, tmp_path, heads)
    pd.testing.assert_frame_equal(again.table(), table)


def test_image_head_failure_is_recorded_and_kept(tiny, tmp_path: Path) -> None:
    broken = ("spaq-bl", {**FAST_IMAGE, "optimizer": "no-such-optimizer"})
    study = _sweep(tiny, tmp_path, [broken])
    row = study.table().iloc[0]
    assert row["status"] == "failed" and "no-such-optimizer" in row["error"]
    assert _sweep(tiny, tmp_path, [broken]).table().iloc[0]["error"] == row["error"]  # kept, not recomputed


def test_image_head_trunk_comes_from_the_models_axis(tiny, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="backbones= and weights= axes"):
        _sweep(tiny, tmp_path, [("spaq-bl", {"backbone": TINY_MODEL})])
