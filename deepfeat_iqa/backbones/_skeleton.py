"""Constructing a backbone's bare architecture (no weights loaded), shared by the registry, the builder and layers.

It sits below ``_registry`` and ``_build`` so neither imports the other for it: the registry reads a timm
model's structure to derive its config, the builder constructs networks to load weights into, and layer
resolution lists module paths, all through the functions here.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.backbones._config import BackboneConfig

# Constructor arguments torchvision itself uses when it loads the IMAGENET1K_V1 weights, so the
# network we build matches the pretrained one (GoogLeNet re-normalizes its input internally).
TORCHVISION_KWARGS: dict[str, dict] = {
    "googlenet": {"aux_logits": False, "transform_input": True, "init_weights": False},
}


def construct(config: BackboneConfig) -> nn.Module:
    """The bare architecture of ``config`` with its default initialization (no download)."""
    if config.source == "custom":
        if config.builder is None:
            raise ConfigError(f"Backbone {config.name!r} has source='custom' but no builder; pass builder=YourModule.")
        model = config.builder()
        if not isinstance(model, nn.Module):
            raise ConfigError(f"The builder of backbone {config.name!r} returned {type(model).__name__}, not a torch nn.Module.")
        return model
    if config.source == "timm":
        import timm

        return timm.create_model(config.arch, pretrained=False)
    if config.source == "torchvision":
        import torchvision

        return torchvision.models.get_model(config.arch, weights=None, **TORCHVISION_KWARGS.get(config.arch, {}))
    raise ConfigError(f"Backbone {config.name!r}: source must be 'timm', 'torchvision' or 'custom', got {config.source!r}.")


def construct_timm_skeleton(arch: str) -> nn.Module:
    """A timm model without allocated weights (meta device) for reading its structure cheaply.

    Falls back to a CPU build for the few timm models whose constructors compute with tensors.
    """
    import timm

    try:
        with torch.device("meta"):
            return timm.create_model(arch, pretrained=False)
    except (NotImplementedError, RuntimeError):
        return timm.create_model(arch, pretrained=False)


@lru_cache(maxsize=32)
def module_paths(config: BackboneConfig) -> tuple[str, ...]:
    """Every named module path of an architecture, read from a meta-device build (no weights, no download)."""
    if config.source == "timm":
        model = construct_timm_skeleton(config.arch)
    else:
        try:
            with torch.device("meta"):
                model = construct(config)
        except (NotImplementedError, RuntimeError):  # a custom module that computes with tensors in __init__
            model = construct(config)
    return tuple(name for name, _ in model.named_modules() if name)
