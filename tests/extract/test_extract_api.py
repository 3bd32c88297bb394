"""``extract`` end to end: inputs, keys, layers from one pass, precision, views, bad arguments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import deepfeat_iqa as dfi
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError
from helpers.precision import pin_cpu_bf16

FAST = {"backbone": "resnet18", "weights": "random", "num_workers": 0, "progress": False, "batch_size": 4}


def test_layers_from_one_pass_keyed_as_written(photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default precision is read from a pinned CPU (bf16-native here), not from the machine the test runs on."""
    pin_cpu_bf16(monkeypatch, native=True)
    feats = dfi.extract(photo_dir, layers=["layer3", -2], store=None, **FAST)
    assert list(feats) == ["layer3", "-2"]
    assert feats["layer3"].per_view.shape == (5, 1, 256)
    key = feats["-2"].key
    assert (key.backbone, key.pooling, key.views, key.precision) == ("resnet18", "avg", "center", "bf16")
    assert key.weights.startswith("sha256:") and key.layer == feats["-2"].key.layer != "-2"
    assert feats.dataset.ids == sorted(p.name for p in photo_dir.iterdir())
    assert np.isfinite(feats["layer3"].X).all()


def test_default_layer_and_list_of_paths(photo_dir: Path) -> None:
    paths = sorted(photo_dir.iterdir())[:2]
    feats = dfi.extract([str(p) for p in paths], store=None, **FAST)
    (name,) = list(feats)
    assert feats[name].key.layer == name and len(feats[name]) == 2


def test_random_crops_pooling_and_storage_dtype(photo_dir: Path) -> None:
    ds = Dataset.from_folder(photo_dir)
    feats = dfi.extract(ds[:2], layers="layer4", views="random3", pooling="grid2x2", seed=5, store=None, **FAST)
    lf = feats["layer4"]
    assert lf.key.views == "random3@seed5" and lf.key.pooling == "grid2x2"
    assert lf.per_view.shape == (2, 3, 2048) and lf.per_view.dtype == np.float32
    wide = dfi.extract(ds[:1], layers="layer4", pooling="grid3x3", store=None, **FAST)["layer4"]
    assert wide.per_view.shape == (1, 1, 4608) and wide.per_view.dtype == np.float16  # auto: float16 above 4096 dims


