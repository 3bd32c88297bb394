"""Truncation ablation (seed 003 Table 10): the features a backbone gives after removing its last ``k`` modules.

MATLAB's layer graphs are flat lists of layers; the closest PyTorch equivalent is the backbone's leaf
modules (modules without children) in the order they run. Removing the last ``k`` leaves makes the
output of leaf ``n - 1 - k`` the network's output, so that module is where a truncated network's
features are read (``k = 0``: the whole network, its logits). Functional operations that are not
modules (a residual ``+``) are not counted, so ``k`` counts modules, not MATLAB layers one for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from deepfeat_iqa.errors import ConfigError


@lru_cache(maxsize=16)
def leaf_order(backbone: str) -> tuple[str, ...]:
    """Leaf module paths of ``backbone`` in execution order (one forward pass of a random-weight build)."""
    from deepfeat_iqa.backbones import get_config, list_layers
    from deepfeat_iqa.backbones._skeleton import module_paths

    paths = module_paths(get_config(backbone))
    parents = {path.rsplit(".", 1)[0] for path in paths if "." in path}
    leaves = set(paths) - parents
    ran = list_layers(backbone, weights="random", full=True)["layer"].tolist()
    return tuple(path for path in ran if path in leaves)


def truncated_layers(backbone: str, ks: Sequence[int]) -> dict[int, str]:
    """``k -> module path`` whose output is the network's output once its last ``k`` leaf modules are removed."""
    order = leaf_order(backbone)
    found = {}
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ConfigError(f"truncate values count modules to remove: non-negative integers; got {k!r}.")
        if k >= len(order):
            raise ConfigError(f"Cannot remove {k} modules from {backbone!r}: it has {len(order)} leaf modules in its forward pass.")
        found[int(k)] = order[len(order) - 1 - k]
    return found
