"""KonIQ-10k, read from its scores CSV, with the official train/val/test sets when present."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.datasets._checks import (
    Source,
    check_duplicates,
    check_root,
    find_file,
    locate_images,
    parse_scores,
    plural,
    read_table,
    require_columns,
    warn_unlisted,
)
from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa.datasets._registry import register_dataset

SCORES_CSV = "koniq10k_scores_and_distributions.csv"
SETS_CSV = "koniq10k_distributions_sets.csv"
RESOLUTIONS = ("1024x768", "512x384")
#: KonIQ's ``set`` values -> the split names every Dataset uses.
SPLITS = {"training": "train", "validation": "val", "test": "test"}
SCALES = {
    "MOS": Scale(low=1.0, high=5.0, higher_is_better=True, kind="MOS"),
    "MOS_zscore": Scale(low=0.0, high=100.0, higher_is_better=True, kind="MOS"),
}
_WHERE = (
    f"It ships as {SCORES_CSV} in koniq10k_scores_and_distributions.zip "
    "(http://database.mmsp-kn.de/koniq-10k-database.html)."
)


@register_dataset("koniq10k", aliases=("koniq",))
def load_koniq10k(
    root: str | Path,
    *,
    resolution: Literal["auto", "1024x768", "512x384"] = "auto",
    score: Literal["MOS", "MOS_zscore"] = "MOS",
) -> Dataset:
    """Load KonIQ-10k (10,073 in-the-wild photos from YFCC100M, crowd-sourced MOS).

    Layout (the archives unpacked as they come)::

        root/
          koniq10k_scores_and_distributions.csv   image_name, c1..c5, c_total, MOS, SD, MOS_zscore
          1024x768/                               the photos (koniq10k_1024x768.zip)
          512x384/                                or the half-size copies (koniq10k_512x384.zip)
          koniq10k_distributions_sets.csv         optional: image_name, ..., set
                                                  (training / validation / test, from the KonIQ GitHub)

    Parameters
    ----------
    root:
        The folder holding the scores CSV and an image folder.
    resolution:
        ``"auto"`` (default) reads ``1024x768/`` when it exists, else ``512x384/``; name one to
        force it.
    score:
        ``"MOS"`` (1-5, default) or ``"MOS_zscore"`` (the publisher's z-scored MOS rescaled to 0-100).

    Returns
    -------
    Dataset
        Higher scores are better; every photo is its own group; ``official_split`` holds
        ``"train"``/``"val"``/``"test"`` when ``koniq10k_distributions_sets.csv`` is present.

    Notes
    -----
    Published by V. Hosu, H. Lin, T. Sziranyi and D. Saupe:
    http://database.mmsp-kn.de/koniq-10k-database.html (sets: https://github.com/subpic/koniq).
    """
    if score not in SCALES:
        raise ConfigError(f"`koniq10k`: score={score!r}; choose one of {', '.join(SCALES)}.")
    if resolution not in ("auto", *RESOLUTIONS):
        raise ConfigError(f"`koniq10k`: resolution={resolution!r}; choose 'auto', {', '.join(RESOLUTIONS)}.")
    root = check_root("koniq10k", root, f"{SCORES_CSV} and 1024x768/ or 512x384/")
    path = find_file("koniq10k", root, [SCORES_CSV], _WHERE)
    src = Source("koniq10k", path)
    table = read_table(path, dtype={"image_name": str})
    require_columns(src, table, ["image_name", score])
    rows = [i + 2 for i in range(len(table))]
    ids = table["image_name"].str.strip().tolist()
    mos = parse_scores(src, table[score], rows, score)
    check_duplicates(src, ids, rows)
    folder = _image_folder(root, resolution)
    paths = locate_images(src, folder, ids, rows)
    warn_unlisted(src, folder, paths)
    return Dataset(
        ids=ids,
        paths=paths,
        mos=mos,
        scale=SCALES[score],
        name="koniq10k",
        official_split=_official_split(root, ids),
        root=root,
    )


def _image_folder(root: Path, resolution: str) -> Path:
    """The image folder to read: the forced one, or the larger of those present."""
    wanted = RESOLUTIONS if resolution == "auto" else (resolution,)
    for name in wanted:
        if (root / name).is_dir():
            return root / name
    raise DataError(
        f"`koniq10k`: no image folder {' or '.join(n + '/' for n in wanted)} in {str(root)!r}. "
        "Unpack koniq10k_1024x768.zip (or koniq10k_512x384.zip) there."
    )


def _official_split(root: Path, ids: list[str]) -> np.ndarray | None:
    """train/val/test per image from the sets CSV, or None when that optional file is absent."""
    path = root / SETS_CSV
    if not path.is_file():
        return None
    src = Source("koniq10k", path)
    table = read_table(path, dtype={"image_name": str, "set": str})
    require_columns(src, table, ["image_name", "set"])
    rows = [i + 2 for i in range(len(table))]
    names = table["image_name"].str.strip().tolist()
    check_duplicates(src, names, rows)
    sets = dict(zip(names, table["set"].str.strip().str.lower()))
    unknown = sorted({s for s in sets.values() if s not in SPLITS}, key=str)
    if unknown:
        raise src.fail(f"column 'set' holds {unknown[:3]}; KonIQ's sets are {', '.join(SPLITS)}.")
    absent = [i for i in ids if i not in sets]
    if absent:
        raise src.fail(
            f"{plural(len(absent), 'image')} of {SCORES_CSV} have no row in {SETS_CSV} (first: {absent[0]}). "
            f"Use the {SETS_CSV} of the same release, or remove it to load without official splits."
        )
    return np.asarray([SPLITS[sets[i]] for i in ids])
