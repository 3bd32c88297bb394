"""``BackboneConfig``: everything needed to build a backbone and feed it images the way it was trained."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class BackboneConfig:
    """How to build one backbone and how to preprocess its input; override fields with ``dataclasses.replace``.

    The config is the single place the views (crop size, normalization) and the extractor (which
    modules to tap) read from, so changing e.g. ``input_size`` here changes both consistently.

    Attributes
    ----------
    name, source, arch, input_size, mean, std, interpolation, crop_pct, weight_packages, stages,
    paper_layers, default_layer, builder:
        See the comment on each field below.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from deepfeat_iqa.backbones import get_config
    >>> cfg = replace(get_config("squeezenet"), input_size=(3, 227, 227))  # MATLAB's SqueezeNet input
    >>> cfg.input_size
    (3, 227, 227)
    """

    # Registry name the user passes (``"resnet50"``, ``"efficientnet_lite0"``, or any timm name).
    name: str
    # Library that builds the network: ``"timm"``, ``"torchvision"``, or ``"custom"`` (``builder`` below).
    source: str
    # Builder inside ``source``: a ``timm.create_model`` name (optionally ``.tag``) or a torchvision model name.
    arch: str
    # (channels, height, width) the pretrained weights expect; views crop to (height, width).
    input_size: tuple[int, int, int]
    # Per-channel mean subtracted from [0, 1] RGB input, as the weights were trained with.
    mean: tuple[float, float, float]
    # Per-channel standard deviation the input is divided by after subtracting ``mean``.
    std: tuple[float, float, float]
    # Resampling filter used when resizing input: ``"bilinear"`` or ``"bicubic"``.
    interpolation: str
    # Fraction of the resized short side kept by a center crop at evaluation (timm's ``crop_pct``).
    crop_pct: float
    # pip distributions that ship ImageNet weights offline, tried before any hub download.
    weight_packages: tuple[str, ...] = ()
    # Friendly stage name -> module path, in forward order; integer layer indices count into this.
    stages: dict[str, str] = field(default_factory=dict)
    # Seed paper 003 (MATLAB/Keras) layer name -> our module path, only where the mapping is determinable.
    paper_layers: dict[str, str] = field(default_factory=dict)
    # Layer used when the caller names none (a friendly stage name or a module path).
    default_layer: str = ""
    # For ``source="custom"``: a no-argument callable returning the ``nn.Module`` (e.g. the class itself).
    builder: Callable[[], Any] | None = None

    def __hash__(self) -> int:
        # dict fields are not hashable; the name and arch identify a config well enough for caches.
        return hash((self.name, self.source, self.arch, self.input_size))
