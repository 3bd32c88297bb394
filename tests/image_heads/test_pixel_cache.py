"""The pixel cache: photos decoded once for every epoch and fit, with results identical to decoding each time."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfeat_iqa.inputs import images as image_io
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.training import Normalize, content_id
from deepfeat_iqa.training._data import TrainCrops, ViewCrops, workers
from deepfeat_iqa.training._pixels import PixelCache, open_pixel_cache
from deepfeat_iqa.inputs.views import Geometry, parse_views

from .conftest import FAST

GEOMETRY, TRANSFORM = Geometry((16, 16)), Normalize((0.5,) * 3, (0.25,) * 3)


@pytest.fixture()
def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every image file the training data decodes (in this process: the tests load without workers)."""
    decoded: list[Path] = []
    real = image_io.load_rgb

    def counting(path, **options):
        decoded.append(Path(path))
        return real(path, **options)

    monkeypatch.setattr("deepfeat_iqa.training._data.load_rgb", counting)
    return decoded


def test_each_image_is_decoded_once_across_epochs_and_datasets(images, tmp_path, count_decodes):
    cache = PixelCache(tmp_path / "pixels", budget=2**30)
    paths = images.paths[:4]
    first = TrainCrops(paths, GEOMETRY, TRANSFORM, None, count=2, seed=0, pixels=cache)
    for epoch in (1, 2, 3):
        for row in range(len(paths)):
            first[(row, epoch)]
    again = TrainCrops(paths, GEOMETRY, TRANSFORM, None, count=2, seed=0, pixels=PixelCache(tmp_path / "pixels", 2**30))
    again[(0, 1)]
    assert sorted(count_decodes) == sorted(paths)  # 4 decodes for 13 reads
    assert first.all_cached() and len(list((tmp_path / "pixels").glob("*.npy"))) == 4


def test_cached_crops_equal_decoded_crops_bit_for_bit(images, tmp_path):
    cache = PixelCache(tmp_path / "pixels", budget=2**30)
    paths = images.paths[:3]
    plain = TrainCrops(paths, GEOMETRY, TRANSFORM, None, count=3, seed=4)
    cached = TrainCrops(paths, GEOMETRY, TRANSFORM, None, count=3, seed=4, pixels=cache)
    for epoch in (1, 2):  # epoch 1 fills the cache, epoch 2 reads it
        for row in range(len(paths)):
            assert torch.equal(plain[(row, epoch)][1], cached[(row, epoch)][1])
    view = parse_views("grid", Geometry((24, 24)))
    assert torch.equal(ViewCrops(paths, view, TRANSFORM, 32)[1][1], ViewCrops(paths, view, TRANSFORM, 32, cache)[1][1])
    # a short-side resize is its own entry, never confused with the native pixels
    assert len(list((tmp_path / "pixels").glob("*-short32-bicubic-dct.npy"))) == 1  # the one image read


def test_a_fit_with_the_cache_equals_a_fit_without(images, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFEAT_IQA_PIXEL_CACHE", "off")
    without = make_head("spaq-bl", epochs=2, **FAST).fit(images)
    monkeypatch.setenv("DEEPFEAT_IQA_PIXEL_CACHE", str(tmp_path / "pixels"))
    cold = make_head("spaq-bl", epochs=2, **FAST).fit(images)
    warm = make_head("spaq-bl", epochs=2, **FAST).fit(images)
    assert len(list((tmp_path / "pixels").glob("*.npy"))) == len(images)
    for fitted in (cold, warm):
        assert [r["loss"] for r in fitted.history_] == [r["loss"] for r in without.history_]
        assert np.array_equal(fitted.predict(images), without.predict(images))


def test_a_damaged_entry_is_decoded_again_and_replaced(images, tmp_path, count_decodes, caplog):
    cache = PixelCache(tmp_path / "pixels", budget=2**30)
    data = TrainCrops(images.paths[:1], GEOMETRY, TRANSFORM, None, count=1, seed=0, pixels=cache)
    expected = data[(0, 1)][1]
    (entry,) = (tmp_path / "pixels").glob("*.npy")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated, as a full disk or a killed copy leaves it
    assert torch.equal(data[(0, 1)][1], expected)
    assert "unreadable" in caplog.text and len(count_decodes) == 2
    assert np.load(entry).shape[2] == 3  # rewritten whole


def test_the_budget_stops_growth_and_leftover_temporaries_do_not_count(images, tmp_path):
    root = tmp_path / "pixels"
    root.mkdir()
    (root / ".tmp-killed.npy").write_bytes(b"x" * 10)  # a write killed before its rename
    one_image = image_io.load_rgb(images.paths[0]).nbytes
    cache = PixelCache(root, budget=int(one_image * 1.5))
    data = TrainCrops(images.paths[:3], GEOMETRY, TRANSFORM, None, count=1, seed=0, pixels=cache)
    for row in range(3):
        data[(row, 1)]
    assert len(list(root.glob("[!.]*.npy"))) == 1 and not data.all_cached()
    assert cache.size() <= cache.budget


def test_the_environment_names_the_folder_or_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFEAT_IQA_PIXEL_CACHE", str(tmp_path / "here"))
    assert open_pixel_cache().root == tmp_path / "here"
    monkeypatch.setenv("DEEPFEAT_IQA_PIXEL_CACHE", "off")
    assert open_pixel_cache() is None
    monkeypatch.delenv("DEEPFEAT_IQA_PIXEL_CACHE")
    monkeypatch.setenv("DEEPFEAT_IQA_CACHE", str(tmp_path / "user"))
    assert open_pixel_cache().root == tmp_path / "user" / "pixels"
    monkeypatch.setenv("DEEPFEAT_IQA_PIXEL_CACHE_GB", "0")
    assert open_pixel_cache() is None
    monkeypatch.setenv("DEEPFEAT_IQA_PIXEL_CACHE_GB", "lots")
    with pytest.raises(ConfigError, match="DEEPFEAT_IQA_PIXEL_CACHE_GB='lots'"):
        open_pixel_cache()


def test_loading_runs_in_process_on_a_cpu_once_every_image_is_cached(images, tmp_path):
    cache = PixelCache(tmp_path / "pixels", budget=2**30)
    data = TrainCrops(images.paths[:2], GEOMETRY, TRANSFORM, None, count=1, seed=0, pixels=cache)
    cpu = torch.device("cpu")
    assert workers(None, data, cpu) == workers(None, TrainCrops(images.paths[:2], GEOMETRY, TRANSFORM, None, count=1, seed=0), cpu)
    for row in range(2):
        data[(row, 1)]
    assert workers(None, data, cpu) == 0
    assert workers(3, data, cpu) == 3  # an explicit setting always wins


def test_a_rewritten_file_gets_a_new_content_id(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    first = content_id(path)
    path.write_bytes(b"two!")
    os.utime(path, ns=(1, 1))
    assert content_id(path) != first
