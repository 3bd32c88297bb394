"""Every registered backbone builds, lists its layers, and yields the promised shapes of its stages and paper layers."""

from __future__ import annotations

import warnings

import pytest
import torch

from deepfeat_iqa.backbones import (
    BackboneConfig,
    build_backbone,
    forward_layers,
    get_config,
    list_backbones,
    list_layers,
    register_backbone,
    resolve_layers,
)
from deepfeat_iqa.backbones import _registry
from deepfeat_iqa.errors import ConfigError

PAPER_ORDER = [
    "alexnet", "vgg16", "googlenet", "squeezenet", "shufflenet", "inception_v3", "densenet201", "mobilenetv2",
    "resnet50", "resnet101", "inception_resnet_v2", "xception", "nasnetalarge",
]


def test_list_backbones_paper_order_then_lite():
    assert list_backbones() == PAPER_ORDER + ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]


@pytest.mark.parametrize("name", list_backbones())
def test_backbone_layers_and_shapes(name):
    loaded = build_backbone(name, weights="random")
    config = loaded.config
    assert not loaded.model.training
    assert loaded.weights_source == "random(seed=0)" and loaded.weights_sha256.startswith("sha256:")
    table = list_layers(loaded, full=True).set_index("layer")  # one forward pass
    assert list(table.columns) == ["stage", "paper", "shape", "size"]
    paths = list(dict.fromkeys([*config.stages.values(), *config.paper_layers.values()]))
    assert set(paths) <= set(table.index), "every stage and paper path must be an executed module"
    assert resolve_layers(config, None)[0] in table.index
    for label, path in config.paper_layers.items():
        assert label in table.loc[path, "paper"].split("/")
    if name == "nasnetalarge":  # 331 px NASNet is heavy: the single forward above must do
        return
    with torch.inference_mode():
        outputs = forward_layers(loaded.model, torch.zeros((1, *config.input_size)), paths)
    for path in paths:
        assert tuple(outputs[path].shape[1:]) == table.loc[path, "shape"], path


def test_unknown_backbone_suggests_close_names():
    with pytest.raises(ConfigError, match="Did you mean 'resnet50'"):
        get_config("resnet5")


def test_any_timm_name_gets_a_config_from_timm():
    config = get_config("resnet18")
    assert config.source == "timm" and config.input_size == (3, 224, 224)
    assert config.stages["stage4"] == "layer4"
    assert resolve_layers(config, -1) == ["fc"]


def test_config_passes_through_and_overrides_with_replace():
    from dataclasses import replace

    config = replace(get_config("squeezenet"), input_size=(3, 227, 227))
    assert get_config(config) is config
    assert isinstance(config, BackboneConfig) and hash(config) == hash(replace(config))


def test_duplicate_registration_warns():
    def backbone_for_duplicate_test() -> BackboneConfig:
        return get_config("squeezenet")

    try:
        register_backbone(backbone_for_duplicate_test)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            register_backbone(backbone_for_duplicate_test)
        assert any("registered twice" in str(w.message) for w in caught)
    finally:
        if "backbone_for_duplicate_test" in _registry.BACKBONES:
            _registry.BACKBONES.remove("backbone_for_duplicate_test")


# Feature counts stated in seed 003's Table 1 (column "Features"), with the input size the paper's MATLAB /
# Keras networks take (227 px for SqueezeNet, 299 for Inception-v3): an independent check of the mapping.
PAPER_SIZES = [
    ("alexnet", 224, {"fc6": 4096, "fc7": 4096, "fc8": 1000}),
    ("googlenet", 224, {"Inception5bOutput": 50176, "Inception4eOutput": 163072, "loss3-classifier": 1000}),
    ("squeezenet", 227, {"fire8-concat": 100352, "fire7-concat": 75264, "fire6-concat": 75264}),
    ("inception_v3", 299, {"mixed9": 131072, "mixed8": 81920, "mixed6": 221952}),
    ("densenet201", 224, {"conv5_block32_concat": 94080}),
    ("mobilenetv2", 224, {"block_15_add": 7840, "Conv_1": 62720, "block_16_project": 15680}),
    ("resnet50", 224, {"add_15": 100352}),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "side", "sizes"), PAPER_SIZES, ids=[row[0] for row in PAPER_SIZES])
def test_paper_layers_have_the_sizes_the_paper_states(name, side, sizes):
    from dataclasses import replace

    config = replace(get_config(name), input_size=(3, side, side))
    table = list_layers(config, full=True).set_index("layer")
    for paper_name, stated in sizes.items():
        (path,) = resolve_layers(config, [paper_name])
        assert table.loc[path, "size"] == stated, (name, paper_name, path, table.loc[path, "shape"])
