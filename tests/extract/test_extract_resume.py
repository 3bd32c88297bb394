"""A run killed with SIGKILL mid-extraction resumes to exactly the features of an uninterrupted run.

The child is killed at a fixed point, not after a sleep: its script makes the store's fifth
``FeatureArray.write`` (batch 3 of layer3; batch 3 of layer4 not yet written) stop and signal the parent
(``helpers.kill``), so the store it leaves is the same on a fast and a slow machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from PIL import Image

import deepfeat_iqa as dfi
from helpers.kill import run_until_marker

N_IMAGES = 16
SETTINGS = {"backbone": "resnet18", "layers": ["layer3", "layer4"], "weights": "random", "views": "random3", "batch_size": 2, "precision": "fp32"}

_CHILD = """
import sys, torch
torch.set_num_threads(1)
import deepfeat_iqa as dfi
from deepfeat_iqa.store._zarr import FeatureArray
stop_at(FeatureArray, "write", call=5, marker=sys.argv[3])  # after layer3's rows 4-5, before layer4's
dfi.extract(sys.argv[1], store=sys.argv[2], num_workers=0, progress=False, **{settings!r})
"""


def _done_rows(store: Path) -> dict[str, int]:
    """Rows marked done, per layer (the group path's layer level)."""
    counts = {}
    for path in (p for p in store.rglob("done") if p.is_dir()):
        layer = next(part for part in path.relative_to(store).parts if part in SETTINGS["layers"])
        counts[layer] = int(zarr.open_array(str(path), mode="r")[:].sum())
    return counts


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path, one_thread: None) -> None:
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(images / f"{i:02d}.jpg", quality=90)
    store = tmp_path / "features.zarr"

    marker = tmp_path / "stopped"
    run_until_marker(_CHILD.format(settings=SETTINGS), marker, argv=[str(images), str(store), str(marker)])
    # killed between the two layers' writes of one batch: the layers disagree on what is done
    assert _done_rows(store) == {"layer3": 6, "layer4": 4}

    resumed = dfi.extract(images, store=store, num_workers=1, progress=False, **SETTINGS)
    reference = dfi.extract(images, store=None, num_workers=0, progress=False, **SETTINGS)
    for layer in SETTINGS["layers"]:
        np.testing.assert_array_equal(resumed[layer].per_view, reference[layer].per_view)
        assert resumed[layer].dataset.ids == reference[layer].dataset.ids == [f"{i:02d}.jpg" for i in range(N_IMAGES)]
    for path in (p for p in store.rglob("done") if p.is_dir()):
        group = zarr.open_group(str(path.parent), mode="r")
        assert group["done"][:].all() and not group["failed"][:].any()
        assert (group["n_crops"][:] == 3).all() and np.isfinite(group["values"][:]).all()


def test_a_crash_while_values_are_written_leaves_those_rows_not_done(tmp_path: Path) -> None:
    """The done-mask is updated only after the values: a write that dies half-way marks nothing done."""
    from deepfeat_iqa.store._zarr import FeatureArray

    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("values", shape=(8, 1, 4), chunks=(4, 1, 4), dtype="float32", fill_value=np.nan)
    for name, dtype, fill in (("done", bool, False), ("failed", bool, False), ("n_crops", "int32", 0)):
        group.create_array(name, shape=(8,), chunks=(4,), dtype=dtype, fill_value=fill)
    array = FeatureArray(group)
    array.write(np.arange(0, 4), np.ones((4, 1, 4)), np.ones(4))

    class DiskFull:
        dtype = array.values.dtype

        def __setitem__(self, selection, value):
            raise OSError(28, "No space left on device")

    array.values = DiskFull()
    with pytest.raises(OSError, match="No space left"):
        array.write(np.arange(4, 8), np.ones((4, 1, 4)), np.ones(4))
    assert group["done"][:].tolist() == [True] * 4 + [False] * 4
    assert np.isnan(group["values"][4:]).all()
