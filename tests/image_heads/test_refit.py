"""A loaded image head that started from in-memory weights fits again from the same start."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.backbones import build_backbone
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.backbones import FineTunedWeights

from .conftest import FAST, TINY

OPTIONS = {k: v for k, v in FAST.items() if k not in ("backbone", "weights")}


@pytest.fixture(scope="module")
def tuned(images):
    return dfi.finetune(images, backbone=TINY, weights="random", epochs=1, freeze_trunk_epochs=0, **OPTIONS)


def test_a_loaded_head_refits_from_the_finetuned_weights_it_started_from(images, tuned, tmp_path):
    model = dfi.fit(images, head="spaq-bl", backbone=TINY, weights=tuned, epochs=1, freeze_trunk_epochs=0, **OPTIONS)
    loaded = dfi.load_model(dfi.save_model(model, tmp_path / "bl.dfi")).estimator
    assert isinstance(loaded.weights, FineTunedWeights)
    assert loaded.weights.fingerprint == tuned.fingerprint and loaded.weights.info == tuned.info
    again = dfi.fit(images, head=loaded)
    assert np.allclose(again.predict(images), model.predict(images))  # same start, same seed: the same fit
    assert np.allclose(loaded.fit(images).predict(images), model.predict(images))


def test_a_module_or_state_dict_start_comes_back_as_tensors_and_an_ensemble_stores_it_once(images, tuned, tmp_path):
    module = build_backbone(TINY, tuned).model
    model = dfi.fit(images, head="spaq-bl", backbone=TINY, weights=module, epochs=1, ensemble=2, **OPTIONS)
    path = dfi.save_model(model, tmp_path / "ens.dfi")
    with zipfile.ZipFile(path) as archive:
        from safetensors.numpy import load

        names = list(load(archive.read("arrays.safetensors")))
    assert sum(name.startswith("start_weights.") for name in names) == len(module.state_dict())
    assert not any(".start_weights." in name for name in names)
    loaded = dfi.load_model(path).estimator
    assert isinstance(loaded.weights, dict) and dfi.backbones.fingerprint_state_dict(loaded.weights) == tuned.fingerprint
    assert all(torch.equal(loaded.weights[k], v) for k, v in module.state_dict().items())


def test_a_file_without_its_start_weights_says_what_to_pass(images, tuned, tmp_path):
    model = dfi.fit(images, head="spaq-bl", backbone=TINY, weights=tuned, epochs=1, **OPTIONS)
    path = dfi.save_model(model, tmp_path / "old.dfi")
    # A file written before model files kept the starting weights: the manifest names them only by fingerprint.
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    del manifest["state"]["start_weights"]
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    loaded = dfi.load_model(path).estimator
    assert np.allclose(loaded.predict(images), model.predict(images))  # predicting needs only the fitted network
    with pytest.raises(ConfigError, match=r"set_params\(weights=ft\)"):
        loaded.fit(images)
    assert np.allclose(loaded.set_params(weights=tuned).fit(images).predict(images), model.predict(images))
