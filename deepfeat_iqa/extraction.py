"""``extract``: images -> views -> backbone layers -> pooled features, cached in the zarr store."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from ._device import resolve_device
from ._progress import Progress
from ._forward import PRECISIONS, per_image, pooled_features, prepare_model
from ._loader import ViewDataset, default_num_workers, make_loader
from .backbones import DEFAULT_BACKBONE, build_backbone, resolve_layers
from .datasets import Dataset
from .errors import ConfigError, DataError, Interrupted, StoreError
from .features import FeatureKey, FeatureSet, LayerFeatures
from .pooling import flatten_size_message, parse_pooling
from .store import ArraySpec, FeatureArray, FeatureStore, default_store_url, storage_dtype
from .views import Geometry, View, parse_views

log = logging.getLogger(__name__)

#: Compute precision when none is given; chosen from the measurement in docs/precision.md.
DEFAULT_PRECISION = "bf16"

#: ``store=`` default: the user cache (``$DEEPFEAT_IQA_CACHE`` or ``~/.cache/deepfeat-iqa``).
DEFAULT_STORE = "cache"

_DTYPES = ("auto", "float16", "float32")
_ON_ERROR = ("raise", "skip")


def as_dataset(images: Dataset | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> Dataset:
    """Accept a Dataset, a folder, one image path or a list of paths (duplicates are an error)."""
    if isinstance(images, Dataset):
        return images
    if isinstance(images, (str, os.PathLike)):
        path = Path(images).expanduser()
        if path.is_dir():
            return Dataset.from_folder(path)
        if not path.is_file():
            raise DataError(f"{str(path)!r} is neither an image file nor a folder of images.")
        return Dataset.from_paths([path])
    paths = [Path(p).expanduser() for p in images]
    if not paths:
        raise DataError("No images given; pass a non-empty list of paths, a folder or a Dataset.")
    seen: dict[Path, Path] = {}
    dupes = []
    for path in paths:
        resolved = path.resolve()
        if resolved in seen:
            dupes.append(f"{str(path)!r} (same file as {str(seen[resolved])!r})")
        seen.setdefault(resolved, path)
    if dupes:
        raise DataError(f"{len(dupes)} duplicate image paths: {', '.join(dupes[:5])}. Pass each image once.")
    return Dataset.from_paths(paths)


@dataclass
class _Target:
    """One requested layer: its key and where its rows go (a store array or an in-memory array)."""

    name: str
    spec: ArraySpec
    key: FeatureKey
    array: FeatureArray | None = None
    memory: np.ndarray | None = None
    failed: dict[int, str] = field(default_factory=dict)


_BACKBONE_CACHE: dict[tuple[Any, ...], Any] = {}


def _load_backbone(model: str, weights: Any, seed: int, device: torch.device) -> Any:
    """Build the backbone, reusing the last one built in this process (re-runs on a cache hit stay cheap)."""
    from .backbones import weights_fingerprint

    weights_id: tuple[Any, ...] = (weights_fingerprint(weights),)  # in-memory weights: by their tensors
    if isinstance(weights, (str, os.PathLike)) and Path(str(weights)).is_file():
        stat = os.stat(weights)
        weights_id = (str(Path(weights).resolve()), stat.st_size, stat.st_mtime_ns)
    key = (model, weights_id, seed, str(device))
    if key not in _BACKBONE_CACHE:
        _BACKBONE_CACHE.clear()
        _BACKBONE_CACHE[key] = build_backbone(model, weights, seed=seed, device=device)
    return _BACKBONE_CACHE[key]


def extract(
    images: Dataset | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    model: str = DEFAULT_BACKBONE,
    layer: str | int | Sequence[str | int] | None = None,
    *,
    pooling: str = "avg",
    crops: str = "center",
    weights: Any = "imagenet",
    store: str | os.PathLike[str] | FeatureStore | None = DEFAULT_STORE,
    batch_size: int = 32,
    num_workers: int | None = None,
    device: str | torch.device | None = None,
    precision: str = DEFAULT_PRECISION,
    dtype: str = "auto",
    seed: int = 0,
    on_error: str = "raise",
    progress: bool = True,
) -> FeatureSet:
    """Extract pooled deep features of ``images`` at one or more layers, reading what the store already has.

    Parameters
    ----------
    images:
        A :class:`~deepfeat_iqa.datasets.Dataset`, a folder (searched recursively), or a list of paths.
    model:
        Backbone name; the default ``"efficientnet_lite0"`` has offline ImageNet weights (the ``lite-weights``
        extra). ``"resnet50"`` or any registered or timm name also works; see ``list_backbones()``.
    layer:
        Layer name, index or module path, or a list of them, all taken from one forward pass;
        ``None`` is the backbone's default layer. See ``list_layers(model)``.
    pooling:
        ``"avg"``, ``"max"``, ``"avg+std"``, ``"gridKxK"`` or ``"flatten"`` (see :mod:`deepfeat_iqa.pooling`).
    crops:
        View protocol: ``"center"``, ``"resize"``, ``"randomN"``, ``"randomN@seedS"``, ``"grid"``, ``"patches"``,
        ``"full"`` (see :mod:`deepfeat_iqa.views`).
    weights:
        ``"imagenet"``, ``"random"`` (seeded by ``seed``), a weights file, or in-memory weights: what
        :func:`deepfeat_iqa.finetune` returns, an ``nn.Module`` or a state dict; the store keys features
        by the fingerprint of the tensors actually loaded, so fine-tuned features never mix with others.
    store:
        Feature store: a directory or fsspec URL, a :class:`~deepfeat_iqa.store.FeatureStore`, the default
        ``"cache"`` (``$DEEPFEAT_IQA_CACHE/features.zarr`` or ``~/.cache/deepfeat-iqa/features.zarr``), or
        ``None`` to compute in memory without caching.
    batch_size:
        Images per loader batch and store chunk, and crops per forward pass.
    num_workers:
        Decoding processes; ``None`` uses all cores but one (0 when everything fits in one batch).
    device:
        ``"cpu"``, ``"cuda"``, ...; ``None`` (or ``"auto"``) picks CUDA when available.
    precision:
        ``"fp32"`` or ``"bf16"`` (autocast + channels_last); part of the feature key.
    dtype:
        Storage dtype: ``"auto"`` (float16 above 4096 dims, else float32), ``"float16"`` or ``"float32"``.
    seed:
        Seed of random crops (unless the crop spec names one) and of ``weights="random"``.
    on_error:
        ``"raise"`` stops at the first unreadable image; ``"skip"`` records it in the store and leaves it out.
    progress:
        Show progress: a bar (images/s) on a terminal, else a log line per stage (``deepfeat_iqa.progress``).
        Ctrl-C raises :class:`~deepfeat_iqa.errors.Interrupted` saying how many rows are saved; a rerun resumes.

    Returns
    -------
    FeatureSet
        One :class:`~deepfeat_iqa.features.LayerFeatures` per requested layer, keyed by the name as written.

    Examples
    --------
    >>> feats = extract("photos/", model="resnet18", layer=["layer3", "layer4"], weights="random")  # doctest: +SKIP
    >>> feats["layer4"].X.shape  # doctest: +SKIP
    (5, 512)
    """
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("dtype", dtype, _DTYPES)
    _check_choice("on_error", on_error, _ON_ERROR)
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}.")
    dataset = as_dataset(images)
    pool = parse_pooling(pooling)
    dev = resolve_device(device)
    loaded = _load_backbone(model, weights, int(seed), dev)
    config = loaded.config
    view = parse_views(crops, Geometry(tuple(config.input_size[1:]), config.crop_pct, config.interpolation), seed=int(seed))
    if view.name == "full" and pool.name == "flatten":
        raise ConfigError("pooling='flatten' needs crops of one size; crops='full' keeps each image's size. Use 'avg' or 'gridKxK'.")
    names = _layer_names(layer)
    paths = resolve_layers(loaded, None if names == [None] else names)
    targets = _targets(dataset, model, loaded, names, paths, pool.spec, view, precision)

    backend = _open_store(store)
    sink = _Sink(backend, "", len(dataset), dtype, int(batch_size))
    if backend is not None:
        sink.key, _ = backend.sync_index(dataset)
        for target in targets.values():
            target.array = backend.find(sink.key, target.spec)
            if target.array is not None:
                sink.chunk_rows = target.array.chunk_rows
                if dtype != "auto" and str(target.array.values.dtype) != dtype:
                    raise StoreError(
                        f"{target.name!r} is stored as {target.array.values.dtype} at {backend.url!r}, not {dtype}; "
                        "pass dtype='auto' to read it, or another store= path."
                    )
    pending = _pending_rows(targets.values(), len(dataset), on_error)
    if pending.size:
        log.info("Extracting %d of %d images (%s, %s, %s, %s).", pending.size, len(dataset), model, view.spec, pool.spec, precision)
        workers = default_num_workers() if num_workers is None else int(num_workers)
        if num_workers is None and pending.size <= sink.chunk_rows:
            workers = 0  # one batch: starting a worker costs more than it overlaps
        loader = make_loader(ViewDataset(dataset.ids, dataset.paths, view, config.mean, config.std), pending, sink.chunk_rows, workers)
        model_ready = prepare_model(loaded.model, precision)
        with Progress(int(pending.size), f"extract {model} {view.spec}", "img", enabled=progress) as bar:
            try:
                for batch in loader:
                    bad = [item for item in batch if item.error is not None]
                    if bad and on_error == "raise":
                        raise DataError(f"{bad[0].error} (pass on_error='skip' to leave unreadable images out)")
                    good = [item for item in batch if item.error is None]
                    if good:
                        pooled = pooled_features(
                            model_ready, [item.crops for item in good], list(paths), pool,
                            precision=precision, device=dev, micro_batch=int(batch_size),
                        )  # fmt: skip
                        counts = [int(item.crops.shape[0]) for item in good]
                        rows = np.asarray([item.row for item in good])
                        for target in targets.values():
                            sink.write(target, rows, per_image(pooled[target.key.layer], counts, view.reduce), counts)
                    for item in bad:
                        sink.fail(targets.values(), item.row, str(item.error))
                    bar.update(len(batch))
            except KeyboardInterrupt:
                raise Interrupted(_interrupted(bar.done, int(pending.size), len(dataset), backend)) from None
    return _collect(dataset, targets, config.stages)


def _interrupted(done: int, pending: int, n_images: int, backend: FeatureStore | None) -> str:
    """What Ctrl-C left behind: rows saved so far, and how to go on."""
    if backend is None:
        return (
            f"extraction stopped after {done} of {pending} images; nothing was kept (no feature store). "
            "Extract into a store (the default) to make a rerun resume."
        )
    stored = n_images - pending + done
    return (
        f"extraction stopped: {stored} of {n_images} images are saved in {backend.url} ({done} in this run); "
        f"run the same extraction again to resume with the {n_images - stored} left."
    )


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(repr(a) for a in allowed)}.")


def _layer_names(layer: str | int | Sequence[str | int] | None) -> list[Any]:
    """The requested layers in order, duplicates dropped; ``[None]`` for the default layer."""
    if layer is None or isinstance(layer, (str, int)):
        return [layer]
    names = list(dict.fromkeys(layer))
    if not names:
        raise ConfigError("layer=[] names no layer; pass None for the backbone's default layer.")
    return names


def _targets(
    dataset: Dataset, model: str, loaded: Any, names: list[Any], paths: list[str], pooling_spec: str, view: View, precision: str
) -> dict[str, _Target]:
    """One :class:`_Target` per requested layer name (the default layer is keyed by its module path)."""
    import timm
    import zarr

    config = loaded.config
    versions = (("deepfeat_iqa", __version__), ("torch", torch.__version__), ("timm", timm.__version__), ("zarr", zarr.__version__))
    targets = {}
    for name, path in zip(names, paths):
        spec = ArraySpec(
            backbone=model, weights_sha256=loaded.weights_sha256, layer=path, pooling=pooling_spec, views=view.spec,
            precision=precision, weights_source=str(loaded.weights_source), input_size=tuple(int(s) for s in config.input_size),
            mean=tuple(float(m) for m in config.mean), std=tuple(float(s) for s in config.std),
            interpolation=str(config.interpolation), crop_pct=float(config.crop_pct), n_views=view.n_views,
            dataset_fingerprint=dataset.fingerprint(), versions=versions,
        )  # fmt: skip
        key = FeatureKey(model, loaded.weights_sha256, path, pooling_spec, view.spec, precision)
        label = path if name is None else str(name)
        targets[label] = _Target(label, spec, key)
    return targets


def _open_store(store: str | os.PathLike[str] | FeatureStore | None) -> FeatureStore | None:
    if store is None or isinstance(store, FeatureStore):
        return store
    return FeatureStore(default_store_url() if str(store) == DEFAULT_STORE else store)


def _pending_rows(targets: Iterable[_Target], n: int, on_error: str) -> np.ndarray:
    """Rows some target still needs; recorded failures are final (until the file changes)."""
    needed = np.zeros(n, dtype=bool)
    for target in targets:
        if target.array is None:
            return np.arange(n)
        done, failed = target.array.done[:], target.array.failed[:]
        if failed.any() and on_error == "raise":
            row = int(np.flatnonzero(failed)[0])
            message = target.array.errors().get(row, "unreadable image")
            raise DataError(f"{message} (recorded in the store; pass on_error='skip' to leave it out, or fix the file)")
        needed |= ~done & ~failed
    return np.flatnonzero(needed)


@dataclass
class _Sink:
    """Where computed rows go: the store (creating arrays once the feature size is known) or memory."""

    store: FeatureStore | None
    key: str
    n_images: int
    dtype: str
    chunk_rows: int

    def write(self, target: _Target, rows: np.ndarray, values: np.ndarray, counts: Sequence[int]) -> None:
        """Store one batch of ``target``'s rows."""
        dim = int(values.shape[-1])
        kind = storage_dtype(dim, self.dtype)
        if self.store is None:
            if target.memory is None:
                target.memory = np.full((self.n_images, values.shape[1], dim), np.nan, dtype=kind)
            target.memory[rows] = values
            return
        if target.array is None:
            if target.spec.pooling == "flatten":
                log.warning(flatten_size_message(dim, self.n_images, values.shape[1], np.dtype(kind).itemsize))
            target.array = self.store.create(self.key, target.spec, n_images=self.n_images, dim=dim, dtype=kind, chunk_rows=self.chunk_rows)
        target.array.write(rows, values, np.asarray(counts))

    def fail(self, targets: Iterable[_Target], row: int, message: str) -> None:
        """Remember a row that could not be decoded, in memory and in every target's store array."""
        for target in targets:
            target.failed[row] = message
            if target.array is not None:
                target.array.fail(np.asarray([row]), [message])


