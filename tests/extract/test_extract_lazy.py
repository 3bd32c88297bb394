"""Lazy features: nothing is read until X is asked for, subsets read only their rows' chunks, X is cached."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
import zarr

import deepfeat_iqa as dfi
from deepfeat_iqa.features._lazy import LazyRows, mean_over_views
from deepfeat_iqa.features._sets import LayerFeatures

FAST = {"model": "resnet18", "weights": "random", "num_workers": 0, "progress": False, "layer": "layer2", "batch_size": 2}


def _chunks_read(caplog: pytest.LogCaptureFixture) -> set[str]:
    """Chunk keys a zarr LoggingStore reported reading."""
    return {m.group(1) for r in caplog.records if (m := re.search(r"Calling \w+\.get\((c/[^)]*)\)", r.getMessage()))}


def _big_array(path: Path, n: int = 1_000_000, dim: int = 2048) -> zarr.Array:
    """A 1M x 2048 float16 feature array (4 GB if read whole); only two chunks are ever written."""
    array = zarr.create_array(str(path), shape=(n, 1, dim), chunks=(2048, 1, dim), dtype="float16", fill_value=np.nan)
    array[:2048] = np.full((2048, 1, dim), 1.0, np.float16)
    array[n - 2048 :] = np.full((2048, 1, dim), 2.0, np.float16)
    return array


def test_a_million_by_2048_float16_store_is_sliced_without_loading_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _big_array(tmp_path / "big.zarr")
    caplog.set_level(logging.INFO)
    logged = zarr.storage.LoggingStore(zarr.storage.LocalStore(str(tmp_path / "big.zarr")), log_level="INFO")
    lazy = LazyRows(zarr.open_array(logged, mode="r"))
    picked = lazy.take(np.array([999_999, 5, 1_000, 999_500]))
    assert lazy.shape == (1_000_000, 1, 2048) and picked.shape == (4, 1, 2048)
    assert not _chunks_read(caplog)  # opening and selecting read no chunk
    X = mean_over_views(picked)
    assert X.dtype == np.float32 and X[:, 0].tolist() == [2.0, 1.0, 1.0, 2.0]  # selection order kept
    assert _chunks_read(caplog) == {"c/0/0/0", "c/488/0/0"}  # only the chunks holding those rows (of 489)
    assert lazy[3].shape == (1, 2048) and lazy[10:12].shape == (2, 1, 2048) and lazy[[1, 2], 0].shape == (2, 2048)


def test_extract_returns_lazy_rows_read_once_and_subsets_stay_lazy(photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lf = dfi.extract(photo_dir, store=tmp_path / "f.zarr", **FAST)["layer2"]
    assert isinstance(lf.per_view, LazyRows) and len(lf) == 5 and lf.dim == 128
    part = lf.subset([4, 0])
    assert isinstance(part.per_view, LazyRows) and part.per_view.rows.tolist() == [4, 0]
    reads = []
    original = LazyRows.read
    monkeypatch.setattr(LazyRows, "read", lambda self, *a, **k: reads.append(len(self)) or original(self, *a, **k))
    X = lf.X
    assert lf.X is X and reads == [5]  # read once, then cached
    np.testing.assert_array_equal(part.X, X[[4, 0]])  # a subset taken before X was read reads its own rows
    assert reads == [5, 2]
    assert lf.subset([1]).X.tolist() == X[[1]].tolist() and reads == [5, 2]  # after X is read, subsets slice it


def test_lazy_and_eager_feature_sets_agree_for_heads(photo_dir: Path, tmp_path: Path) -> None:
    lazy = dfi.extract(photo_dir, store=tmp_path / "f.zarr", **FAST)["layer2"]
    eager = LayerFeatures(key=lazy.key, per_view=np.asarray(lazy.per_view), dataset=lazy.dataset)
    np.testing.assert_array_equal(lazy.X, eager.X)
    np.testing.assert_array_equal(lazy.subset([True, False, True, False, True]).X, eager.subset([0, 2, 4]).X)
