"""Extraction step 2 of 3, *blocks*: fill one chunk-aligned row range of every planned array.

The same function runs in the local driver (one call over all rows, with decoding workers) and in a
Dask task (one call per block). It computes only the block's rows that are neither done nor failed,
writes values before ``done`` batch by batch, and records unreadable images per row, so a writer
killed at any point leaves exactly its unfinished rows for the next run.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat_iqa.runtime.allocator import keep_freed_memory
from deepfeat_iqa.runtime.device import resolve_device
from deepfeat_iqa.extraction._forward import Normalization, per_image, pooled_features, prepare_model
from deepfeat_iqa.extraction._loader import ViewDataset, make_loader
from deepfeat_iqa.extraction._plan import ExtractionPlan
from deepfeat_iqa.backbones import BackboneConfig, LoadedBackbone, build_backbone
from deepfeat_iqa.errors import DataError
from deepfeat_iqa.extraction.pooling import parse_pooling
from deepfeat_iqa.store._zarr import FeatureArray, FeatureStore
from deepfeat_iqa.inputs.views import Geometry, View, parse_views

#: Built backbones, most recently used last. A combination's members (Lite0/1/2) or a sweep's backbones take
#: turns call after call, so more than one is kept, up to this many bytes of parameters and buffers (the one
#: in use always stays): rebuilding the three Lite networks cost 0.5 s of every ``dfi.score`` call.
_BACKBONE_CACHE: OrderedDict[tuple[Any, ...], LoadedBackbone] = OrderedDict()
_BACKBONE_CACHE_BYTES = int(os.environ.get("DEEPFEAT_IQA_BACKBONE_CACHE_MB", "1024")) * 2**20
_BACKBONE_LOCK = threading.Lock()
_BUILDS = {"count": 0}


def backbone_builds() -> int:
    """How many backbones this process has built (each Dask worker should build one per setting)."""
    return _BUILDS["count"]


def load_backbone(model: str, weights: Any, seed: int, device: torch.device) -> LoadedBackbone:
    """Build the backbone once per process (per Dask worker), reusing it for every later block or call."""
    from deepfeat_iqa.backbones import weights_fingerprint

    weights_id: tuple[Any, ...] = (weights_fingerprint(weights),)  # in-memory weights: by their tensors
    if isinstance(weights, (str, os.PathLike)) and Path(str(weights)).is_file():
        stat = os.stat(weights)
        weights_id = (str(Path(weights).resolve()), stat.st_size, stat.st_mtime_ns)
    key = (model, weights_id, seed, str(device))
    with _BACKBONE_LOCK:  # a multi-threaded Dask worker runs several blocks at once; build only one
        if key not in _BACKBONE_CACHE:
            _BACKBONE_CACHE[key] = build_backbone(model, weights, seed=seed, device=device)
            _BUILDS["count"] += 1
        _BACKBONE_CACHE.move_to_end(key)
        while len(_BACKBONE_CACHE) > 1 and sum(map(_nbytes, _BACKBONE_CACHE.values())) > _BACKBONE_CACHE_BYTES:
            _BACKBONE_CACHE.popitem(last=False)
        return _BACKBONE_CACHE[key]


def _nbytes(loaded: LoadedBackbone) -> int:
    tensors = [*loaded.model.parameters(), *loaded.model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def make_view(crops: str, seed: int, config: BackboneConfig) -> View:
    """The view protocol ``crops``, with the geometry the backbone's pretrained ``config`` asks for."""
    return parse_views(crops, Geometry(tuple(config.input_size[1:]), config.crop_pct, config.interpolation), seed=seed)


@dataclass(frozen=True)
class BlockReport:
    """What one block call did: rows computed and rows recorded as failed."""

    start: int
    stop: int
    computed: int
    failed: int


@dataclass(frozen=True)
class ComputedBatch:
    """One loader batch after the forward: pooled values of its readable images, and its unreadable ones."""

    rows: np.ndarray
    values: dict[str, np.ndarray]  # module path -> (len(rows), n_views, dim)
    n_crops: np.ndarray
    failed_rows: np.ndarray
    errors: list[str]

    @property
    def size(self) -> int:
        return int(self.rows.size + self.failed_rows.size)