def _collect(dataset: Dataset, targets: dict[str, _Target], stages: dict[str, str]) -> FeatureSet:
    """Build the FeatureSet, leaving out rows that failed (with one warning naming them).

    Stage names of the extracted modules become aliases, so ``feats["block4"]`` finds ``blocks.4``.
    """
    layers = {}
    for name, target in targets.items():
        if target.array is not None:
            values = target.array.read()
            failed_rows = np.flatnonzero(target.array.failed[:])
            messages = target.array.errors()
            missing = np.flatnonzero(~target.array.done[:] & ~target.array.failed[:])
            if missing.size:
                raise StoreError(
                    f"{missing.size} rows of {name!r} are neither done nor failed after extraction (first: "
                    f"{dataset.ids[int(missing[0])]!r}); another process may be invalidating them. Run extract again."
                )
        else:
            values = target.memory if target.memory is not None else np.zeros((len(dataset), target.spec.n_views, 0), np.float32)
            failed_rows = np.asarray(sorted(target.failed), dtype=np.int64)
            messages = target.failed
        keep = np.ones(len(dataset), dtype=bool)
        keep[failed_rows] = False
        rows_dataset = dataset
        if failed_rows.size:
            first = [messages.get(int(r), dataset.ids[int(r)]) for r in failed_rows[:3]]
            log.warning("%d of %d images could not be read and are left out of %r (first: %s).", failed_rows.size, len(dataset), name, first)
            values, rows_dataset = values[keep], dataset.subset(keep)
        layers[name] = LayerFeatures(key=target.key, per_view=values, dataset=rows_dataset)
    by_path = {target.key.layer: name for name, target in targets.items()}
    return FeatureSet(layers, aliases={stage: by_path[path] for stage, path in stages.items() if path in by_path})

