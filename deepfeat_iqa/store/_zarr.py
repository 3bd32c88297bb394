"""The zarr v3 feature store: pooled features per (dataset, backbone, weights, layer, pooling, views, precision).

Layout (see ``docs/store.md``)::

    features.zarr/
      <dataset-key>/index/{ids,paths,size,mtime_ns}       one row per image; a changed file invalidates its row
      <dataset-key>/<backbone>@<sha8>/<layer>/<pooling>/<views>/<precision>/
          values    float16|float32 (n_images, n_views, dim), NaN until written, chunked by rows
          done      bool (n_images,)    True only after the row's values are written
          failed    bool (n_images,)    decoding failed under on_error="skip"
          error     str  (n_images,)    the failure message of each failed row ("" otherwise)
          n_crops   int32 (n_images,)   crops that went into the row (grid/patches average a varying count)
          attrs     everything that decides what the numbers mean (weights sha256, input size, mean/std, ...)

Every array is created with the codec chain ``bytes -> zstd -> crc32c`` (:data:`CHUNK_CODECS`): the last
codec appends a CRC-32C of the compressed chunk, so a truncated or bit-flipped chunk fails on read instead
of decoding into wrong numbers (``deepfeat_iqa.store._damage`` names it; ``extract`` re-extracts its rows).
Arrays written before checksums keep working without one (zstd still catches most damage, not all).

Every per-row record is an array chunked like ``values``, so a writer that owns a block of whole chunks
writes all of its rows' state without touching anyone else's bytes: several processes (or Dask workers)
fill disjoint blocks of one array at once, values before ``done``, and a crash leaves ``done`` false for
unfinished rows only. Nothing is ever created with ``overwrite``: an array another writer already made is
reused as it is. Any fsspec URL works (``memory://``, ``s3://``, ...); a plain path is a local directory.
"""

from __future__ import annotations

import logging
import math
import os
import re
import warnings
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import StoreError
from deepfeat_iqa.paths import cache_dir
from deepfeat_iqa.store._damage import describe_array, read_checked

log = logging.getLogger(__name__)


#: Storage dtype rule for ``dtype="auto"``: features wider than this are kept as float16 (half the disk,
#: and pooled ImageNet features keep ~3 significant digits, far beyond what a regression head resolves).
FLOAT16_ABOVE_DIM = 4096

#: Largest number of feature dims in one chunk, so ``flatten`` features of early layers stay readable.
_MAX_CHUNK_DIM = 1 << 18

#: Uncompressed bytes of ``values`` aimed at per chunk: large enough that object stores (s3) see few,
#: big requests, small enough that one Dask task (one block) holds little in memory and resumes cheaply.
CHUNK_BYTES = 8 << 20
#: Chunks are at most this many rows (and at least ``MIN_CHUNK_ROWS``, unless the dataset is smaller).
MAX_CHUNK_ROWS = 8192
MIN_CHUNK_ROWS = 8
#: A dataset is cut into at least this many chunks (when rows allow) so a cluster has blocks to share.
MIN_BLOCKS = 8

#: Bytes-to-bytes codecs of every new array: zarr's default zstd, then a CRC-32C of the compressed bytes,
#: so damage is detected before decompression (and is never decoded into plausible numbers).
CHUNK_CODECS = (ZstdCodec(level=0, checksum=False), Crc32cCodec())

# Fields that must agree between a request and an existing array; anything else is only informative.
_CONFIG_FIELDS = (
    "backbone", "weights_sha256", "layer", "pooling", "views", "precision", "input_size", "mean", "std",
    "interpolation", "crop_pct", "n_views", "dataset_fingerprint",
)  # fmt: skip


def _suppress_exists() -> suppress:
    """Ignore zarr's "already exists": another writer created the same array first, which is fine."""
    return suppress(zarr.errors.ContainsArrayError, zarr.errors.ContainsGroupError)


