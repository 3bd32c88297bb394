"""LIVE In the Wild Image Quality Challenge database, read from its MATLAB label files."""

from __future__ import annotations

from pathlib import Path


from deepfeat_iqa.datasets._checks import (
    Source,
    check_duplicates,
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

#: How many leading entries are the training images t1-t7 that the usual protocol leaves out.
N_TRAINING = 7
SCALE = Scale(low=0.0, high=100.0, higher_is_better=True, kind="MOS")
_WHERE = "It ships in ChallengeDB_release (https://live.ece.utexas.edu/research/ChallengeDB/index.html)."


@register_dataset("livec", aliases=("clive", "live-itw", "live-wild", "livechallenge", "live-challenge", "challengedb"))
def load_livec(root: str | Path, *, include_training: bool = False) -> Dataset:
    """Load LIVE In the Wild Challenge (1,162 authentically distorted photos, MOS 0-100).

    Layout (``ChallengeDB_release`` unpacked as it comes)::

        root/
          Data/AllImages_release.mat   AllImages_release (1169x1 cell): image file names
          Data/AllMOS_release.mat      AllMOS_release (1x1169): MOS of each entry
          Images/                      the 1,162 test photos (e.g. 100.bmp)
          Images/trainingImages/       t1.bmp ... t7.bmp

    The first 7 entries are the training images ``t1``-``t7``, which the usual 1,162-image
    protocol leaves out.

    Parameters
    ----------
    root:
        The folder holding ``Data/`` and ``Images/``.
    include_training:
        ``True`` keeps t1-t7 (read from ``Images/trainingImages/``), giving 1,169 images.

    Returns
    -------
    Dataset
        MOS 0-100 (higher is better); every photo is its own group (no shared content).

    Notes
    -----
    Published by D. Ghadiyaram and A. C. Bovik: https://live.ece.utexas.edu/research/ChallengeDB/index.html
    """
    root = check_root("livec", root, "Data/AllImages_release.mat, Data/AllMOS_release.mat and Images/")
    names_path = find_file("livec", root, ["Data/AllImages_release.mat"], _WHERE)
    mos_path = find_file("livec", root, ["Data/AllMOS_release.mat"], _WHERE)
    names_src = Source("livec", names_path, unit="entry")
    mos_src = Source("livec", mos_path, unit="entry")
    names = mat_strings(mat_variable(names_src, loadmat(names_path), "AllImages_release"))
    scores = mat_variable(mos_src, loadmat(mos_path), "AllMOS_release").ravel()
    if len(names) != len(scores):
        raise mos_src.fail(
            f"AllImages_release.mat has {len(names)} entries but AllMOS_release.mat {len(scores)}; "
            "they must pair up one to one. Re-download both files from the same release."
        )
    start = 0 if include_training else N_TRAINING
    rows = list(range(start + 1, len(names) + 1))
    names, scores = names[start:], scores[start:]
    mos = parse_scores(mos_src, scores, rows, "AllMOS_release")
    check_duplicates(names_src, names, rows)
    folder = root / "Images"
    training = {f"t{k}.bmp" for k in range(1, N_TRAINING + 1)}
    relative = [f"trainingImages/{n}" if n in training and not (folder / n).is_file() else n for n in names]
    paths = locate_images(names_src, folder, relative, rows)
    warn_unlisted(names_src, folder, paths)
    return Dataset(ids=names, paths=paths, mos=mos, scale=SCALE, name="livec", root=root)


def loadmat(path):  # noqa: ANN001, ANN201 - scipy.io on first use: `import deepfeat_iqa.datasets` stays light
    from scipy.io import loadmat as read

    return read(path)
