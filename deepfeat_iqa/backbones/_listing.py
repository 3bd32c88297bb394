"""``list_layers``: every tappable module of a backbone with its output shape, from one forward pass."""

from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn

from deepfeat_iqa.backbones._build import LoadedBackbone, build_backbone
from deepfeat_iqa.backbones._config import BackboneConfig
from deepfeat_iqa.backbones._layers import first_tensor


def list_layers(name: str | BackboneConfig | LoadedBackbone, *, weights: str = "random", full: bool = False) -> pd.DataFrame:
    """The layers of backbone ``name`` one can extract, with stage names and module paths side by side.

    By default only the named layers: the friendly stages (in forward order, what integer indices count)
    and the seed-003 paper layers. ``full=True`` lists every module that outputs a tensor, in execution
    order. A stage name (``block4``) and its module path (``blocks.4``) name the same layer everywhere
    (``extract(layers=...)``, ``feats[...]``, ``fit(layers=[...])``), so both columns are shown.

    One forward pass of a batch of one at the config's input size; random weights are the default
    because shapes do not depend on weights (and need no download). A module called several times
    is listed once, with the shape of its first call.

    Parameters
    ----------
    name:
        A registered name, any timm model name, a :class:`BackboneConfig`, or an already built
        :class:`LoadedBackbone` (reused as is, saving a second build of a large network).
    weights:
        Passed to :func:`build_backbone` (ignored for a :class:`LoadedBackbone`).
    full:
        List every module, not only the named layers.

    Returns
    -------
    pandas.DataFrame
        Columns ``stage`` (friendly name or ``""``; several joined with ``/``), ``layer`` (module path,
        what :func:`resolve_layers` returns), ``paper`` (seed-003 MATLAB/Keras name or ``""``), ``shape``
        (per-image output shape: ``(C, H, W)``, or ``(D,)`` for vectors) and ``size`` (flattened length).

    Examples
    --------
    >>> from deepfeat_iqa.backbones import list_layers
    >>> list_layers("squeezenet").set_index("layer").loc["features.9", ["paper", "shape"]].tolist()
    ['fire6-concat', (384, 13, 13)]
    >>> len(list_layers("squeezenet", full=True)) > len(list_layers("squeezenet"))
    True
    """
    loaded = name if isinstance(name, LoadedBackbone) else build_backbone(name, weights=weights)
    config = loaded.config
    device = next(loaded.model.parameters()).device
    order, shapes = _trace_shapes(loaded.model, torch.zeros((1, *config.input_size), device=device))
    stage_of = _names_by_path(config.stages)
    paper_of = _names_by_path(config.paper_layers)
    rows = [
        {
            "stage": stage_of.get(path, ""),
            "layer": path,
            "paper": paper_of.get(path, ""),
            "shape": shapes[path],
            "size": math.prod(shapes[path]),
        }
        for path in order
        if path in shapes and (full or path in stage_of or path in paper_of)
    ]
    return pd.DataFrame(rows, columns=["stage", "layer", "paper", "shape", "size"])


def _names_by_path(names: dict[str, str]) -> dict[str, str]:
    """Invert name -> path; several names of one path are joined with ``/``."""
    by_path: dict[str, list[str]] = {}
    for label, path in names.items():
        by_path.setdefault(path, []).append(label)
    return {path: "/".join(labels) for path, labels in by_path.items()}


def _trace_shapes(model: nn.Module, x: torch.Tensor) -> tuple[list[str], dict[str, tuple[int, ...]]]:
    """Module paths in the order they start running, and each one's first output shape without the batch axis."""
    order: dict[str, None] = {}  # an ordered set
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for path, module in model.named_modules():
        if not path:
            continue

        def pre_hook(_module: nn.Module, _inputs: object, path: str = path) -> None:
            order.setdefault(path, None)

        def hook(_module: nn.Module, _inputs: object, output: object, path: str = path) -> None:
            tensor = first_tensor(output)
            if tensor is not None and path not in shapes:
                shapes[path] = tuple(int(d) for d in tensor.shape[1:])

        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return list(order), shapes
