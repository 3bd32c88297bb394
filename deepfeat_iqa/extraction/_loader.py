"""The DataLoader side of extraction: decode and crop images in worker processes.

Crops travel as ``uint8`` and are normalized where the forward runs (:func:`extraction._forward.pooled_features`):
a quarter of the bytes through the worker pipe (and to a GPU), and one vectorized torch operation per batch
instead of a NumPy pass per crop in the worker.

Batches are cut on a fixed grid inside each block (one batch never spans two blocks), so each batch is
written by the block's one writer, and a resumed run, or a Dask worker, sees exactly the batches an
uninterrupted single-process run would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from torch.utils.data import Dataset as TorchDataset

from deepfeat_iqa.errors import DataError
from deepfeat_iqa.inputs.images import MIN_IMAGE_SIDE, content_digest, load_rgb
from deepfeat_iqa.inputs.views import View
from deepfeat_iqa.runtime.machine import usable_cores


@dataclass
class Item:
    """One decoded image: its crops as a ``uint8`` tensor ``(V, H, W, 3)``, or the decode error.

    ``weights``: what its crops are averaged with when the view reduces them (``grid@center``), else None.
    """

    row: int
    crops: torch.Tensor | None
    error: str | None = None
    weights: np.ndarray | None = None


class ViewDataset(TorchDataset):
    """Rows of a dataset turned into crops; decode errors are returned, not raised.

    Returning the error lets the main process apply ``on_error`` with the file's name, whichever
    worker hit it.
    """

    def __init__(self, ids: Sequence[str], paths: Sequence[Path], view: View):
        self.ids, self.paths, self.view = ids, paths, view

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, row: int) -> Item:
        try:
            image = load_rgb(self.paths[row], min_side=MIN_IMAGE_SIDE, shrink_to=self.view.max_short_side())
            # Random crops are seeded by the file's bytes, not its id or path: the same photo gets the same
            # crops (and features) whichever loader, folder spelling or CLI reached it.
            identity = content_digest(self.paths[row]) if self.view.seeded_by_content else ""
            crops = self.view.crops(image, identity)
        except DataError as error:
            return Item(row, None, str(error))
        return Item(row, torch.from_numpy(np.stack(crops)), weights=self.view.reduce_weights(*image.shape[:2]))


class GridBatches(Sampler[list[int]]):
    """Pending rows grouped by grid cell: ``batch_size`` rows per cell, cells restarting at every block."""

    def __init__(self, rows: np.ndarray, block_rows: int, batch_size: int):
        rows = np.sort(np.asarray(rows, dtype=np.int64))
        cell = (rows // block_rows) * block_rows + ((rows % block_rows) // batch_size) * batch_size
        self.batches: list[list[int]] = [[int(r) for r in rows[cell == c]] for c in np.unique(cell)]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _collate(items: list[Item]) -> list[Item]:
    return items


def _init_worker(_: int) -> None:
    # Decoding is single-threaded anyway; keep workers from competing with the model for cores.
    torch.set_num_threads(1)


def default_num_workers() -> int:
    """Worker processes when ``num_workers=None``: all cores but one for the model, at most 8."""
    return max(0, min(8, usable_cores() - 1))


#: Up to this many cores, extraction on the CPU decodes in-process by default (see :func:`extraction_workers`).
IN_PROCESS_DECODE_CORES = 2


def extraction_workers(device: torch.device) -> int:
    """Decoding workers of an extraction when ``num_workers=None``.

    On a CPU with two cores or fewer, none: the forward's threads already keep every core busy, so a
    worker process cannot overlap anything and adds the pipe its crops travel through. Measured on 2
    cores (EfficientNet-Lite0/1/2, 48 clive-dev photos of 500x500): one worker was slower for every
    member, by 6-10 ms a photo (Lite0 whole photo 75.8 vs 65.8 ms, 224-px grid crops 123.5 vs 117.5);
    on 12-MP photos one worker was no faster (7.5 vs 7.4-8.1 img/s; docs/extraction.md). With more
    cores, and on GPUs, workers take decoding off the forward's path (:func:`default_num_workers`).
    """
    if device.type == "cpu" and usable_cores() <= IN_PROCESS_DECODE_CORES:
        return 0
    return default_num_workers()


def make_loader(dataset: ViewDataset, rows: np.ndarray, block_rows: int, batch_size: int, num_workers: int) -> DataLoader:
    """A DataLoader yielding lists of :class:`Item`, one list per grid batch (see :class:`GridBatches`)."""
    return DataLoader(
        dataset,
        batch_sampler=GridBatches(rows, block_rows, batch_size),
        num_workers=num_workers,
        collate_fn=_collate,
        worker_init_fn=_init_worker if num_workers else None,
        prefetch_factor=2 if num_workers else None,
        persistent_workers=False,
    )
