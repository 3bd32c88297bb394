"""Row selections of a zarr feature array that read nothing until asked, then only the rows selected.

A ``FeatureSet`` over a store of a million images costs a few KB until ``X`` is read; a train/test
split slices row indices, not data; and reading walks the selection a group of chunks at a time, so
memory follows the rows selected, never the size of the store.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import zarr

from deepfeat_iqa.store._damage import raise_if_damaged

#: Chunks read per request when walking a selection (bounds the memory of one read step).
_CHUNKS_PER_READ = 16


class LazyRows:
    """Rows ``rows`` (in that order) of a zarr array ``(n_images, n_views, dim)``; read on demand.

    Indexing with an int, slice or index array reads just those rows as NumPy; :meth:`take` selects
    further rows without reading; ``np.asarray`` reads the whole selection.
    """

    def __init__(self, array: zarr.Array, rows: np.ndarray | None = None):
        self.array = array
        self.rows = np.arange(array.shape[0], dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, ...]:
        return (int(self.rows.size), *(int(s) for s in self.array.shape[1:]))

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype)

    @property
    def ndim(self) -> int:
        return len(self.array.shape)

    def __len__(self) -> int:
        return int(self.rows.size)

    def take(self, rows: np.ndarray) -> LazyRows:
        """A further selection (positions into this one), still unread."""
        return LazyRows(self.array, self.rows[np.asarray(rows, dtype=np.int64)])

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):  # rows first, then NumPy indexing of the rows read
            rows, rest = key[0], key[1:]
            return self[rows][rest if isinstance(rows, (int, np.integer)) else (slice(None), *rest)]
        if isinstance(key, (int, np.integer)):
            return self.take(np.asarray([key])).read()[0]
        if isinstance(key, slice):
            return self.take(np.arange(len(self))[key]).read()
        index = np.asarray(key)
        return self.take(np.flatnonzero(index) if index.dtype == bool else index).read()

    def read(self, reduce_views: bool = False) -> np.ndarray:
        """The selected rows as NumPy, in selection order; ``reduce_views`` averages views in float32 as it goes."""
        n_views, dim = self.array.shape[1], self.array.shape[2]
        out = np.empty((len(self), 1 if reduce_views else n_views, dim), dtype=np.float32 if reduce_views else self.dtype)
        if not len(self):
            return out[:, 0] if reduce_views else out
        order = np.argsort(self.rows, kind="stable")
        ordered = self.rows[order]
        chunk = int(self.array.chunks[0])
        step = chunk * _CHUNKS_PER_READ
        starts = np.searchsorted(ordered, np.arange(0, int(ordered[-1]) + 1 + step, step))
        for lo, hi in pairwise(starts):
            if lo == hi:
                continue
            wanted = ordered[lo:hi]
            unique, inverse = np.unique(wanted, return_inverse=True)
            try:
                if unique[-1] - unique[0] + 1 == unique.size:
                    part = self.array[int(unique[0]) : int(unique[-1]) + 1]
                else:
                    part = self.array.oindex[unique]
            except Exception as error:  # a damaged chunk: name store, array, rows and the fix
                raise_if_damaged(self.array, int(unique[0]), int(unique[-1]) + 1, error)
                raise
            part = np.asarray(part)[inverse]
            out[order[lo:hi]] = part.astype(np.float32).mean(axis=1, keepdims=True) if reduce_views else part
        return out[:, 0] if reduce_views else out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = self.read()
        return values if dtype is None else values.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"LazyRows({self.array.path!r}, shape={self.shape}, dtype={self.dtype})"


def take_rows(values: np.ndarray | LazyRows, rows: np.ndarray) -> np.ndarray | LazyRows:
    """Rows of an in-memory or lazy array, keeping a lazy one lazy."""
    return values.take(rows) if isinstance(values, LazyRows) else np.asarray(values)[rows]


def mean_over_views(values: np.ndarray | LazyRows) -> np.ndarray:
    """``(n, dim)`` float32 mean over views, reading a lazy array a few chunks at a time."""
    if isinstance(values, LazyRows):
        return values.read(reduce_views=True)
    return np.asarray(values, dtype=np.float32).mean(axis=1)
