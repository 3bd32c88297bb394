"""``deepfeat-iqa store verify|repair|info`` and ``dfi.store.verify|repair|info`` (issue 20)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import deepfeat_iqa as dfi
from deepfeat_iqa.cli import app
from deepfeat_iqa.store import _zarr

runner = CliRunner()
SETTINGS = {"model": "resnet18", "layer": "layer4", "weights": "random", "precision": "fp32", "num_workers": 0, "progress": False, "batch_size": 2}


@pytest.fixture()
def store(photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None) -> Path:
    """A store of 5 photos in chunks of 2 rows."""
    monkeypatch.setattr(_zarr, "MIN_CHUNK_ROWS", 2)
    path = tmp_path / "f.zarr"
    dfi.extract(photo_dir, store=path, **SETTINGS)
    return path


def _truncate(store: Path, array: str, chunk: str) -> None:
    (folder,) = [p for p in store.rglob(array) if p.is_dir()]
    with (folder / "c" / chunk).open("r+b") as handle:
        handle.truncate(7)


def test_verify_clean_store_exits_0_and_info_lists_arrays(store: Path) -> None:
    result = runner.invoke(app, ["store", "verify", str(store)])
    assert result.exit_code == 0, result.output
    assert "every chunk decodes" in result.output
    result = runner.invoke(app, ["store", "info", str(store)])
    assert result.exit_code == 0, result.output
    for text in ("resnet18@", "layer4/avg/center/fp32", "/index", "crc32c", "512", "float32"):
        assert text in result.output, text
    table = dfi.store.info(store).table()
    features = table[table["kind"] == "features"].iloc[0]
    assert (features["rows"], features["done"], features["failed"], features["damaged"]) == (5, 5, 0, 0)
    assert features["MB"] > 0


def test_verify_names_damage_repair_resets_it_and_extract_refills_it(
    store: Path, photo_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clean = np.asarray(dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"].per_view)
    _truncate(store, "values", "1/0/0")  # rows 2-3
    _truncate(store, "n_crops", "2")  # row 4

    result = runner.invoke(app, ["store", "verify", str(store)])
    assert result.exit_code == 1, result.output
    assert "DAMAGED 'values' of dataset" in result.output and "rows 2-3" in result.output
    assert "DAMAGED 'n_crops'" in result.output and "row 4" in result.output
    assert "store repair" in result.output
    report = dfi.store.verify(store)
    assert not report.ok and report.arrays[-1].damaged_rows == 3

    result = runner.invoke(app, ["store", "repair", str(store)])
    assert result.exit_code == 0, result.output
    assert "2 chunks reset" in result.output
    after = dfi.store.verify(store)
    assert after.ok and after.table().query("kind == 'features'")["done"].item() == 2

    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        healed = dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"]
    assert "Extracting 3 of 5 images" in caplog.text and "Repaired" not in caplog.text
    np.testing.assert_array_equal(np.asarray(healed.per_view), clean)
    assert runner.invoke(app, ["store", "verify", str(store)]).exit_code == 0


def test_failed_images_are_counted(photo_dir: Path, tmp_path: Path) -> None:
    (photo_dir / "broken.jpg").write_bytes(b"not a jpeg")
    path = tmp_path / "f.zarr"
    dfi.extract(photo_dir, store=path, on_error="skip", **SETTINGS)
    features = dfi.store.info(path).table().query("kind == 'features'").iloc[0]
    assert (features["rows"], features["done"], features["failed"]) == (6, 5, 1)


def test_missing_store_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    for command in ("verify", "repair", "info"):
        result = runner.invoke(app, ["store", command, str(tmp_path / "typo.zarr")])
        assert result.exit_code == 2, result.output
        assert "not a feature store" in result.output
    assert not (tmp_path / "typo.zarr").exists()
    assert runner.invoke(app, ["store", "verify"]).exit_code == 2  # usage error