def _require_group(root: zarr.Group, path: str) -> zarr.Group:
    """``root.require_group(path)``, tolerating a writer that creates the same group at the same moment."""
    try:
        return root.require_group(path)
    except (zarr.errors.ContainsGroupError, zarr.errors.ContainsArrayError, FileExistsError):
        return root[path]


def default_store_url() -> str:
    """``$DEEPFEAT_IQA_CACHE/features.zarr``, else ``~/.cache/deepfeat-iqa/features.zarr``."""
    return str(cache_dir() / "features.zarr")


@dataclass(frozen=True)
class ArraySpec:
    """What one feature array holds; the first six fields form its path, all are checked on reuse.

    Attributes
    ----------
    backbone, layer, pooling, views, precision:
        As in :class:`~deepfeat_iqa.features._sets.FeatureKey` (``layer`` is the module path).
    weights_sha256:
        ``"sha256:<hex>"`` of the loaded weights; its first 8 hex digits are in the path.
    weights_source:
        Where the weights came from (informative; not compared).
    input_size:
        ``(C, H, W)`` network input.
    mean, std:
        Normalization applied to the pixels.
    interpolation, crop_pct:
        Resampling filter and center-crop fraction used by the views.
    n_views:
        Views stored per image.
    dataset_fingerprint:
        :meth:`Dataset.fingerprint` of the rows.
    versions:
        Library versions that wrote the array (informative; not compared).
    """

    backbone: str
    weights_sha256: str
    layer: str
    pooling: str
    views: str
    precision: str
    weights_source: str
    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str
    crop_pct: float
    n_views: int
    dataset_fingerprint: str
    versions: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        sha8 = self.weights_sha256.split(":")[-1][:8]
        return "/".join((f"{self.backbone}@{sha8}", self.layer, self.pooling, self.views, self.precision))

    def attrs(self) -> dict[str, Any]:
        """JSON-ready attributes (tuples as lists, as zarr stores them)."""
        record = asdict(self)
        record["versions"] = dict(self.versions)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in record.items()}


def chunk_rows_for(n_images: int, n_views: int, dim: int, itemsize: int) -> int:
    """Rows per chunk chosen for the data: ~:data:`CHUNK_BYTES` of values, and at least :data:`MIN_BLOCKS` blocks.

    Independent of ``batch_size`` (which only sets how many crops go through the network at once), so
    a store written with one batch size is filled, resumed and read block for block with any other.
    """
    by_bytes = CHUNK_BYTES // max(1, n_views * min(dim, _MAX_CHUNK_DIM) * itemsize)
    by_blocks = math.ceil(n_images / MIN_BLOCKS)
    rows = max(MIN_CHUNK_ROWS, min(by_bytes, by_blocks, MAX_CHUNK_ROWS))
    return max(1, min(rows, n_images))


def dataset_key(dataset: Dataset) -> str:
    """``<name>-<fingerprint>``, with characters that are unsafe in store paths replaced by ``_``."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", dataset.name) or "images"
    return f"{name}-{dataset.fingerprint()}"


def file_stats(paths: Sequence[str | Path]) -> tuple[np.ndarray, np.ndarray]:
    """``(size, mtime_ns)`` per file, ``-1`` for files that cannot be stat'ed (they fail at decode)."""
    sizes = np.full(len(paths), -1, dtype=np.int64)
    mtimes = np.full(len(paths), -1, dtype=np.int64)
    for i, path in enumerate(paths):
        try:
            stat = os.stat(path)
        except OSError:
            continue
        sizes[i], mtimes[i] = stat.st_size, stat.st_mtime_ns
    return sizes, mtimes


