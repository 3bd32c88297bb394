"""Extraction step 1 of 3, *plan*: one writer indexes the dataset and creates every array before any block runs.

Creating all arrays up front (their width comes from one probe forward pass) is what lets any number of
block writers, in this process or on Dask workers, start at once without racing to create them. The
plan itself is a small picklable record: everything a worker needs to rebuild the model, the views and
the pooling, and where each layer's rows go.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import zarr

from deepfeat_iqa import __version__
from deepfeat_iqa.extraction._forward import Normalization, pooled_features
from deepfeat_iqa.backbones import LoadedBackbone
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import DataError, StoreError
from deepfeat_iqa.features._sets import FeatureKey
from deepfeat_iqa.extraction.pooling import Pooling, flatten_size_message
from deepfeat_iqa.store._damage import raise_if_damaged
from deepfeat_iqa.store._zarr import ArraySpec, FeatureArray, FeatureStore, chunk_rows_for, storage_dtype
from deepfeat_iqa.inputs.views import View

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One requested layer: the name the user wrote, its key, its array spec and its group in the store."""

    label: str
    key: FeatureKey
    spec: ArraySpec
    group: str


@dataclass(frozen=True)
class ExtractionPlan:
    """Everything a block writer needs, by value (sent once to every Dask worker).

    ``block_rows`` is a multiple of every target array's chunk rows, so a block owns whole chunks of
    all of them; batches of ``batch_size`` images are cut on a grid inside each block, so which images
    share a forward pass never depends on which block or run computed them.
    """

    store_url: str
    ids: tuple[str, ...]
    paths: tuple[str, ...]
    model: str
    weights: str
    seed: int
    device: str | None
    crops: str
    pooling: str
    precision: str
    batch_size: int
    on_error: str
    targets: tuple[Target, ...]
    block_rows: int

    @property
    def n_images(self) -> int:
        return len(self.ids)

    def blocks(self, pending: np.ndarray) -> list[tuple[int, int]]:
        """``(start, stop)`` of every block that holds at least one of the ``pending`` rows."""
        starts = np.unique(np.asarray(pending, dtype=np.int64) // self.block_rows) * self.block_rows
        return [(int(s), int(min(s + self.block_rows, self.n_images))) for s in starts]


def layer_versions() -> tuple[tuple[str, str], ...]:
    """Library versions recorded with every array (informative; never compared)."""
    import timm
    import zarr

    return (("deepfeat_iqa", __version__), ("torch", torch.__version__), ("timm", timm.__version__), ("zarr", zarr.__version__))


def make_targets(
    dataset: Dataset, model: str, loaded: LoadedBackbone, names: list[object], paths: list[str], pooling_spec: str, view: View, precision: str, key: str
) -> list[Target]:
    """One :class:`Target` per requested layer name (the default layer is labelled by its module path)."""
    config, sha = loaded.config, loaded.weights_sha256
    versions = layer_versions()
    targets = []
    for name, path in zip(names, paths):
        spec = ArraySpec(
            backbone=model, weights_sha256=sha, layer=path, pooling=pooling_spec, views=view.spec,
            precision=precision, weights_source=str(loaded.weights_source),
            input_size=tuple(int(s) for s in config.input_size), mean=tuple(float(m) for m in config.mean),
            std=tuple(float(s) for s in config.std), interpolation=str(config.interpolation),
            crop_pct=float(config.crop_pct), n_views=view.n_views, dataset_fingerprint=dataset.fingerprint(), versions=versions,
        )  # fmt: skip
        feature_key = FeatureKey(model, sha, path, pooling_spec, view.spec, precision)
        targets.append(Target(path if name is None else str(name), feature_key, spec, f"{key}/{spec.path}"))
    return targets


#: Layer widths already probed, per model object: a width depends on the architecture, never on the weights, and
#: each probe is a forward pass (15-30 ms), paid by every extract call that creates arrays or runs in memory (every dfi.score
#: member scoring photos).
_PROBED: weakref.WeakKeyDictionary[torch.nn.Module, dict[tuple[Any, ...], dict[str, int]]] = weakref.WeakKeyDictionary()


def probe_dims(model: torch.nn.Module, input_size: tuple[int, ...], paths: list[str], pooling: Pooling, precision: str, device: torch.device) -> dict[str, int]:
    """Pooled width of each layer, from one forward pass of a blank image (pooling makes it size-free)."""
    known = _PROBED.setdefault(model, {})
    token = (tuple(input_size), tuple(paths), pooling.spec, precision, str(device))
    if token not in known:
        blank = torch.zeros((1, *input_size[1:], input_size[0]), dtype=torch.uint8)
        pooled = pooled_features(model, [blank], paths, pooling, precision=precision, device=device, micro_batch=1,
                                 normalize=Normalization((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))  # fmt: skip
        known[token] = {path: int(values.shape[-1]) for path, values in pooled.items()}
    return dict(known[token])


def open_arrays(
    store: FeatureStore, key: str, targets: list[Target], n_images: int, dtype: str, dims: Callable[[], dict[str, int]]
) -> dict[str, FeatureArray]:
    """Find or create every target's array; all new arrays share one chunking chosen for the data."""
    arrays: dict[str, FeatureArray] = {}
    for target in targets:
        found = store.find(key, target.spec)
        if found is not None:
            if dtype != "auto" and str(found.values.dtype) != dtype:
                raise StoreError(
                    f"{target.label!r} is stored as {found.values.dtype} at {store.url!r}, not {dtype}; "
                    "pass dtype='auto' to read it, or another store= path."
                )
            arrays[target.label] = store.add_error_array(found)
    missing = [t for t in targets if t.label not in arrays]
    if missing:
        widths = dims()
        n_views = missing[0].spec.n_views
        existing = [a.chunk_rows for a in arrays.values()]
        kinds = {t.label: storage_dtype(widths[t.spec.layer], dtype) for t in missing}
        chunk_rows = existing[0] if existing else min(
            chunk_rows_for(n_images, n_views, widths[t.spec.layer], np.dtype(kinds[t.label]).itemsize) for t in missing
        )
        for target in missing:
            dim = widths[target.spec.layer]
            if target.spec.pooling == "flatten":
                log.warning(flatten_size_message(dim, n_images, n_views, np.dtype(kinds[target.label]).itemsize))
            arrays[target.label] = store.create(key, target.spec, n_images=n_images, dim=dim, dtype=kinds[target.label], chunk_rows=chunk_rows)
    return {t.label: arrays[t.label] for t in targets}


def block_rows_for(arrays: dict[str, FeatureArray], n_images: int) -> int:
    """Rows per block: the least common multiple of the arrays' chunk rows (they agree unless made apart)."""
    return max(1, min(math.lcm(*(a.chunk_rows for a in arrays.values())), n_images))


def _row_array(array: zarr.Array) -> np.ndarray:
    """All of a done/failed mask; a damaged chunk raises the StoreError naming it, not the codec's error.

    ``extract(repair=False)`` reaches here with damage in place (``repair=True`` has reset it before).
    """
    try:
        return np.asarray(array[:])
    except Exception as error:  # noqa: BLE001 - damage is named below; anything else is re-raised as it was
        raise_if_damaged(array, 0, int(array.shape[0]), error)
        raise


def pending_rows(arrays: dict[str, FeatureArray], n_images: int, on_error: str) -> np.ndarray:
    """Rows some target still needs; recorded failures are final (until the file changes)."""
    needed = np.zeros(n_images, dtype=bool)
    for label, array in arrays.items():
        done, failed = _row_array(array.done), _row_array(array.failed)
        if failed.any() and on_error == "raise":
            row = int(np.flatnonzero(failed)[0])
            message = array.errors().get(row, "unreadable image")
            raise DataError(f"{message} (recorded in the store for {label!r}; pass on_error='skip' to leave it out, or fix the file)")
        needed |= ~done & ~failed
    return np.flatnonzero(needed)
