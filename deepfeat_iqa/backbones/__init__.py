"""Backbones: a registry of the seed-paper CNNs (and any timm model), their weights, and their layers."""

from deepfeat_iqa.backbones._build import LoadedBackbone, build_backbone
from deepfeat_iqa.backbones._config import BackboneConfig
from deepfeat_iqa.backbones._layers import forward_layers, resolve_layers
from deepfeat_iqa.backbones._listing import list_layers
from deepfeat_iqa.backbones._records import FineTunedWeights
from deepfeat_iqa.backbones._registry import DEFAULT_BACKBONE, get_config, list_backbones, register_backbone
from deepfeat_iqa.backbones._weights import (
    WeightsSource,
    fingerprint_state_dict,
    memory_state_dict,
    read_state_dict,
    resolve_weights_source,
    weights_fingerprint,
)

# The registered backbones live in _zoo; importing it here, on purpose, fills the registry.
from deepfeat_iqa.backbones import _zoo  # noqa: E402,F401  (imported for its registrations)

__all__ = [
    "DEFAULT_BACKBONE",
    "BackboneConfig",
    "FineTunedWeights",
    "LoadedBackbone",
    "WeightsSource",
    "build_backbone",
    "fingerprint_state_dict",
    "forward_layers",
    "get_config",
    "list_backbones",
    "list_layers",
    "memory_state_dict",
    "read_state_dict",
    "register_backbone",
    "resolve_layers",
    "resolve_weights_source",
    "weights_fingerprint",
]
