"""build/load: labelled sets on disk that round-trip, resume, and refuse mixed settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfeat_iqa import synth
from deepfeat_iqa.datasets import Dataset, load_synth
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.synth import _build, _pseudo_mos


def _snapshot(out: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.parent != out}


def test_synthetic_build_labels(synthetic_build: tuple[Path, Dataset]) -> None:
    out, dataset = synthetic_build
    assert len(dataset) == 3 * 39
    assert dataset.scale.kind == "pseudo-MOS" and (dataset.scale.low, dataset.scale.high) == (0.0, 100.0)
    assert sorted(set(dataset.groups)) == ["astronaut", "chelsea", "coffee"]
    assert list(dataset.distortion.columns) == ["type", "level", "class"]
    assert sorted(dataset.distortion["class"].unique()) == list(range(39))
    assert all(p.is_file() for p in dataset.paths)
    assert ((dataset.mos >= 0) & (dataset.mos <= 100)).all()
    labels = pd.read_csv(out / "labels.csv")
    assert {"ssim", "ms_ssim", "mdsi", "vsi", "fsim", "gmsd", "pseudo_mos", "reference", "kind"} <= set(labels.columns)
    record = json.loads((out / "build.json").read_text())
    assert record["seed"] == 3 and record["kind"] == "synthetic" and record["versions"]["piq"]
    assert record["levels"]["jpeg"]["levels"] == list(synth.SYNTHETIC_DISTORTIONS["jpeg"].levels)


def test_labels_round_trip_through_the_csv(synthetic_build: tuple[Path, Dataset]) -> None:
    out, dataset = synthetic_build
    loaded = load_synth(out)
    assert loaded.ids == dataset.ids and loaded.paths == dataset.paths
    np.testing.assert_allclose(loaded.mos, dataset.mos)
    np.testing.assert_array_equal(loaded.groups, dataset.groups)
    pd.testing.assert_frame_equal(loaded.distortion, dataset.distortion)


def test_rerun_does_no_new_work(
    synthetic_build: tuple[Path, Dataset], small_refs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, dataset = synthetic_build
    before = _snapshot(out)

    def fail(*args: object) -> None:
        raise AssertionError("a rerun must not read or score any image")

    monkeypatch.setattr(_pseudo_mos, "fr_metrics", fail)  # looked up there when an image is scored
    monkeypatch.setattr(_build, "_reference_image", fail)
    again = synth.build(small_refs[0].parent, out, kind="synthetic", seed=3, max_side=160, progress=False)
    assert _snapshot(out) == before
    np.testing.assert_allclose(again.mos, dataset.mos)


def test_resume_redoes_only_missing_images(small_refs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "set"
    first = synth.build(small_refs[:2], out, per_image=4, seed=5, max_side=128, progress=False)
    assert len(first) == 8
    first.paths[1].unlink()
    (out / "rows" / f"{small_refs[1].stem}.csv").unlink()
    kept = first.paths[0].stat().st_mtime_ns
    second = synth.build(small_refs[:2], out, per_image=4, seed=5, max_side=128, progress=False)
    assert second.ids == first.ids and first.paths[1].is_file()
    assert first.paths[0].stat().st_mtime_ns == kept
    np.testing.assert_allclose(second.mos, first.mos)  # same seed -> same images -> same scores
    with pytest.raises(ConfigError, match="seed: 5 -> 6"):
        synth.build(small_refs[:2], out, per_image=4, seed=6, max_side=128, progress=False)


def test_pseudo_mos_is_recomputed_over_all_rows(small_refs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "grow"
    small = synth.build(small_refs[:1], out, per_image=6, seed=2, max_side=128, progress=False)
    grown = synth.build(small_refs, out, per_image=6, seed=2, max_side=128, progress=False)
    assert len(grown) == 18 and grown.ids[:6] == small.ids
    assert not np.allclose(grown.mos[:6], small.mos)  # ranks now run over all 18 rows, not the first 6
    labels = pd.read_csv(out / "labels.csv")
    np.testing.assert_allclose(synth.pseudo_mos(labels), grown.mos)


def test_authentic_build_in_parallel(small_refs: list[Path], tmp_path: Path) -> None:
    dataset = synth.build(
        small_refs[:2], tmp_path / "auth", kind="authentic", per_image=3, seed=0, max_side=96, n_jobs=2, progress=False
    )
    assert len(dataset) == 6
    table = dataset.distortion
    assert list(table.columns) == synth.AUTHENTIC_LABELS
    labels = pd.read_csv(tmp_path / "auth" / "labels.csv", dtype={"level": str}).set_index("id")
    for image_id, row in labels.iterrows():
        mixture = list(zip(row["type"].split("+"), map(int, row["level"].split("+"))))
        np.testing.assert_array_equal(table.loc[image_id].to_numpy(dtype=int), synth.multi_hot(mixture))
    assert not labels.duplicated(["reference", "type", "level"]).any()
    pd.testing.assert_frame_equal(load_synth(tmp_path / "auth").distortion, table)


def test_bad_arguments_raise(small_refs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kind"):
        synth.build(small_refs, tmp_path / "a", kind="mixed")
    with pytest.raises(ConfigError, match="per_image"):
        synth.build(small_refs, tmp_path / "a", per_image=40)
    with pytest.raises(DataError, match="does not exist"):
        synth.build(tmp_path / "nowhere", tmp_path / "a")
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / f"{small_refs[0].stem}.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="share the id"):
        synth.build([small_refs[0], twin / f"{small_refs[0].stem}.jpg"], tmp_path / "a")
    with pytest.raises(DataError, match="root .* does not exist"):
        load_synth(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="labels.csv.* not found"):
        load_synth(tmp_path / "empty")


def test_reference_photos_are_written_once(shipped: list[Path]) -> None:
    assert [p.stem for p in shipped] == ["astronaut", "chelsea", "coffee", "rocket", "motorcycle", "china", "flower"]
    before = [p.stat().st_mtime_ns for p in shipped]
    assert synth.reference_photos(shipped[0].parent) == shipped
    assert [p.stat().st_mtime_ns for p in shipped] == before
