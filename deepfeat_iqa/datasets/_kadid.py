"""KADID-10k (Konstanz Artificially Distorted Image quality Database), read from ``dmos.csv``."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from deepfeat_iqa.datasets._checks import (
    Source,
    check_duplicates,
    check_root,
    find_file,
    locate_images,
    parse_scores,
    read_table,
    require_columns,
    warn_unlisted,
)
from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa.datasets._registry import register_dataset

#: Distortion types in KADID-10k's numbering (the middle field of ``I01_03_05.png``).
TYPES = (
    "gaussian-blur", "lens-blur", "motion-blur",  # 1-3 blurs
    "color-diffusion", "color-shift", "color-quantization", "color-saturation-1", "color-saturation-2",  # 4-8
    "jpeg2000", "jpeg",  # 9-10 compression
    "white-noise", "white-noise-color", "impulse-noise", "multiplicative-noise", "denoise",  # 11-15 noise
    "brighten", "darken", "mean-shift",  # 16-18 brightness change
    "jitter", "non-eccentricity-patch", "pixelate", "quantization", "color-block",  # 19-23 spatial
    "high-sharpen", "contrast-change",  # 24-25 sharpness and contrast
)
SCALE = Scale(low=1.0, high=5.0, higher_is_better=True, kind="MOS")
_NAME = re.compile(r"^I\d+_(\d+)_(\d+)\.\w+$", re.IGNORECASE)


@register_dataset("kadid10k", aliases=("kadid",))
def load_kadid10k(root: str | Path) -> Dataset:
    """Load KADID-10k (10,125 images: 81 references x 25 distortions x 5 levels).

    Layout (the archive unpacked as it comes)::

        root/
          dmos.csv     columns dist_img, ref_img, dmos, var
          images/      I01_01_01.png ... and the references I01.png ... I81.png

    The ``dmos`` column is, despite its name, a mean opinion score on 1-5 where higher is
    better, and it is used as such.

    Returns
    -------
    Dataset
        MOS 1-5 (higher is better); groups are ``ref_img``; ``distortion`` holds ``type`` (a
        short name from :data:`TYPES`) and ``level`` (1-5), parsed from ``dist_img``.

    Notes
    -----
    Published by H. Lin, V. Hosu and D. Saupe: http://database.mmsp-kn.de/kadid-10k-database.html
    """
    root = check_root("kadid10k", root, "dmos.csv and images/")
    path = find_file(
        "kadid10k", root, ["dmos.csv"], "It ships in kadid10k.zip (http://database.mmsp-kn.de/kadid-10k-database.html)."
    )
    src = Source("kadid10k", path)
    table = read_table(path, dtype={"dist_img": str, "ref_img": str})
    require_columns(src, table, ["dist_img", "ref_img", "dmos"])
    rows = [i + 2 for i in range(len(table))]
    ids = table["dist_img"].str.strip().tolist()
    mos = parse_scores(src, table["dmos"], rows, "dmos")
    check_duplicates(src, ids, rows)
    types, levels = [], []
    for row, name in zip(rows, ids):
        match = _NAME.match(name)
        if match is None or not 1 <= int(match.group(1)) <= len(TYPES):
            raise src.fail(f"row {row}: dist_img {name!r} is not a KADID name like 'I01_01_01.png'.")
        types.append(TYPES[int(match.group(1)) - 1])
        levels.append(int(match.group(2)))
    folder = root / "images"
    paths = locate_images(src, folder, ids, rows)
    references = [folder / name for name in table["ref_img"].str.strip().unique()]
    warn_unlisted(src, folder, [*paths, *references])
    return Dataset(
        ids=ids,
        paths=paths,
        mos=mos,
        scale=SCALE,
        groups=table["ref_img"].str.strip().to_numpy(),
        name="kadid10k",
        distortion=pd.DataFrame({"type": types, "level": pd.array(levels, dtype="Int64")}),
        root=root,
    )
