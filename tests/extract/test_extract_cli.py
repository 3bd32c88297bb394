"""The ``extract``, ``list-backbones`` and ``list-layers`` commands call the API and write --out files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from deepfeat_iqa.cli import app

runner = CliRunner()
FAST = ["--backbone", "resnet18", "--weights", "random", "--num-workers", "0", "--batch-size", "4"]


def test_extract_to_npz_and_csv(photo_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "features.zarr"
    npz = tmp_path / "feats.npz"
    result = runner.invoke(app, ["extract", str(photo_dir), *FAST, "-l", "layer3", "-l", "-2", "--store", str(store), "--out", str(npz)])
    assert result.exit_code == 0, result.output
    assert "layer3: 5 images x 1 views x 256 dims" in result.output
    with np.load(npz) as data:
        assert data["-2"].shape[:2] == (5, 1) and len(data["ids"]) == 5
    csv = tmp_path / "feats.csv"
    files = sorted(photo_dir.iterdir())[:2]
    result = runner.invoke(app, ["extract", *map(str, files), *FAST, "-l", "layer4", "--store", "none", "--out", str(csv)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(csv, index_col="id")
    assert table.shape == (2, 512) and table.columns[0] == "layer4.0"


def test_extract_reports_bad_paths_and_unreadable_images(tmp_path: Path) -> None:
    result = runner.invoke(app, ["extract", str(tmp_path / "missing.jpg"), *FAST, "--store", "none"])
    assert result.exit_code == 2 and "missing.jpg" in result.output
    (tmp_path / "text.jpg").write_text("no pixels")
    result = runner.invoke(app, ["extract", str(tmp_path / "text.jpg"), *FAST, "--store", "none"])
    assert result.exit_code == 1 and "text.jpg" in result.output and "not an image" in result.output


def test_list_backbones_and_layers() -> None:
    result = runner.invoke(app, ["list-backbones"])
    assert result.exit_code == 0 and "resnet50" in result.output.split()
    result = runner.invoke(app, ["list-layers", "resnet18"])
    assert result.exit_code == 0 and "layer4" in result.output
