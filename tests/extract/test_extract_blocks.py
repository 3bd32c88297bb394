"""Plan -> blocks -> collect: chunking chosen for the data, block ownership, race-safe creation, lazy collect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepfeat_iqa as dfi
from deepfeat_iqa.extraction._block import extract_block
from deepfeat_iqa.features._lazy import LazyRows
from deepfeat_iqa.store._zarr import MIN_CHUNK_ROWS, ArraySpec, FeatureStore, chunk_rows_for

FAST = {"model": "resnet18", "weights": "random", "num_workers": 0, "progress": False, "layer": "layer2"}

SPEC = ArraySpec(
    backbone="net", weights_sha256="sha256:" + "ab" * 32, layer="layer1", pooling="avg", views="center", precision="fp32",
    weights_source="random", input_size=(3, 64, 64), mean=(0.5,) * 3, std=(0.5,) * 3, interpolation="bilinear",
    crop_pct=0.875, n_views=1, dataset_fingerprint="f" * 12,
)  # fmt: skip


def test_chunk_rows_follow_the_data_not_the_batch_size() -> None:
    assert chunk_rows_for(1_000_000, 1, 2048, 2) == (8 << 20) // 4096  # ~8 MiB of float16 rows
    assert chunk_rows_for(1_000_000, 10, 2048, 4) == (8 << 20) // (10 * 2048 * 4)
    assert chunk_rows_for(100, 1, 512, 4) == 13  # at least 8 blocks for a cluster to share
    assert chunk_rows_for(20, 1, 512, 4) == MIN_CHUNK_ROWS and chunk_rows_for(5, 1, 512, 4) == 5


def test_batch_size_changes_neither_chunks_nor_stored_rows(photo_dir: Path, tmp_path: Path, one_thread: None) -> None:
    store = tmp_path / "f.zarr"
    by_two = dfi.extract(photo_dir, store=store, batch_size=2, precision="fp32", **FAST)["layer2"]
    by_five = dfi.extract(photo_dir, store=None, batch_size=5, precision="fp32", **FAST)["layer2"]
    assert isinstance(by_two.per_view, LazyRows) and by_two.per_view.array.chunks[0] == 5
    np.testing.assert_allclose(np.asarray(by_two.per_view), np.asarray(by_five.per_view), rtol=1e-4, atol=1e-5)


def test_create_never_wipes_rows_another_writer_made(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "f.zarr")
    first = store.create("ds", SPEC, n_images=10, dim=4, dtype="float32", chunk_rows=5)
    first.write(np.arange(5), np.ones((5, 1, 4)), np.ones(5))
    second = store.create("ds", SPEC, n_images=10, dim=4, dtype="float32", chunk_rows=5)  # a second writer, same plan
    assert second.done[:5].all() and not second.done[5:].any()
    np.testing.assert_array_equal(second.values[:5], np.ones((5, 1, 4)))


def test_create_completes_a_group_left_half_made_by_a_killed_run(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "f.zarr")
    group = store.root.require_group(f"ds/{SPEC.path}")
    group.create_array("done", shape=(10,), chunks=(5,), dtype=bool, fill_value=False)
    assert store.find("ds", SPEC) is None  # no values: counts as never created
    array = store.create("ds", SPEC, n_images=10, dim=4, dtype="float32", chunk_rows=5)
    assert array.values.shape == (10, 1, 4) and array.error is not None and not array.done[:].any()


def test_create_refuses_a_leftover_made_for_other_data(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "f.zarr")
    group = store.root.require_group(f"ds/{SPEC.path}")
    group.create_array("done", shape=(7,), chunks=(7,), dtype=bool, fill_value=False)
    with pytest.raises(dfi.errors.StoreError, match=r"shape \(7,\).*Delete that group"):
        store.create("ds", SPEC, n_images=10, dim=4, dtype="float32", chunk_rows=5)


def test_a_block_fills_only_its_rows_and_refuses_misaligned_ranges(photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfeat_iqa.extraction import _extract as extraction

    plans = []
    monkeypatch.setattr(extraction, "extract_block", lambda plan, *a, **k: plans.append(plan))  # plan only, compute nothing
    with pytest.raises(dfi.errors.StoreError, match="neither done nor failed"):
        dfi.extract(photo_dir, store=tmp_path / "f.zarr", batch_size=2, **FAST)
    monkeypatch.undo()
    (plan,) = plans
    plan = type(plan)(**{**plan.__dict__, "block_rows": 2})  # as if chunked by 2 rows: three blocks
    store = FeatureStore(plan.store_url)
    with pytest.raises(ValueError, match="not aligned"):
        extract_block(plan, 1, 3, store=store)
    report = extract_block(plan, 2, 4, store=store)
    done = store.root[plan.targets[0].group]["done"][:]
    assert report.computed == 2 and done.tolist() == [False, False, True, True, False]
    assert extract_block(plan, 2, 4, store=store).computed == 0  # done rows are never recomputed


def test_a_finished_feature_group_is_consolidated_and_the_root_is_not(photo_dir: Path, tmp_path: Path) -> None:
    import json

    store = tmp_path / "f.zarr"
    lf = dfi.extract(photo_dir, store=store, batch_size=2, **FAST)["layer2"]
    (group_dir,) = [p.parent for p in store.rglob("done") if p.is_dir()]
    consolidated = json.loads((group_dir / "zarr.json").read_text()).get("consolidated_metadata") or {}
    assert {"values", "done", "failed", "error", "n_crops"} <= set(consolidated.get("metadata", {}))
    assert not json.loads((store / "zarr.json").read_text()).get("consolidated_metadata")  # writers see live metadata
    assert lf.per_view.array.shape[0] == 5
