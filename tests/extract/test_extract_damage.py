"""Damaged chunks (issue 20): checksummed on write, named on read, healed by rerunning the same extract."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import StoreError
from deepfeat_iqa.store import _zarr

SETTINGS = {"backbone": "resnet18", "layers": "layer4", "weights": "random", "precision": "fp32", "num_workers": 0, "progress": False, "batch_size": 2}


@pytest.fixture()
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 2 rows, so 5 photos make 3 chunks and one can be damaged alone."""
    monkeypatch.setattr(_zarr, "MIN_CHUNK_ROWS", 2)


def _values_dir(store: Path) -> Path:
    (values,) = [p for p in store.rglob("values") if p.is_dir()]
    return values


def _damage(chunk: Path, how: str) -> None:
    if how == "truncate":
        with chunk.open("r+b") as handle:
            handle.truncate(7)
    else:
        data = bytearray(chunk.read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 4):
            data[i] ^= 0xFF
        chunk.write_bytes(bytes(data))


def test_every_new_array_has_a_crc32c_after_compression(photo_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "f.zarr"
    dfi.extract(photo_dir, store=store, **SETTINGS)
    arrays = [node for _, node in zarr.open_group(str(store), mode="r").members(max_depth=None) if isinstance(node, zarr.Array)]
    assert {a.path.rsplit("/", 1)[-1] for a in arrays} == {"ids", "paths", "size", "mtime_ns", "values", "done", "failed", "error", "n_crops"}
    for array in arrays:
        codecs = array.metadata.codecs
        assert isinstance(codecs[-1], Crc32cCodec) and isinstance(codecs[-2], ZstdCodec), (array.path, codecs)


@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_rerun_heals_exactly_the_damaged_chunk(
    photo_dir: Path, tmp_path: Path, how: str, small_chunks: None, one_thread: None, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "f.zarr"
    first = dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"]
    assert first.per_view.array.chunks[0] == 2
    clean = np.asarray(first.per_view)
    _damage(_values_dir(store) / "c" / "1" / "0" / "0", how)  # rows 2-3

    # Reading it names store, array, rows and the fix
    stale = dfi.extract(photo_dir, store=store, repair=False, **SETTINGS)["layer4"]
    with pytest.raises(StoreError) as caught:
        np.asarray(stale.per_view)
    message = str(caught.value)
    for part in (str(store), "backbone resnet18@", "layer layer4", "pooling avg", "views center", "precision fp32", "rows 2-3", "extract again"):
        assert part in message, (part, message)

    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        healed = dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"]
    assert "Repaired 1 damaged chunk" in caplog.text and "rows 2-3" in caplog.text
    assert "Extracting 2 of 5 images" in caplog.text  # nothing else recomputed
    np.testing.assert_array_equal(np.asarray(healed.per_view), clean)
    reference = dfi.extract(photo_dir, store=None, **SETTINGS)["layer4"]
    np.testing.assert_array_equal(np.asarray(healed.per_view), np.asarray(reference.per_view))
    assert dfi.store.verify(store).ok


def test_damaged_done_chunk_recomputes_its_rows(photo_dir: Path, tmp_path: Path, small_chunks: None, one_thread: None, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "f.zarr"
    clean = np.asarray(dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"].per_view)
    _damage(_values_dir(store).parent / "done" / "c" / "2", "truncate")  # row 4
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        healed = dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"]
    assert "Extracting 1 of 5 images" in caplog.text
    np.testing.assert_array_equal(np.asarray(healed.per_view), clean)


def test_damaged_index_is_rewritten_from_the_dataset(photo_dir: Path, tmp_path: Path, one_thread: None, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "f.zarr"
    clean = np.asarray(dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"].per_view)
    (index,) = [p for p in store.rglob("index") if p.is_dir()]
    _damage(index / "ids" / "c" / "0", "flip")
    _damage(index / "size" / "c" / "0", "truncate")
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        healed = dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"]
    assert "Rewriting a damaged chunk" in caplog.text and "index 'ids'" in caplog.text
    assert "Extracting 5 of 5 images" in caplog.text  # file stats unknown: those rows are recomputed
    np.testing.assert_array_equal(np.asarray(healed.per_view), clean)
    assert dfi.store.verify(store).ok


def test_stores_without_checksums_keep_working(photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "old.zarr"
    with monkeypatch.context() as patch:
        patch.setattr(_zarr, "CHUNK_CODECS", (ZstdCodec(),))  # what every version before issue 20 wrote
        first = np.asarray(dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"].per_view)
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        again = np.asarray(dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"].per_view)
    assert "Extracting" not in caplog.text
    np.testing.assert_array_equal(first, again)
    report = dfi.store.verify(store)
    assert report.ok and set(report.table()["checksum"]) == {"none"}


def test_full_disk_names_the_store_and_a_rerun_resumes(
    photo_dir: Path, tmp_path: Path, small_chunks: None, one_thread: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import errno

    from zarr.storage import LocalStore

    store = tmp_path / "f.zarr"
    original = LocalStore.set
    written = {"values": 0}

    async def fills_up(self: LocalStore, key: str, value: object) -> None:
        if "/values/c/" in key:
            written["values"] += 1
            if written["values"] > 1:  # the second chunk of values finds the disk full
                raise OSError(errno.ENOSPC, "No space left on device")
        await original(self, key, value)

    with monkeypatch.context() as patch:
        patch.setattr(LocalStore, "set", fills_up)
        with pytest.raises(StoreError) as caught:
            dfi.extract(photo_dir, store=store, **SETTINGS)
    message = str(caught.value)
    for part in (str(store), "is full", "2 of 5 images are safely stored", "run the same extract again", "resumes with the 3 left"):
        assert part in message, (part, message)
    group = zarr.open_group(str(_values_dir(store).parent), mode="r")
    done = group["done"][:]
    assert done.sum() == 2 and np.isfinite(group["values"][:][done]).all()  # nothing done without its values
    assert np.isnan(group["values"][:][~done]).all()

    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        resumed = dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"]
    assert "Extracting 3 of 5 images" in caplog.text
    reference = dfi.extract(photo_dir, store=None, **SETTINGS)["layer4"]
    np.testing.assert_array_equal(np.asarray(resumed.per_view), np.asarray(reference.per_view))


def test_a_deleted_values_chunk_is_found_and_recomputed_not_read_as_nan(photo_dir: Path, tmp_path: Path, small_chunks: None, one_thread: None, caplog: pytest.LogCaptureFixture) -> None:
    """zarr reads a missing chunk as its fill value (NaN) without an error: found by the chunk's absence (benchmarks/faults.py)."""
    store = tmp_path / "f.zarr"
    clean = np.asarray(dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"].per_view)
    (_values_dir(store) / "c" / "1" / "0" / "0").unlink()  # rows 2-3
    report = dfi.store.verify(store)
    assert [(d.rows, d.reason) for d in report.damaged] == [("rows 2-3", "chunk file missing under rows marked done")]
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        healed = dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"]
    assert "Repaired 1 damaged chunk" in caplog.text and str(store) in caplog.text and "Extracting 2 of 5 images" in caplog.text
    np.testing.assert_array_equal(np.asarray(healed.per_view), clean)


def test_a_deleted_done_chunk_is_named_and_its_rows_recomputed(photo_dir: Path, tmp_path: Path, small_chunks: None, one_thread: None, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "f.zarr"
    clean = np.asarray(dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"].per_view)
    (_values_dir(store).parent / "done" / "c" / "1").unlink()  # rows 2-3
    assert [d.rows for d in dfi.store.verify(store).damaged] == ["rows 2-3"]
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa"):
        healed = dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"]
    assert "done-mask chunk file missing" in caplog.text and "Extracting 2 of 5 images" in caplog.text
    np.testing.assert_array_equal(np.asarray(healed.per_view), clean)


def test_a_damaged_done_chunk_without_repair_raises_the_naming_store_error(photo_dir: Path, tmp_path: Path, small_chunks: None, one_thread: None) -> None:
    """``repair=False`` used to surface zarr's 'Stored and computed checksum do not match' from the done-mask read."""
    store = tmp_path / "f.zarr"
    dfi.extract(photo_dir, store=store, **SETTINGS)
    _damage(_values_dir(store).parent / "done" / "c" / "1", "flip")
    with pytest.raises(StoreError, match=r"rows 2-3") as caught:
        dfi.extract(photo_dir, store=store, repair=False, **SETTINGS)
    assert str(store) in str(caught.value) and "'done'" in str(caught.value)


def test_a_full_disk_while_the_arrays_are_created_names_the_store(photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC before any block (index and array metadata) used to escape as a bare OSError (benchmarks/faults.py)."""
    import errno

    from zarr.storage import LocalStore

    store, original, seen = tmp_path / "f.zarr", LocalStore.set, [0]

    async def fills_up(self: LocalStore, key: str, value: object) -> None:
        if key.endswith("zarr.json"):
            seen[0] += 1
            if seen[0] > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        await original(self, key, value)

    with monkeypatch.context() as patch:
        patch.setattr(LocalStore, "set", fills_up)
        with pytest.raises(StoreError) as caught:
            dfi.extract(photo_dir, store=store, **SETTINGS)
    assert str(store) in str(caught.value) and "is full" in str(caught.value) and "run the same extract again" in str(caught.value)
    reference = np.asarray(dfi.extract(photo_dir, store=None, **SETTINGS)["layer4"].per_view)
    np.testing.assert_array_equal(np.asarray(dfi.extract(photo_dir, store=store, **SETTINGS)["layer4"].per_view), reference)
