"""The zarr feature store: cache hits, layout readable by plain zarr, config checks, invalidation, failures."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import numpy as np
import pytest
import zarr
from PIL import Image

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import DataError, StoreError
from deepfeat_iqa.store._zarr import FeatureStore

FAST = {"model": "resnet18", "weights": "random", "num_workers": 0, "progress": False, "batch_size": 2}


def _feature_dir(store: Path) -> Path:
    (done,) = [p.parent for p in store.rglob("done") if p.is_dir()]
    return done


def _feature_group(store: Path) -> zarr.Group:
    return zarr.open_group(str(_feature_dir(store)), mode="r+")


def test_rerun_reads_the_store_and_plain_zarr_reads_it_too(photo_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "features.zarr"
    first = dfi.extract(photo_dir, layers="layer4", store=store, **FAST)["layer4"]
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa.extraction._extract"):
        again = dfi.extract(photo_dir, layers="layer4", store=store, **FAST)["layer4"]
    assert "Extracting" not in caplog.text
    np.testing.assert_array_equal(first.per_view, again.per_view)

    group = _feature_group(store)
    # chunks are sized for the data (5 rows of 2 KB: one chunk), not by batch_size=2
    assert group["values"].shape == (5, 1, 512) and group["values"].chunks[0] == 5
    assert group["done"][:].all() and not group["failed"][:].any() and (group["n_crops"][:] == 1).all()
    assert list(group["error"][:]) == [""] * 5
    attrs = dict(group.attrs)
    assert attrs["weights_sha256"] == first.key.weights and attrs["input_size"] == [3, 224, 224]
    assert {"torch", "timm", "zarr", "deepfeat_iqa"} <= set(attrs["versions"])
    np.testing.assert_array_equal(group["values"][:], first.per_view)
    dataset_key = _feature_dir(store).relative_to(store).parts[0]
    index = zarr.open_group(str(store / dataset_key / "index"), mode="r")
    assert [str(i) for i in index["ids"][:]] == list(first.dataset.ids)
    assert (index["size"][:] > 0).all() and (index["mtime_ns"][:] > 0).all()


def test_xarray_opens_a_feature_array(photo_dir: Path, tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    store = tmp_path / "features.zarr"
    dfi.extract(photo_dir, layers="layer3", store=store, **FAST)
    data = xr.open_zarr(str(_feature_dir(store)), consolidated=False)
    assert data["values"].dims == ("image", "view", "feature") and data["values"].shape == (5, 1, 256)


def test_fsspec_memory_store(photo_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"memory://features-{uuid.uuid4().hex}.zarr"
    first = dfi.extract(photo_dir, layers="layer2", store=url, **FAST)["layer2"]
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa.extraction._extract"):
        again = dfi.extract(photo_dir, layers="layer2", store=FeatureStore(url), **FAST)["layer2"]
    assert "Extracting" not in caplog.text
    np.testing.assert_array_equal(first.per_view, again.per_view)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_size", [3, 256, 256]),
        ("mean", [0.5, 0.5, 0.5]),
        ("weights_sha256", "OTHER"),  # same 8-digit prefix, different weights: replaced below
        ("backbone", "resnet34"),
    ],
)
def test_store_written_with_another_config_is_never_mixed(photo_dir: Path, tmp_path: Path, field: str, value: object) -> None:
    store = tmp_path / "features.zarr"
    lf = dfi.extract(photo_dir, layers="layer4", store=store, **FAST)["layer4"]
    group = _feature_group(store)
    if value == "OTHER":
        value = lf.key.weights[:15] + "0" * (len(lf.key.weights) - 15)
    group.attrs[field] = value
    with pytest.raises(StoreError, match=f"another configuration.*{field}.*another store="):
        dfi.extract(photo_dir, layers="layer4", store=store, **FAST)


def test_explicit_dtype_must_match_the_stored_one(photo_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "features.zarr"
    dfi.extract(photo_dir, layers="layer4", store=store, **FAST)
    with pytest.raises(StoreError, match="stored as float32 .*not float16"):
        dfi.extract(photo_dir, layers="layer4", store=store, dtype="float16", **FAST)


def test_changed_file_is_extracted_again(photo_dir: Path, tmp_path: Path, photos: dict, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "features.zarr"
    # read now: a FeatureSet is a lazy view of the store, and the rerun below rewrites the changed row
    before = np.asarray(dfi.extract(photo_dir, layers="layer4", store=store, **FAST)["layer4"].per_view)
    target = photo_dir / "coffee.jpg"
    Image.fromarray(photos["rocket"]).resize((200, 150)).save(target)
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        after = dfi.extract(photo_dir, layers="layer4", store=store, **FAST)["layer4"]
    assert "1 image files changed" in caplog.text and "Extracting 1 of 5" in caplog.text
    row = after.dataset.ids.index("coffee.jpg")
    fresh = dfi.extract([target], layers="layer4", store=None, **FAST)["layer4"]
    np.testing.assert_array_equal(after.per_view[row], fresh.per_view[0])
    others = np.arange(5) != row
    np.testing.assert_array_equal(after.per_view[others], before[others])
    assert not np.array_equal(after.per_view[row], before[row])



def test_files_that_all_changed_are_re_extracted_without_a_damage_report(photo_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Invalidating every row of a chunk keeps its done-mask file: a missing one beside values means a deleted file.

    Found on clive-dev after its files were touched: zarr dropped the all-False done chunks, and the next
    extract warned "Repaired 8 damaged chunk(s)" for a store nothing had damaged.
    """
    store = tmp_path / "features.zarr"
    dfi.extract(photo_dir, layers="layer4", store=store, **FAST)
    for path in photo_dir.iterdir():
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        dfi.extract(photo_dir, layers="layer4", store=store, **FAST)
    assert "5 image files changed" in caplog.text and "Extracting 5 of 5" in caplog.text
    assert "damaged" not in caplog.text
    assert dfi.store.verify(store).ok

