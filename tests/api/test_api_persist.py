"""dfi.save / dfi.load: identical predictions after a round trip, foreign files refused."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from deepfeat_iqa.api import fit
from deepfeat_iqa.errors import DataError
from deepfeat_iqa.features import LayerFeatures
from deepfeat_iqa.persist import FORMAT, load, save


def test_round_trip_predicts_identically(feats: LayerFeatures, tmp_path: Path) -> None:
    model = fit(feats, head=Ridge())
    path = save(model, tmp_path / "models" / "ridge.joblib")
    loaded = load(path)
    assert loaded.key == model.key and loaded.blocks == model.blocks and loaded.head == "Ridge"
    np.testing.assert_array_equal(loaded.predict(feats), model.predict(feats))
    payload = joblib.load(path)
    assert payload["format"] == FORMAT and payload["feature_key"]["layer"] == "layer3" and "numpy" in payload["versions"]


def test_files_that_are_not_ours_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"definitely not a pickle")
    with pytest.raises(DataError, match="not a deepfeat-iqa model file"):
        load(garbage)
    foreign = tmp_path / "foreign.joblib"
    joblib.dump({"weights": [1, 2, 3]}, foreign)
    with pytest.raises(DataError, match="no 'deepfeat-iqa/quality-model' marker"):
        load(foreign)
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "missing.joblib")


def test_newer_format_asks_for_an_upgrade(feats: LayerFeatures, tmp_path: Path) -> None:
    path = save(fit(feats, head=Ridge()), tmp_path / "m.joblib")
    payload = joblib.load(path)
    payload["format_version"] = 99
    joblib.dump(payload, path)
    with pytest.raises(DataError, match="upgrade deepfeat-iqa"):
        load(path)


def test_save_refuses_a_bare_estimator(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dfi.fit"):
        save(Ridge(), tmp_path / "x.joblib")
