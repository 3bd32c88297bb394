"""dfi.save / dfi.load: identical predictions after a round trip, no code run on load, foreign files refused."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from deepfeat_iqa.api import fit
from deepfeat_iqa.errors import DataError, ModelFileError, ModelVersionError
from deepfeat_iqa.features._sets import LayerFeatures
from deepfeat_iqa.persist import FORMAT, load, save

HEADS = {
    "svr": ("svr", {}),
    "rbf-svr": ("rbf-svr", {"cv": 3}),
    "gpr": ("gpr", {"n_components": 4}),
    "gpr-inducing": ("gpr", {"method": "inducing", "n_inducing": 20, "device": "cpu"}),
    "mlp": ("mlp", {"hidden": (8,), "max_epochs": 5, "device": "cpu"}),
}


@pytest.mark.parametrize("case", sorted(HEADS))
def test_each_head_round_trips_with_identical_predictions(feats: LayerFeatures, tmp_path: Path, case: str) -> None:
    head, options = HEADS[case]
    model = fit(feats, head=head, **options)
    path = save(model, tmp_path / "models" / f"{case}.dfi")
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {"manifest.json", "arrays.safetensors"}
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == FORMAT and manifest["kind"] == "state"
    assert manifest["feature_key"]["layer"] == "layer3" and "numpy" in manifest["versions"]
    loaded = load(path)
    assert loaded.key == model.key and loaded.blocks == model.blocks and loaded.head == head
    np.testing.assert_array_equal(loaded.predict(feats), model.predict(feats))
    assert loaded.estimator.get_params() == model.estimator.get_params()


def test_gpr_std_survives_the_round_trip(feats: LayerFeatures, tmp_path: Path) -> None:
    model = fit(feats, head="gpr")
    loaded = load(save(model, tmp_path / "gpr.dfi"))
    for a, b in zip(loaded.predict(feats, return_std=True), model.predict(feats, return_std=True)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_third_party_sklearn_head_goes_through_skops(feats: LayerFeatures, tmp_path: Path) -> None:
    model = fit(feats, head=Ridge())
    path = save(model, tmp_path / "ridge.dfi")
    with zipfile.ZipFile(path) as archive:
        assert "estimator.skops" in archive.namelist()
    loaded = load(path)
    assert loaded.head == "Ridge"
    np.testing.assert_array_equal(loaded.predict(feats), model.predict(feats))


class _CreatesFile:
    """Unpickling this object creates a file: what a crafted model file could do instead."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):  # noqa: ANN204
        return (open, (self.target, "w"))


def test_a_pickle_that_would_create_a_file_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    crafted = tmp_path / "model.joblib"
    payload = {"format": FORMAT, "format_version": 1, "versions": {}, "model": _CreatesFile(str(target))}
    crafted.write_bytes(pickle.dumps(payload))
    with pytest.raises(ModelFileError, match="trusted=True") as info:
        load(crafted)
    assert "run any code" in str(info.value)
    assert not target.exists()
    # The same bytes as a joblib file (what 0.1 wrote): refused too.
    joblib.dump(payload, crafted)
    with pytest.raises(ModelFileError, match="pickle"):
        load(crafted)
    assert not target.exists()


def test_a_skops_member_with_foreign_types_is_refused(tmp_path: Path, feats: LayerFeatures) -> None:
    import skops.io as sio

    path = save(fit(feats, head=Ridge()), tmp_path / "ridge.dfi")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["estimator.skops"] = sio.dumps({"payload": _Plain()})
    # A crafted file rewrites the manifest's checksum too: the trusted-type check must hold on its own.
    manifest = json.loads(members["manifest.json"])
    manifest.pop("member_sha256")
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="_Plain"):
        load(path)


class _Plain:
    """A type skops does not trust by default."""


def test_old_joblib_files_load_only_when_trusted(feats: LayerFeatures, tmp_path: Path) -> None:
    model = fit(feats, head="svr")
    path = save(model, tmp_path / "old.joblib", format="pickle")
    with pytest.raises(ModelFileError, match="trusted=True"):
        load(path)
    np.testing.assert_array_equal(load(path, trusted=True).predict(feats), model.predict(feats))


def test_files_that_are_not_ours_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"definitely not a pickle")
    with pytest.raises(ModelFileError, match="not a safe deepfeat-iqa model file"):
        load(garbage)
    with pytest.raises(ModelFileError, match="not a deepfeat-iqa model file"):
        load(garbage, trusted=True)
    foreign = tmp_path / "foreign.joblib"
    joblib.dump({"weights": [1, 2, 3]}, foreign)
    with pytest.raises(ModelFileError, match="no 'deepfeat-iqa/quality-model' marker"):
        load(foreign, trusted=True)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match="no manifest.json"):
        load(other_zip)
    with pytest.raises(ModelFileError, match="does not exist"):
        load(tmp_path / "missing.dfi")


