"""Pooling: how a layer's activation map becomes one vector per crop, parsed from a spec string.

=============  ===========================================================================  ==========
spec           vector                                                                        dim
=============  ===========================================================================  ==========
``avg``        global average over space (seed 003's choice)                                 ``C``
``max``        global maximum over space                                                     ``C``
``avg+std``    average and standard deviation over space, concatenated (population std)      ``2C``
``center-avg`` average over space weighted by the center prior (a cell's weight                ``C``
               ``exp(-(dy^2 + dx^2))``, offsets in half-sides; :mod:`~deepfeat_iqa.inputs.center_prior`):
               on a whole photo (``fullN``) the middle, where raters look, counts most
``gridKxK``    adaptive average pooling to a ``K x K`` grid, flattened (``grid2x2``: ``4C``)  ``C K K``
``flatten``    the raw activations, flattened                                                ``C H W``
=============  ===========================================================================  ==========

Inputs are ``(B, C, H, W)`` maps; ``(B, N, C)`` token sequences (transformer blocks) are pooled over the
``N`` tokens (``gridKxK`` needs a spatial map and refuses them); ``(B, D)`` outputs (a classifier's
logits, a pre-pooled head) pass through every pooling unchanged. Results are float32 whatever the
compute precision, so bf16 activations are pooled at full precision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional torch alias

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.inputs.center_prior import POOLING_STRENGTH, map_weights

#: Spec names accepted by :func:`parse_pooling`, for messages and the CLI help.
POOLING_NAMES = ("avg", "max", "avg+std", "center-avg", "gridKxK", "flatten")

_GRID = re.compile(r"grid(\d+)x(\d+)")


@dataclass(frozen=True)
class Pooling:
    """A pooling bound to its parameters; call it on a batch of activations.

    Attributes
    ----------
    name:
        ``"avg"``, ``"max"``, ``"avg+std"``, ``"center-avg"``, ``"grid"`` or ``"flatten"``.
    grid:
        ``(K, K)`` cells for ``grid`` pooling.
    """

    name: str
    grid: tuple[int, int] = (1, 1)

    @property
    def spec(self) -> str:
        """Canonical spec, as recorded in the feature key."""
        return f"grid{self.grid[0]}x{self.grid[1]}" if self.name == "grid" else self.name

    def __call__(self, activations: torch.Tensor) -> torch.Tensor:
        """Pool ``activations`` to ``(B, D)`` float32."""
        x = activations.float()
        if x.ndim == 2:
            return x
        if x.ndim == 3:
            return self._tokens(x)
        if x.ndim != 4:
            raise ConfigError(f"Cannot pool an activation of shape {tuple(x.shape)}; expected (B,C,H,W), (B,N,C) or (B,D).")
        if self.name == "avg":
            return x.mean(dim=(2, 3))
        if self.name == "max":
            return x.amax(dim=(2, 3))
        if self.name == "avg+std":
            return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3), correction=0)], dim=1)
        if self.name == "center-avg":
            weights = torch.from_numpy(map_weights(x.shape[2], x.shape[3], POOLING_STRENGTH)).to(x.device)
            return torch.einsum("bchw,hw->bc", x, weights)
        if self.name == "grid":
            return F.adaptive_avg_pool2d(x, self.grid).flatten(1)
        return x.flatten(1)

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        if self.name == "avg":
            return x.mean(dim=1)
        if self.name == "max":
            return x.amax(dim=1)
        if self.name == "avg+std":
            return torch.cat([x.mean(dim=1), x.std(dim=1, correction=0)], dim=1)
        if self.name == "flatten":
            return x.flatten(1)
        raise ConfigError(
            f"Pooling {self.spec!r} needs a spatial (B,C,H,W) map, but this layer gives tokens {tuple(x.shape)}; "
            "use 'avg', 'max', 'avg+std' or 'flatten'."
        )


def parse_pooling(spec: str) -> Pooling:
    """Parse a pooling spec (``"avg"``, ``"max"``, ``"avg+std"``, ``"center-avg"``, ``"grid2x2"``, ``"flatten"``).

    Examples
    --------
    >>> import torch
    >>> parse_pooling("grid2x2")(torch.ones(2, 8, 7, 7)).shape
    torch.Size([2, 32])
    """
    text = str(spec).strip().lower()
    if text in ("avg", "max", "avg+std", "center-avg", "flatten"):
        return Pooling(text)
    match = _GRID.fullmatch(text)
    if match and int(match.group(1)) > 0 and int(match.group(2)) > 0:
        return Pooling("grid", (int(match.group(1)), int(match.group(2))))
    raise ConfigError(f"Unknown pooling {spec!r}; use one of {', '.join(POOLING_NAMES)} (e.g. 'grid2x2').")


def flatten_size_message(dim: int, n_images: int, n_views: int, bytes_per_value: int) -> str:
    """The warning for ``flatten`` pooling: how big the stored features will be, and what to use instead."""
    gigabytes = dim * n_images * n_views * bytes_per_value / 1e9
    return (
        f"pooling='flatten' keeps raw activations: {dim:,} dims per view x {n_views} views x {n_images:,} images "
        f"= {gigabytes:.2f} GB at {bytes_per_value} bytes per value. Use 'avg' or 'grid2x2' for compact features."
    )
