"""SPAQ MT-S's split trunk: shared up to the last stage, two copies of it, for any backbone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.backbones import build_backbone
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.backbones._trunk import build_trunk

from .conftest import FAST, TINY


def _with_scenes(ds):
    scenes = np.zeros((len(ds), 3))
    scenes[np.arange(len(ds)), np.arange(len(ds)) % 3] = 1
    return replace(ds, scenes=pd.DataFrame(scenes, columns=["portrait", "night", "sky"]))


@pytest.mark.parametrize(("backbone", "first"), [("test_resnet", "layer4"), (TINY, "blocks.4")])
def test_the_split_copies_the_last_stage_and_keeps_the_quality_path_named_as_the_backbone(backbone, first):
    trunk, _, dims = build_trunk(backbone, "random", None, 0, split=True)
    plain = build_backbone(backbone, "random", seed=0).model
    assert trunk.tail[0] == first
    quality = trunk.backbone_state_dict()
    assert quality.keys() == plain.state_dict().keys()
    assert all(torch.equal(quality[k], v) for k, v in plain.state_dict().items())
    # Only the last stage is doubled: everything before it exists once.
    n_tail = sum(p.numel() for path in trunk.tail for p in plain.get_submodule(path).parameters())
    assert sum(p.numel() for p in trunk.parameters()) == sum(p.numel() for p in plain.parameters()) + n_tail
    quality_rows, scene_rows = trunk.eval().branches(torch.randn(3, 3, 64, 64))
    assert [q.shape for q in quality_rows] == [s.shape for s in scene_rows] == [(3, dims[0])]
    assert all(torch.allclose(q, s) for q, s in zip(quality_rows, scene_rows))  # same start weights


def test_mt_s_trains_its_two_branches_apart_and_keeps_them_through_a_model_file(images, tmp_path):
    ds = _with_scenes(images)
    frozen = make_head("spaq-mt-s", epochs=1, freeze_trunk_epochs=1, **FAST).fit(ds, scenes=ds.scenes)
    fork = frozen.network_.trunk.backbone.get_submodule(frozen.network_.trunk.tail[0])
    assert all(torch.equal(a, b) for a, b in zip(fork.quality.parameters(), fork.scene.parameters()))
    model = dfi.fit(ds, head="spaq-mt-s", epochs=2, freeze_trunk_epochs=0, lr=1e-2, trunk_lr=1e-2, **FAST)
    head = model.estimator
    fork = head.network_.trunk.backbone.get_submodule(head.network_.trunk.tail[0])
    assert not all(torch.equal(a, b) for a, b in zip(fork.quality.parameters(), fork.scene.parameters()))
    # Fine-tune-then-extract reads the quality branch's path, under the backbone's own names.
    tensors = head.trunk_state_dict()
    backbone = build_backbone(TINY, dict(tensors), seed=0).model
    assert torch.equal(dict(backbone.named_parameters())["blocks.4.0.conv_pw.weight"],
                       dict(fork.quality.named_parameters())["0.conv_pw.weight"])  # fmt: skip
    again = dfi.load_model(dfi.save_model(model, tmp_path / "mts.dfi")).estimator
    assert again.network_.trunk.tail == head.network_.trunk.tail
    assert np.allclose(again.predict(ds), head.predict(ds))
    assert np.allclose(again._outputs(ds)["scenes"], head._outputs(ds)["scenes"])


def test_mt_s_refuses_a_tap_before_any_stage_saying_what_to_tap():
    with pytest.raises(ConfigError, match="tap a later layer"):
        build_trunk("test_resnet", "random", ["maxpool"], 0, split=True)
