"""TID2008 and TID2013 (Tampere Image Databases), read from ``mos_with_names.txt``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from deepfeat_iqa.datasets._checks import Source, check_duplicates, check_root, find_file, locate_images, parse_scores, warn_unlisted
from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa.datasets._registry import register_dataset

#: Distortion types in TID's numbering (TID2008 uses the first 17, TID2013 all 24).
TYPES = (
    "awgn",  # 1 additive Gaussian noise
    "awgn-color",  # 2 noise in colour components stronger than in luminance
    "spatially-correlated-noise",  # 3
    "masked-noise",  # 4
    "high-frequency-noise",  # 5
    "impulse-noise",  # 6
    "quantization-noise",  # 7
    "gaussian-blur",  # 8
    "denoising",  # 9 image denoising
    "jpeg",  # 10
    "jpeg2000",  # 11
    "jpeg-transmission-errors",  # 12
    "jpeg2000-transmission-errors",  # 13
    "non-eccentricity-pattern-noise",  # 14
    "local-block-distortions",  # 15 block-wise distortions of different intensity
    "mean-shift",  # 16 intensity shift
    "contrast-change",  # 17
    "color-saturation-change",  # 18
    "multiplicative-noise",  # 19 multiplicative Gaussian noise
    "comfort-noise",  # 20
    "noisy-image-compression",  # 21 lossy compression of noisy images
    "color-quantization-dither",  # 22 colour quantization with dither
    "chromatic-aberrations",  # 23
    "sparse-sampling",  # 24 sparse sampling and reconstruction
)
SCALE = Scale(low=0.0, high=9.0, higher_is_better=True, kind="MOS")
_NAME = re.compile(r"^[iI](\d\d)_(\d\d)_(\d)\.bmp$", re.IGNORECASE)


@register_dataset("tid2008")
def load_tid2008(root: str | Path) -> Dataset:
    """Load TID2008 (1,700 images: 25 references x 17 distortions x 4 levels, MOS 0-9).

    The layout and columns are those of :func:`load_tid2013`; only the counts differ.

    Notes
    -----
    Published by N. Ponomarenko et al.: https://www.ponomarenko.info/tid2008.htm
    """
    return _load_tid("tid2008", root, "https://www.ponomarenko.info/tid2008.htm")


@register_dataset("tid2013")
def load_tid2013(root: str | Path) -> Dataset:
    """Load TID2013 (3,000 images: 25 references x 24 distortions x 5 levels, MOS 0-9).

    Layout (the archive unpacked as it comes)::

        root/
          mos_with_names.txt     one "score name" pair per line: "5.51429 i01_01_1.bmp"
          distorted_images/      iXX_YY_Z.bmp (reference XX, distortion type YY, level Z)
          reference_images/      I01.BMP ... I25.BMP (not scored)

    The text file and the archive disagree on the case of some names (``i01_11_1.bmp`` vs
    ``I01_11_1.BMP``), so names are matched without regard to case.

    Returns
    -------
    Dataset
        MOS 0-9 (higher is better); groups are the reference index (``"I01"``); ``distortion``
        holds ``type`` (a short name from :data:`TYPES`) and ``level`` parsed from the file name.

    Notes
    -----
    Published by N. Ponomarenko et al.: https://www.ponomarenko.info/tid2013.htm
    """
    return _load_tid("tid2013", root, "https://www.ponomarenko.info/tid2013.htm")


def _load_tid(db: str, root: str | Path, url: str) -> Dataset:
    root = check_root(db, root, "mos_with_names.txt and distorted_images/")
    path = find_file(db, root, ["mos_with_names.txt"], f"It ships in the {db.upper()} archive ({url}).")
    src = Source(db, path, unit="line")
    rows, scores, names = [], [], []
    for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        rows.append(number)
        scores.append(parts[0])
        names.append(parts[1] if len(parts) > 1 else "")
    mos = parse_scores(src, scores, rows, "score")
    refs, types, levels = [], [], []
    for number, name in zip(rows, names):
        match = _NAME.match(name)
        if match is None or not 1 <= int(match.group(2)) <= len(TYPES):
            raise src.fail(
                f"line {number} names {name!r}, not a TID image like 'i01_01_1.bmp'. "
                "Each line must read '<score> <image name>'."
            )
        refs.append(f"I{match.group(1)}")
        types.append(TYPES[int(match.group(2)) - 1])
        levels.append(int(match.group(3)))
    ids = [name.lower() for name in names]
    check_duplicates(src, ids, rows)
    folder = root / "distorted_images"
    paths = locate_images(src, folder, names, rows, ignore_case=True)
    warn_unlisted(src, folder, paths)
    return Dataset(
        ids=ids,
        paths=paths,
        mos=mos,
        scale=SCALE,
        groups=np.asarray(refs),
        name=db,
        distortion=pd.DataFrame({"type": types, "level": pd.array(levels, dtype="Int64")}),
        root=root,
    )