def computed_batches(plan: ExtractionPlan, pending: np.ndarray, num_workers: int) -> Iterator[ComputedBatch]:
    """Decode, crop, forward and pool the ``pending`` rows of ``plan``, batch by batch on the block grid.

    Shared by the store writer (:func:`extract_block`) and the store-free path (``extract(store=None)``), so
    both compute the same values. An unreadable image raises :class:`DataError` naming it when
    ``plan.on_error == "raise"``, before anything of its batch is handed on.
    """
    device = resolve_device(plan.device)
    loaded = load_backbone(plan.model, plan.weights, plan.seed, device)
    view, pool, config = make_view(plan.crops, plan.seed, loaded.config), parse_pooling(plan.pooling), loaded.config
    layers = [t.spec.layer for t in plan.targets]
    paths = [Path(p) for p in plan.paths]
    loader = make_loader(ViewDataset(plan.ids, paths, view), pending, plan.block_rows, plan.batch_size, num_workers)
    model = prepare_model(loaded.model, plan.precision, device)
    keep_freed_memory(device)
    for batch in loader:
        bad = [item for item in batch if item.error is not None]
        if bad and plan.on_error == "raise":
            raise DataError(f"{bad[0].error} (pass on_error='skip' to leave unreadable images out)")
        good = [item for item in batch if item.error is None]
        values: dict[str, np.ndarray] = {}
        counts = [int(item.crops.shape[0]) for item in good]
        if good:
            pooled = pooled_features(
                model, [item.crops for item in good], layers, pool, precision=plan.precision, device=device,
                micro_batch=plan.batch_size, normalize=Normalization(config.mean, config.std),
            )  # fmt: skip
            weights = [item.weights for item in good] if view.reduce else None
            values = {layer: per_image(pooled[layer], counts, weights) for layer in layers}
        yield ComputedBatch(
            np.asarray([item.row for item in good], dtype=np.int64), values, np.asarray(counts, dtype=np.int32),
            np.asarray([item.row for item in bad], dtype=np.int64), [str(item.error) for item in bad],
        )  # fmt: skip


def extract_block(
    plan: ExtractionPlan,
    start: int,
    stop: int,
    *,
    store: FeatureStore | None = None,
    num_workers: int = 0,
    on_batch: Callable[[int], None] | None = None,
) -> BlockReport:
    """Compute the rows of ``[start, stop)`` that some target still needs and write them to the store.

    ``start`` must be a multiple of ``plan.block_rows`` (and ``stop`` one, or the end), so this call owns
    every chunk it writes. ``store`` defaults to opening ``plan.store_url`` (what a Dask worker does).
    """
    if start % plan.block_rows or (stop % plan.block_rows and stop != plan.n_images):
        raise ValueError(f"rows [{start}, {stop}) are not aligned to blocks of {plan.block_rows}")
    store = store if store is not None else FeatureStore(plan.store_url)
    arrays = {t.label: FeatureArray(store.root[t.group]) for t in plan.targets}
    needed = np.zeros(stop - start, dtype=bool)
    for array in arrays.values():
        needed |= ~array.done[start:stop] & ~array.failed[start:stop]
    pending = start + np.flatnonzero(needed)
    if not pending.size:
        return BlockReport(start, stop, 0, 0)
    computed = failed = 0
    for batch in computed_batches(plan, pending, num_workers):
        if batch.rows.size:
            for target in plan.targets:
                arrays[target.label].write(batch.rows, batch.values[target.spec.layer], batch.n_crops)
        if batch.failed_rows.size:
            for array in arrays.values():
                array.fail(batch.failed_rows, batch.errors)
        computed, failed = computed + int(batch.rows.size), failed + int(batch.failed_rows.size)
        if on_batch is not None:
            on_batch(batch.size)
    return BlockReport(start, stop, computed, failed)
