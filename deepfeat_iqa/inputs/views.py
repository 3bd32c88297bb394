"""Crop protocols ("views"): which pixels of an image the backbone sees, parsed from a spec string.

Each protocol is a small frozen object that turns one ``H x W x 3`` ``uint8`` image into a list of crops
at the backbone's input size. Its :attr:`~View.spec` is the canonical string recorded in the feature key.

=============  ==========================================================================================
spec           crops
=============  ==========================================================================================
``center``     timm's evaluation transform: resize so the shorter side is ``input / crop_pct``, center crop.
``resize``     the whole image squashed to the input size (aspect ratio not kept).
``randomN``    ``N`` crops at the input size, uniformly placed, from the image at native resolution
               (seed 003 uses ``random10``). ``randomN@seedS`` fixes the seed; without ``@seed`` the
               ``seed`` argument is used and written into the spec, so the key always names it.
               ``randomNinM`` cuts them from the image brought down to a shorter side of ``M`` as
               ``fullM`` does (``random9in512@seed0``: the recommended recipe's crop-level member, whose
               crops of a 12-MP photo then see as much of it as those of a 500x500 training photo).
``grid``       crops at the input size with a stride of half the input size, covering the image row by
               row (SPAQ's test protocol: 224 crops at stride 112 for a 224 network; a 299 network uses
               299 crops at stride 149). Crops start at 0 and step by the stride while they fit, as SPAQ
               does, so a strip narrower than the stride at the right/bottom edge may be left out.
``patches``    64x64 patches at stride 160 (DCNNS), each **upsampled to the input size** with the
               backbone's interpolation, so every backbone (ViTs with a fixed input size included)
               accepts them and layer shapes match the other protocols.
``full``       the whole image at native size, for fully convolutional use; images of different sizes
               are run one shape at a time, so any batch size works.
``fullN``      the whole image with its shorter side brought down to ``N`` when it is longer (aspect kept,
               never enlarged): ``full512`` is ``full`` for a 500x500 LIVE-in-the-Wild photo and 683x512
               for a 12-MP phone photo, which ``full`` would run at 4000x3000 (SPAQ resizes to 512 first
               too). ``gridN`` is ``grid`` on the image brought down the same way (``grid`` alone would cut a
               12-MP photo into ~900 crops). The recommended recipe's views (docs/real-accuracy.md).
``gridN@center`` ``gridN`` with the crops' features averaged under the center prior
               (:mod:`~deepfeat_iqa.inputs.center_prior`): a crop's weight falls with its distance to the
               photo's center, so the middle, where raters look, counts most (``grid@center`` likewise).
=============  ==========================================================================================

Small images: whenever an image is smaller than a crop (``randomN``, ``grid``, ``patches`` and ``full``
against the input size), it is first upscaled so its shorter side equals the crop size, keeping the aspect
ratio. ``center`` and ``resize`` resize anyway. Extraction refuses images under
:data:`~deepfeat_iqa.inputs.images.MIN_IMAGE_SIDE` (32 px) per side before they get here: upscaled further,
their crops would be made of interpolated pixels.

Variable view counts: ``grid`` and ``patches`` give a count that depends on the image size. The store
holds a fixed ``n_views`` per array, so these protocols are **averaged over their crops at write time**
(``n_views == 1``; see :attr:`View.reduce`) and the number of crops per image is kept beside the values.
Averaging is also what :attr:`~deepfeat_iqa.features._sets.LayerFeatures.X` does for fixed-count protocols.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.inputs.center_prior import GRID_STRENGTH, center_weights

_INTERPOLATION = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}

#: Smallest ``N`` of ``fullN``/``gridN`` and ``M`` of ``randomNinM`` (a View with ``short_side=0`` keeps the native size).
MIN_FULL_SIDE = 32
#: Spec names accepted by :func:`parse_views`, for messages and the CLI help.
VIEW_NAMES = ("center", "resize", "randomN", "randomN@seedS", "randomNinM@seedS", "grid", "gridN", "gridN@center", "patches", "full", "fullN")

PATCH_SIZE = 64
PATCH_STRIDE = 160


@dataclass(frozen=True)
class Geometry:
    """How a backbone wants its input, taken from its pretrained config.

    Attributes
    ----------
    size:
        ``(height, width)`` of the network input.
    crop_pct:
        Fraction of the resized image kept by the ``center`` crop (timm's ``crop_pct``).
    interpolation:
        Resampling filter name (``"bicubic"``, ``"bilinear"``, ...), as in timm's data config.
    """

    size: tuple[int, int]
    crop_pct: float = 0.875
    interpolation: str = "bicubic"

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATION:
            raise ConfigError(f"Unknown interpolation {self.interpolation!r}; use one of {sorted(_INTERPOLATION)}.")
        if not 0 < self.crop_pct <= 1:
            raise ConfigError(f"crop_pct must lie in (0, 1], got {self.crop_pct}.")

    def resize(self, image: np.ndarray, height: int, width: int, box: tuple[float, float, float, float] | None = None) -> np.ndarray:
        """Resample ``image`` (or its ``box`` region, ``(left, top, right, bottom)``) to ``height x width``."""
        if box is None and image.shape[:2] == (height, width):
            return image
        resized = Image.fromarray(image).resize((width, height), _INTERPOLATION[self.interpolation], box=box)
        return np.asarray(resized)


@dataclass(frozen=True)
class View:
    """A crop protocol bound to a backbone's geometry.

    Attributes
    ----------
    name:
        Protocol name (``"center"``, ``"random"``, ``"grid"``, ...).
    geometry:
        The backbone's input size and resampling.
    count:
        Number of crops of ``randomN`` (unused by the other protocols).
    seed:
        Seed of ``randomN`` crops (unused by deterministic protocols).
    short_side:
        For ``fullN``, ``gridN`` and ``randomNinM``, the longest shorter side the image is cut from (``N``,
        ``M``); 0 (or below :data:`MIN_FULL_SIDE`) keeps the native size.
    center_prior:
        For ``grid@center``: the strength of the center prior its crops are averaged with (0: a plain mean).
    """

    name: str
    geometry: Geometry
    count: int = 1
    seed: int = 0
    short_side: int = 0
    center_prior: float = 0.0

    @property
    def spec(self) -> str:
        """Canonical spec, as recorded in the feature key (``"random10@seed0"``, ``"center"``, ...)."""
        if self.name == "random":
            shrunk = f"in{self.short_side}" if self.max_short_side() else ""
            return f"random{self.count}{shrunk}@seed{self.seed}"
        spec = f"{self.name}{self.short_side}" if self.max_short_side() else self.name
        return f"{spec}@center" if self.center_prior else spec

    @property
    def reduce(self) -> bool:
        """Whether crops are averaged at write time because their count varies per image."""
        return self.name in ("grid", "patches")

    @property
    def n_views(self) -> int:
        """Views per image as stored (crops averaged into one for variable-count protocols)."""
        return self.count if self.name == "random" else 1

    @property
    def fixed_shape(self) -> bool:
        """Whether every crop has the input size (``full`` keeps the native size)."""
        return self.name != "full"

    @property
    def seeded_by_content(self) -> bool:
        """Whether the crops depend on the image's identity (random crops), so extraction must pass one."""
        return self.name == "random"

    def crops(self, image: np.ndarray, image_id: str = "") -> list[np.ndarray]:
        """Cut ``image`` (``H x W x 3`` ``uint8``) into this protocol's crops.

        ``image_id`` seeds the random crops together with :attr:`seed`, so an image gets the same
        crops whichever batch, worker or row order it is processed in. Extraction passes the file's
        content digest (:func:`~deepfeat_iqa.inputs.images.content_digest`), never the id or path as typed,
        so the crops of a photo do not depend on how its path was spelled or which loader listed it.
        """
        th, tw = self.geometry.size
        if self.name == "center":
            return [self._center(image)]
        if self.name == "resize":
            return [self.geometry.resize(image, th, tw)]
        if self.name == "full":
            return [self._at_least(self._at_most(image), th, tw)]
        if self.name == "random":
            return self._random(self._at_least(self._at_most(image), th, tw), image_id)
        if self.name == "grid":
            working = self._at_least(self._at_most(image), th, tw)
            return [working[t : t + th, s : s + tw] for t, s in self._grid_origins(*working.shape[:2])]
        tiles = _tiles(self._at_least(image, PATCH_SIZE, PATCH_SIZE), PATCH_SIZE, PATCH_SIZE, PATCH_STRIDE, PATCH_STRIDE)
        return [self.geometry.resize(tile, th, tw) for tile in tiles]

    def _center(self, image: np.ndarray) -> np.ndarray:
        th, tw = self.geometry.size
        h, w = image.shape[:2]
        scale = max(th / self.geometry.crop_pct / h, tw / self.geometry.crop_pct / w)
        rh, rw = max(th, math.floor(h * scale + 0.5)), max(tw, math.floor(w * scale + 0.5))
        top, left = (rh - th) // 2, (rw - tw) // 2
        # Resample only the source region under the crop: same pixels as resize-then-crop, ~40% less work.
        sy, sx = h / rh, w / rw
        box = (left * sx, top * sy, (left + tw) * sx, (top + th) * sy)
        return self.geometry.resize(image, th, tw, box=box)

    def _at_least(self, image: np.ndarray, th: int, tw: int) -> np.ndarray:
        """Upscale (keeping aspect) so both sides reach the crop size; larger images are untouched."""
        size = _at_least_size(*image.shape[:2], th, tw)
        return image if size == image.shape[:2] else self.geometry.resize(image, *size)

    def _at_most(self, image: np.ndarray) -> np.ndarray:
        """``fullN``/``gridN``/``randomNinM``: shrink (keeping aspect) so the shorter side is ``N``/``M``; smaller images are untouched."""
        size = _at_most_size(*image.shape[:2], self.max_short_side())
        return image if size == image.shape[:2] else self.geometry.resize(image, *size)

    def crop_offsets(self, height: int, width: int, image_id: str = "") -> np.ndarray:
        """Centers of the crops cut from an image decoded at ``height x width``, as ``(V, 2)`` offsets.

        Offsets ``(dy, dx)`` are in half-sides of the image (0 at its center, 1 at an edge's midpoint), so
        they do not depend on the resizing the protocol applies. ``image_id`` is what :meth:`crops` was
        given (the content digest for random crops). Defined for ``randomN`` and ``grid``, whose crops have
        positions a prior can weigh.
        """
        th, tw = self.geometry.size
        h, w = _at_least_size(*_at_most_size(height, width, self.max_short_side()), th, tw)
        if self.name == "random":
            origins = list(zip(*self._random_origins(h, w, image_id)))
        elif self.name == "grid":
            origins = self._grid_origins(h, w)
        else:
            raise ConfigError(f"Crop protocol {self.spec!r} has no crop positions to weigh; use randomN or grid views.")
        centers = np.array([(t + th / 2, s + tw / 2) for t, s in origins], dtype=np.float64)
        return centers / np.array([h / 2, w / 2]) - 1

    def reduce_weights(self, height: int, width: int) -> np.ndarray | None:
        """Weights the crops of an image decoded at ``height x width`` are averaged with (None: a plain mean)."""
        if not (self.reduce and self.center_prior):
            return None
        return center_weights(self.crop_offsets(height, width), self.center_prior)

    def _grid_origins(self, h: int, w: int) -> list[tuple[int, int]]:
        """Top-left corners of the ``grid`` crops of a working image: from 0 by half the crop size while they fit."""
        th, tw = self.geometry.size
        return _tile_origins(h, w, th, tw, max(1, th // 2), max(1, tw // 2))

    def max_short_side(self) -> int | None:
        """The largest shorter side this view uses from an image (what a decoder may shrink to), or None."""
        return self.short_side if self.name in ("full", "grid", "random") and self.short_side >= MIN_FULL_SIDE else None

    def _random(self, image: np.ndarray, image_id: str) -> list[np.ndarray]:
        th, tw = self.geometry.size
        tops, lefts = self._random_origins(*image.shape[:2], image_id)
        return [image[t : t + th, s : s + tw] for t, s in zip(tops, lefts)]

    def _random_origins(self, h: int, w: int, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Tops and lefts of the random crops of a working image, seeded by :attr:`seed` and ``image_id``."""
        th, tw = self.geometry.size
        id_hash = int.from_bytes(hashlib.sha256(image_id.encode()).digest()[:8], "little")
        rng = np.random.default_rng([self.seed, id_hash])
        return rng.integers(0, h - th + 1, size=self.count), rng.integers(0, w - tw + 1, size=self.count)


def _at_most_size(h: int, w: int, short_side: int | None) -> tuple[int, int]:
    """Size after shrinking (aspect kept) so the shorter side is at most ``short_side`` (None: unchanged)."""
    if not short_side or min(h, w) <= short_side:
        return h, w
    scale = short_side / min(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def _at_least_size(h: int, w: int, th: int, tw: int) -> tuple[int, int]:
    """Size after upscaling (aspect kept) so both sides reach ``th x tw`` (unchanged when they do)."""
    if h >= th and w >= tw:
        return h, w
    scale = max(th / h, tw / w)
    return max(th, round(h * scale)), max(tw, round(w * scale))


def _tiles(image: np.ndarray, th: int, tw: int, stride_h: int, stride_w: int) -> list[np.ndarray]:
    """Crops of ``th x tw`` starting at 0 and stepping by the stride while they fit."""
    return [image[t : t + th, s : s + tw] for t, s in _tile_origins(*image.shape[:2], th, tw, stride_h, stride_w)]


def _tile_origins(h: int, w: int, th: int, tw: int, stride_h: int, stride_w: int) -> list[tuple[int, int]]:
    """Top-left corners of ``th x tw`` tiles starting at 0 and stepping by the stride while they fit."""
    return [(t, s) for t in range(0, h - th + 1, stride_h) for s in range(0, w - tw + 1, stride_w)]


_RANDOM = re.compile(r"random(\d+)(?:in(\d+))?(?:@seed(\d+))?")
_SHRUNK = re.compile(r"(full|grid)(\d+)")
_CENTERED = "@center"


def parse_views(spec: str, geometry: Geometry, seed: int = 0) -> View:
    """Parse a crop-protocol spec into a :class:`View` bound to ``geometry``.

    Parameters
    ----------
    spec:
        ``"center"``, ``"resize"``, ``"randomN"``, ``"randomN@seedS"``, ``"randomNinM@seedS"``, ``"grid"``, ``"gridN"``,
        ``"patches"``, ``"full"`` or ``"fullN"``.
    geometry:
        The backbone's input size, crop fraction and interpolation.
    seed:
        Seed for ``randomN`` when the spec names none.

    Examples
    --------
    >>> parse_views("random10", Geometry((224, 224)), seed=3).spec
    'random10@seed3'
    >>> parse_views("random9in512", Geometry((224, 224))).spec
    'random9in512@seed0'
    """
    text = str(spec).strip().lower()
    if text.endswith(_CENTERED):
        try:
            view = parse_views(text[: -len(_CENTERED)], geometry, seed) if text.startswith("grid") else None
        except ConfigError as error:
            raise ConfigError(f"Crop spec {spec!r}: {error}") from None
        if view is None or view.name != "grid":
            raise ConfigError(f"Crop spec {spec!r}: '{_CENTERED}' weighs the crops of grid views only (grid@center, grid512@center).")
        return replace(view, center_prior=GRID_STRENGTH)
    if text in ("center", "resize", "grid", "patches", "full"):
        return View(text, geometry)
    shrunk = _SHRUNK.fullmatch(text)
    if shrunk:
        if int(shrunk.group(2)) < MIN_FULL_SIDE:
            raise ConfigError(f"Crop spec {spec!r}: the shorter side must stay at least {MIN_FULL_SIDE} px (e.g. {shrunk.group(1)}512).")
        return View(shrunk.group(1), geometry, short_side=int(shrunk.group(2)))
    match = _RANDOM.fullmatch(text)
    if match:
        count = int(match.group(1))
        if count < 1:
            raise ConfigError(f"Crop spec {spec!r} asks for no crops; use random1 or more.")
        short_side = int(match.group(2) or 0)
        if match.group(2) and short_side < MIN_FULL_SIDE:
            raise ConfigError(f"Crop spec {spec!r}: the shorter side must stay at least {MIN_FULL_SIDE} px (e.g. random{count}in512).")
        return View("random", geometry, count=count, seed=int(match.group(3)) if match.group(3) else int(seed), short_side=short_side)
    raise ConfigError(f"Unknown crop protocol {spec!r}; use one of {', '.join(VIEW_NAMES)} (e.g. 'random10@seed3').")
