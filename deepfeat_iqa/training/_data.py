"""The engine's DataLoaders: decode in worker processes, fresh seeded random crops every epoch, test-time views.

Random crops are drawn from a generator seeded by ``(seed, epoch, image)``, where the image is named by
a hash of its file's **bytes**: the same photo gets the same crops under any path, id, row order,
batch, worker count or machine, and a resumed run draws exactly the crops of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from torch.utils.data import Dataset as TorchDataset

from .._loader import default_num_workers
from ..images import load_rgb
from ..views import Geometry, View

#: A crop (``H x W x 3`` uint8) -> the network's input (``C x H x W`` float32); must be picklable.
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
    """A stable name for an image: 16 hex digits of the BLAKE2b hash of its file bytes."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=8).hexdigest()


def resize_short_side(image: np.ndarray, short_side: int | None, geometry: Geometry) -> np.ndarray:
    """Resize so the shorter side is ``short_side`` (SPAQ shrinks its 4000-px photos so), keeping aspect."""
    if short_side is None:
        return image
    h, w = image.shape[:2]
    scale = short_side / min(h, w)
    return geometry.resize(image, max(1, round(h * scale)), max(1, round(w * scale)))


class _Images(TorchDataset):
    """Decoding shared by training and evaluation: file -> upright RGB (-> short side resized)."""

    def __init__(self, paths: Sequence[Path], geometry: Geometry, transform: InputTransform, short_side: int | None):
        self.paths = [Path(p) for p in paths]
        self.geometry, self.transform, self.short_side = geometry, transform, short_side
        self._ids: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def _image(self, row: int) -> np.ndarray:
        return resize_short_side(load_rgb(self.paths[row]), self.short_side, self.geometry)

    def _content_id(self, row: int) -> str:
        if row not in self._ids:  # one hash per image per worker; the bytes are in the page cache anyway
            self._ids[row] = content_id(self.paths[row])
        return self._ids[row]

    def _stack(self, crops: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.transform(c) for c in crops]))


class TrainCrops(_Images):
    """Item ``(row, epoch)`` -> ``(row, crops)``: ``count`` random crops of the image, fresh every epoch."""

    def __init__(self, paths: Sequence[Path], geometry: Geometry, transform: InputTransform, short_side: int | None,
                 *, count: int, seed: int):
        super().__init__(paths, geometry, transform, short_side)
        self.count, self.seed = int(count), int(seed)

    def __getitem__(self, item: tuple[int, int]) -> tuple[int, torch.Tensor]:
        row, epoch = item
        view = View("random", self.geometry, count=self.count, seed=self.seed)
        # The views seed random crops by (seed, image id); the epoch joins the id so every epoch differs.
        crops = view.crops(self._image(row), f"{self._content_id(row)}/epoch{epoch}")
        return row, self._stack(crops)


class ViewCrops(_Images):
    """Item ``row`` -> ``(row, crops)``: the test-time views of the image (``grid``, ``randomN``, ``center``...)."""

    def __init__(self, paths: Sequence[Path], view: View, transform: InputTransform, short_side: int | None):
        super().__init__(paths, view.geometry, transform, short_side)
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


def workers(num_workers: int | None) -> int:
    return default_num_workers() if num_workers is None else int(num_workers)


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
