"""The training engine: seeded crops, resume after SIGKILL, refusals, divergence, small inputs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import DataError, TrainingError
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.training import Normalize
from deepfeat_iqa.training._data import TrainCrops
from deepfeat_iqa.inputs.views import Geometry
from helpers.kill import run_until_marker

from .conftest import FAST, make_images

ROOT = Path(__file__).resolve().parents[2]


def test_train_crops_follow_seed_epoch_and_content_not_the_path(images, tmp_path):
    moved = tmp_path / "renamed.png"
    shutil.copy(images.paths[0], moved)
    geometry, transform = Geometry((16, 16)), Normalize((0.5,) * 3, (0.25,) * 3)
    a = TrainCrops([images.paths[0]], geometry, transform, None, count=3, seed=1)
    b = TrainCrops([moved], geometry, transform, None, count=3, seed=1)
    assert torch.equal(a[(0, 1)][1], b[(0, 1)][1])  # same bytes under another name: same crops
    assert not torch.equal(a[(0, 1)][1], a[(0, 2)][1])  # a new epoch: new crops
    other_seed = TrainCrops([images.paths[0]], geometry, transform, None, count=3, seed=2)
    assert not torch.equal(a[(0, 1)][1], other_seed[(0, 1)][1])


def test_two_fits_with_one_seed_match_and_accumulation_runs(images):
    one = make_head("spaq-bl", epochs=2, accumulate=2, **FAST).fit(images)
    two = make_head("spaq-bl", epochs=2, accumulate=2, **FAST).fit(images)
    assert np.array_equal(one.predict(images), two.predict(images))
    assert [row["epoch"] for row in one.history_] == [1, 2] and one.history_[0]["trunk_frozen"] == 1.0
    assert "val_srocc" in one.history_[0] and one.n_val_ > 0


def test_validation_rows_are_whole_content_groups(images):
    head = make_head("spaq-bl", val_fraction=0.25, **FAST)
    train, val = head._validation_rows(images, None)
    groups = np.asarray(images.groups)
    assert val.size and not set(groups[train]) & set(groups[val])


_KILLED_RUN = """
import sys, torch, deepfeat_iqa as dfi
torch.set_num_threads(1)  # as the parent (one_thread): losses summed on other thread counts differ in the last bits
sys.path.insert(0, {tests!r})
from helpers.image_sets import FAST, make_images
from pathlib import Path
# torch.save runs only in training._checkpoint.write (temporary file, fsync, rename): stop inside epoch 3's save,
# after its temporary file is written and before the rename
stop_at(torch, "save", call=3, marker={marker!r}, after=True)
ds = make_images(Path({root!r}))
dfi.heads.make_head("spaq-bl", epochs=6, checkpoint_dir={ckpt!r}, **FAST).fit(ds)
"""


def _checkpoint_epoch(ckpt: Path) -> int:
    (file,) = ckpt.glob("run-*/checkpoint.pt")
    return int(torch.load(file, map_location="cpu", weights_only=True)["epoch"])


@pytest.mark.slow
def test_a_fit_killed_with_sigkill_resumes_to_the_uninterrupted_result(images, tmp_path, one_thread):
    """Killed at a fixed point: inside epoch 3's checkpoint save, after the temporary file is written.

    Epoch 2's checkpoint must survive intact, and the resumed fit must equal an uninterrupted one.
    """
    ckpt, marker = tmp_path / "ckpt", tmp_path / "stopped"
    root = Path(images.paths[0]).parent
    script = _KILLED_RUN.format(tests=str(ROOT / "tests"), root=str(root), ckpt=str(ckpt), marker=str(marker))
    run_until_marker(script, marker, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert sorted(p.name for p in ckpt.glob("run-*/checkpoint.pt*")) == ["checkpoint.pt", "checkpoint.pt.partial"]
    assert _checkpoint_epoch(ckpt) == 2
    resumed = make_head("spaq-bl", epochs=6, checkpoint_dir=str(ckpt), **FAST).fit(images)
    uninterrupted = make_head("spaq-bl", epochs=6, **FAST).fit(images)
    assert [r["epoch"] for r in resumed.history_] == list(range(1, 7))
    assert resumed.history_ == uninterrupted.history_
    assert np.array_equal(resumed.predict(images), uninterrupted.predict(images))


def test_resuming_under_other_settings_is_refused_naming_the_difference(images, tmp_path):
    make_head("spaq-bl", epochs=1, checkpoint_dir=str(tmp_path), **FAST).fit(images)
    with pytest.raises(TrainingError, match=r"other settings \(lr: checkpoint 0.001, now 0.01\)"):
        make_head("spaq-bl", epochs=1, lr=0.01, checkpoint_dir=str(tmp_path), **FAST).fit(images)


def test_a_diverging_loss_stops_keeps_the_checkpoint_and_names_the_learning_rate(images, tmp_path):
    head = make_head("spaq-bl", epochs=3, lr=1e30, trunk_lr=1e30, freeze_trunk_epochs=0, checkpoint_dir=str(tmp_path), **FAST)
    with pytest.raises(TrainingError, match=r"loss became (nan|inf).*Lower trunk_lr \(now 1e\+30\)"):
        head.fit(images)


def test_fewer_training_images_than_a_batch_is_refused(images):
    with pytest.raises(DataError, match=r"Only \d+ training images .* batch_size=64; lower batch_size"):
        make_head("spaq-bl", **{**FAST, "batch_size": 64}).fit(images)


def test_a_dataset_without_scores_is_refused(images):
    unlabeled = Dataset.from_paths(images.paths)
    with pytest.raises(DataError, match="no quality scores"):
        dfi.fit(unlabeled, head="spaq-bl", **FAST)
    with pytest.raises(DataError, match="no quality scores"):
        make_head("spaq-bl", **FAST).fit(unlabeled)


def test_images_smaller_than_the_crop_are_upscaled_as_the_views_document(tmp_path):
    small = make_images(tmp_path, n_groups=4, size=(12, 20))
    model = make_head("spaq-bl", epochs=1, **{**FAST, "test_views": "grid"}).fit(small)
    assert np.isfinite(model.predict(small)).all()
    # a training crop of a 12 x 20 image is a full 32 x 32 crop of the image scaled up (shorter side 32), not
    # padding: no row or column of it is one flat value, as padded borders would be
    crop = TrainCrops([small.paths[0]], Geometry((32, 32)), Normalize((0.5,) * 3, (0.25,) * 3), None, count=1, seed=0)[(0, 1)][1]
    assert crop.shape[-3:] == (3, 32, 32)
    flat = crop.reshape(3, 32, 32)
    assert (flat.std(dim=2) > 0).all() and (flat.std(dim=1) > 0).all()


@pytest.mark.parametrize("level", ["image", "patch"])
def test_several_crops_per_image_train_per_image_or_per_patch(images, level, monkeypatch):
    """Per image: every batch's 3 crops of an image are averaged into one output; per patch: never averaged."""
    from deepfeat_iqa.training import _engine

    averaged = []
    original = _engine._per_image

    def spy(outputs, counts):
        result = original(outputs, counts)
        averaged.append([(len(v), len(result[k])) for k, v in outputs.items()])
        return result

    monkeypatch.setattr(_engine, "_per_image", spy)
    model = make_head("spaq-bl", epochs=1, crops_per_image=3, target_level=level, **FAST).fit(images)
    assert np.isfinite(model.history_[0]["loss"]) and np.isfinite(model.predict(images)).all()
    if level == "patch":
        assert averaged == []
    else:
        assert averaged and all(n_in == 3 * n_out for batch in averaged for n_in, n_out in batch), averaged


def test_training_leaves_the_callers_random_stream_alone(images):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_head("spaq-bl", epochs=1, **FAST).fit(images)
    assert torch.equal(torch.rand(3), expected)