def test_skip_records_the_failure_and_continues(photo_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "features.zarr"
    (photo_dir / "broken.jpg").write_text("not an image")
    feats = dfi.extract(photo_dir, layers="layer4", store=store, on_error="skip", **FAST)["layer4"]
    assert len(feats) == 5 and "broken.jpg" not in feats.dataset.ids
    assert "could not be read" in caplog.text
    group = _feature_group(store)
    row = sorted(p.name for p in photo_dir.iterdir()).index("broken.jpg")
    assert group["failed"][row] and not group["done"][row] and group["done"][:].sum() == 5
    assert "broken.jpg" in str(group["error"][row]) and "errors" not in group["failed"].attrs
    assert [str(m) for m in group["error"][:]].count("") == 5
    again = dfi.extract(photo_dir, layers="layer4", store=store, on_error="skip", **FAST)["layer4"]
    np.testing.assert_array_equal(again.per_view, feats.per_view)
    with pytest.raises(DataError, match=r"broken\.jpg.*recorded in the store"):
        dfi.extract(photo_dir, layers="layer4", store=store, **FAST)


def test_store_path_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "features.zarr"
    path.write_text("")
    with pytest.raises(StoreError, match="is a file"):
        FeatureStore(path)



def test_store_none_computes_in_memory_the_numbers_a_store_holds(photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """store=None opens no store at all (zarr cost 9 ms a photo of dfi.score) and gives what a real store gives,
    unreadable files left out the same way."""
    import deepfeat_iqa.extraction._extract as extract_module

    opened: list[object] = []
    real_open = extract_module._open_store
    monkeypatch.setattr(extract_module, "_open_store", lambda store: opened.append(store) or real_open(store))
    (photo_dir / "broken.jpg").write_bytes(b"not a jpeg")
    settings = {"backbone": "resnet18", "weights": "random", "layers": ["layer3", "layer4"], "num_workers": 0, "progress": False,
                "on_error": "skip", "batch_size": 2}  # fmt: skip
    private = dfi.extract(photo_dir, store=None, **settings)
    assert opened == [] and isinstance(private["layer4"].per_view, np.ndarray)
    on_disk = dfi.extract(photo_dir, store=tmp_path / "f.zarr", **settings)
    for layer in ("layer3", "layer4"):
        np.testing.assert_array_equal(private[layer].per_view, np.asarray(on_disk[layer].per_view))
        assert private[layer].key == on_disk[layer].key and private[layer].per_view.dtype == on_disk[layer].per_view.dtype
        assert list(private[layer].dataset.ids) == list(on_disk[layer].dataset.ids)
    assert "broken" not in " ".join(map(str, private["layer4"].dataset.ids))
