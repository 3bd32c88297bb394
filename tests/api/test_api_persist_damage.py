"""Damaged model files (issue 20): cut short, bit-flipped, a member missing or an array changed, each named."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays
from sklearn.linear_model import Ridge

from deepfeat_iqa.api import fit
from deepfeat_iqa.errors import ModelFileDamagedError, ModelFileError
from deepfeat_iqa.features._sets import LayerFeatures
from deepfeat_iqa.persist import load, save

DAMAGED = "damaged or incomplete model file"


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rewrite(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture()
def model_file(feats: LayerFeatures, tmp_path: Path) -> Path:
    return save(fit(feats, head="svr"), tmp_path / "m.dfi")


def test_manifest_records_a_sha256_per_array(model_file: Path) -> None:
    members = _members(model_file)
    manifest = json.loads(members["manifest.json"])
    arrays = load_arrays(members["arrays.safetensors"])
    assert set(manifest["array_sha256"]) == set(arrays) and arrays
    assert all(len(digest) == 64 for digest in manifest["array_sha256"].values())


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_a_file_cut_short_says_damaged_not_pickle(model_file: Path, keep: float) -> None:
    data = model_file.read_bytes()
    model_file.write_bytes(data[: int(len(data) * keep)])
    for trusted in (False, True):
        with pytest.raises(ModelFileDamagedError, match=DAMAGED) as caught:
            load(model_file, trusted=trusted)
        assert "pickle" not in str(caught.value) and "cut short" in str(caught.value)


def test_flipped_bytes_in_a_member_say_damaged(model_file: Path) -> None:
    with zipfile.ZipFile(model_file) as archive:
        info = archive.getinfo("arrays.safetensors")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(model_file.read_bytes())
    for i in range(start + info.compress_size // 2, start + info.compress_size // 2 + 4):
        data[i] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(ModelFileDamagedError, match=DAMAGED):
        load(model_file)


@pytest.mark.parametrize("member", ["arrays.safetensors", "manifest.json"])
def test_a_missing_member_is_named(model_file: Path, member: str) -> None:
    members = _members(model_file)
    del members[member]
    _rewrite(model_file, members)
    with pytest.raises(ModelFileDamagedError, match=f"{DAMAGED} \\({member} is missing"):
        load(model_file)


def test_a_changed_array_is_refused_by_name(model_file: Path) -> None:
    members = _members(model_file)
    arrays = load_arrays(members["arrays.safetensors"])
    name = sorted(arrays)[0]
    arrays[name] = arrays[name] + 1  # a valid safetensors file with other numbers: only the sha256 tells
    members["arrays.safetensors"] = save_arrays(arrays)
    _rewrite(model_file, members)
    with pytest.raises(ModelFileDamagedError, match=f"array '{name}' in arrays.safetensors does not match its sha256"):
        load(model_file)


def test_a_changed_skops_member_is_refused(feats: LayerFeatures, tmp_path: Path) -> None:
    path = save(fit(feats, head=Ridge()), tmp_path / "ridge.dfi")
    members = _members(path)
    members["estimator.skops"] = members["estimator.skops"] + b"\0"
    _rewrite(path, members)
    with pytest.raises(ModelFileDamagedError, match="estimator.skops does not match"):
        load(path)


def test_files_from_before_checksums_still_load(feats: LayerFeatures, model_file: Path) -> None:
    model = load(model_file)
    members = _members(model_file)
    manifest = json.loads(members["manifest.json"])
    del manifest["array_sha256"]
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(model_file, members)
    np.testing.assert_array_equal(load(model_file).predict(feats), model.predict(feats))


def test_foreign_files_keep_their_own_message(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"definitely not a pickle")
    with pytest.raises(ModelFileError, match="not a safe deepfeat-iqa model file") as caught:
        load(garbage)
    assert not isinstance(caught.value, ModelFileDamagedError)
