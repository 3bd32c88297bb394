"""Layer selection (one resolver) and multi-layer capture from one early-stopped forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepfeat_iqa.backbones import build_backbone, forward_layers, resolve_layers
from deepfeat_iqa.errors import ConfigError


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return build_backbone("resnet50", weights="random")


@pytest.fixture(scope="module")
def batch():
    return torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))


def test_resolve_friendly_index_paper_and_module_names(resnet):
    layers = ["layer3", 0, -1, -3, "add_15", "ADD-12", "layer4.0.conv1", "3"]
    expected = ["layer3", "maxpool", "fc", "layer4", "layer4.1", "layer3.4", "layer4.0.conv1", "layer3"]
    assert resolve_layers(resnet, layers) == expected
    assert resolve_layers("resnet50", "layer2") == ["layer2"]
    assert resolve_layers("resnet50", None) == ["layer4.1"]
    assert resolve_layers("nasnetalarge", "reduction_concat_reduce_12") == ["reduction_cell_1"]


def test_unknown_layer_lists_valid_names(resnet):
    with pytest.raises(ConfigError) as info:
        resolve_layers(resnet, "layr3")
    message = str(info.value)
    assert "Did you mean 'layer3'" in message and "layer1, layer2" in message and "-7..6" in message
    assert "list_layers('resnet50')" in message


@pytest.mark.parametrize("index", [7, -8])
def test_index_out_of_range_names_the_range(index):
    with pytest.raises(ConfigError, match=r"out of range.*-7\.\.6"):
        resolve_layers("resnet50", index)


def test_bare_timm_module_uses_feature_info(resnet):
    assert resolve_layers(resnet.model, [-1, "layer1.0"]) == ["layer4", "layer1.0"]


def test_early_stop_skips_later_modules(resnet, batch):
    calls = []
    handle = resnet.model.layer4.register_forward_hook(lambda *_: calls.append(1))
    try:
        forward_layers(resnet.model, batch, ["layer1", "layer2"])
        assert calls == []
        forward_layers(resnet.model, batch, ["fc"])
        assert calls == [1]
    finally:
        handle.remove()
    assert not resnet.model._forward_hooks and not resnet.model.layer2._forward_hooks  # hooks removed


def test_several_layers_from_one_pass_equal_separate_passes(resnet, batch):
    paths = ["layer2", "layer3.4", "fc"]
    with torch.inference_mode():
        together = forward_layers(resnet.model, batch, paths)
        for path in paths:
            torch.testing.assert_close(together[path], forward_layers(resnet.model, batch, [path])[path])
    assert list(together) == paths


def test_captured_outputs_survive_inplace_activations():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 2)).eval()
    x = torch.randn(3, 4)
    with torch.no_grad():
        pre_relu = model[0](x)
        out = forward_layers(model, x, ["0", "2"])
    torch.testing.assert_close(out["0"], pre_relu)
    assert (out["0"] < 0).any()


class _TupleOut(nn.Module):
    def forward(self, x):
        return x * 2, "aux"


class _WithUnusedHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = _TupleOut()
        self.unused = nn.Linear(1, 1)  # like an aux head that only runs in training

    def forward(self, x):
        return self.body(x)[0]


def test_tuple_outputs_give_their_first_tensor_and_unused_modules_are_reported():
    model = _WithUnusedHead()
    x = torch.ones(1, 2)
    torch.testing.assert_close(forward_layers(model, x, ["body"])["body"], 2 * x)
    with pytest.raises(ConfigError, match="did not produce a tensor"):
        forward_layers(model, x, ["unused"])
    with pytest.raises(ConfigError, match="No module 'nope'"):
        forward_layers(model, x, ["nope"])
