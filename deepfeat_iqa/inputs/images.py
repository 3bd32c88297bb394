"""Decode any image file the databases ship into one canonical form: upright RGB ``uint8``.

Every later stage (views, backbones, the store) assumes ``H x W x 3`` ``uint8`` pixels, so all the
odd cases are settled here, once:

* EXIF orientation is applied first, so a phone photo stored sideways is cropped upright.
* Grayscale (``L``, ``1``), palette (``P``), ``CMYK`` and ``YCbCr``/``LAB`` images are converted to RGB.
* Transparent images (``RGBA``, ``LA``, ``PA``, ``P`` with a transparency key) are **composited on white**,
  the way browsers and viewers show them; dropping alpha instead would expose whatever colour the
  encoder left in fully transparent pixels, which is arbitrary and often black.
* 16-bit grayscale (``I;16``, and ``I`` from 16-bit PNG/TIFF) is scaled to 8 bit with ``round(v / 257)``
  (65535 maps to 255) rather than clipped, which would turn most pixels white. 48-bit RGB PNG/TIFF is
  scaled by Pillow's decoder itself, which keeps the high byte of each sample (``v >> 8``); the two rules
  differ by at most one level. Float images (``F``) are taken to lie in ``[0, 1]``.
* Images larger than ``max_pixels`` are refused before decoding (decompression-bomb guard), and so are
  images whose shorter side is under ``min_side`` (extraction uses :data:`MIN_IMAGE_SIDE`, 32 px).
* Corrupt, truncated, empty and non-image files raise :class:`~deepfeat_iqa.errors.DataError` naming the
  file; truncated JPEGs never pass silently, whatever ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` says.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps, UnidentifiedImageError

from deepfeat_iqa.errors import DataError

#: Largest image (width x height) decoded by default: 100 MP is above every IQA database's photos
#: (SPAQ's largest are ~16 MP) and far below what makes a 2-core machine swap.
DEFAULT_MAX_PIXELS = 100_000_000

#: Shortest side (px) extraction accepts. Below it an image holds less than one cell of a backbone's
#: last feature map (stride 32), and the views would have to invent nearly every pixel by upscaling,
#: so its "features" describe the interpolation filter, not the photo (a 1x1 PNG gave one grey pixel's).
MIN_IMAGE_SIDE = 32

#: Environment variable that raises or lowers the limit for every process, DataLoader workers included.
MAX_PIXELS_ENV = "DEEPFEAT_IQA_MAX_PIXELS"

# Pillow's own bomb limit and truncated-image switch are process-wide globals; we set both for the
# duration of one decode and restore them, under a lock so threads never see each other's values.
_PIL_GLOBALS_LOCK = threading.Lock()

#: What Pillow's decoders raise on malformed bytes. Only the decoding calls are guarded by it; our own
#: conversion runs outside, so a bug there surfaces as itself instead of as "corrupt image" (which
#: ``on_error="skip"`` would silently drop).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


def max_pixels_limit(max_pixels: int | None = None) -> int:
    """The pixel limit in force: the argument, else ``$DEEPFEAT_IQA_MAX_PIXELS``, else 100 MP."""
    if max_pixels is not None:
        return int(max_pixels)
    value = os.environ.get(MAX_PIXELS_ENV)
    if value is None:
        return DEFAULT_MAX_PIXELS
    try:
        return int(value)
    except ValueError:
        raise DataError(f"${MAX_PIXELS_ENV}={value!r} is not an integer; set it to a pixel count such as 200000000.") from None


@contextmanager
def _strict_pillow() -> Iterator[None]:
    """Let our own guard decide on image size and make truncated files raise, for one decode."""
    with _PIL_GLOBALS_LOCK:
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = None, False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def content_digest(path: str | Path) -> str:
    """``sha256:<hex>`` of the file's bytes: an image's identity whatever path, id or loader reached it.

    Seeds per-image randomness (random crops), so the same photo gives the same features from an
    absolute path, a relative one, ``load_folder`` or ``synth.load``.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise DataError(f"Image {str(path)!r} cannot be read ({error}); check the path and its permissions.") from None
    return f"sha256:{digest.hexdigest()}"


