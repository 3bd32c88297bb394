"""Fine-tune, then extract: the fine-tuned weights key the store by their own fingerprint."""

from __future__ import annotations

import numpy as np
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.backbones import build_backbone

from .conftest import FAST, TINY


def test_finetune_then_extract_keys_features_by_the_finetuned_fingerprint(images, tmp_path):
    options = {k: v for k, v in FAST.items() if k not in ("backbone", "weights")}
    ft = dfi.finetune(images, backbone=TINY, weights="random", epochs=2, freeze_trunk_epochs=0, **options)
    base = build_backbone(TINY, "random", seed=0)
    assert ft.fingerprint.startswith("sha256:") and ft.fingerprint != base.weights_sha256
    store = tmp_path / "store"
    common = {"backbone": TINY, "views": "center", "store": store, "num_workers": 0, "progress": False, "precision": "fp32"}
    tuned = dfi.extract(images, weights=ft, **common).only()
    frozen = dfi.extract(images, weights="random", **common).only()
    assert tuned.key.weights == ft.fingerprint and frozen.key.weights == base.weights_sha256
    assert not np.allclose(tuned.X, frozen.X)
    # The same tensors as a module, a state dict or a safetensors file are the same weights.
    module = build_backbone(TINY, ft).model
    assert dfi.extract(images, weights=module, **common).only().key.weights == ft.fingerprint
    assert dfi.extract(images, weights=dict(module.state_dict()), **common).only().key.weights == ft.fingerprint
    path = ft.save(tmp_path / "ft.safetensors")
    from_file = dfi.extract(images, weights=str(path), **common).only()
    assert from_file.key.weights == ft.fingerprint
    assert np.allclose(from_file.X, tuned.X)
    module.state_dict()[next(iter(module.state_dict()))].add_(torch.ones(()))  # change one tensor in place
    assert dfi.extract(images, weights=module, **common).only().key.weights != ft.fingerprint


def test_a_finetune_that_kept_a_frozen_trunk_epoch_says_so(images):
    """One epoch with the trunk frozen: the kept weights are the start weights, and the result must say it."""
    import pytest

    options = {k: v for k, v in FAST.items() if k not in ("backbone", "weights")}
    with pytest.warns(UserWarning, match=r"kept epoch 1 .*trunk was still frozen .*starting weights unchanged"):
        ft = dfi.finetune(images, backbone=TINY, weights="random", epochs=1, freeze_trunk_epochs=1, **options)
    assert ft.info["trunk_trained"] is False
    assert ft.fingerprint == build_backbone(TINY, "random", seed=0).weights_sha256
    trained = dfi.finetune(images, backbone=TINY, weights="random", epochs=1, freeze_trunk_epochs=0, **options)
    assert trained.info["trunk_trained"] is True
