"""SPAQ MT-S's split trunk (seed 001 §5.4): one trunk shared up to its last stage, then two copies of that stage.

The split is found from the network itself, so it works for any registered backbone. The stages are
timm's ``feature_info`` (else the backbone's stage list); those that produce a spatial feature map before
the last tapped layer are ordered by when they finish, and the trunk is cut where the second-to-last one
ends: the *last stage* is everything with weights that runs after that point, i.e. all the network at its
final resolution (ResNet-50: ``layer4``, as SPAQ; EfficientNet-Lite0: ``blocks.5``, ``blocks.6``,
``conv_head``, ``bn2``). Each of those modules is replaced in place by a pair of copies that start from the
same (pretrained) weights: the first pair (:class:`Fork`) feeds the shared input to both copies and stacks
their outputs along the batch, quality rows first; weight-free modules after it (activations, pooling) run
once on the doubled batch, and every later pair (:class:`Branch`) sends each half through its own copy.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepfeat_iqa.backbones import BackboneConfig, forward_layers
from deepfeat_iqa.errors import ConfigError


class Fork(nn.Module):
    """The first module of the last stage: both copies read the shared input; outputs stacked along the batch."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.quality, self.scene = module, copy.deepcopy(module)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.quality(x), self.scene(x)])


class Branch(nn.Module):
    """A later module of the last stage: the batch's first half goes through the quality copy, the second through the scene copy."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.quality, self.scene = module, copy.deepcopy(module)

    def forward(self, x: Tensor) -> Tensor:
        first, second = x.chunk(2)
        return torch.cat([self.quality(first), self.scene(second)])


def split_last_stage(backbone: nn.Module, config: BackboneConfig, taps: Sequence[str], sample: Tensor) -> list[str]:
    """Give the backbone's last stage a quality and a scene copy, in place; return the split modules' paths.

    ``sample`` is one input batch for a trial pass in eval mode, which records which modules run, in
    which order, and what they output.

    Raises
    ------
    ConfigError
        When fewer than two stages produce a feature map before the last tapped layer (no cut point), or
        nothing with weights runs after the cut.
    """
    modules = dict(backbone.named_modules())
    started, ended, spatial = _trial_pass(backbone, modules, taps, sample)
    info = getattr(backbone, "feature_info", None)
    stages = [d["module"] for d in info] if isinstance(info, list) else list(config.stages.values())
    ran = sorted((s for s in stages if s in ended and spatial[s] and not _holds_any(s, taps)), key=ended.__getitem__)
    if len(ran) < 2:
        raise ConfigError(
            f"MT-S splits the trunk's last stage, but fewer than two of {config.name}'s stages "
            f"({', '.join(stages) or 'none'}) produce a feature map before the tapped layer(s) {list(taps)}; "
            "tap a later layer (e.g. 'pool')."
        )
    cut = ended[ran[-2]]
    # The outermost modules with weights that start after the cut; a module holding a tapped layer is not
    # copied whole, its children are (so every tap stays addressable).
    later = [p for p, m in modules.items() if p and started.get(p, -1) > cut and _has_state(m) and not _holds_any(p, taps)]
    tail = sorted((p for p in later if not any(_holds_any(other, [p]) for other in later)), key=started.__getitem__)
    if not tail:
        raise ConfigError(f"MT-S: nothing with weights runs in {config.name}'s last stage (after {ran[-2]!r}) before the taps {list(taps)}.")
    for i, path in enumerate(tail):
        parent_path, _, name = path.rpartition(".")
        parent = backbone.get_submodule(parent_path) if parent_path else backbone
        setattr(parent, name, (Branch if i else Fork)(modules[path]))
    return tail


def _trial_pass(
    backbone: nn.Module, modules: dict[str, nn.Module], taps: Sequence[str], sample: Tensor
) -> tuple[dict[str, int], dict[str, int], dict[str, bool]]:
    """When each module starts and ends (a shared counter) and whether its output is a spatial map, for one forward."""
    started: dict[str, int] = {}
    ended: dict[str, int] = {}
    spatial: dict[str, bool] = {}
    clock = iter(range(1 << 62))

    def before(path: str):
        def hook(_module, _inputs) -> None:  # returns None: the input is left alone
            started.setdefault(path, next(clock))

        return hook

    def after(path: str):
        def hook(_module, _inputs, output) -> None:
            ended.setdefault(path, next(clock))
            spatial.setdefault(path, isinstance(output, Tensor) and output.ndim == 4 and output.shape[-2:].numel() > 1)

        return hook

    handles = [m.register_forward_pre_hook(before(p)) for p, m in modules.items() if p]
    handles += [m.register_forward_hook(after(p)) for p, m in modules.items() if p]
    was_training = backbone.training
    try:
        with torch.no_grad():
            forward_layers(backbone.eval(), sample, taps)
    finally:
        backbone.train(was_training)
        for handle in handles:
            handle.remove()
    return started, ended, spatial


def _has_state(module: nn.Module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def _holds_any(ancestor: str, paths: Sequence[str]) -> bool:
    """Whether one of ``paths`` lies strictly inside module ``ancestor``."""
    return any(path.startswith(f"{ancestor}.") for path in paths)


def quality_path_state(state: dict[str, Tensor], tail: Sequence[str]) -> dict[str, Tensor]:
    """The backbone's tensors along the quality branch, named as the unsplit backbone names them
    (what ``dfi.extract(weights=...)`` loads: fine-tune-then-extract reads the quality path)."""
    out = {}
    for key, value in state.items():
        path = next((p for p in tail if key.startswith(f"{p}.")), None)
        if path is None:
            out[key] = value
            continue
        branch, _, rest = key[len(path) + 1 :].partition(".")
        if branch == "quality":
            out[f"{path}.{rest}"] = value
    return out
