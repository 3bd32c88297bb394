"""Issue 13 item 9: one's own nn.Module as a backbone; the registry and the builder no longer import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import deepfeat_iqa as dfi
from deepfeat_iqa.backbones import BackboneConfig, _registry, build_backbone, register_backbone, resolve_layers
from deepfeat_iqa.errors import WeightsError


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


@pytest.fixture()
def tiny_net():
    @register_backbone
    def tiny_net() -> BackboneConfig:
        return BackboneConfig(
            name="tiny_net", source="custom", arch="TinyNet", builder=TinyNet, input_size=(3, 64, 64),
            mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bilinear", crop_pct=1.0,
            stages={"conv1": "conv1", "conv2": "conv2"}, default_layer="conv2",
        )  # fmt: skip

    yield "tiny_net"
    _registry.BACKBONES.remove("tiny_net")


def test_own_module_is_listed_resolved_and_extracted(tiny_net, tmp_path):
    from PIL import Image

    assert tiny_net in dfi.list_backbones()
    assert resolve_layers(tiny_net, [0, "conv2", "conv1.0"]) == ["conv1", "conv2", "conv1.0"]
    table = dfi.list_layers(tiny_net)
    assert table[["stage", "layer"]].values.tolist() == [["conv1", "conv1"], ["conv2", "conv2"]]
    assert table["shape"].tolist() == [(8, 31, 31), (16, 15, 15)]
    Image.fromarray(np.full((70, 90, 3), 128, np.uint8)).save(tmp_path / "a.png")
    feats = dfi.extract(tmp_path, backbone=tiny_net, weights="random", store=None, num_workers=0, progress=False)
    assert feats["conv2"].dim == 16 and feats["conv2"].key.backbone == "tiny_net"
    # weights from a state dict of that module
    state = tmp_path / "tiny.pth"
    torch.save(build_backbone(tiny_net, "random", seed=3).model.state_dict(), state)
    assert build_backbone(tiny_net, state).weights_sha256 == build_backbone(tiny_net, "random", seed=3).weights_sha256


def test_own_module_has_no_imagenet_weights(tiny_net):
    with pytest.raises(WeightsError, match="custom module.*weights=PATH"):
        build_backbone(tiny_net, "imagenet")


def _imports(module: str) -> set[str]:
    tree = ast.parse((Path(dfi.__file__).parent / "backbones" / f"{module}.py").read_text())
    names = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {name.removeprefix("deepfeat_iqa.backbones.") for name in names}


def test_registry_and_builder_do_not_import_each_other():
    assert "_build" not in _imports("_registry") and "_registry" in _imports("_build")
    assert not {"_build", "_registry"} & _imports("_skeleton")
