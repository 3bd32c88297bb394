"""LIVE Image Quality Assessment Database, Release 2, read from its MATLAB label files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deepfeat_iqa.datasets._checks import (
    Source,
    check_root,
    find_file,
    locate_images,
    mat_strings,
    mat_variable,
    parse_scores,
    warn_unlisted,
)
from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa.datasets._registry import register_dataset

#: Distortion folders in the order the 982 DMOS entries follow, with how many images each holds.
FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))
SCALE = Scale(low=0.0, high=100.0, higher_is_better=False, kind="DMOS")
_WHERE = "It ships in the LIVE Release 2 archive (https://live.ece.utexas.edu/research/quality/subjective.htm)."


@register_dataset("live", aliases=("live2", "liveiqa", "live-release2", "live-iqa"))
def load_live(root: str | Path, *, realigned: bool = True) -> Dataset:
    """Load LIVE Release 2 (779 distorted images of 29 references, DMOS) as published.

    Layout (the archive unpacked as it comes)::

        root/
          jp2k/ jpeg/ wn/ gblur/ fastfading/   img1.bmp ... (227, 233, 174, 174, 174 files)
          refimgs/                             the 29 reference images
          dmos_realigned.mat                   dmos_new (1x982), orgs (1x982), dmos_std
          dmos.mat                             dmos (1x982), orgs (1x982) -- the original alignment
          refnames_all.mat                     refnames_all (1x982 cell): reference of each entry

    Entry ``k`` of the label arrays is image ``img{j}.bmp`` of the folders taken in the order
    above. Entries with ``orgs == 1`` are the references themselves and are left out, so a
    complete copy gives 779 images. Scores are DMOS (0-100 nominal; lower is better); groups are
    the reference image names, so content-separated splits keep a scene on one side.

    Parameters
    ----------
    root:
        The folder holding ``dmos_realigned.mat`` and the distortion folders.
    realigned:
        ``True`` (default) reads the realigned DMOS (``dmos_realigned.mat``, ``dmos_new``) that the
        publisher recommends; ``False`` reads the original ``dmos.mat``.

    Returns
    -------
    Dataset
        ``distortion`` has ``type`` (the folder name) and ``level`` (missing: LIVE has no levels).

    Notes
    -----
    Published by LIVE, UT Austin: https://live.ece.utexas.edu/research/quality/subjective.htm
    """
    root = check_root("live", root, "dmos_realigned.mat, refnames_all.mat, refimgs/ and jp2k/ ... fastfading/")
    label_name, key = ("dmos_realigned.mat", "dmos_new") if realigned else ("dmos.mat", "dmos")
    label_path = find_file("live", root, [label_name], _WHERE)
    names_path = find_file("live", root, ["refnames_all.mat"], _WHERE)
    src = Source("live", label_path, unit="entry")
    labels = loadmat(label_path)
    dmos = np.asarray(mat_variable(src, labels, key), dtype=object).ravel()
    orgs = np.asarray(mat_variable(src, labels, "orgs")).ravel()
    refnames = mat_strings(mat_variable(Source("live", names_path, unit="entry"), loadmat(names_path), "refnames_all"))

    expected = sum(n for _, n in FOLDERS)
    if not (len(dmos) == len(orgs) == len(refnames) == expected):
        raise src.fail(
            f"{label_name} {key} has {len(dmos)} entries, orgs {len(orgs)}, refnames_all.mat {len(refnames)}; "
            f"LIVE Release 2 has {expected} in each. Re-download the label files of Release 2."
        )
    folders = [folder for folder, count in FOLDERS for _ in range(count)]
    files = [f"{folder}/img{j}.bmp" for folder, count in FOLDERS for j in range(1, count + 1)]
    keep = np.flatnonzero(orgs.astype(float) != 1)
    rows = [int(i) + 1 for i in keep]
    ids = [files[i] for i in keep]
    mos = parse_scores(src, dmos[keep], rows, key)
    paths = locate_images(src, root, ids, rows)
    for folder, _ in FOLDERS:
        warn_unlisted(src, root / folder, [root / f for f in files if f.startswith(f"{folder}/")])
    distortion = pd.DataFrame(
        {"type": [folders[i] for i in keep], "level": pd.array([None] * len(keep), dtype="Int64")}
    )
    return Dataset(
        ids=ids,
        paths=paths,
        mos=mos,
        scale=SCALE,
        groups=np.asarray([refnames[i] for i in keep]),
        name="live",
        distortion=distortion,
        root=root,
    )


def loadmat(path):  # noqa: ANN001, ANN201 - scipy.io on first use: `import deepfeat_iqa.datasets` stays light
    from scipy.io import loadmat as read

    return read(path)
