"""The engine's DataLoaders: decode in worker processes, fresh seeded random crops every epoch, test-time views.

Random crops are drawn from a generator seeded by ``(seed, epoch, image)``, where the image is named by
a hash of its file's **bytes**: the same photo gets the same crops under any path, id, row order,
batch, worker count or machine, and a resumed run draws exactly the crops of an uninterrupted one.
The same hash keys the :class:`~deepfeat_iqa.training._pixels.PixelCache`, so a photo is decoded once
for every epoch, split and fit.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from torch.utils.data import Dataset as TorchDataset

from deepfeat_iqa.extraction._loader import default_num_workers
from deepfeat_iqa.inputs.images import load_rgb
from deepfeat_iqa.inputs.views import Geometry, View
from deepfeat_iqa.training._pixels import PixelCache

#: A crop (``H x W x 3`` uint8) -> the network's input (``C x H x W`` float32); must be picklable. A
#: transform may also have ``stack(crops) -> N x C x H x W`` for equal-sized crops, giving the same values
#: in fewer, larger array operations; the loaders use it when present (the patch CNNs' ``GrayLCN`` has one:
#: 2.1x faster for 32-px patches; ``Normalize`` has none, per-crop is faster there).
InputTransform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Normalize:
    """The default input transform: RGB scaled to [0, 1], minus the backbone's mean, over its std."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        mean = np.asarray(self.mean, dtype=np.float32) * 255.0
        scale = 1.0 / (np.asarray(self.std, dtype=np.float32) * 255.0)
        return ((crop.astype(np.float32) - mean) * scale).transpose(2, 0, 1)


def content_id(path: Path) -> str:
    """A stable name for an image: 16 hex digits of the BLAKE2b hash of its file bytes.

    Remembered per process by ``(path, size, mtime)``, so the many fits of one evaluation hash each
    file once; a rewritten file has a new size or mtime and is hashed again.
    """
    stat = Path(path).stat()
    return _content_id(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=200_000)
def _content_id(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=8).hexdigest()


def resize_short_side(image: np.ndarray, short_side: int | None, geometry: Geometry) -> np.ndarray:
    """Resize so the shorter side is ``short_side`` (SPAQ shrinks its 4000-px photos so), keeping aspect."""
    if short_side is None:
        return image
    h, w = image.shape[:2]
    scale = short_side / min(h, w)
    return geometry.resize(image, max(1, round(h * scale)), max(1, round(w * scale)))


class _Images(TorchDataset):
    """Decoding shared by training and evaluation: file -> upright RGB (-> short side resized), cached."""

    def __init__(self, paths: Sequence[Path], geometry: Geometry, transform: InputTransform, short_side: int | None,
                 pixels: PixelCache | None = None):  # fmt: skip
        self.paths = [Path(p) for p in paths]
        self.geometry, self.transform, self.short_side, self.pixels = geometry, transform, short_side, pixels
        # Hashed here, in the main process, so workers inherit the names instead of hashing again.
        self.ids = [content_id(p) for p in self.paths] if pixels is not None else None

    def __len__(self) -> int:
        return len(self.paths)

    def _decode(self, row: int) -> np.ndarray:
        # A JPEG much larger than the short side it is resized to is decoded at a reduced scale first (libjpeg's
        # DCT scaling, never below short_side): a 12-MP photo for resize=512 decodes ~20x faster.
        return resize_short_side(load_rgb(self.paths[row], shrink_to=self.short_side), self.short_side, self.geometry)

    def _image(self, row: int) -> np.ndarray:
        if self.pixels is None:
            return self._decode(row)
        return self.pixels.image(self._pixel_key(row), lambda: self._decode(row))

    def _pixel_key(self, row: int) -> str:
        # "-dct": decoded at a reduced scale before the resize; entries of the full decode are not mixed in
        size = "native" if self.short_side is None else f"short{self.short_side}-{self.geometry.interpolation}-dct"
        return f"{self._content_id(row)}-{size}"

    def _content_id(self, row: int) -> str:
        return self.ids[row] if self.ids is not None else content_id(self.paths[row])

    def all_cached(self) -> bool:
        """Whether every image is already in the pixel cache (so loading is only cropping)."""
        return self.pixels is not None and all(self.pixels.holds(self._pixel_key(row)) for row in range(len(self)))

    def _stack(self, crops: list[np.ndarray]) -> torch.Tensor:
        stack = getattr(self.transform, "stack", None)
        if stack is not None and len({c.shape for c in crops}) == 1:
            return torch.from_numpy(np.ascontiguousarray(stack(crops)))
        return torch.from_numpy(np.stack([self.transform(c) for c in crops]))


