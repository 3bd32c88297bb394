"""Thumbnails for reports, made once per photo and kept beside the report (``<report>/thumbs/``).

A report of thousands of photos cannot embed or re-decode full-size files each time it is written, so
each photo's thumbnail is named by a hash of its bytes and the thumbnail size: a rerun (new scores, same
photos) only checks that the file exists; a changed photo gets a new name. They live in the report folder,
not in the user cache, so the folder stays self-contained and can be copied or archived as it is.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

#: Longest side of a thumbnail, in pixels (cards show them at ~190x150 CSS px, sharp on 1.5x screens).
THUMB_SIZE = 320
THUMB_FOLDER = "thumbs"


class Thumbnail(NamedTuple):
    """Where a photo's thumbnail is, relative to the report folder, or why there is none."""

    src: str | None
    error: str | None


def thumbnails(paths: Sequence[str | Path], folder: str | Path, *, size: int = THUMB_SIZE, workers: int | None = None) -> list[Thumbnail]:
    """One :class:`Thumbnail` per path, in order; existing thumbnails are reused, unreadable photos give ``error``.

    Decoding and resizing run in threads (Pillow and hashlib release the GIL), one per core.
    """
    folder = Path(folder)
    (folder / THUMB_FOLDER).mkdir(parents=True, exist_ok=True)
    workers = workers or min(8, os.cpu_count() or 1)
    if len(paths) < 8 or workers == 1:
        return [_one(Path(p), folder, size) for p in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: _one(Path(p), folder, size), paths))


def _one(path: Path, folder: Path, size: int) -> Thumbnail:
    from PIL import Image

    from deepfeat_iqa.errors import DataError
    from deepfeat_iqa.inputs.images import load_rgb

    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    except OSError as error:
        return Thumbnail(None, f"cannot be read ({error.strerror or error})")
    name = f"{THUMB_FOLDER}/{digest}-{size}.jpg"
    if (folder / name).is_file():
        return Thumbnail(name, None)
    try:
        pixels = load_rgb(path, shrink_to=size)
    except DataError as error:
        return Thumbnail(None, str(error))
    image = Image.fromarray(pixels)
    image.thumbnail((size, size), Image.Resampling.BICUBIC)
    partial = folder / f"{name}.{os.getpid()}-{threading.get_ident()}.part"  # written whole, then renamed: a killed run leaves no torn file
    image.save(partial, format="JPEG", quality=82, optimize=True)
    os.replace(partial, folder / name)
    return Thumbnail(name, None)
