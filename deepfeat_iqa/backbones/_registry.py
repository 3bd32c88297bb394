"""The backbone registry (:class:`deepfeat_iqa.registry.Registry` of config factories), plus any timm model name."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import lru_cache

from deepfeat_iqa.registry import Registry
from deepfeat_iqa.backbones._config import BackboneConfig
from deepfeat_iqa.backbones._skeleton import construct_timm_skeleton

ConfigFactory = Callable[[], BackboneConfig]

from deepfeat_iqa.runtime.defaults import DEFAULT_BACKBONE  # noqa: E402,F401 - re-exported

#: name -> config factory, in registration order (the paper's order, then the EfficientNet-Lite family)
BACKBONES: Registry[ConfigFactory] = Registry("backbone")


def register_backbone(factory: ConfigFactory) -> ConfigFactory:
    """Register ``factory`` under its function name; a second registration of a name warns and wins.

    ``factory`` takes no argument and returns the :class:`BackboneConfig`; it is called each time the
    name is used, so registering is cheap. Warning instead of raising on a duplicate lets a user
    deliberately replace a built-in entry in a notebook, while still making an accidental clash
    between two modules visible.

    Any ``torch.nn.Module`` of one's own is a backbone with ``source="custom"`` and ``builder=`` the
    callable that constructs it; ``stages`` names the modules to tap (integer layers count into them),
    and its weights come from ``weights=PATH`` (a state dict) or ``weights="random"``.

    Examples
    --------
    >>> from torch import nn
    >>> import deepfeat_iqa as dfi
    >>> from deepfeat_iqa.backbones import BackboneConfig, register_backbone
    >>> class TinyNet(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv1 = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU())
    ...         self.conv2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2), nn.ReLU())
    ...     def forward(self, x):
    ...         return self.conv2(self.conv1(x))
    >>> @register_backbone
    ... def tiny_net() -> BackboneConfig:
    ...     return BackboneConfig(
    ...         name="tiny_net", source="custom", arch="TinyNet", builder=TinyNet,
    ...         input_size=(3, 64, 64), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    ...         interpolation="bilinear", crop_pct=1.0,
    ...         stages={"conv1": "conv1", "conv2": "conv2"}, default_layer="conv2",
    ...     )
    >>> dfi.list_layers("tiny_net")[["stage", "layer", "shape"]].values.tolist()
    [['conv1', 'conv1', (8, 31, 31)], ['conv2', 'conv2', (16, 15, 15)]]
    >>> BACKBONES.remove("tiny_net")  # (only so this example leaves the registry as it was)
    """
    return BACKBONES.register()(factory)


def list_backbones() -> list[str]:
    """Registered backbone names: the 13 of seed paper 003 in the paper's order, then EfficientNet-Lite0/1/2.

    Any other timm model name also works with :func:`get_config` and :func:`build_backbone`.

    Examples
    --------
    >>> from deepfeat_iqa.backbones import list_backbones
    >>> list_backbones()[:3]
    ['alexnet', 'vgg16', 'googlenet']
    """
    return BACKBONES.names()


def get_config(name: str | BackboneConfig) -> BackboneConfig:
    """The config of a registered backbone, or one derived from timm's pretrained config for any timm name.

    A :class:`BackboneConfig` passes through unchanged, so every function taking a backbone name also
    takes a config modified with ``dataclasses.replace``.

    Raises
    ------
    ConfigError
        For a name that is neither registered nor a timm model, suggesting the closest names.
    """
    if isinstance(name, BackboneConfig):
        return name
    if name in BACKBONES:
        return BACKBONES.get(name).target()
    import timm

    if timm.is_model(name):
        return _timm_config(name)
    close_timm = difflib.get_close_matches(str(name), timm.list_models(), n=3, cutoff=0.6)
    raise BACKBONES.unknown(name, extra=close_timm)


@lru_cache(maxsize=64)
def _timm_config(name: str) -> BackboneConfig:
    """Config for an unregistered timm model: preprocessing from its pretrained cfg, stages from ``feature_info``."""
    model = construct_timm_skeleton(name)
    cfg = model.pretrained_cfg
    stages = {f"stage{i}": info["module"] for i, info in enumerate(model.feature_info)}
    head = model.default_cfg.get("classifier")
    if head and isinstance(head, str):
        stages["logits"] = head
    feature_stages = [key for key in stages if key.startswith("stage")]
    return BackboneConfig(
        name=name,
        source="timm",
        arch=name,
        input_size=tuple(cfg.get("input_size", (3, 224, 224))),
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        interpolation=cfg.get("interpolation", "bicubic"),
        crop_pct=float(cfg.get("crop_pct", 0.875)),
        stages=stages,
        default_layer=feature_stages[-1] if feature_stages else "",
    )