def load_rgb(path: str | Path, *, max_pixels: int | None = None, min_side: int = 1, shrink_to: int | None = None) -> np.ndarray:
    """Read an image file as upright ``H x W x 3`` ``uint8`` RGB.

    Parameters
    ----------
    path:
        Image file (any format Pillow reads: JPEG, PNG, BMP, TIFF, WebP, GIF's first frame, ...).
    max_pixels:
        Refuse images with more pixels than this (default ``$DEEPFEAT_IQA_MAX_PIXELS`` or 100 MP),
        so a crafted or mistaken giant file cannot exhaust memory.
    min_side:
        Refuse images whose shorter side is below this many pixels (extraction passes
        :data:`MIN_IMAGE_SIDE`); the default 1 decodes any image.
    shrink_to:
        The shorter side the caller will resize the image down to (a ``fullN`` view). A JPEG at least twice
        that size is then decoded at a reduced size by libjpeg's DCT scaling (``Image.draft``: 1/2, 1/4 or
        1/8, never below ``shrink_to``), which takes a fraction of the full decode; the caller's exact
        resize follows. A 12-MP phone photo read for ``full512`` decodes ~5x faster (docs/extraction.md).

    Returns
    -------
    numpy.ndarray
        ``(height, width, 3)`` ``uint8`` array, EXIF orientation applied.

    Raises
    ------
    DataError
        The file is missing, empty, not an image, corrupt, truncated, over the pixel limit or under ``min_side``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gray.png"
    >>> Image.new("L", (4, 3), 128).save(path)
    >>> load_rgb(path).shape
    (3, 4, 3)
    """
    path = Path(path)
    limit = max_pixels_limit(max_pixels)
    try:
        if path.stat().st_size == 0:
            raise DataError(f"Image {str(path)!r} is an empty file (0 bytes); re-copy or remove it.")
        with _strict_pillow(), Image.open(path) as image:
            pixels = image.width * image.height
            if pixels > limit:
                raise DataError(
                    f"Image {str(path)!r} is {image.width}x{image.height} = {pixels:,} pixels, over the "
                    f"decompression-bomb limit of {limit:,}. If the file is genuine, raise the limit with "
                    f"{MAX_PIXELS_ENV}={pixels} (or load_rgb(..., max_pixels={pixels}))."
                )
            if min(image.width, image.height) < min_side:
                raise DataError(
                    f"Image {str(path)!r} is {image.width}x{image.height} pixels, under the minimum of {min_side} px "
                    "per side: too small to describe with deep features (upscaling would invent its pixels). "
                    "Remove it from the list, or pass on_error='skip' to leave it out."
                )
            _draft(image, shrink_to)
            image.load()
            upright = ImageOps.exif_transpose(image)
            upright.load()
    except FileNotFoundError:
        raise DataError(f"Image {str(path)!r} does not exist; check the path or the dataset root.") from None
    except UnidentifiedImageError:
        raise DataError(
            f"Image {str(path)!r} is not an image Pillow can identify (wrong extension, or not an image file); "
            "remove it from the list or convert it."
        ) from None
    except _DECODE_ERRORS as error:
        raise DataError(f"Image {str(path)!r} is corrupt or truncated and cannot be decoded ({error}); re-copy or remove it.") from None
    return _to_rgb_uint8(upright, path)


def decoded_size(path: str | Path, shrink_to: int | None = None) -> tuple[int, int]:
    """``(height, width)`` of what ``load_rgb(path, shrink_to=shrink_to)`` returns, from the header alone.

    Lets a caller place the crops a view cut from a photo (e.g. to weigh them by the center prior) without
    decoding its pixels again: the same JPEG draft scale and EXIF orientation as :func:`load_rgb`.
    """
    try:
        with _strict_pillow(), Image.open(path) as image:
            _draft(image, shrink_to)
            width, height = image.size
            # Pillow decodes a whole PNG to look for an eXIf chunk after its pixels; PNG's third edition puts the
            # chunk before them, where opening the file already found it. So a PNG without one is taken as upright.
            unseen = image.format == "PNG" and "exif" not in image.info
            orientation = 1 if unseen else image.getexif().get(ExifTags.Base.Orientation, 1)
    except (FileNotFoundError, UnidentifiedImageError, *_DECODE_ERRORS) as error:
        raise DataError(f"Image {str(path)!r} cannot be read for its size ({error}); check the file.") from None
    # Orientations 5-8 turn the image by 90 degrees: load_rgb's exif_transpose swaps its sides.
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def _draft(image: Image.Image, shrink_to: int | None) -> None:
    """Ask libjpeg for a reduced-size decode (1/2, 1/4, 1/8) when a JPEG is at least twice ``shrink_to``."""
    if shrink_to and image.format == "JPEG" and min(image.width, image.height) >= 2 * shrink_to:
        scale = shrink_to / min(image.width, image.height)
        image.draft(None, (math.ceil(image.width * scale), math.ceil(image.height * scale)))


#: Pillow modes converted to RGB (plus every ``I;16*`` variant); anything else is refused by name.
_CONVERTIBLE = frozenset({"1", "L", "P", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "La", "PA"})


def _to_rgb_uint8(image: Image.Image, path: str | Path) -> np.ndarray:
    """Convert any Pillow mode to RGB ``uint8`` following the rules in the module docstring."""
    mode = image.mode
    if mode not in _CONVERTIBLE and not mode.startswith("I;16"):
        raise DataError(f"Image {str(path)!r} has pixel mode {mode!r}, which deepfeat-iqa does not convert to RGB; save it as RGB.")
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8).copy()
    if mode.startswith("I;16") or mode == "I":
        gray = _scale_16bit(np.asarray(image))
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        gray = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode in ("LA", "PA", "La"):
        image = image.convert("RGBA")
    elif mode == "RGBa":
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """Map 16-bit samples (0..65535) to 8 bit by ``round(v / 257)``, so the full range is kept."""
    values = np.clip(values.astype(np.float64), 0, 65535)
    return np.rint(values / 257.0).astype(np.uint8)