def test_bf16_is_part_of_the_key_and_close_to_fp32(photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 features are computed in bf16: they differ from fp32 ones (bf16 keeps 8 bits of mantissa, so relative
    differences of ~1e-3 and more) yet correlate with them. The old check (corr > 0.95 only) passed when
    ``precision="bf16"`` was ignored and fp32 ran under a bf16 key. With ``"auto"`` on a CPU without native bf16
    the features are fp32 ones, bit for bit."""
    pin_cpu_bf16(monkeypatch, native=True)  # no emulated-bf16 warning; the same on every machine
    fp32 = dfi.extract(photo_dir, layers="layer2", store=None, precision="fp32", **FAST)["layer2"]
    bf16 = dfi.extract(photo_dir, layers="layer2", store=None, precision="bf16", **FAST)["layer2"]
    assert bf16.key.precision == "bf16" and fp32.key.precision == "fp32"
    difference = np.abs(bf16.X - fp32.X) / (np.abs(fp32.X).mean() + 1e-12)
    assert difference.max() > 1e-3, "bf16 features equal fp32 ones: precision='bf16' was not applied"
    corr = np.corrcoef(fp32.X.ravel(), bf16.X.ravel())[0, 1]
    assert 0.95 < corr < 1.0
    pin_cpu_bf16(monkeypatch, native=False)
    auto = dfi.extract(photo_dir, layers="layer2", store=None, precision="auto", **FAST)["layer2"]
    assert auto.key.precision == "fp32"
    np.testing.assert_array_equal(auto.X, fp32.X)


@pytest.mark.parametrize("crops", ["grid", "patches", "full"])
def test_variable_count_and_native_size_views(tmp_path: Path, crops: str) -> None:
    sizes = [(300, 240), (40, 33), (90, 50)]  # the middle one is under every crop size
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    feats = dfi.extract(tmp_path, layers="layer1", views=crops, store=None, **FAST)["layer1"]
    assert feats.per_view.shape == (3, 1, 64) and np.isfinite(feats.X).all()


def test_duplicate_paths(photo_dir: Path) -> None:
    path = next(photo_dir.iterdir())
    with pytest.raises(DataError, match=f"duplicate image paths.*{path.name}"):
        dfi.extract([path, photo_dir / ".." / photo_dir.name / path.name], store=None, **FAST)


def test_unknown_backbone(photo_dir: Path) -> None:
    with pytest.raises(ConfigError, match="resnet5"):
        dfi.extract(photo_dir, **{**FAST, "backbone": "resnet5O"}, store=None)


def test_unknown_layer(photo_dir: Path) -> None:
    with pytest.raises(ConfigError, match="layer9"):
        dfi.extract(photo_dir, layers="layer9", store=None, **FAST)


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [("pooling", "mean", "Unknown pooling"), ("views", "random", "crop protocol"), ("precision", "fp16", "precision"),
     ("on_error", "ignore", "on_error"), ("dtype", "int8", "dtype")],
)  # fmt: skip
def test_bad_arguments_name_the_choices(photo_dir: Path, argument: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dfi.extract(photo_dir, store=None, **{**FAST, argument: value})


def test_unreadable_image_raises_naming_the_file(photo_dir: Path) -> None:
    (photo_dir / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError, match=r"zz_broken\.jpg.*on_error='skip'"):
        dfi.extract(photo_dir, store=None, **FAST)


def test_skip_without_store_leaves_the_image_out(photo_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    (photo_dir / "zz_broken.jpg").write_bytes(b"")
    feats = dfi.extract(photo_dir, store=None, on_error="skip", **FAST)
    lf = feats.only()
    assert len(lf) == 5 and "zz_broken.jpg" not in lf.dataset.ids
    assert "could not be read" in caplog.text and "zz_broken.jpg" in caplog.text


def test_dfi_extract_is_the_function_whatever_was_imported_first(photo_dir: Path) -> None:
    import deepfeat_iqa.evaluation._evaluate  # noqa: F401 - submodules named unlike the public functions never shadow them
    import deepfeat_iqa.extraction._extract as module

    assert dfi.extract is module.extract and callable(dfi.evaluate)
    assert len(dfi.extract(sorted(photo_dir.iterdir())[:1], layers="layer1", store=None, **FAST).only()) == 1


@pytest.mark.parametrize(("crops", "size", "stride", "upsample"), [("grid", 224, 112, False), ("patches", 64, 160, True)])
def test_grid_and_patches_average_the_features_of_each_crop(tmp_path: Path, crops: str, size: int, stride: int, upsample: bool) -> None:
    """Count the crops and check the row is their mean, against crops cut here and extracted one by one."""
    import zarr

    h, w = 336, 448
    image = np.random.default_rng(7).integers(0, 256, (h, w, 3), dtype=np.uint8)
    (tmp_path / "one").mkdir()
    Image.fromarray(image).save(tmp_path / "one" / "a.png")
    tiles = [image[t:t + size, s:s + size] for t in range(0, h - size + 1, stride) for s in range(0, w - size + 1, stride)]
    expected = {"grid": 2 * 3, "patches": 2 * 3}[crops]  # rows 0,112 | 0,160 and columns 0,112,224 | 0,160,320
    assert len(tiles) == expected
    (tmp_path / "tiles").mkdir()
    for i, tile in enumerate(tiles):
        Image.fromarray(tile).save(tmp_path / "tiles" / f"{i}.png")

    settings = {**FAST, "precision": "fp32", "layers": "layer2"}
    store = tmp_path / "store.zarr"
    pooled = dfi.extract(tmp_path / "one", views=crops, store=store, **settings)["layer2"]
    (n_crops,) = [zarr.open_array(str(p), mode="r")[:] for p in store.rglob("n_crops") if p.is_dir()]
    assert n_crops.tolist() == [expected] and pooled.per_view.shape == (1, 1, 128)
    # a 224 tile "resized" to 224 is itself; a 64 patch is upsampled like a whole image with views="resize"
    one_by_one = dfi.extract(tmp_path / "tiles", views="resize", store=None, **settings)["layer2"]
    assert len(one_by_one) == expected
    np.testing.assert_allclose(pooled.X[0], one_by_one.X.mean(axis=0), rtol=1e-4, atol=1e-5)
    assert not np.allclose(pooled.X[0], one_by_one.X[0], rtol=1e-3)  # crops differ, so the mean is not any one of them


def test_cpu_forward_batches_shrink_as_crops_grow() -> None:
    """Big crops run a few per forward pass on a CPU (measured faster there); GPUs keep the batch size."""
    import torch

    from deepfeat_iqa.extraction._forward import forward_batch

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert forward_batch(32, (224, 224, 3), cpu) == 8
    assert forward_batch(32, (512, 683, 3), cpu) == 1
    assert forward_batch(4, (64, 64, 3), cpu) == 4  # never more than asked for
    assert forward_batch(32, (512, 683, 3), gpu) == 32
