"""Choosing layers (one resolver for names, paper names and indices) and reading them from one forward pass."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from deepfeat_iqa.errors import ConfigError, unknown_name_error
from deepfeat_iqa.backbones._build import LoadedBackbone
from deepfeat_iqa.backbones._config import BackboneConfig
from deepfeat_iqa.backbones._registry import get_config
from deepfeat_iqa.backbones._skeleton import module_paths

LayerSpec = str | int
Target = BackboneConfig | LoadedBackbone | nn.Module | str


def resolve_layers(config_or_model: Target, layers: LayerSpec | Sequence[LayerSpec] | None) -> list[str]:
    """Turn a layer selection into module paths, one per requested layer, in the order given.

    Accepted, per layer: a friendly stage name (``config.stages``), an integer index into the stages
    (negative counts from the end, like timm's ``feature_take_indices``), a seed-003 MATLAB/Keras name
    (``config.paper_layers``; case, ``-`` and ``_`` are ignored), or any ``named_modules()`` path.

    Parameters
    ----------
    config_or_model:
        A backbone name or :class:`BackboneConfig` (module paths read from a weightless build), a
        :class:`LoadedBackbone`, or a bare ``nn.Module`` (stages from timm's ``feature_info`` if any).
    layers:
        One layer or a list; ``None`` means ``[config.default_layer]``.

    Raises
    ------
    ConfigError
        Naming the valid friendly names, the index range and pointing to ``list_layers``.

    Examples
    --------
    >>> from deepfeat_iqa.backbones import resolve_layers
    >>> resolve_layers("resnet50", ["layer3", -1, "add_15", "layer4.0.conv1"])
    ['layer3', 'fc', 'layer4.1', 'layer4.0.conv1']
    """
    config, stages, paper, paths = _selection_space(config_or_model)
    if layers is None:
        if config is None or not config.default_layer:
            raise ConfigError("This model has no default layer; name one (see deepfeat_iqa.list_layers).")
        layers = [config.default_layer]
    elif isinstance(layers, (str, int)):
        layers = [layers]
    return [_resolve_one(layer, config, stages, paper, paths) for layer in layers]


def _selection_space(
    target: Target,
) -> tuple[BackboneConfig | None, dict[str, str], dict[str, str], frozenset[str]]:
    if isinstance(target, LoadedBackbone):
        config = target.config
        return config, config.stages, config.paper_layers, frozenset(n for n, _ in target.model.named_modules() if n)
    if isinstance(target, nn.Module):
        info = getattr(target, "feature_info", None)
        stages = {f"stage{i}": d["module"] for i, d in enumerate(info)} if isinstance(info, list) else {}
        return None, stages, {}, frozenset(n for n, _ in target.named_modules() if n)
    config = get_config(target)
    return config, config.stages, config.paper_layers, frozenset(module_paths(config))


def _normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _resolve_one(
    layer: LayerSpec, config: BackboneConfig | None, stages: dict[str, str], paper: dict[str, str], paths: frozenset[str]
) -> str:
    stage_paths = list(stages.values())
    if isinstance(layer, bool) or not isinstance(layer, (str, int)):
        raise ConfigError(f"A layer is a name or an integer index, not {type(layer).__name__} {layer!r}.")
    if isinstance(layer, str) and re.fullmatch(r"-?\d+", layer) and layer not in paths:
        layer = int(layer)
    if isinstance(layer, int):
        if -len(stage_paths) <= layer < len(stage_paths):
            return stage_paths[layer]
        raise ConfigError(
            f"Layer index {layer} is out of range: {_owner(config)} has {len(stage_paths)} stages "
            f"({_range_text(stage_paths)}: {', '.join(stages)}). See deepfeat_iqa.list_layers({_owner(config)!r})."
        )
    if layer in stages:
        return stages[layer]
    if layer in paper:
        return paper[layer]
    if layer in paths:
        return layer
    by_normalized = {_normalize(k): v for k, v in paper.items()}
    if _normalize(layer) in by_normalized:
        return by_normalized[_normalize(layer)]
    close_paths = difflib.get_close_matches(layer, sorted(paths), n=3, cutoff=0.6)
    base = unknown_name_error("layer", layer, dict.fromkeys([*stages, *paper, *close_paths]))
    raise ConfigError(
        f"{base}. Use a friendly stage name ({', '.join(stages) or 'none'}), an index {_range_text(stage_paths)} "
        f"into those, a seed-003 paper name ({', '.join(paper) or 'none'}), or any module path listed by "
        f"deepfeat_iqa.list_layers({_owner(config)!r})."
    ) from None


def _owner(config: BackboneConfig | None) -> str:
    return config.name if config is not None else "<model>"


def _range_text(stage_paths: Sequence[str]) -> str:
    n = len(stage_paths)
    return f"{-n}..{n - 1}" if n else "(none: this model has no stages)"


class _StopForward(Exception):
    """Raised from a hook once every requested output is captured, to skip the rest of the network."""


def first_tensor(output: object) -> torch.Tensor | None:
    """The tensor a module produced: itself, or the first tensor of a tuple/list output (else ``None``)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((item for item in output if isinstance(item, torch.Tensor)), None)
    return None


def forward_layers(model: nn.Module, x: torch.Tensor, module_paths: Iterable[str]) -> dict[str, torch.Tensor]:
    """Outputs of several modules from ONE forward pass, stopping as soon as the last one is produced.

    Forward hooks capture each requested module's first output; the hook that completes the set
    raises a private exception that ends the forward, so asking for an early layer does not pay for
    the rest of the network. Captured outputs are cloned (in-place activations such as torchvision's
    ``ReLU(inplace=True)`` would otherwise overwrite e.g. AlexNet's pre-ReLU ``fc6``), except the
    last one, after which nothing runs. Hooks are always removed. Gradients flow as usual; wrap the
    call in ``torch.inference_mode()`` for extraction.

    Parameters
    ----------
    model:
        Any ``nn.Module`` (usually :attr:`LoadedBackbone.model`).
    x:
        The input batch.
    module_paths:
        Module paths, e.g. from :func:`resolve_layers`.

    Returns
    -------
    dict
        Module path -> output tensor, in the order of ``module_paths``.

    Raises
    ------
    ConfigError
        When a path names no module, or a module never ran in the forward pass (e.g. an aux head).
    """
    wanted = list(dict.fromkeys(module_paths))
    modules = {}
    for path in wanted:  # only the wanted paths: listing every module cost 0.5 ms a forward (Lite0)
        try:
            if not path:  # "" would be the model itself, whose output is no layer
                raise AttributeError(path)
            modules[path] = model.get_submodule(path)
        except AttributeError:
            raise ConfigError(f"No module {path!r} in this model; see deepfeat_iqa.list_layers for the module paths.") from None
    captured: dict[str, torch.Tensor] = {}

    def make_hook(path: str):
        def hook(_module: nn.Module, _inputs: object, output: object) -> None:
            tensor = first_tensor(output)
            if path in captured or tensor is None:
                return
            if len(captured) + 1 == len(wanted):
                captured[path] = tensor
                raise _StopForward
            captured[path] = tensor.clone()

        return hook

    handles = [modules[path].register_forward_hook(make_hook(path)) for path in wanted]
    try:
        model(x)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    never = [path for path in wanted if path not in captured]
    if never:
        raise ConfigError(
            f"Module(s) {never} did not produce a tensor in the forward pass (unused in eval mode, e.g. an aux head); "
            "pick another layer from deepfeat_iqa.list_layers."
        )
    return {path: captured[path] for path in wanted}