class FeatureArray:
    """One feature array of the store: values plus its ``done``/``failed``/``error``/``n_crops`` row arrays."""

    def __init__(self, group: zarr.Group):
        self.group = group
        self.values: zarr.Array = group["values"]
        self.done: zarr.Array = group["done"]
        self.failed: zarr.Array = group["failed"]
        self.n_crops: zarr.Array = group["n_crops"]
        # Stores written before per-row messages existed keep them in failed.attrs; new failures need the array.
        self.error: zarr.Array | None = group["error"] if "error" in group.array_keys() else None

    @property
    def chunk_rows(self) -> int:
        return int(self.values.chunks[0])

    @property
    def dim(self) -> int:
        return int(self.values.shape[2])

    def write(self, rows: np.ndarray, values: np.ndarray, n_crops: np.ndarray) -> None:
        """Store ``values`` for ``rows``, then mark them done (in that order, so a crash never lies)."""
        data = as_stored(values, self.values.dtype, self.group.path)
        selection = _selection(rows)
        self.values[selection] = data
        self.n_crops[selection] = np.asarray(n_crops, dtype=np.int32)
        self.failed[selection] = False
        self.done[selection] = True

    def fail(self, rows: np.ndarray, messages: Sequence[str]) -> None:
        """Record rows whose image could not be read (``on_error="skip"``): message first, flag last.

        Each row's message lives in its own cell of ``error``, written by the row's block owner, so
        concurrent writers never read-modify-write a shared record.
        """
        if self.error is None:
            raise StoreError(
                f"{self.group.path!r} was written by an older deepfeat-iqa without per-row failure records; "
                "delete that group (it is re-extracted) to record failures in it."
            )
        selection = _selection(rows)
        self.error[selection] = np.asarray(list(messages), dtype=str)
        self.failed[selection] = True

    def errors(self) -> dict[int, str]:
        """Recorded failures, row -> message."""
        failed = np.flatnonzero(self.failed[:])
        if self.error is None or not failed.size:
            return {int(r): m for r, m in self.failed.attrs.get("errors", {}).items()}
        messages = self.error.oindex[failed]
        return {int(r): str(m) for r, m in zip(failed, messages)}

    def read(self) -> np.ndarray:
        """All values as a NumPy array ``(n_images, n_views, dim)``."""
        return np.asarray(self.values[...])


def as_stored(values: np.ndarray, dtype: np.dtype | str, where: str) -> np.ndarray:
    """``values`` in the storage dtype, warning (naming ``where``) when finite features overflow float16."""
    data = np.asarray(values, dtype=dtype)
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all() and np.isfinite(values).all():
        log.warning("%s: some features overflow %s and are stored as inf; pass dtype='float32'.", where, data.dtype)
    return data


def _selection(rows: np.ndarray) -> slice | np.ndarray:
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size and np.array_equal(rows, np.arange(rows[0], rows[0] + rows.size)):
        return slice(int(rows[0]), int(rows[0]) + rows.size)
    return rows


