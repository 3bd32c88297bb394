"""A sweep cell: one (dataset, backbone, weights, layer, pooling, views, head) under one protocol, named by a hash.

The hash covers everything that decides the cell's numbers, so a results store can hold cells of many
sweeps without ever serving one cell's metrics for another. An image-head cell (an end-to-end head such
as ``"spaq-bl"``, trained on the images) has no cached-feature axes: its layer is :data:`IMAGE_LAYER` and
its pooling, views and precision are :data:`NOT_APPLICABLE` (the head's own options decide them), so the
cell fields, and so the hashes of every feature cell, stay as they were.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: The layer of an image-head cell: it reads the images, not a cached layer.
IMAGE_LAYER = "images"
#: The pooling, views and precision of an image-head cell: not axes of the feature path for it.
NOT_APPLICABLE = "\u2014"


@dataclass(frozen=True)
class Protocol:
    """How every cell of a sweep is evaluated (the arguments of :func:`deepfeat_iqa.evaluate`)."""

    protocol: str = "repeated"
    n_splits: int = 10
    test_size: float | None = None
    by: str | None = "group"
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The record results stores keep; ``n_splits`` is stored as ``n``, its 0.1 name, so cell ids stay."""
        record = asdict(self)
        record["n"] = record.pop("n_splits")
        return record


@dataclass(frozen=True)
class Cell:
    """One cell of a sweep.

    Attributes
    ----------
    dataset, dataset_fingerprint:
        The dataset's name and :meth:`Dataset.fingerprint` (ids and resolved paths).
    backbone, weights:
        Backbone (or classical extractor) name and the weights *requested* (``"imagenet"``, ``"random"``,
        a file); the fingerprint of the weights actually loaded is recorded with the result.
    layer:
        Module path the features come from (or the classical extractor's output name).
    layer_label:
        The layer as the user named it (a stage name, ``"cut-41"``); for tables only, not hashed.
    truncate:
        For truncation ablations: how many trailing modules were removed (``None`` otherwise).
    pooling, views, precision:
        As in :class:`~deepfeat_iqa.features._sets.FeatureKey`.
    head, head_options:
        Head label and its constructor options (or an estimator's parameters).
    protocol:
        How the cell is evaluated.
    """

    dataset: str
    dataset_fingerprint: str
    backbone: str
    weights: str
    layer: str
    pooling: str
    views: str
    precision: str
    head: str
    protocol: Protocol
    head_options: tuple[tuple[str, str], ...] = ()
    truncate: int | None = None
    layer_label: str = field(default="", compare=False)

    def definition(self) -> dict[str, Any]:
        """Everything hashed: what decides the cell's numbers (labels for display left out)."""
        record = asdict(self)
        record.pop("layer_label")
        record["protocol"] = self.protocol.to_dict()
        record["head_options"] = [list(option) for option in self.head_options]
        return record

    @property
    def cell_id(self) -> str:
        text = json.dumps(self.definition(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def group(self) -> tuple[str, str, str, str, str, str]:
        """Cells sharing one extraction: one backbone load and one forward pass serve all their layers."""
        return (self.dataset_fingerprint, self.backbone, self.weights, self.pooling, self.views, self.precision)

    @property
    def consumes_images(self) -> bool:
        """An end-to-end image-head cell (evaluated on the Dataset, no extraction)."""
        return self.layer == IMAGE_LAYER and self.pooling == NOT_APPLICABLE

    def label(self) -> str:
        """Short human-readable name: ``dataset/backbone[weights]/layer/head``."""
        weights = "" if self.weights == "imagenet" else f"[{self.weights}]"
        return f"{self.dataset}/{self.backbone}{weights}/{self.layer_label or self.layer}/{self.head}"
