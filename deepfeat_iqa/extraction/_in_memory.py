"""``extract(store=None)``: the same batches as a store run, kept in NumPy arrays instead of a private store.

Scoring photos once (``dfi.score``, ``model.predict`` of new photos) needs no store: nothing is resumed,
shared or read back later. It used to write into a private in-memory zarr store, whose per-operation cost
(creating four arrays per layer, four writes per layer and batch, the reads that collect them) was about
9 ms a photo of ``dfi.score``'s 260 with the bundled model on 2 cores. The values come from the same
:func:`~deepfeat_iqa.extraction._block.computed_batches` and are cast as the store casts them, so a model
scores a photo the same to the last digit whichever path extracted it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.extraction._block import computed_batches
from deepfeat_iqa.extraction._plan import ExtractionPlan
from deepfeat_iqa.features._sets import FeatureSet, LayerFeatures
from deepfeat_iqa.store._zarr import as_stored, storage_dtype

log = logging.getLogger(__name__)


def extract_in_memory(
    plan: ExtractionPlan,
    dataset: Dataset,
    widths: Mapping[str, int],
    dtype: str,
    num_workers: int,
    on_batch: Callable[[int], None],
    stages: Mapping[str, str] | None = None,
) -> FeatureSet:
    """Every row of ``plan`` computed into NumPy; unreadable images (``on_error="skip"``) left out with one warning.

    ``widths`` (module path -> pooled width, from ``probe_dims``) sizes the arrays and picks their dtype exactly as
    the store's ``open_arrays`` does.
    """
    values = {
        t.label: np.full((plan.n_images, t.spec.n_views, widths[t.spec.layer]), np.nan, dtype=storage_dtype(widths[t.spec.layer], dtype))
        for t in plan.targets
    }
    failed = np.zeros(plan.n_images, dtype=bool)
    errors: dict[int, str] = {}
    for batch in computed_batches(plan, np.arange(plan.n_images), num_workers):
        if batch.rows.size:
            for target in plan.targets:
                values[target.label][batch.rows] = as_stored(batch.values[target.spec.layer], values[target.label].dtype, target.label)
        failed[batch.failed_rows] = True
        errors.update(zip(batch.failed_rows.tolist(), batch.errors))
        on_batch(batch.size)
    keep = np.flatnonzero(~failed)
    rows_dataset = dataset
    if failed.any():
        first = [errors[int(r)] for r in np.flatnonzero(failed)[:3]]
        for target in plan.targets:
            log.warning("%d of %d images could not be read and are left out of %r (first: %s).", int(failed.sum()), len(dataset), target.label, first)
        rows_dataset = dataset.subset(keep)
    layers = {t.label: LayerFeatures(key=t.key, per_view=values[t.label][keep], dataset=rows_dataset) for t in plan.targets}
    by_path = {target.key.layer: target.label for target in plan.targets}
    aliases = {stage: by_path[path] for stage, path in (stages or {}).items() if path in by_path}
    return FeatureSet(layers, aliases=aliases)
