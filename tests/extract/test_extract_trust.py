"""A score must not depend on how a path is spelled; tiny images are refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

import deepfeat_iqa as dfi
from deepfeat_iqa.cli import _heads  # noqa: F401 - registers score on app
from deepfeat_iqa.cli import app
from deepfeat_iqa.datasets import load_folder
from deepfeat_iqa.errors import DataError
from deepfeat_iqa.inputs.images import MIN_IMAGE_SIDE

FAST = {"model": "resnet18", "weights": "random", "layer": "layer1", "num_workers": 0, "progress": False, "store": None}


def _by_name(lf: dfi.features.LayerFeatures) -> np.ndarray:
    order = np.argsort([Path(p).name for p in lf.dataset.paths])
    return lf.X[order]


def test_random_crops_are_the_same_whatever_path_or_loader(photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = dfi.extract(photo_dir.resolve(), views="random3", **FAST).only()
    monkeypatch.chdir(photo_dir.parent)
    relative = dfi.extract([Path(photo_dir.name) / p.name for p in sorted(photo_dir.iterdir())], views="random3", **FAST).only()
    monkeypatch.chdir(photo_dir)
    bare = dfi.extract(sorted(Path(".").iterdir()), views="random3", **FAST).only()
    pd.DataFrame({"image": sorted(p.name for p in photo_dir.iterdir()), "mos": np.arange(5.0)}).to_csv(
        photo_dir.parent / "labels.csv", index=False
    )
    labeled = dfi.extract(load_folder(photo_dir, photo_dir.parent / "labels.csv"), views="random3", **FAST).only()
    reference = _by_name(absolute)
    for other in (relative, bare, labeled):
        np.testing.assert_array_equal(_by_name(other), reference)


def test_different_files_still_get_different_crops(photo_dir: Path) -> None:
    image = next(photo_dir.iterdir())
    copy = photo_dir / "copy.jpg"
    copy.write_bytes(image.read_bytes())
    Image.open(image).save(photo_dir / "resaved.png")  # same pixels, other bytes: other crops
    lf = dfi.extract([image, copy, photo_dir / "resaved.png"], views="random2", **FAST).only()
    np.testing.assert_array_equal(lf.per_view[0], lf.per_view[1])
    assert not np.array_equal(lf.per_view[0], lf.per_view[2])


def test_cli_score_writes_exactly_what_predict_gives(photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = sorted(p.name for p in photo_dir.iterdir())
    pd.DataFrame({"image": names, "mos": [10.0, 40.0, 20.0, 50.0, 30.0], "ref": list("abcde")}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    options = {"model": "squeezenet", "weights": "random", "layer": "features.12", "num_workers": 0, "progress": False}
    feats = dfi.extract(load_folder(photo_dir, tmp_path / "labels.csv", group_col="ref"), views="random2", store=None, **options)
    model = dfi.fit(feats, head="svr", C_grid=(1.0,))
    model.info["weights_source"] = "random"
    model_file = dfi.save(model, tmp_path / "model.dfi")
    expected = dict(zip(feats.only().dataset.ids, model.predict(feats)))

    monkeypatch.chdir(photo_dir.parent)  # score through a relative folder spelling
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["score", photo_dir.name, "--model-file", str(model_file), "--out", str(out), "--store", "none"])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    got = dict(zip(scores["path"].map(lambda p: Path(p).name), scores["score"]))
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_a_one_pixel_png_is_refused_naming_the_file(photo_dir: Path, tmp_path: Path) -> None:
    Image.new("RGB", (1, 1), (10, 20, 30)).save(photo_dir / "dot.png")
    with pytest.raises(DataError, match=rf"dot\.png.*1x1 pixels, under the minimum of {MIN_IMAGE_SIDE} px"):
        dfi.extract(photo_dir, **FAST)
    store = tmp_path / "features.zarr"
    skipped = dfi.extract(photo_dir, **{**FAST, "store": store}, on_error="skip").only()
    assert "dot.png" not in skipped.dataset.ids and len(skipped) == 5
    again = dfi.extract(photo_dir, **{**FAST, "store": store}, on_error="skip").only()  # recorded: not retried
    assert len(again) == 5
    with pytest.raises(DataError, match=r"dot\.png.*recorded in the store"):
        dfi.extract(photo_dir, **{**FAST, "store": store})


def test_an_image_at_the_minimum_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE * 2), (10, 20, 30)).save(path)
    assert len(dfi.extract([path], **FAST).only()) == 1
