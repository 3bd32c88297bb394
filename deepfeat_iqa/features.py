"""What ``extract`` returns: pooled features per layer with the key that says how they were made."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cached_property

import numpy as np

from ._lazy import LazyRows, mean_over_views, take_rows
from .datasets import Dataset
from .errors import ConfigError, FeatureKeyError


@dataclass(frozen=True)
class FeatureKey:
    """Everything that decides what a feature vector means; a fitted head refuses any other key.

    Attributes
    ----------
    backbone:
        Registry name of the network (``"resnet50"``, ``"efficientnet_lite0"``, any timm name).
    weights:
        ``"sha256:<hex>"`` fingerprint of the weights actually loaded (``random`` weights included,
        which are fingerprinted like any others because they are seeded).
    layer:
        Module path, or ``"a+b+c"`` for concatenated layers (see :meth:`FeatureSet.concat`).
    pooling:
        Pooling spec as recorded in the store (``"avg"``, ``"avg+std"``, ``"max"``, ``"flatten"``, ``"grid2x2"``).
    views:
        Crop protocol spec (``"center"``, ``"random10"``, ``"grid"``, ...), including its seed where it has one.
    precision:
        ``"fp32"`` or ``"bf16"``: bf16 changes activations, so it is part of the key.
    """

    backbone: str
    weights: str
    layer: str
    pooling: str
    views: str
    precision: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def check_matches(self, other: FeatureKey) -> None:
        """Raise :class:`FeatureKeyError` naming every field where ``other`` differs from this key."""
        diffs = [
            f"{name}: fitted on {mine!r}, given {theirs!r}"
            for name, mine in self.to_dict().items()
            if (theirs := getattr(other, name)) != mine
        ]
        if diffs:
            raise FeatureKeyError(
                "These features are of another kind than the model was fitted on ("
                + "; ".join(diffs)
                + "). Extract them with the same backbone, weights, layer, pooling, views and precision."
            )


@dataclass(frozen=True)
class LayerFeatures:
    """Pooled features of one layer (or several concatenated) for every image of a dataset.

    Attributes
    ----------
    key:
        How the features were made.
    per_view:
        ``(n_images, n_views, dim)``: a NumPy array, or :class:`~deepfeat_iqa._lazy.LazyRows` over the store
        (what ``extract`` returns), read only when ``X`` or its values are asked for.
    dataset:
        The images (and labels) the rows belong to, in row order.
    blocks:
        ``(layer, dim)`` per concatenated block, so heads can standardize and weight blocks separately.
    """

    key: FeatureKey
    per_view: np.ndarray | LazyRows
    dataset: Dataset
    blocks: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.blocks:
            object.__setattr__(self, "blocks", ((self.key.layer, int(self.per_view.shape[-1])),))

    @cached_property
    def X(self) -> np.ndarray:  # noqa: N802 - the scikit-learn name for a design matrix
        """``(n_images, dim)`` float32 features: the mean over views (seed 003 averages 10 crops).

        Read from the store on first use (only this object's rows), then kept.
        """
        return mean_over_views(self.per_view)

    @property
    def y(self) -> np.ndarray:
        return self.dataset.y

    @property
    def groups(self) -> np.ndarray:
        return self.dataset.group_ids

    @property
    def dim(self) -> int:
        return int(self.per_view.shape[-1])

    def __len__(self) -> int:
        return int(self.per_view.shape[0])

    def subset(self, rows: np.ndarray | Sequence[int]) -> LayerFeatures:
        """The selected images (rows), with the dataset sliced alike."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        part = replace(self, per_view=take_rows(self.per_view, rows), dataset=self.dataset.subset(rows))
        if "X" in self.__dict__:  # already read: slice it rather than read the rows again
            part.__dict__["X"] = self.__dict__["X"][rows]
        return part


class FeatureSet(Mapping[str, LayerFeatures]):
    """Features of several layers from one extraction, indexed by the layer name the user asked for.

    ``feats["layer3"].X`` gives one layer; ``feats.concat(["layer3", "layer4"])`` joins several (per-block
    standardization happens inside the heads, fitted on training rows only, so nothing leaks from test rows).
    """

    def __init__(self, layers: Mapping[str, LayerFeatures]):
        if not layers:
            raise ConfigError("A FeatureSet needs at least one layer.")
        self._layers = dict(layers)

    def __getitem__(self, layer: str) -> LayerFeatures:
        try:
            return self._layers[layer]
        except KeyError:
            raise FeatureKeyError(f"Layer {layer!r} was not extracted; this FeatureSet has {list(self._layers)}.") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    @property
    def dataset(self) -> Dataset:
        return next(iter(self._layers.values())).dataset

    def only(self) -> LayerFeatures:
        """The single layer, for APIs that accept a FeatureSet of one layer as plain features."""
        if len(self._layers) != 1:
            raise ConfigError(
                f"This FeatureSet holds {len(self._layers)} layers {list(self._layers)}; pick one with "
                "feats[name] or join them with feats.concat([...])."
            )
        return next(iter(self._layers.values()))

    def concat(self, layers: Sequence[str] | None = None) -> LayerFeatures:
        """Concatenate the pooled features of ``layers`` (all, in extraction order, by default).

        Views are averaged first, so layers extracted with different view counts still join.
        """
        names = list(layers) if layers is not None else list(self._layers)
        parts = [self[name] for name in names]
        first = parts[0].key
        for part in parts[1:]:
            for field_name in ("backbone", "weights", "views", "precision"):
                if getattr(part.key, field_name) != getattr(first, field_name):
                    raise FeatureKeyError(f"Cannot concatenate layers that differ in {field_name}.")
        per_view = np.concatenate([p.X for p in parts], axis=1)[:, None, :]
        key = replace(first, layer="+".join(p.key.layer for p in parts), pooling="+".join(p.key.pooling for p in parts))
        blocks = tuple(block for p in parts for block in p.blocks)
        return LayerFeatures(key=key, per_view=per_view, dataset=parts[0].dataset, blocks=blocks)

    def __repr__(self) -> str:
        shapes = {name: tuple(lf.per_view.shape) for name, lf in self._layers.items()}
        return f"FeatureSet({shapes})"
