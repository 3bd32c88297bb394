"""What ``extract`` returns: pooled features per layer with the key that says how they were made."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from deepfeat_iqa.features._lazy import LazyRows, mean_over_views, take_rows
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.runtime.precision import INTERCHANGEABLE
from deepfeat_iqa.errors import ConfigError, FeatureKeyError


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
        Module path of the layer (concatenated layers have a :class:`ConcatKey` of per-layer keys).
    pooling:
        Pooling spec as recorded in the store (``"avg"``, ``"avg+std"``, ``"max"``, ``"flatten"``, ``"grid2x2"``).
    views:
        Crop protocol spec (``"center"``, ``"random10"``, ``"grid"``, ...), including its seed where it has one.
    precision:
        ``"fp32"``, ``"bf16"`` or ``"fp16"``: it changes activations, so the store keeps them apart; a fitted
        model accepts fp32 and bf16 features in place of each other (measured: predictions agree to SROCC
        0.9995, :data:`deepfeat_iqa.runtime.precision.INTERCHANGEABLE`), so models move between CPUs with and
        without native bf16.
    """

    backbone: str
    weights: str
    layer: str
    pooling: str
    views: str
    precision: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def differences(self, other: FeatureKey) -> list[str]:
        """``"field: fitted on X, given Y"`` for every field where ``other`` differs."""
        return [
            f"{name}: fitted on {mine!r}, given {theirs!r}"
            for name, mine in self.to_dict().items()
            if (theirs := getattr(other, name)) != mine and not (name == "precision" and {mine, theirs} <= INTERCHANGEABLE)
        ]

    def check_matches(self, other: FeatureKey | ConcatKey) -> None:
        """Raise :class:`FeatureKeyError` naming every field where ``other`` differs from this key."""
        if isinstance(other, ConcatKey):
            raise FeatureKeyError(
                f"The model reads one layer ({self.layer!r}), but the features are {len(other)} concatenated "
                f"layers {list(other.layer)}; pass that layer's features (feats[{self.layer!r}])."
            )
        diffs = self.differences(other)
        if diffs:
            raise FeatureKeyError(_KEY_MISMATCH.format("; ".join(diffs)))


_KEY_MISMATCH = (
    "These features are of another kind than the model was fitted on ({}). "
    "Extract them with the same backbone, weights, layer, pooling, views and precision."
)


@dataclass(frozen=True)
class ConcatKey:
    """The key of concatenated layers: the tuple of per-layer :class:`FeatureKey` s, in concatenation order.

    Each part keeps its own layer and pooling, so nothing has to be split out of a joined string (``+``
    also occurs inside pooling names such as ``avg+std``). Backbone, weights, views and precision are
    shared by all parts (:meth:`FeatureSet.concat` refuses anything else) and read like a FeatureKey's;
    ``layer`` and ``pooling`` are tuples. Iterating yields the parts.

    Examples
    --------
    >>> a = FeatureKey("efficientnet_lite0", "sha256:0", "blocks.4", "avg+std", "center", "fp32")
    >>> key = ConcatKey((a, FeatureKey(**{**a.to_dict(), "layer": "blocks.5", "pooling": "avg"})))
    >>> key.layer, key.pooling
    (('blocks.4', 'blocks.5'), ('avg+std', 'avg'))
    """

    parts: tuple[FeatureKey, ...]

    def __post_init__(self) -> None:
        if len(self.parts) < 2:
            raise ConfigError("A ConcatKey joins at least two layer keys; one layer has a FeatureKey.")

    def __iter__(self) -> Iterator[FeatureKey]:
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)

    def __getitem__(self, index: int) -> FeatureKey:
        return self.parts[index]

    backbone = property(lambda self: self.parts[0].backbone, doc="Backbone shared by every part.")
    weights = property(lambda self: self.parts[0].weights, doc="Weights fingerprint shared by every part.")
    views = property(lambda self: self.parts[0].views, doc="View protocol shared by every part.")
    precision = property(lambda self: self.parts[0].precision, doc="Precision shared by every part.")

    @property
    def layer(self) -> tuple[str, ...]:
        """Module path of each part."""
        return tuple(part.layer for part in self.parts)

    @property
    def pooling(self) -> tuple[str, ...]:
        """Pooling spec of each part."""
        return tuple(part.pooling for part in self.parts)

    def to_dict(self) -> dict[str, Any]:
        """The shared fields, ``layer``/``pooling`` as lists, and ``parts`` (what :func:`key_from_dict` reads)."""
        return {
            "backbone": self.backbone, "weights": self.weights, "layer": list(self.layer), "pooling": list(self.pooling),
            "views": self.views, "precision": self.precision, "parts": [part.to_dict() for part in self.parts],
        }  # fmt: skip

    def check_matches(self, other: FeatureKey | ConcatKey) -> None:
        """Raise :class:`FeatureKeyError` naming every part (and field) where ``other`` differs."""
        if not isinstance(other, ConcatKey) or len(other) != len(self):
            given = list(other.layer) if isinstance(other, ConcatKey) else other.layer
            raise FeatureKeyError(
                f"The model reads {len(self)} concatenated layers {list(self.layer)}, but the features are {given!r}; "
                "concatenate the same layers in the same order (FeatureSet.concat)."
            )
        diffs = [
            f"layer {i} ({mine.layer}): {diff}"
            for i, (mine, theirs) in enumerate(zip(self.parts, other.parts))
            for diff in mine.differences(theirs)
        ]
        if diffs:
            raise FeatureKeyError(_KEY_MISMATCH.format("; ".join(diffs)))


