"""Damaged training checkpoints (issue 20 part 6b): skipped for the previous one, or training starts over; logged."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from deepfeat_iqa.heads import make_head
from deepfeat_iqa.training import _checkpoint
from helpers import REPO_ROOT, TESTS
from helpers.kill import run_until_marker

from .conftest import FAST

LOGGER = "deepfeat_iqa.training"


def _flip(file: Path) -> None:
    """Invert 4 bytes in the middle of the file (inside the tensors: torch's own reader does not notice)."""
    data = bytearray(file.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 4):
        data[i] ^= 0xFF
    file.write_bytes(bytes(data))


def _run_dir(ckpt: Path) -> Path:
    (run,) = ckpt.glob("run-*")
    return run


@pytest.fixture()
def uninterrupted(images, one_thread) -> np.ndarray:
    """Predictions of a 3-epoch fit without checkpoints, on one thread like the fits they are compared with."""
    return make_head("spaq-bl", epochs=3, **FAST).fit(images).predict(images)


def test_a_damaged_latest_checkpoint_is_skipped_for_the_previous_one(images, tmp_path, uninterrupted, one_thread, caplog):
    make_head("spaq-bl", epochs=3, checkpoint_dir=str(tmp_path), **FAST).fit(images)
    run = _run_dir(tmp_path)
    assert sorted(p.name for p in run.iterdir()) == sorted([_checkpoint.FILENAME, _checkpoint.PREVIOUS])
    _flip(run / _checkpoint.FILENAME)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        resumed = make_head("spaq-bl", epochs=3, checkpoint_dir=str(tmp_path), **FAST).fit(images)
    assert f"Checkpoint {run / _checkpoint.FILENAME} is damaged (its bytes do not match the sha256" in caplog.text
    assert f"Resuming from the intact checkpoint {run / _checkpoint.PREVIOUS} (epoch 2)" in caplog.text
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3]
    assert np.array_equal(resumed.predict(images), uninterrupted)


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_with_no_intact_checkpoint_training_starts_over_with_a_warning(images, tmp_path, uninterrupted, one_thread, caplog, how):
    make_head("spaq-bl", epochs=3, checkpoint_dir=str(tmp_path), **FAST).fit(images)
    run = _run_dir(tmp_path)
    for file in run.iterdir():
        if how == "flip":
            _flip(file)
        else:
            file.write_bytes(file.read_bytes()[:100])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        again = make_head("spaq-bl", epochs=3, checkpoint_dir=str(tmp_path), **FAST).fit(images)
    assert f"No intact checkpoint in {run}" in caplog.text and "training starts over from epoch 1" in caplog.text
    assert "Resuming" not in caplog.text
    assert np.array_equal(again.predict(images), uninterrupted)


_KILLED_RUN = """
import sys, torch, deepfeat_iqa as dfi
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from helpers.image_sets import FAST, make_images
from pathlib import Path
stop_at(torch, "save", call=3, marker={marker!r}, after=True)  # inside epoch 3's save, before its renames
ds = make_images(Path({root!r}))
dfi.heads.make_head("spaq-bl", epochs=3, checkpoint_dir={ckpt!r}, **FAST).fit(ds)
"""


@pytest.mark.slow
def test_killed_then_latest_damaged_resumes_from_the_one_before_to_the_uninterrupted_result(images, tmp_path, uninterrupted, one_thread, caplog):
    ckpt, marker = tmp_path / "ckpt", tmp_path / "stopped"
    script = _KILLED_RUN.format(tests=str(TESTS), root=str(Path(images.paths[0]).parent), ckpt=str(ckpt), marker=str(marker))
    run_until_marker(script, marker, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    run = _run_dir(ckpt)
    _flip(run / _checkpoint.FILENAME)  # epoch 2's
    with caplog.at_level(logging.INFO, logger=LOGGER):
        resumed = make_head("spaq-bl", epochs=3, checkpoint_dir=str(ckpt), **FAST).fit(images)
    assert f"Resuming from the intact checkpoint {run / _checkpoint.PREVIOUS} (epoch 1)" in caplog.text
    assert np.array_equal(resumed.predict(images), uninterrupted)