def _rewrite_manifest(path: Path, change) -> None:  # noqa: ANN001
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_other_versions_get_their_own_error(feats: LayerFeatures, tmp_path: Path) -> None:
    path = save(fit(feats, head="svr"), tmp_path / "m.dfi")
    _rewrite_manifest(path, lambda m: m.update(format_version=99))
    with pytest.raises(ModelVersionError, match="upgrade deepfeat-iqa"):
        load(path)
    path = save(fit(feats, head="svr"), tmp_path / "moved.dfi")
    _rewrite_manifest(path, lambda m: m.update(head_class="deepfeat_iqa.heads._old.LinearSVR"))
    with pytest.raises(ModelVersionError, match="not a registered head"):
        load(path)
    path = save(fit(feats, head="svr"), tmp_path / "nested.dfi")
    _rewrite_manifest(path, lambda m: m["state"]["preprocessor_"].update({"__object__": "os.system"}))
    with pytest.raises(ModelVersionError, match="allow-list"):
        load(path)


def test_moved_class_in_a_trusted_pickle_is_a_version_error(tmp_path: Path) -> None:
    path = tmp_path / "moved.joblib"
    # A pickle naming a module that does not exist, as a file from a version whose classes moved would.
    path.write_bytes(b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x0fdeepfeat_iqa.xx\x94\x8c\x01A\x94\x93\x94.")
    with pytest.raises(ModelVersionError, match="another deepfeat-iqa version"):
        load(path, trusted=True)
    assert not isinstance(ModelVersionError("x"), ModelFileError) and issubclass(ModelVersionError, DataError)


def test_save_refuses_a_bare_estimator(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dfi.fit"):
        save(Ridge(), tmp_path / "x.dfi")


def test_a_crash_never_leaves_a_half_written_model(feats: LayerFeatures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A save that fails midway (the disk fills after the manifest) leaves the previous model file as it was."""
    first = fit(feats, head="svr")
    path = save(first, tmp_path / "m.dfi")
    second = fit(feats, head=Ridge(alpha=10.0))  # manifest + skops member: the failure hits the second member
    assert not np.allclose(second.predict(feats), first.predict(feats))
    written = []

    def writestr_then_fail(self, name, data, *args, **kwargs):
        if str(self.filename).startswith(str(path)):  # the model file (skops writes zips of its own in memory)
            if written:
                raise OSError(28, "No space left on device")
            written.append(name)
        return original(self, name, data, *args, **kwargs)

    original = zipfile.ZipFile.writestr
    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save(second, path)
    monkeypatch.undo()
    assert written == ["manifest.json"]  # the failure came midway, after one member
    assert os.listdir(tmp_path) == ["m.dfi"]  # no partial file remains
    np.testing.assert_array_equal(load(path).predict(feats), first.predict(feats))


def test_a_crash_never_leaves_a_half_written_pickle_model(feats: LayerFeatures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = fit(feats, head="svr")
    path = save(first, tmp_path / "m.pkl", format="pickle")

    def dump_half_then_fail(value, filename, **kwargs):
        Path(filename).write_bytes(b"\x80\x04half a pickle")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("deepfeat_iqa.persist.joblib.dump", dump_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save(fit(feats, head=Ridge()), path, format="pickle")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.pkl"]
    np.testing.assert_array_equal(load(path, trusted=True).predict(feats), first.predict(feats))


class _OwnStateHead(RegressorMixin, BaseEstimator):
    """A head with its own _dfi_state pair and no StateMixin, as image heads (issue 8) have."""

    def __init__(self, scale: float = 2.0) -> None:
        self.scale = scale

    def fit(self, X, y):  # noqa: ANN001, ANN201, N803
        self.weights_ = torch.as_tensor(np.linalg.lstsq(X, y, rcond=None)[0])
        return self

    def predict(self, X):  # noqa: ANN001, ANN201, N803
        return self.scale * (torch.as_tensor(X, dtype=self.weights_.dtype) @ self.weights_).numpy()

    def _dfi_state(self):  # noqa: ANN202
        return {"scale": self.scale}, {"weights": self.weights_}

    @classmethod
    def _dfi_from_state(cls, config, arrays):  # noqa: ANN001, ANN206
        head = cls(scale=config["scale"])
        head.weights_ = torch.as_tensor(arrays["weights"])
        return head


def test_any_registered_head_with_the_state_pair_round_trips(feats: LayerFeatures, tmp_path: Path) -> None:
    from deepfeat_iqa.heads import HEADS, register_head

    model = fit(feats, head=_OwnStateHead())
    with pytest.raises(DataError, match="not registered"):
        save(model, tmp_path / "own.dfi")
    register_head("test-own-state")(_OwnStateHead)
    try:
        loaded = load(save(model, tmp_path / "own.dfi"))
        np.testing.assert_array_equal(loaded.predict(feats), model.predict(feats))
    finally:
        HEADS.remove("test-own-state")
    with pytest.raises(ModelVersionError, match="not a registered head"):
        load(tmp_path / "own.dfi")
