"""``extract``: images -> views -> backbone layers -> pooled features, cached in the zarr store."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat_iqa.runtime.device import resolve_batch_size
from deepfeat_iqa.runtime.precision import resolve_precision
from deepfeat_iqa.extraction._block import extract_block, load_backbone, make_view
from deepfeat_iqa.extraction._collect import collect
from deepfeat_iqa.extraction._in_memory import extract_in_memory
from deepfeat_iqa.runtime.device import resolve_device
from deepfeat_iqa.extraction._forward import prepare_model
from deepfeat_iqa.extraction._loader import extraction_workers
from deepfeat_iqa.extraction._plan import (
    ExtractionPlan,
    block_rows_for,
    make_targets,
    open_arrays,
    pending_rows,
    probe_dims,
)
from deepfeat_iqa.runtime.progress import Progress
from deepfeat_iqa._moved import renamed_keywords
from deepfeat_iqa.backbones import DEFAULT_BACKBONE, memory_state_dict, resolve_layers, weights_fingerprint
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError, Interrupted, StoreError
from deepfeat_iqa.features._sets import FeatureSet
from deepfeat_iqa.extraction.pooling import parse_pooling
from deepfeat_iqa.store._verify import heal_logged
from deepfeat_iqa.store._zarr import FeatureStore, chunk_rows_for, dataset_key, default_store_url, storage_dtype

log = logging.getLogger(__name__)

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


@renamed_keywords(model="backbone", layer="layers", crops="views")
def extract(
    images: Dataset | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    backbone: str = DEFAULT_BACKBONE,
    layers: str | int | Sequence[str | int] | None = None,
    *,
    pooling: str = "avg",
    views: str = "center",
    weights: Any = "imagenet",
    store: str | os.PathLike[str] | FeatureStore | None = DEFAULT_STORE,
    batch_size: int | None = None,
    num_workers: int | None = None,
    device: str | torch.device | None = None,
    precision: str = "auto",
    dtype: str = "auto",
    seed: int = 0,
    on_error: str = "raise",
    progress: bool = True,
    client: Any = None,
    repair: bool = True,
) -> FeatureSet:
    """Extract pooled deep features of ``images`` at one or more layers, reading what the store already has.

    Parameters
    ----------
    images:
        A :class:`~deepfeat_iqa.datasets.Dataset`, a folder (searched recursively), or a list of paths.
    backbone:
        Backbone name; the default ``"efficientnet_lite0"`` has offline ImageNet weights (the ``lite-weights``
        extra). ``"resnet50"`` or any registered or timm name also works; see ``list_backbones()``.
        (0.1 called it ``model=``; that still works, with a ``FutureWarning``, as do ``layer=`` and ``crops=``.)
    layers:
        Layer name, index or module path, or a list of them, all taken from one forward pass;
        ``None`` is the backbone's default layer. See ``list_layers(backbone)``.
    pooling:
        ``"avg"``, ``"max"``, ``"avg+std"``, ``"gridKxK"`` or ``"flatten"`` (see :mod:`deepfeat_iqa.extraction.pooling`).
    views:
        View protocol: ``"center"``, ``"resize"``, ``"randomN"``, ``"randomN@seedS"``, ``"grid"``, ``"patches"``,
        ``"full"``, and ``"fullN"``/``"gridN"``/``"randomKinN"`` (the photo shrunk to short side N first; see
        :mod:`deepfeat_iqa.inputs.views`).
    weights:
        ``"imagenet"``, ``"random"`` (seeded by ``seed``), a weights file, or in-memory weights: what
        :func:`deepfeat_iqa.finetune` returns, an ``nn.Module`` or a state dict; the store keys features
        by the fingerprint of the tensors actually loaded, so fine-tuned features never mix with others.
    store:
        Feature store: a directory or fsspec URL, a :class:`~deepfeat_iqa.store._zarr.FeatureStore`, the default
        ``"cache"`` (``$DEEPFEAT_IQA_CACHE/features.zarr`` or ``~/.cache/deepfeat-iqa/features.zarr``), or
        ``None`` to compute in memory without caching.
    batch_size:
        Images per loader batch and crops per forward pass; ``None`` is 32 on the CPU and 128 on CUDA.
        Store chunks are sized for the data, not by this.
    num_workers:
        Decoding processes; ``None`` uses all cores but one, none on a CPU of two cores or fewer (where the
        forward already uses every core) and none when everything fits in one batch.
    device:
        ``"cpu"``, ``"cuda"``, ...; ``None`` (or ``"auto"``) picks CUDA when available.
    precision:
        ``"auto"`` (bf16 where the CPU or GPU runs it natively, else fp32; fp16 on GPUs without bf16; see
        docs/precision.md), ``"fp32"``, ``"bf16"`` or ``"fp16"`` (CUDA only); autocast + channels_last. The
        resolved value is part of the feature key.
    dtype:
        Storage dtype: ``"auto"`` (float16 above 4096 dims, else float32), ``"float16"`` or ``"float32"``.
    seed:
        Seed of random crops (unless the crop spec names one) and of ``weights="random"``.
    on_error:
        ``"raise"`` stops at the first unreadable image; ``"skip"`` records it in the store and leaves it out.
    progress:
        Show progress: a bar (images/s) on a terminal, else a log line per stage (``deepfeat_iqa.progress``).
        Ctrl-C raises :class:`~deepfeat_iqa.errors.Interrupted` saying how many rows are saved; a rerun resumes.
    client:
        ``None`` extracts in this process. A ``dask.distributed.Client``, a scheduler address
        (``"tcp://host:8786"``) or ``"local"`` (a LocalCluster of one single-threaded worker process per
        core, closed afterwards) sends one task per row block; the workers write to ``store``, which
        must be a path or URL they can all open (a shared directory, ``s3://...``). See docs/scale.md.
    repair:
        Before planning, decode every chunk of the requested arrays once (checksums make this conclusive)
        and mark the rows of any damaged chunk not done, so this call re-extracts exactly those (logged as
        a warning). ``False`` skips the scan; a damaged chunk then raises ``StoreError`` when read.

    Returns
    -------
    FeatureSet
        One :class:`~deepfeat_iqa.features._sets.LayerFeatures` per requested layer, keyed by the name as written.

    Examples
    --------
    >>> feats = extract("photos/", backbone="resnet18", layers=["layer3", "layer4"], weights="random")  # doctest: +SKIP
    >>> feats["layer4"].X.shape  # doctest: +SKIP
    (5, 512)
    """
    _check_choice("dtype", dtype, _DTYPES)
    _check_choice("on_error", on_error, _ON_ERROR)
    if client is not None:
        if store is None:
            raise ConfigError("client= sends blocks to Dask workers, which write to the store: pass a store= every worker can open.")
        from deepfeat_iqa.runtime.cluster import check_reachable

        check_reachable(client)
    dataset = as_dataset(images)
    pool = parse_pooling(pooling)
    dev = resolve_device(device)
    precision = resolve_precision(precision, dev)  # concrete before it enters any key
    batch_size = resolve_batch_size(batch_size, dev)
    if client is not None and memory_state_dict(weights) is not None:
        raise ConfigError(
            "In-memory weights cannot travel to Dask workers; save them first (FineTunedWeights.save(path), or "
            "torch.save(module.state_dict(), path)) and pass weights=path."
        )
    # In-memory weights are cached under their fingerprint, which the plan carries to extract_block.
    loaded = load_backbone(backbone, weights, int(seed), dev)
    config = loaded.config
    names = _layer_names(layers)
    paths = resolve_layers(loaded, None if names == [None] else names)
    view = make_view(views, int(seed), loaded.config)
    if view.name == "full" and pool.name == "flatten":
        raise ConfigError("pooling='flatten' needs crops of one size; views='full' keeps each image's size. Use 'avg' or 'gridKxK'.")

    if store is None:  # nothing to resume, share or read back: compute straight into NumPy
        return _extract_in_memory(dataset, backbone, loaded, names, paths, pool, view, precision, dev, weights, seed, device,
                                  views, batch_size, on_error, dtype, num_workers, progress)  # fmt: skip

    # 1. plan: index the files, create every array (one writer), find the rows still to do
    backend = _open_store(store)
    arrays: dict[str, Any] = {}
    with _full_disk_named(backend, arrays, len(dataset)):
        key, _ = backend.sync_index(dataset)
        targets = make_targets(dataset, backbone, loaded, names, paths, pool.spec, view, precision, key)

        def widths() -> dict[str, int]:
            return probe_dims(prepare_model(loaded.model, precision, dev), tuple(config.input_size), paths, pool, precision, dev)

        arrays.update(open_arrays(backend, key, targets, len(dataset), dtype, widths))
        if repair:
            for array in arrays.values():
                heal_logged(array.group)
        plan = ExtractionPlan(
            store_url=backend.url, ids=tuple(dataset.ids), paths=tuple(str(p) for p in dataset.paths), model=backbone,
            weights=weights_fingerprint(weights), seed=int(seed), device=None if device is None else str(device), crops=views, pooling=pool.spec,
            precision=precision, batch_size=int(batch_size), on_error=on_error, targets=tuple(targets),
            block_rows=block_rows_for(arrays, len(dataset)),
        )  # fmt: skip
        pending = pending_rows(arrays, len(dataset), on_error)

        # 2. blocks: here, or one Dask task per block
        if pending.size:
            log.info("Extracting %d of %d images (%s, %s, %s, %s).", pending.size, len(dataset), backbone, view.spec, pool.spec, precision)
            with Progress(int(pending.size), f"extract {backbone} {view.spec}", "img", enabled=progress) as bar:
                try:
                    if client is not None:
                        from deepfeat_iqa.extraction._dask import run_blocks

                        run_blocks(plan, plan.blocks(pending), client, bar.update)
                    else:
                        workers = extraction_workers(dev) if num_workers is None else int(num_workers)
                        if num_workers is None and pending.size <= int(batch_size):
                            workers = 0  # one batch: starting a worker costs more than it overlaps
                        extract_block(plan, 0, len(dataset), store=backend, num_workers=workers, on_batch=bar.update)
                except KeyboardInterrupt:
                    raise Interrupted(_interrupted(bar.done, int(pending.size), len(dataset), backend)) from None
            for target in targets:
                backend.consolidate(key, target.spec)
    # 3. collect: a lazy FeatureSet over the store
    return collect(plan, dataset, backend, config.stages)


def _extract_in_memory(
    dataset: Dataset, backbone: str, loaded: Any, names: list[Any], paths: list[str], pool: Any, view: Any, precision: str,
    dev: torch.device, weights: Any, seed: int, device: Any, views: str, batch_size: int, on_error: str, dtype: str,
    num_workers: int | None, progress: bool,
) -> FeatureSet:
    """``store=None``: the plan a private store would get (the same batches), computed into NumPy arrays."""
    targets = make_targets(dataset, backbone, loaded, names, paths, pool.spec, view, precision, dataset_key(dataset))
    widths = probe_dims(prepare_model(loaded.model, precision, dev), tuple(loaded.config.input_size), paths, pool, precision, dev)
    n = len(dataset)
    chunk_rows = min(
        chunk_rows_for(n, view.n_views, widths[t.spec.layer], np.dtype(storage_dtype(widths[t.spec.layer], dtype)).itemsize) for t in targets
    )
    plan = ExtractionPlan(
        store_url="", ids=tuple(dataset.ids), paths=tuple(str(p) for p in dataset.paths), model=backbone,
        weights=weights_fingerprint(weights), seed=int(seed), device=None if device is None else str(device), crops=views, pooling=pool.spec,
        precision=precision, batch_size=int(batch_size), on_error=on_error, targets=tuple(targets), block_rows=max(1, min(chunk_rows, n)),
    )  # fmt: skip
    workers = extraction_workers(dev) if num_workers is None else int(num_workers)
    if num_workers is None and n <= int(batch_size):
        workers = 0  # one batch: starting a worker costs more than it overlaps
    log.info("Extracting %d of %d images (%s, %s, %s, %s) in memory.", n, n, backbone, view.spec, pool.spec, precision)
    with Progress(n, f"extract {backbone} {view.spec}", "img", enabled=progress) as bar:
        try:
            return extract_in_memory(plan, dataset, widths, dtype, workers, bar.update, loaded.config.stages)
        except KeyboardInterrupt:
            raise Interrupted(_interrupted(bar.done, n, n, None)) from None


@contextlib.contextmanager
def _full_disk_named(backend: FeatureStore, arrays: dict[str, Any], n_images: int) -> Iterator[None]:
    """Turn a full disk (ENOSPC, EDQUOT) anywhere in planning, writing or consolidating into the StoreError of ``_disk_full``.

    ``arrays`` is filled as the arrays are opened, so the message counts what is safe at the moment it fails.
    """
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise StoreError(_disk_full(error, backend, arrays, n_images)) from error


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


def _disk_full(error: OSError, backend: FeatureStore, arrays: dict[str, Any], n_images: int) -> str:
    """A full disk mid-write: what is safe (values are written before ``done``), and that a rerun resumes."""
    try:
        safe = int(np.logical_and.reduce([a.done[:] | a.failed[:] for a in arrays.values()]).sum()) if arrays else 0
        saved = f"{safe} of {n_images} images are safely stored (a row is marked done only after its values)"
    except Exception:  # the store may be unreadable too; the advice stands
        saved, safe = "rows marked done are safe (a row is marked done only after its values)", 0
    left = f" with the {n_images - safe} left" if safe else ""
    return (
        f"The disk holding feature store {backend.url!r} is full ({error.strerror or error}): {saved}. "
        f"Free some space (or pass another store=) and run the same extract again: it resumes{left}."
    )


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(repr(a) for a in allowed)}.")


def _layer_names(layers: str | int | Sequence[str | int] | None) -> list[Any]:
    """The requested layers in order, duplicates dropped; ``[None]`` for the default layer."""
    if layers is None or isinstance(layers, (str, int)):
        return [layers]
    names = list(dict.fromkeys(layers))
    if not names:
        raise ConfigError("layers=[] names no layer; pass None for the backbone's default layer.")
    return names


def _open_store(store: str | os.PathLike[str] | FeatureStore) -> FeatureStore:
    """The store to write to (``store=None`` never gets here: it computes in memory)."""
    if isinstance(store, FeatureStore):
        return store
    return FeatureStore(default_store_url() if str(store) == DEFAULT_STORE else store)
