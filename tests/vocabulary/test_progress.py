"""Issue 13 item 3: progress lines off a terminal; Ctrl-C during extraction says what is saved, and a rerun resumes."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

import deepfeat_iqa as dfi
from deepfeat_iqa.extraction import _block
from deepfeat_iqa.runtime import progress as _progress
from deepfeat_iqa.errors import Interrupted

FAST = {"model": "resnet18", "weights": "random", "num_workers": 0, "batch_size": 2, "layer": "layer1"}


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_off_a_terminal_each_step_logs_start_and_end(photos, caplog, monkeypatch):
    monkeypatch.setattr(_progress, "on_terminal", lambda: False)
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa.progress"):
        dfi.extract(photos, store=None, **FAST)
    lines = [r.getMessage() for r in caplog.records if r.name == "deepfeat_iqa.progress"]
    assert lines[0] == "extract resnet18 center: starting, 6 img"
    assert lines[-1].startswith("extract resnet18 center: 6/6 img in ")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa.progress"):
        dfi.extract(photos, store=None, progress=False, **FAST)
    assert not [r for r in caplog.records if r.name == "deepfeat_iqa.progress"]


def test_long_steps_log_while_running(monkeypatch, caplog):
    monkeypatch.setattr(_progress, "on_terminal", lambda: False)
    monkeypatch.setattr(_progress, "LOG_EVERY_S", 0.0)
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa.progress"):
        list(_progress.progress(range(3), 3, "evaluate gpr", "split"))
    messages = [r.getMessage() for r in caplog.records]
    assert messages[1].startswith("evaluate gpr: 1/3 split (33%)") and len(messages) == 5


def test_ctrl_c_says_how_many_rows_are_saved_and_a_rerun_resumes(photos, tmp_path, monkeypatch):
    store = tmp_path / "store.zarr"
    real = _block.pooled_features  # the one batch function every row block calls
    calls = []

    def interrupt_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_block, "pooled_features", interrupt_second_batch)
    with pytest.raises(Interrupted, match=r"2 of 6 images are saved in .*store.zarr \(2 in this run\); run the same extraction again to resume with the 4 left"):
        dfi.extract(photos, store=store, **FAST)
    calls.clear()
    monkeypatch.setattr(_block, "pooled_features", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    resumed = dfi.extract(photos, store=store, **FAST)["layer1"]
    assert len(calls) == 2  # the 4 missing images in batches of 2, not all 6
    np.testing.assert_allclose(resumed.X, dfi.extract(photos, store=None, **FAST)["layer1"].X, rtol=1e-5, atol=1e-6)
    assert issubclass(Interrupted, KeyboardInterrupt)