class TrainCrops(_Images):
    """Item ``(row, epoch)`` -> ``(row, crops)``: ``count`` random crops of the image, fresh every epoch."""

    def __init__(self, paths: Sequence[Path], geometry: Geometry, transform: InputTransform, short_side: int | None,
                 *, count: int, seed: int, pixels: PixelCache | None = None):
        super().__init__(paths, geometry, transform, short_side, pixels)
        self.count, self.seed = int(count), int(seed)

    def __getitem__(self, item: tuple[int, int]) -> tuple[int, torch.Tensor]:
        row, epoch = item
        view = View("random", self.geometry, count=self.count, seed=self.seed)
        # The views seed random crops by (seed, image id); the epoch joins the id so every epoch differs.
        crops = view.crops(self._image(row), f"{self._content_id(row)}/epoch{epoch}")
        return row, self._stack(crops)


class ViewCrops(_Images):
    """Item ``row`` -> ``(row, crops)``: the test-time views of the image (``grid``, ``randomN``, ``center``...)."""

    def __init__(self, paths: Sequence[Path], view: View, transform: InputTransform, short_side: int | None,
                 pixels: PixelCache | None = None):
        super().__init__(paths, view.geometry, transform, short_side, pixels)
        self.view = view

    def __getitem__(self, row: int) -> tuple[int, torch.Tensor]:
        image = self._image(row)
        image_id = self._content_id(row) if self.view.name == "random" else ""
        return row, self._stack(self.view.crops(image, image_id))


class EpochBatches(Sampler[list[tuple[int, int]]]):
    """Shuffled batches of ``(row, epoch)`` items, one order per ``(seed, epoch)``; the last partial batch is dropped.

    The epoch travels inside each item, so persistent workers (started once) still draw the crops of
    the epoch being run. Dropping the last partial batch keeps batch norm away from batches of one.
    """

    def __init__(self, n_rows: int, batch_size: int, seed: int):
        self.n_rows, self.batch_size, self.seed, self.epoch = int(n_rows), int(batch_size), int(seed), 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = np.random.default_rng([self.seed, self.epoch, 0x5EED]).permutation(self.n_rows)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield [(int(r), self.epoch) for r in order[start : start + self.batch_size]]

    def __len__(self) -> int:
        return self.n_rows // self.batch_size


def _collate(items: list[tuple[int, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Rows, all crops stacked (NumPy stacks: torch.stack stalls on oversubscribed CPUs), crops per row."""
    rows = torch.as_tensor([row for row, _ in items], dtype=torch.int64)
    counts = [int(crops.shape[0]) for _, crops in items]
    if len({tuple(c.shape[1:]) for _, c in items}) == 1:
        x = torch.from_numpy(np.concatenate([crops.numpy() for _, crops in items]))
    else:  # the "full" view keeps native sizes: one image per forward
        x = [crops for _, crops in items]  # type: ignore[assignment]
    return rows, x, counts


def _init_worker(_: int) -> None:
    torch.set_num_threads(1)  # decoding is single-threaded; keep workers off the model's cores


def workers(num_workers: int | None, dataset: _Images, device: torch.device) -> int:
    """Decoding workers for ``dataset``: the setting, or by default none on a CPU when every image is cached.

    On a CPU the network's threads already use every core; a worker process is worth its share of
    them only while there is decoding to overlap. Once the pixel cache holds every image, loading is
    cropping (about 0.5 ms per image against tens of ms for the training step), done faster in-process
    than shipped from a worker (measured: 0.88x the bare loop in-process vs 0.72x with one worker,
    EfficientNet-Lite0 on 2 cores). On a GPU workers keep it fed either way.
    """
    if num_workers is not None:
        return int(num_workers)
    if device.type == "cpu" and dataset.all_cached():
        return 0
    return default_num_workers()


def train_loader(dataset: TrainCrops, sampler: EpochBatches, num_workers: int) -> DataLoader:
    """Persistent workers (started once per fit), two batches prefetched per worker."""
    return DataLoader(
        dataset, batch_sampler=sampler, num_workers=num_workers, collate_fn=_collate,
        worker_init_fn=_init_worker if num_workers else None, prefetch_factor=2 if num_workers else None,
        persistent_workers=bool(num_workers), pin_memory=torch.cuda.is_available(),
    )  # fmt: skip


def view_loader(dataset: ViewCrops, batch_size: int, num_workers: int) -> DataLoader:
    rows = list(range(len(dataset)))
    batches = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    n = min(num_workers, len(batches) - 1) if len(batches) > 1 else 0  # one batch: a worker costs more than it overlaps
    return DataLoader(
        dataset, batch_sampler=batches, num_workers=n, collate_fn=_collate,
        worker_init_fn=_init_worker if n else None, prefetch_factor=2 if n else None,
    )  # fmt: skip