class FeatureStore:
    """A zarr group holding feature arrays for any number of datasets and backbones.

    Parameters
    ----------
    url:
        Local directory (created if missing) or any fsspec URL (``memory://feats``, ``s3://bucket/feats.zarr``).

    Examples
    --------
    >>> store = FeatureStore("memory://doctest-store")
    >>> store.url
    'memory://doctest-store'
    """

    def __init__(self, url: str | os.PathLike[str]):
        text = str(url)
        if "://" not in text:
            local = Path(text).expanduser()
            if local.exists() and not local.is_dir():
                raise StoreError(f"Feature store {text!r} is a file, not a directory; pass a directory or an fsspec URL.")
            local.mkdir(parents=True, exist_ok=True)
            text = str(local)
        self.url, location = text, text
        try:
            # Never trust consolidated metadata while writing: another writer may have added arrays since.
            try:
                self.root = zarr.open_group(location, mode="a", zarr_format=3, use_consolidated=False)
            except zarr.errors.ContainsGroupError:  # another writer created the root between check and create
                self.root = zarr.open_group(location, mode="r+", zarr_format=3, use_consolidated=False)
        except Exception as error:  # zarr/fsspec raise many types; the message names the fix either way
            raise StoreError(f"Cannot open feature store {self.url!r} as a zarr v3 group ({error}). Pass another store= path.") from error

    # -- index ---------------------------------------------------------------------------------------
    def sync_index(self, dataset: Dataset) -> tuple[str, np.ndarray]:
        """Record the dataset's files; return its key and the rows whose file changed since last time.

        Changed rows (size or mtime differ) are invalidated in every feature array of the dataset, so
        they are extracted again whatever backbone or layer is asked for next.
        """
        key = dataset_key(dataset)
        sizes, mtimes = file_stats(dataset.paths)
        n = len(dataset)
        if f"{key}/index" not in self.root or "mtime_ns" not in self.root[f"{key}/index"]:
            index = _require_group(self.root, f"{key}/index")
            chunks = (max(1, min(n, 65536)),)
            # ``mtime_ns`` last: its presence says the index is complete. Two writers indexing the same
            # dataset at once write identical bytes; neither ever deletes what the other made.
            for name, data in (
                ("ids", np.asarray(dataset.ids, dtype=str)),
                ("paths", np.asarray([str(p) for p in dataset.paths], dtype=str)),
                ("size", sizes),
                ("mtime_ns", mtimes),
            ):
                with _suppress_exists():
                    index.create_array(
                        name, shape=(n,), chunks=chunks, dtype=data.dtype if name in ("size", "mtime_ns") else str, compressors=CHUNK_CODECS
                    )
                index[name][:] = data
            return key, np.zeros(0, dtype=np.int64)
        index = self.root[f"{key}/index"]
        fresh = {"ids": np.asarray(dataset.ids, dtype=str), "paths": np.asarray([str(p) for p in dataset.paths], dtype=str), "size": sizes, "mtime_ns": mtimes}
        stored, rewritten = {}, np.zeros(n, dtype=bool)
        for name, data in fresh.items():
            stored[name], damage = read_checked(index[name])
            for d in damage:  # the key's fingerprint covers ids and paths, so the dataset says what was there
                log.warning("Rewriting a damaged chunk of %s (%s, %s) from the dataset.", self.url, describe_array(d.array), d.rows)
                index[name][d.start : d.stop] = data[d.start : d.stop]  # a full-chunk write never reads the damage
                stored[name][d.start : d.stop] = data[d.start : d.stop]
                rewritten[d.start : d.stop] |= name in ("size", "mtime_ns")  # unknown stats: recompute those rows
        stored_ids = [str(i) for i in stored["ids"]]
        if stored_ids != list(dataset.ids):
            raise StoreError(
                f"Store {self.url!r} holds an index at {key!r} for other image ids; delete that group "
                "or use another store= path."
            )
        changed = np.flatnonzero((stored["size"] != sizes) | (stored["mtime_ns"] != mtimes) | rewritten)
        if changed.size:
            log.info("%d image files changed since they were indexed; their rows will be extracted again.", changed.size)
            # Chunks that become all False are written, not dropped as zarr drops fill-valued chunks: a done
            # chunk file missing beside written values is how store._verify recognises a deleted file, and
            # files that merely changed must not be reported (and "repaired") as damage.
            with zarr.config.set({"array.write_empty_chunks": True}):
                for name in self._done_arrays(key):
                    group = self.root[name]
                    group["done"].oindex[changed] = False
                    group["failed"].oindex[changed] = False
            index["size"].oindex[changed] = sizes[changed]
            index["mtime_ns"].oindex[changed] = mtimes[changed]
        return key, changed

    def _done_arrays(self, key: str) -> list[str]:
        """Paths of every feature-array group under a dataset key."""
        return [f"{key}/{name[: -len('/done')]}" for name, _ in self.root[key].members(max_depth=None) if name.endswith("/done")]

    # -- arrays ----------------------------------------------------------------------------------------
    def find(self, key: str, spec: ArraySpec) -> FeatureArray | None:
        """The existing array for ``spec``, after checking it was written with the same config."""
        path = f"{key}/{spec.path}"
        if path not in self.root or "values" not in self.root[path]:
            return None
        group = self.root[path]
        stored, wanted = dict(group.attrs), spec.attrs()
        diffs = [f"{f}: stored {stored.get(f)!r}, requested {wanted[f]!r}" for f in _CONFIG_FIELDS if stored.get(f) != wanted[f]]
        if diffs:
            raise StoreError(
                f"Feature array {path!r} in {self.url!r} was written with another configuration ("
                + "; ".join(diffs)
                + "). Features are never mixed: delete that group, or pass another store= path."
            )
        return FeatureArray(group)

    def create(self, key: str, spec: ArraySpec, *, n_images: int, dim: int, dtype: str, chunk_rows: int) -> FeatureArray:
        """Create the arrays for ``spec`` (values NaN, nothing done), attributes first and ``values`` last.

        ``values`` is the completion marker :meth:`find` looks for. Nothing is overwritten: a row array
        left by a run killed half-way through creating the group is reused when its layout matches, and
        an array another writer created meanwhile is opened as it is (its rows may already be filling).
        """
        group = _require_group(self.root, f"{key}/{spec.path}")
        if "values" not in group.array_keys():
            group.attrs.update({**spec.attrs(), "dim": dim, "dtype": dtype})
        rows = max(1, min(chunk_rows, n_images))
        for name, kind, fill in (("done", bool, False), ("failed", bool, False), ("error", str, ""), ("n_crops", np.int32, 0)):
            self._require(group, name, (n_images,), (rows,), kind, fill, ("image",))
        self._require(
            group, "values", (n_images, spec.n_views, dim), (rows, spec.n_views, min(dim, _MAX_CHUNK_DIM)),
            dtype, np.nan, ("image", "view", "feature"),
        )  # fmt: skip
        created = self.find(key, spec)  # re-read: a writer of another configuration may have won the race
        assert created is not None  # values exists now
        return created

    def _require(
        self, group: zarr.Group, name: str, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any, fill: Any, dims: tuple[str, ...]
    ) -> zarr.Array:
        """Create one array unless it exists; an existing one must have the layout asked for."""
        if name not in group.array_keys():
            with _suppress_exists():
                group.create_array(
                    name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill, dimension_names=dims, compressors=CHUNK_CODECS
                )
        array = group[name]
        if tuple(array.shape) != shape or (name == "values" and tuple(array.chunks) != chunks):
            raise StoreError(
                f"{group.path}/{name} in {self.url!r} has shape {tuple(array.shape)} and chunks {tuple(array.chunks)}, "
                f"not {shape} and {chunks}; it was made for other data. Delete that group or pass another store= path."
            )
        return array

    def add_error_array(self, array: FeatureArray) -> FeatureArray:
        """Give an array from an older version its per-row ``error`` record (chunked like its rows)."""
        if array.error is None:
            self._require(array.group, "error", (array.values.shape[0],), (array.chunk_rows,), str, "", ("image",))
        return FeatureArray(array.group)

    def consolidate(self, key: str, spec: ArraySpec) -> None:
        """Consolidate one feature group's metadata, so readers (s3 above all) open it with one request.

        Only the finished group is consolidated, never the root, so writers of other arrays are unaffected.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            zarr.consolidate_metadata(self.root.store, path=f"{self.root.path}/{key}/{spec.path}".strip("/"), zarr_format=3)


def storage_dtype(dim: int, dtype: str) -> str:
    """Resolve ``dtype="auto"`` (float16 above :data:`FLOAT16_ABOVE_DIM` dims, else float32)."""
    if dtype == "auto":
        return "float16" if dim > FLOAT16_ABOVE_DIM else "float32"
    return dtype