def key_from_dict(record: Mapping[str, Any]) -> FeatureKey | ConcatKey:
    """The key a ``to_dict()`` record (e.g. read back from JSON) describes: a ConcatKey when it has ``parts``."""
    if "parts" in record:
        return ConcatKey(tuple(FeatureKey(**part) for part in record["parts"]))
    return FeatureKey(**{name: record[name] for name in FeatureKey.__dataclass_fields__})


@dataclass(frozen=True)
class LayerFeatures:
    """Pooled features of one layer (or several concatenated) for every image of a dataset.

    Attributes
    ----------
    key:
        How the features were made.
    per_view:
        ``(n_images, n_views, dim)``: a NumPy array, or :class:`~deepfeat_iqa.features._lazy.LazyRows` over the store
        (what ``extract`` returns), read only when ``X`` or its values are asked for.
    dataset:
        The images (and labels) the rows belong to, in row order.
    blocks:
        ``(layer, dim)`` per concatenated block, so heads can standardize and weight blocks separately.
    """

    key: FeatureKey | ConcatKey
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
    A layer is found by the name it was extracted under, by its module path, and by its stage name
    (``feats["block4"]`` and ``feats["blocks.4"]`` are the same layer), so either spelling works everywhere.

    Parameters
    ----------
    layers:
        Name as requested -> features.
    aliases:
        Other names of those layers (stage names) -> the requested name; module paths are added here.
    """

    def __init__(self, layers: Mapping[str, LayerFeatures], aliases: Mapping[str, str] | None = None):
        if not layers:
            raise ConfigError("A FeatureSet needs at least one layer.")
        self._layers = dict(layers)
        self._aliases = {lf.key.layer: name for name, lf in self._layers.items() if isinstance(lf.key.layer, str)}
        self._aliases.update({alias: name for alias, name in (aliases or {}).items() if name in self._layers})

    @property
    def aliases(self) -> dict[str, str]:
        """Other names (module paths, stage names) -> the name each layer was requested under."""
        return dict(self._aliases)

    def _name(self, layer: str) -> str:
        """The requested name of ``layer`` given as that name, its module path or its stage name."""
        if layer in self._layers:
            return layer
        if layer in self._aliases:
            return self._aliases[layer]
        raise FeatureKeyError(f"Layer {layer!r} was not extracted; this FeatureSet has {self._shown()}.")

    def _shown(self) -> str:
        """The layers as ``name (module path)`` where they differ, so both spellings are visible."""
        return ", ".join(name if lf.key.layer == name else f"{name} ({lf.key.layer})" for name, lf in self._layers.items())

    def __getitem__(self, layer: str) -> LayerFeatures:
        return self._layers[self._name(layer)]

    def __contains__(self, layer: object) -> bool:
        return isinstance(layer, str) and (layer in self._layers or layer in self._aliases)

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
        if len(parts) == 1:
            return replace(parts[0], per_view=per_view)
        key = ConcatKey(tuple(part for p in parts for part in (p.key if isinstance(p.key, ConcatKey) else (p.key,))))
        blocks = tuple(block for p in parts for block in p.blocks)
        return LayerFeatures(key=key, per_view=per_view, dataset=parts[0].dataset, blocks=blocks)

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{name if lf.key.layer == name else f'{name} ({lf.key.layer})'}: {tuple(lf.per_view.shape)}"
            for name, lf in self._layers.items()
        )
        return f"FeatureSet({shapes})"
