"""Extraction step 3 of 3, *collect*: open the finished arrays as a lazy ``FeatureSet``.

Nothing is read but the small per-row records (``done``/``failed``): values stay in the store until a
head asks for ``X``. Rows whose image failed are left out, with one warning naming the first few.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from deepfeat_iqa.features._lazy import LazyRows
from deepfeat_iqa.extraction._plan import ExtractionPlan
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import StoreError
from deepfeat_iqa.features._sets import FeatureSet, LayerFeatures
from deepfeat_iqa.store._zarr import FeatureArray, FeatureStore

log = logging.getLogger(__name__)


def collect(plan: ExtractionPlan, dataset: Dataset, store: FeatureStore, stages: Mapping[str, str] | None = None) -> FeatureSet:
    """The planned layers of ``dataset`` as a lazy :class:`FeatureSet`; every row must be done or failed.

    ``stages`` (stage name -> module path, from the backbone config) become aliases, so
    ``feats["block4"]`` finds ``blocks.4``.
    """
    layers = {}
    for target in plan.targets:
        array = FeatureArray(store.root[target.group])
        done, failed = array.done[:], array.failed[:]
        missing = np.flatnonzero(~done & ~failed)
        if missing.size:
            raise StoreError(
                f"{missing.size} rows of {target.label!r} are neither done nor failed after extraction (first: "
                f"{dataset.ids[int(missing[0])]!r}); a writer stopped early, or another process invalidated them. "
                "Run extract again: it computes only those rows."
            )
        keep = np.flatnonzero(~failed)
        rows_dataset = dataset
        if failed.any():
            messages = array.errors()
            first = [messages.get(int(r), dataset.ids[int(r)]) for r in np.flatnonzero(failed)[:3]]
            log.warning("%d of %d images could not be read and are left out of %r (first: %s).", int(failed.sum()), len(dataset), target.label, first)
            rows_dataset = dataset.subset(keep)
        layers[target.label] = LayerFeatures(key=target.key, per_view=LazyRows(array.values, keep), dataset=rows_dataset)
    by_path = {target.key.layer: target.label for target in plan.targets}
    aliases = {stage: by_path[path] for stage, path in (stages or {}).items() if path in by_path}
    return FeatureSet(layers, aliases=aliases)
