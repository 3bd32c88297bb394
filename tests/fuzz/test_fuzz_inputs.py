"""Property-based fuzzing of everything users feed in: image bytes, label tables, group layouts.

Example counts are small by default so the suite stays fast; set ``DEEPFEAT_IQA_FUZZ_EXAMPLES=500``
(any count) to run every property that many times (``docs/trust.md``).
"""

from __future__ import annotations

import csv
import io
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import deepfeat_iqa as dfi
from deepfeat_iqa.datasets import Dataset, load_folder
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.inputs.images import load_rgb
from deepfeat_iqa.datasets.splits import kfold, repeated

#: Examples per property: the environment variable wins, else each property's small default.
_FUZZ = int(os.environ.get("DEEPFEAT_IQA_FUZZ_EXAMPLES", "0"))


def fuzz(default: int) -> settings:
    return settings(
        max_examples=_FUZZ or default, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip


def _encoded(fmt: str, mode: str) -> bytes:
    """A small valid image file in ``fmt`` with pixel ``mode``."""
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


_SEEDS = [
    ("JPEG", "RGB"), ("JPEG", "L"), ("JPEG", "CMYK"), ("PNG", "RGBA"), ("PNG", "P"), ("PNG", "I;16"), ("PNG", "LA"),
    ("GIF", "P"), ("BMP", "RGB"), ("TIFF", "F"), ("TIFF", "I"), ("TIFF", "YCbCr"), ("WEBP", "RGB"), ("TIFF", "1"),
]  # fmt: skip
SEED_FILES = {f"{fmt}-{mode}": _encoded(fmt, mode) for fmt, mode in _SEEDS}


def _huge_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@st.composite
def image_bytes(draw: st.DrawFn) -> bytes:
    """Valid files of many formats and modes, then truncated, bit-flipped, spliced, or pure noise."""
    kind = draw(st.sampled_from(["seed", "truncate", "flip", "splice", "noise", "huge"]))
    if kind == "noise":
        return draw(st.binary(min_size=0, max_size=512))
    if kind == "huge":
        return _huge_png(draw(st.integers(1, 2**31 - 1)), draw(st.integers(1, 2**31 - 1)))
    data = bytearray(SEED_FILES[draw(st.sampled_from(sorted(SEED_FILES)))])
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            position = draw(st.integers(0, min(len(data) - 1, draw(st.sampled_from([32, 128, len(data) - 1])))))
            data[position] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "splice":
        start = draw(st.integers(0, len(data) - 1))
        return bytes(data[:start] + draw(st.binary(min_size=1, max_size=64)) + data[start:])
    return bytes(data)


@fuzz(150)
@given(data=image_bytes())
def test_decoding_any_bytes_gives_rgb_or_a_data_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "image.bin"
        path.write_bytes(data)
        try:
            rgb = load_rgb(path, max_pixels=4_000_000)
        except DataError as error:
            assert "image.bin" in str(error)
            return
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.size > 0


@pytest.mark.slow
@fuzz(8)
@given(data=st.lists(image_bytes(), min_size=1, max_size=3))
def test_extraction_never_crashes_and_never_marks_a_row_done_without_values(data: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "images"
        root.mkdir()
        Image.new("RGB", (48, 40), (120, 30, 200)).save(root / "good.png")
        for i, blob in enumerate(data):
            (root / f"fuzz{i}.png").write_bytes(blob)
        store = Path(folder) / "features.zarr"
        options = {"model": "resnet18", "weights": "random", "layer": "layer1", "num_workers": 0, "progress": False}
        feats = dfi.extract(root, store=store, on_error="skip", **options).only()
        assert "good.png" in feats.dataset.ids and np.isfinite(feats.X).all()
        root_group = zarr.open_group(str(store), mode="r")
        arrays = [root_group[name[: -len("/done")]] for name, _ in root_group.members(max_depth=None) if name.endswith("/done")]
        assert arrays
        for feature_array in arrays:
            done, failed = feature_array["done"][:], feature_array["failed"][:]
            values = feature_array["values"][:]
            assert not (done & failed).any() and (done | failed).all()
            assert np.isfinite(values[done]).all() and len(feats) == int(done.sum())


_CELL = st.one_of(
    st.sampled_from(["a.png", "b.png", "c.png", " a.png ", "", "A.PNG", "missing.png", "ünïcödé.png", "日本.png"]),
    st.text(max_size=12),
)
_SCORE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", "n/a", "NaN", "inf", "1e400", "3,5", "4.5"]),
    st.text(max_size=6),
)  # fmt: skip


@fuzz(120)
@given(rows=st.lists(st.tuples(_CELL, _SCORE, _CELL), min_size=0, max_size=6), header=st.booleans())
def test_label_tables_load_or_give_a_data_error_naming_the_row(rows: list[tuple], header: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name in ("a.png", "b.png", "c.png", "ünïcödé.png"):
            Image.new("RGB", (4, 4)).save(root / name)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if header:
            writer.writerow(["image", "mos", "ref"])
        writer.writerows(rows)
        (root / "labels.csv").write_text(buffer.getvalue(), encoding="utf-8")
        try:
            ds = load_folder(root, "labels.csv", group_col="ref")
        except DataError as error:
            message = str(error)
            assert "labels.csv" in message
            if header and rows:
                # Past the header, every problem is in some row, and the message says which.
                assert re.search(r"rows? \d+|no rows|no column", message), message
            return
        assert header and len(ds) == len(rows) >= 1
        assert np.isfinite(ds.mos).all() and len(set(ds.ids)) == len(ds)
        assert all(Path(p).is_file() for p in ds.paths) and all(g.strip() for g in ds.groups)


@fuzz(120)
@given(
    groups=st.lists(st.integers(0, 12), min_size=2, max_size=60),
    n=st.integers(1, 4),
    test_size=st.floats(0.05, 0.95),
    k=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_splits_keep_every_group_on_one_side(groups: list[int], n: int, test_size: float, k: int, seed: int) -> None:
    labels = np.asarray([f"g{g}" for g in groups])
    ids = [f"img{i}" for i in range(len(labels))]
    ds = Dataset(ids=ids, paths=ids, mos=np.arange(len(ids), dtype=float), groups=labels)
    for make in (lambda: repeated(ds, n_splits=n, test_size=test_size, seed=seed), lambda: kfold(ds, n_splits=k, seed=seed)):
        try:
            splits = make()
        except (DataError, ConfigError) as error:
            assert "group" in str(error)
            continue
        for split in splits:
            train, test = np.asarray(split.train), np.asarray(split.test)
            assert len(train) and len(test) and not set(labels[train]) & set(labels[test])
            assert len(np.intersect1d(train, test)) == 0
    try:
        folds = kfold(ds, n_splits=k, seed=seed)
    except (DataError, ConfigError):
        return
    tested = np.concatenate([np.asarray(split.test) for split in folds])
    assert sorted(tested.tolist()) == list(range(len(labels)))  # every image tested exactly once


@pytest.mark.parametrize("name", sorted(SEED_FILES))
def test_every_seed_file_decodes(name: str, tmp_path: Path) -> None:
    path = tmp_path / "seed.img"
    path.write_bytes(SEED_FILES[name])
    assert load_rgb(path).shape == (40, 48, 3)
