"""Decoding every odd image the databases ship into upright RGB uint8, and refusing bad files clearly."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from deepfeat_iqa.errors import DataError
from deepfeat_iqa.inputs.images import load_rgb
from deepfeat_iqa.inputs.views import Geometry, parse_views


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares its size but holds no pixels: enough for a size check, written in microseconds."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b""))


def _noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_corrupt_png_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    Image.fromarray(_noise((32, 32, 3))).save(path)
    data = bytearray(path.read_bytes())
    start = data.find(b"IDAT") + 8
    data[start : start + 32] = bytes(b ^ 0x5A for b in data[start : start + 32])
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"broken\.png.*corrupt"):
        load_rgb(path)


@pytest.mark.parametrize("lenient_pillow", [False, True])
def test_truncated_jpeg_raises_even_if_pillow_is_told_to_allow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lenient_pillow: bool
) -> None:
    path = tmp_path / "cut.jpg"
    Image.fromarray(_noise((64, 64, 3))).save(path, quality=90)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", lenient_pillow)
    with pytest.raises(DataError, match=r"cut\.jpg.*truncated"):
        load_rgb(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is lenient_pillow  # restored after the decode


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.jpg.*empty file"):
        load_rgb(path)


def test_non_image_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n")
    with pytest.raises(DataError, match=r"notes\.jpg.*not an image"):
        load_rgb(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere\.png.*does not exist"):
        load_rgb(tmp_path / "nowhere.png")


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    gray = _noise((5, 7))
    Image.fromarray(gray, mode="L").save(path)
    rgb = load_rgb(path)
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8
    assert all(np.array_equal(rgb[..., c], gray) for c in range(3))


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    path = tmp_path / "alpha.png"
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red
    rgba[0, 1] = (0, 0, 0, 0)  # transparent black shows the white page
    rgba[1, :] = (0, 0, 255, 128)  # half-transparent blue blends with white
    Image.fromarray(rgba, mode="RGBA").save(path)
    rgb = load_rgb(path).astype(int)
    assert rgb[0, 0].tolist() == [255, 0, 0]
    assert rgb[0, 1].tolist() == [255, 255, 255]
    assert np.abs(rgb[1, 0] - [127, 127, 255]).max() <= 1


def test_palette_with_transparency(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    image = Image.new("P", (3, 3), 0)
    image.putpalette([0, 0, 0, 0, 255, 0])
    image.putpixel((1, 1), 1)
    image.save(path, transparency=0)
    rgb = load_rgb(path)
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[1, 1].tolist() == [0, 255, 0]


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 0, 0)).save(path, quality=95)  # no cyan, full magenta
    rgb = load_rgb(path).astype(int)
    assert rgb.shape == (16, 16, 3)
    assert np.abs(rgb[8, 8] - [255, 0, 255]).max() <= 8


def test_16bit_grayscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 1000, 32896, 65535]], dtype=np.uint16)).save(path)
    rgb = load_rgb(path)
    assert rgb[0, :, 0].tolist() == [0, 4, 128, 255]


def test_48bit_rgb_png_is_scaled(tmp_path: Path) -> None:
    path = tmp_path / "rgb48.png"
    samples = np.array([[[65535, 32896, 1000]]], dtype=">u2")
    raw = b"\x00" + samples.tobytes()
    header = struct.pack(">IIBBBBB", 1, 1, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")
    )
    assert load_rgb(path)[0, 0].tolist() == [255, 128, 3]


def test_exif_rotation_is_applied_before_cropping(tmp_path: Path) -> None:
    path = tmp_path / "sideways.jpg"
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, :20] = (255, 0, 0)  # left half red
    stored[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display after rotating 90 degrees clockwise: the left half ends up on top
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    rgb = load_rgb(path)
    assert rgb.shape == (40, 20, 3)
    crop = parse_views("resize", Geometry((32, 32))).crops(rgb)[0].astype(int)
    assert crop[4, 16, 0] > 200 and crop[4, 16, 2] < 60  # top is red
    assert crop[28, 16, 2] > 200 and crop[28, 16, 0] < 60  # bottom is blue


def test_one_pixel_image(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(path)
    assert load_rgb(path).tolist() == [[[10, 20, 30]]]


def test_decompression_bomb_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    _png_header_only(path, 20000, 20000)
    with pytest.raises(DataError, match=r"huge\.png.*20000x20000 = 400,000,000 pixels.*DEEPFEAT_IQA_MAX_PIXELS"):
        load_rgb(path)


def test_pixel_limit_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (300, 2), (1, 2, 3)).save(path)
    monkeypatch.setenv("DEEPFEAT_IQA_MAX_PIXELS", "500")
    with pytest.raises(DataError, match="600 pixels"):
        load_rgb(path)
    assert load_rgb(path, max_pixels=600).shape == (2, 300, 3)
